"""Where layerscope keeps files on this machine: the user's cache directory (layer scans,
registry blobs), asked in one place."""

from __future__ import annotations

import os

_DISABLED = ("", "0", "off", "none", "false", "no")


def cache_dir() -> str | None:
    """``LAYERSCOPE_CACHE``, else ``$XDG_CACHE_HOME/layerscope`` (``~/.cache/layerscope``);
    None when ``LAYERSCOPE_CACHE`` turns caching off (``off``, ``0``, ``none``, empty...)."""
    env = os.environ.get("LAYERSCOPE_CACHE")
    if env is not None:
        return None if env.strip().lower() in _DISABLED else env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "layerscope")


def size_from_env(name: str, default: int) -> int:
    """A byte count from the environment (``10G``, ``500MB``, ``0``); ``default`` when unset or
    unreadable: a bad setting falls back, it never stops a run."""
    raw = os.environ.get(name)
    if not raw:
        return default
    from .units import parse_size

    try:
        return max(0, int(parse_size(raw)))
    except ValueError:
        return default
