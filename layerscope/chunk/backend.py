"""Which FastCDC runs: the C core, or its pure-Python stand-in; chosen once, at import.

The C core (``layerscope._native``, cffi) is compiled when the package is
installed; without a C compiler the install goes on without it (setup.py).
Both backends give the same cut points, hence the same chunks and digests;
the stand-in is about a thousand times slower.  :mod:`layerscope.chunk.native`
takes ``ffi`` and ``lib`` from :data:`BACKEND` and never asks which it got.
"""
from __future__ import annotations


__all__ = ["BACKEND", "Backend"]


class Backend:
    """A chunker backend: cffi's ``ffi``/``lib`` pair, or the same calls in Python.

    A plain class, not a dataclass: ``layerscope --version`` imports this
    module, and start-up time is measured.
    """

    __slots__ = ("name", "native", "ffi", "lib")

    def __init__(self, name: str, native: bool, ffi: object, lib: object) -> None:
        self.name = name  # for people: ``layerscope --version`` prints it
        self.native = native
        self.ffi = ffi
        self.lib = lib

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, native={self.native})"


def _select() -> Backend:
    try:
        from layerscope._native import ffi, lib
    except ImportError:  # installed without a C compiler
        from layerscope.chunk.pynative import ffi, lib

        return Backend("pure Python; C core not built", False, ffi, lib)
    return Backend("C FastCDC", True, ffi, lib)


#: The backend this process uses.
BACKEND: Backend = _select()
