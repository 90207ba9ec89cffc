"""Several threads on one big buffer: speculative segment chunking.

Buffers of :data:`PARALLEL_MIN_SIZE` and up are cut into segments; segment 0
is chunked from its start, every other segment as if a chunk began at its
start, all at once on a small persistent thread pool; then the segments are
stitched in order, each one's speculative cuts accepted from the first place
where they meet the true cuts.  The result is exactly the sequential one
(see :func:`scan_segments` and docs/chunking.md).  :func:`scan` is the entry
point: one C call for small buffers, segments for big ones.
"""
from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from layerscope.chunk import native
from layerscope.chunk.native import Buffer
from layerscope.chunk.reference import ChunkParams
from layerscope.errors import UsageError
from layerscope.sysinfo import usable_cpus

__all__ = ["PARALLEL_MIN_SIZE", "check_threads", "scan", "scan_segments", "segment_count"]

# Speculative segment chunking.  CDC is memoryless after a cut: the chunk
# that starts at offset p depends only on the bytes from p on and on how many
# there are (ls_fastcdc_cuts restarts the fingerprint at 0, the min_size
# skip, the MaskS/MaskL switch at avg_size and the max_size limit at every
# cut, and nothing else carries over).  So the true chunking is the sequence
# p -> p + cut(buf[p:]) from 0, and any two chunkings of the same buffer that
# share one cut point share all later ones.
#
# Segment k > 0 is chunked from its start s_k as if a chunk began there (its
# speculative cuts), over a window reaching max_size past its end e_k, so
# that its last decided cut lies beyond e_k (the undecided tail of a window
# is shorter than max_size).  Windows that reach the end of the buffer are
# final iff the whole scan is; the cuts a non-final window decides are those
# of the whole buffer, as in streaming.  Stitching: the true cuts known so far
# (segment 0's, then stitched ones) reach past s_k; the first of them at or
# after s_k that is a speculative cut of segment k (or s_k itself) proves
# segment k's later cuts true.  On random data that is the first or second
# cut past s_k (94% of the time within max_size of it, i.e. inside the
# overlap), so stitching costs nothing.  If none meets (6% of starts on
# random data, costing a max_size window or two; always for long runs cut
# only at max_size from offsets that differ, costing a sequential scan),
# the true chunking is continued sequentially from the last true cut, in
# windows of max_size, doubling, checking each new cut, until one meets or
# segment k is passed.

#: Buffers at least this long are chunked by several threads, when the
#: process may run on more than one CPU (``os.sched_getaffinity``).  Two
#: threads against one measured 1.2x at 1 MiB, 1.7x at 4 MiB, 1.85x at 8 MiB
#: and 1.9x from 16 MiB; below 8 MiB the gain is not worth taking the other
#: core from the process's other threads.
PARALLEL_MIN_SIZE = 8 << 20

# A segment is at least this long and 16 max_size: the max_size overlap each
# segment scans twice then stays under ~6% of it (under 1% at 64 MiB).
_MIN_SEGMENT = 4 << 20

_pool: ThreadPoolExecutor | None = None
_pool_workers = 0
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    # After fork() the pool's threads do not exist in the child.
    global _pool, _pool_workers, _pool_lock
    _pool, _pool_workers, _pool_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _get_pool(workers: int) -> ThreadPoolExecutor:
    """The persistent pool, with at least ``workers`` threads (made on demand)."""
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers < workers:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="layerscope-chunk")
            _pool_workers = workers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def check_threads(threads: int | None) -> int | None:
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise UsageError(f"threads must be an integer or None, not {type(threads).__name__}")
    if threads < 1:
        raise UsageError(f"threads must be at least 1, got {threads}")
    return threads


def segment_count(params: ChunkParams, size: int, threads: int | None) -> int:
    if size < PARALLEL_MIN_SIZE:
        return 1
    count = usable_cpus() if threads is None else min(threads, usable_cpus())
    return max(1, min(count, size // max(_MIN_SEGMENT, 16 * params.max_size)))


def scan_segments(params: ChunkParams, src, size: int, final: bool,
                   starts: Sequence[int]) -> list[int]:
    """``native.scan_from(params, src, 0, size, final)``, by segments in parallel.

    ``starts`` are the segment starts, ascending, the first 0; segments may
    be empty.  Segment 0 is scanned in this thread, the others in the pool.
    """
    max_size = params.max_size
    ends = list(starts[1:]) + [size]
    windows = []
    for s, e in zip(starts, ends):
        w = min(size, e + max_size)
        windows.append((s, w, final and w == size))

    futures: list[Future | None] = []
    if len(windows) > 1:
        pool = _get_pool(len(windows) - 1)
        for win in windows[1:]:
            try:
                futures.append(pool.submit(native.scan_from, params, src, *win))
            except RuntimeError:  # interpreter shutting down: no new work
                futures.append(None)
    true = native.scan_from(params, src, *windows[0])
    specs = []
    for future, win in zip(futures, windows[1:]):
        # A segment no worker has started (the pool is busy with another
        # caller's work) is scanned here rather than waited for.
        if future is None or future.cancel():
            specs.append(native.scan_from(params, src, *win))
        else:
            specs.append(future.result())

    for k, spec in enumerate(specs, 1):
        true = _stitch(params, src, size, final, true, spec, starts[k], ends[k])
    return true


def _meets(spec: list[int], s: int, cut: int) -> bool:
    """Is ``cut`` a speculative cut of the segment starting at ``s``?"""
    if cut == s:
        return True
    i = bisect.bisect_left(spec, cut)
    return i < len(spec) and spec[i] == cut


def _stitch(params: ChunkParams, src, size: int, final: bool, true: list[int],
            spec: list[int], s: int, e: int) -> list[int]:
    """Extend the true cuts ``true`` (a prefix of them) through segment [s, e).

    ``spec``: the speculative cuts of the segment (chunked from ``s``).
    Returns a longer prefix of the true cuts whose last one lies at or
    beyond ``e`` and the last speculative cut, or that is complete.  (For
    the last segment ``e`` is the buffer size, so the result is complete.)
    """
    # The true cuts already known past s (the previous window's overlap).
    i = bisect.bisect_left(true, s)
    for j in range(i, len(true)):
        if _meets(spec, s, true[j]):
            return _splice(true, j + 1, spec)
    # None met: chunk on from the last true cut, exactly, in growing windows.
    pos = true[-1] if true else 0
    limit = max(e, spec[-1] if spec else s)
    step = params.max_size
    while pos < limit:
        w = min(size, pos + step)
        new = native.scan_from(params, src, pos, w, final and w == size)
        if not new:
            break  # the undecided tail of a non-final scan
        for j, cut in enumerate(new):
            if _meets(spec, s, cut):
                true.extend(new[: j + 1])
                return _splice(true, len(true), spec)
        true.extend(new)
        pos = new[-1]
        step *= 2
    return true


def _splice(true: list[int], keep: int, spec: list[int]) -> list[int]:
    # true[keep - 1] is a speculative cut (or the segment start): the
    # speculative cuts after it are the true ones.
    del true[keep:]
    last = true[-1]
    true.extend(spec[bisect.bisect_right(spec, last):])
    return true


def scan(params: ChunkParams, data: Buffer, final: bool, threads: int | None = None) -> list[int]:
    """Cut points of ``data`` (relative to it), by C, without copying ``data``."""
    src = native.from_buffer(data)
    try:
        size = len(src)
        parts = segment_count(params, size, threads)
        if parts < 2:
            return native.scan_from(params, src, 0, size, final)
        return scan_segments(params, src, size, final, [size * k // parts for k in range(parts)])
    finally:
        native.release(src)
