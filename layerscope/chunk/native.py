"""FFI glue: a buffer in, the cut points C decides out.

The only module that calls the chunker backend: the C core
(``layerscope._native``) or, on an install made without a C compiler, its
pure-Python stand-in (:mod:`layerscope.chunk.backend` chooses, once). Buffers go to C with ``ffi.from_buffer`` (no copy), one call per
buffer (or per segment), and cffi releases the GIL for the call.
"""
from __future__ import annotations

import functools
import mmap

from layerscope.chunk.backend import BACKEND
from layerscope.chunk.reference import ChunkParams

__all__ = ["Buffer", "byte_view", "from_buffer", "release", "scan_from"]

ffi, lib = BACKEND.ffi, BACKEND.lib

#: Anything exposing a contiguous byte buffer.
Buffer = bytes | bytearray | memoryview | mmap.mmap

# The cut array is overwritten by C before it is read: skip the zeroing.
_new_uninitialised = ffi.new_allocator(should_clear_after_alloc=False)


def from_buffer(data: Buffer):  # -> cdata 'uint8_t[]'
    """``data`` as a C byte array, without copying it."""
    return ffi.from_buffer("uint8_t[]", data)


def release(src) -> None:
    """Let go of ``data``'s buffer now: a view cffi still holds, caught in a reference
    cycle with an exception, makes a later ``gc.collect()`` fail on the exported buffer."""
    ffi.release(src)


def byte_view(data: Buffer) -> memoryview:
    """A flat byte memoryview of ``data`` (what slicing chunks out needs)."""
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


@functools.lru_cache(maxsize=32)
def _native_params(params: ChunkParams):  # -> cdata 'ls_fastcdc_params *'
    native = ffi.new("ls_fastcdc_params *")
    if lib.ls_fastcdc_init(native, params.min_size, params.avg_size, params.max_size, params.level):
        # ChunkParams validated already; C disagreeing is a bug, not bad input.
        raise AssertionError(f"native chunker rejected {params!r}")
    return native


def scan_from(params: ChunkParams, src, start: int, end: int, final: bool) -> list[int]:
    """Cut points of ``src[start:end]`` chunked as if a chunk began at ``start``.

    ``src`` is a ``uint8_t[]`` cdata; offsets are relative to it.  With
    ``final`` false only decided cut points are returned (the undecided tail
    is shorter than ``max_size``); they are the cut points of chunking from
    ``start`` to the end of the whole stream, whatever follows ``end``.
    """
    size = end - start
    if size <= 0:
        return []
    native = _native_params(params)
    # All chunks but the last are >= min_size & ~1 bytes: this many slots
    # always suffice, so the loop below runs once.
    slots = size // (params.min_size & ~1) + 1
    cuts = _new_uninitialised("uint64_t[]", slots)
    points: list[int] = []
    done = 0
    while done < size:
        count = lib.ls_fastcdc_cuts(native, src + (start + done), size - done, final, cuts, slots)
        if count == 0:
            break  # not final and nothing decided yet
        found = ffi.unpack(cuts, count)
        base = start + done
        if base:
            found = [base + c for c in found]
        points.extend(found)
        done = points[-1] - start
        if count < slots:
            break
    return points
