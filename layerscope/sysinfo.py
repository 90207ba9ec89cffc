"""Facts about the machine the process runs on, asked in one place."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's
    count: a container or ``taskset`` may allow fewer); at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_buffers(limit: int = 64 << 20) -> bool:
    """Ask glibc's malloc to keep freed MiB-sized buffers for reuse instead of unmapping them.

    Streaming a layer allocates and frees a buffer per MiB; glibc hands ones
    this large back to the kernel, so each new one is page-faulted and zeroed
    again (a quarter of ``store export``'s system time). For the CLI's
    streaming commands only: a library does not change its host's allocator.
    Memory then stays at its peak, bounded by what the pipeline holds at once.
    False where there is no glibc.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, limit)) and bool(mallopt(_M_TRIM_THRESHOLD, 8 * limit))
