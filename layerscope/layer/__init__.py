"""Layer streams: a tar read as it streams by, turned into :class:`Entry` records.

* :func:`iter_entries` -- the streaming tar reader (``tarscan.py``: the C
  scanner, or the reference ``tar.py``), pax and long-name headers folded in
  (``pax.py``), content hashed with XXH3-128;
* :func:`normalize_path` -- how a member name becomes a path (``paths.py``).
"""

from .entry import BLOCK, CHAR, DIR, FIFO, FILE, HARDLINK, KINDS, SYMLINK, Entry
from .paths import normalize_path
from .tarscan import iter_entries

__all__ = [
    "BLOCK",
    "CHAR",
    "DIR",
    "FIFO",
    "FILE",
    "HARDLINK",
    "KINDS",
    "SYMLINK",
    "Entry",
    "iter_entries",
    "normalize_path",
]
