"""The version, and the line ``layerscope --version`` prints (kept light: start-up time is measured)."""

from __future__ import annotations

__version__ = "0.1.0"


def version_line() -> str:
    """The version with the chunker this install runs (its C core is optional at install)."""
    from .chunk.backend import BACKEND

    return f"layerscope, version {__version__} (chunker: {BACKEND.name})"
