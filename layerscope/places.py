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
