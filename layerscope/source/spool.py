"""Files this process makes to read an image from a stream (stdin, a daemon's export) or
to hold blobs it was told not to cache: one private temporary directory, removed when the
process exits.

The readers map blob files and worker processes reopen them by path, so a spooled
archive must outlive the call that made it: it lives as long as the process. A
SIGKILL leaves the directory behind (named ``layerscope-*`` under ``TMPDIR``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable

from ..errors import BadInputError, UsageError, os_error

_lock = threading.Lock()
_root: str | None = None
_owner = 0  # the pid that made _root: a forked child must not remove its parent's files


def scratch_dir() -> str:
    """This process's private temporary directory (mode 0700), made on first use."""
    global _root, _owner
    with _lock:
        if _root is None or _owner != os.getpid():
            try:
                _root = tempfile.mkdtemp(prefix="layerscope-")
            except OSError as e:
                raise os_error(e, "make a temporary directory", tempfile.gettempdir(), cls=UsageError) from None
            _owner = os.getpid()
            atexit.register(_remove, _root, _owner)
        return _root


def _remove(path: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


def spool(pieces: Iterable[bytes], *, name: str, where: str, limit: int | None = None) -> str:
    """Write ``pieces`` to a new file in :func:`scratch_dir` and return its path. ``limit``
    bounds the bytes taken (a stream that does not end is not a disk filler)."""
    fd, path = tempfile.mkstemp(prefix=name + ".", suffix=".tar", dir=scratch_dir())
    total = 0
    try:
        with os.fdopen(fd, "wb") as f:
            for piece in pieces:
                total += len(piece)
                if limit is not None and total > limit:
                    raise BadInputError(f"more than {limit} bytes: not spooled", where=where)
                f.write(piece)
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    return path


def spool_stdin(*, limit: int | None = None) -> str:
    """Standard input, read to its end into a temporary archive (``-`` as an image)."""
    import sys

    stream = sys.stdin.buffer
    if stream.isatty():
        raise UsageError("'-' reads an image archive from standard input, which is a terminal "
                         "(pipe one in: docker save IMAGE | layerscope inspect -)")

    def pieces():
        while True:
            piece = stream.read(1 << 20)
            if not piece:
                return
            yield piece

    path = spool(pieces(), name="stdin", where="-", limit=limit)
    if os.path.getsize(path) == 0:
        raise BadInputError("standard input is empty: no image archive", where="-")
    return path
