"""The version, and the line ``layerscope --version`` prints (kept light: start-up time is measured)."""

from __future__ import annotations

__version__ = "0.1.0"


def version_line() -> str:
    """The version with the tar reader and chunker this install runs (its C core is optional at install)."""
    import os

    from .chunk.backend import BACKEND

    # the tar scanner lives in the same C module as the chunker (read without importing the
    # layer package: start-up time); LAYERSCOPE_TAR_BACKEND=python forces the reference reader
    tar = "C" if BACKEND.native and os.environ.get("LAYERSCOPE_TAR_BACKEND") != "python" else "pure Python"
    return f"layerscope, version {__version__} (tar reader: {tar}; chunker: {BACKEND.name})"
