"""Image references as users type them, compared the way docker does."""

from __future__ import annotations

_DEFAULT_PREFIXES = ("docker.io/library/", "docker.io/", "index.docker.io/library/", "localhost/")


def normalize_ref(ref: str) -> str:
    """``busybox`` -> ``busybox:latest``; ``docker.io/library/x:1`` -> ``x:1``."""
    for prefix in _DEFAULT_PREFIXES:
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last or "@" in last else ref + ":latest"
