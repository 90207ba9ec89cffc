"""The record a layer's tar stream is turned into.

One :class:`Entry` per tar member (PAX/GNU long-name and PAX-extended headers
are folded into the member they describe). Offsets are into the layer's
*uncompressed* stream so a store can later rebuild the tar bit-exact from the
raw header bytes plus file content.
"""

from __future__ import annotations

from ..record import Record

# Entry kinds, as named in every JSON document layerscope emits.
FILE = "file"
DIR = "dir"
SYMLINK = "symlink"
HARDLINK = "hardlink"
CHAR = "char"
BLOCK = "block"
FIFO = "fifo"
KINDS = (FILE, DIR, SYMLINK, HARDLINK, CHAR, BLOCK, FIFO)
# Kinds whose entry stands for regular-file content (a hardlink shares its
# target's): they have sizes, digests and inodes worth counting.
CONTENT_KINDS = frozenset((FILE, HARDLINK))

# A defect the model acts on (set by layer/upperdir.py): an overlayfs
# metadata-only copy-up, whose bytes are still a lower layer's.
METACOPY = "metacopy"


class _NoXattrs(dict):
    """The one empty ``xattrs`` every entry without extended attributes shares.

    An empty dict per entry is 64 bytes, ~10 MB on a 150,000-file image; the
    shared one refuses to be changed, so code that wants to add to an
    entry's xattrs must give it a dict of its own.
    """

    __slots__ = ()

    def _refuse(self, *args, **kwargs):
        raise TypeError("Entry.xattrs is the shared empty mapping: assign a new dict instead")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = setdefault = pop = popitem = clear = _refuse


#: Shared by every entry without extended attributes (equal to ``{}``).
NO_XATTRS: dict[str, bytes] = _NoXattrs()


class Entry(Record):
    """One member of a layer tar, with a normalised path."""

    __slots__ = ("path", "kind", "size", "mode", "uid", "gid", "mtime", "link", "xattrs", "devmajor", "devminor",
                 "uname", "gname", "digest", "header_offset", "data_offset", "raw_name", "defects", "data_size")

    path: str  # normalised: no leading "/" or "./", no "." or "" parts; "" is the root
    kind: str  # one of KINDS
    size: int  # content bytes (expanded size for sparse files; 0 for non-files)
    mode: int  # permission bits incl. setuid/setgid/sticky (no file-type bits)
    uid: int
    gid: int
    mtime: float
    link: str | None  # symlink target (verbatim) or hardlink target (normalised)
    xattrs: dict[str, bytes]  # NO_XATTRS by default: a dict of its own only when there are some
    devmajor: int
    devminor: int
    uname: str
    gname: str
    digest: bytes | None  # XXH3-128 of the content (regular files only)
    header_offset: int  # first header block of this member (incl. PAX / GNU long-name blocks)
    data_offset: int  # first content byte
    raw_name: str  # the name exactly as stored in the tar
    defects: tuple[str, ...]  # image defects seen on this entry, e.g. "path-escape"
    data_size: int  # bytes of content stored in the tar after data_offset (unpadded); differs
    # from size for sparse files (stored runs only) and non-files whose header claims data

    # Positional parameters and stores, nothing else: tarscan.py makes entries with map(Entry, ...).
    def __init__(self, path: str, kind: str, size: int, mode: int, uid: int, gid: int, mtime: float,
                 link: str | None = None, xattrs: dict[str, bytes] = NO_XATTRS, devmajor: int = 0,
                 devminor: int = 0, uname: str = "", gname: str = "", digest: bytes | None = None,
                 header_offset: int = 0, data_offset: int = 0, raw_name: str = "",
                 defects: tuple[str, ...] = (), data_size: int = 0) -> None:
        self.path = path
        self.kind = kind
        self.size = size
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.link = link
        self.xattrs = xattrs
        self.devmajor = devmajor
        self.devminor = devminor
        self.uname = uname
        self.gname = gname
        self.digest = digest
        self.header_offset = header_offset
        self.data_offset = data_offset
        self.raw_name = raw_name
        self.defects = defects
        self.data_size = data_size
