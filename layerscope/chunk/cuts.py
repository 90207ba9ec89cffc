"""Cut points of one in-memory buffer: the whole-buffer face of the chunker."""
from __future__ import annotations

import functools

from layerscope.chunk import parallel
from layerscope.chunk.native import Buffer
from layerscope.chunk.reference import DEFAULT_PARAMS, ChunkParams
from layerscope.errors import UsageError

__all__ = ["cut_points"]


def _params(
    params: ChunkParams | None, min_size: int, avg_size: int, max_size: int, level: int
) -> ChunkParams:
    if params is None:
        return _make_params(min_size, avg_size, max_size, level)
    if not isinstance(params, ChunkParams):
        raise UsageError(f"params must be a ChunkParams, not {type(params).__name__}")
    if (min_size, avg_size, max_size, level) != (
        DEFAULT_PARAMS.min_size,
        DEFAULT_PARAMS.avg_size,
        DEFAULT_PARAMS.max_size,
        DEFAULT_PARAMS.level,
    ):
        raise UsageError("give either params= or the individual sizes, not both")
    return params


@functools.lru_cache(maxsize=32, typed=True)  # typed: 16384.0 must not pass as 16384
def _make_params(min_size: int, avg_size: int, max_size: int, level: int) -> ChunkParams:
    return ChunkParams(min_size, avg_size, max_size, level)


def cut_points(
    buf: Buffer,
    min_size: int = DEFAULT_PARAMS.min_size,
    avg_size: int = DEFAULT_PARAMS.avg_size,
    max_size: int = DEFAULT_PARAMS.max_size,
    level: int = DEFAULT_PARAMS.level,
    *,
    params: ChunkParams | None = None,
    threads: int | None = None,
) -> list[int]:
    """End offsets of the FastCDC chunks of ``buf``, taken as a whole stream.

    The last offset is ``len(buf)`` (nothing for an empty buffer).  ``buf``
    is scanned in place (bytes, bytearray, memoryview, mmap, ...), with the
    GIL released.  Pass ``params`` *or* the sizes.

    A buffer of :data:`parallel.PARALLEL_MIN_SIZE` bytes or more is split
    across up to ``threads`` threads (default: the CPUs this process may run
    on); the cut points are the same.  ``threads=1`` always scans in this thread.
    """
    params = _params(params, min_size, avg_size, max_size, level)
    return parallel.scan(params, buf, True, parallel.check_threads(threads))
