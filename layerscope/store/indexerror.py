"""The one line a user sees for an SQLite error from the store's index.

sqlite3 says "database disk image is malformed" for damaged pages and "disk
I/O error" for a write the system refused, without the reason (no errno). A
user needs to know whether the index is damaged (run ``store verify``, re-add
what it names) or the disk is full (free space, run the add again), so the
second is diagnosed from the filesystem and the process's file size limit.
"""

from __future__ import annotations

import os
import resource
import sqlite3

from ..errors import BadInputError

_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
LOW_SPACE = 1 << 20  # free bytes under which a refused write is called a full disk


def index_error(e: sqlite3.Error, index: str) -> BadInputError:
    """A BadInputError for ``e``, raised on ``index`` (the index.sqlite path)."""
    name = getattr(e, "sqlite_errorname", "") or ""
    if name.startswith(_DAMAGED):
        return BadInputError(f"the store index is damaged ({e}); `layerscope store verify` names what it can",
                             where=index)
    if name.startswith("SQLITE_FULL"):
        return BadInputError(f"no space left on device: the store index cannot grow ({e})", where=index)
    if name.startswith("SQLITE_IOERR"):
        return BadInputError(f"store index: {e}: {why_a_write_failed(os.path.dirname(index))}", where=index)
    return BadInputError(f"store index: {e}", where=index)


def why_a_write_failed(folder: str) -> str:
    """The likely cause of a refused write under ``folder``: a full disk, a file size limit, or unknown."""
    try:
        st = os.statvfs(folder)
        if st.f_bavail * st.f_frsize < LOW_SPACE:
            return "no space left on device"
    except OSError:
        pass
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        return f"file too large (this process may write files of at most {soft} bytes: ulimit -f)"
    return "the system refused a read or write"
