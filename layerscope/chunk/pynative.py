"""``layerscope._native`` in plain Python, for installs that could not compile it.

The same two functions as src_c/fastcdc.h (``ls_fastcdc_init``,
``ls_fastcdc_cuts``) over :func:`layerscope.chunk.reference.cut`, behind the
few cffi calls :mod:`layerscope.chunk.native` makes (``new``,
``new_allocator``, ``from_buffer``, ``unpack``, pointer ``+``), so the
chunking code above it is the same for both backends.  Same cut points as the
C code by construction: the reference is what the C code is tested against.
"""
from __future__ import annotations

from collections.abc import Callable

from layerscope.chunk.reference import ChunkParams, cut
from layerscope.errors import UsageError

__all__ = ["ffi", "lib"]


class _Params:
    """``ls_fastcdc_params``: filled by :meth:`_Lib.ls_fastcdc_init`."""

    __slots__ = ("params",)

    def __init__(self) -> None:
        self.params: ChunkParams | None = None


class _Pointer:
    """``uint8_t *`` into a buffer: ``p + n`` moves it, ``len(p)`` is what is left."""

    __slots__ = ("view", "offset")

    def __init__(self, view: memoryview, offset: int = 0) -> None:
        self.view = view
        self.offset = offset

    def __add__(self, n: int) -> _Pointer:
        return _Pointer(self.view, self.offset + n)

    def __len__(self) -> int:
        return len(self.view) - self.offset


class _FFI:
    def new(self, ctype: str) -> _Params:
        if ctype != "ls_fastcdc_params *":
            raise TypeError(f"pure-Python chunker: no C type {ctype!r}")
        return _Params()

    def new_allocator(self, should_clear_after_alloc: bool = True) -> Callable[[str, int], list[int]]:
        return lambda ctype, n: [0] * n

    def from_buffer(self, ctype: str, data) -> _Pointer:
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        return _Pointer(view)

    def release(self, pointer: _Pointer) -> None:
        pointer.view.release()

    def unpack(self, array: list[int], count: int) -> list[int]:
        return array[:count]


class _Lib:
    @staticmethod
    def ls_fastcdc_init(out: _Params, min_size: int, avg_size: int, max_size: int, level: int) -> int:
        try:
            out.params = ChunkParams(min_size, avg_size, max_size, level)
        except UsageError:
            return -1
        return 0

    @staticmethod
    def ls_fastcdc_cuts(params: _Params, buf: _Pointer, length: int, final: bool,
                        cuts: list[int], max_cuts: int) -> int:
        p = params.params
        view = buf.view[buf.offset : buf.offset + length]
        pos = count = 0
        while pos < length and count < max_cuts:
            rest = length - pos
            c = cut(view[pos:], p)
            # As in C: a cut forced by the end of the buffer is undecided unless it is the end of the stream.
            if not final and c == rest and rest < p.max_size:
                break
            pos += c
            cuts[count] = pos
            count += 1
        return count


ffi = _FFI()
lib = _Lib()
