"""Which FastCDC runs: the C core, or its pure-Python stand-in; chosen once, at import.

The C core (``layerscope._native``, cffi) is compiled when the package is
installed; without a C compiler the install goes on without it (setup.py).
Both backends give the same cut points, hence the same chunks and digests;
the stand-in is about a thousand times slower.  :mod:`layerscope.chunk.native`
takes ``ffi`` and ``lib`` from :data:`BACKEND` and never asks which it got.
"""
from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["BACKEND", "Backend"]


class Backend(NamedTuple):
    """A chunker backend: cffi's ``ffi``/``lib`` pair, or the same calls in Python."""

    name: str  # for people: ``layerscope --version`` prints it
    native: bool
    ffi: Any
    lib: Any


def _select() -> Backend:
    try:
        from layerscope._native import ffi, lib
    except ImportError:  # installed without a C compiler
        from layerscope.chunk.pynative import ffi, lib

        return Backend("pure Python; C core not built", False, ffi, lib)
    return Backend("C FastCDC", True, ffi, lib)


#: The backend this process uses.
BACKEND: Backend = _select()
