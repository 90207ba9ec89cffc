"""Where an image's files live: inside an outer tar, or in a directory.

Both give the same face: named files that can be read whole (small JSON) or
as a :class:`Region` of a memory map (blobs). Nothing is ever extracted; the
outer tar is indexed once (names -> offsets) and its members are read in
place, so a hostile member name can never cause a write.

Containers pickle without their memory maps, so a worker process can reopen
the same archive and scan a layer as a pure function of (container, name).
"""

from __future__ import annotations

import mmap
import os
import posixpath
import stat
from collections.abc import Iterator
from ..errors import BadInputError, MissingBlobError, NotAnImageError, os_error
from ..ccore import function
from ..record import Record
from .. import tarheader as th
from .magic import GZIP, NONE, detect

MAX_JSON_BYTES = 64 << 20  # a manifest or config larger than this is hostile
WINDOW = 2 << 20  # bytes handed out per memoryview window when streaming a blob
_PAGE = mmap.ALLOCATIONGRANULARITY


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/")
    return posixpath.normpath(name) if name else ""


class Region(Record):
    """A byte range of a file, readable as memoryview windows without copying."""

    __slots__ = ("mm", "start", "length")

    mm: mmap.mmap | None
    start: int
    length: int

    def __init__(self, mm: mmap.mmap | None, start: int, length: int) -> None:
        self.mm = mm
        self.start = start
        self.length = length

    def windows(self, size: int = WINDOW) -> Iterator[memoryview]:
        """Yield the range in windows; pages already read are dropped from RSS.

        Dropping (MADV_DONTNEED on a read-only shared file map) only unmaps
        our view of the page cache. It lags one window behind, because a
        reader may still copy the tail of the previous window while taking
        the next one; so RSS stays near two windows however large the blob.
        """
        if self.length == 0 or self.mm is None:
            return
        mv = memoryview(self.mm)
        pos, end = self.start, self.start + self.length
        dropped = (pos // _PAGE) * _PAGE
        try:
            while pos < end:
                stop = min(pos + size, end)
                self._ready(stop - self.start)
                yield mv[pos:stop]
                dropped = self._drop(dropped, (pos // _PAGE) * _PAGE)
                pos = stop
            self._drop(dropped, (end // _PAGE) * _PAGE)
        finally:
            mv.release()

    def _ready(self, n: int) -> None:
        """Return once the range's first ``n`` bytes can be read (a file still being written
        waits here: source/registry/image.py); a file on disk always can."""

    def _drop(self, start: int, stop: int) -> int:
        if stop > start:
            try:
                self.mm.madvise(mmap.MADV_DONTNEED, start, stop - start)
            except (OSError, ValueError, AttributeError):
                pass
        return max(start, stop)

    def same_bytes(self, other: Region) -> bool | None:
        """Do the two ranges hold the same bytes? Window by window through C's memcmp
        (~10x sha256's speed); None without the C core (hash instead)."""
        memeq = _memeq()
        if memeq is None:
            return None
        if self.length != other.length:
            return False
        from layerscope._native import ffi

        for a, b in zip(self.windows(), other.windows()):
            with ffi.from_buffer("unsigned char[]", a) as pa, ffi.from_buffer("unsigned char[]", b) as pb:
                if not memeq(pa, pb, len(a)):
                    return False
        return True

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes (fewer if the range is shorter): what a format is told by."""
        if self.length == 0 or self.mm is None:
            return b""
        self._ready(min(n, self.length))
        return self.mm[self.start:self.start + min(n, self.length)]

    def tobytes(self) -> bytes:
        if self.length == 0 or self.mm is None:
            return b""
        self._ready(self.length)
        return self.mm[self.start:self.start + self.length]


class Container:
    """Named files of an image source. Subclasses: :class:`TarContainer`, :class:`DirContainer`."""

    path: str

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def region(self, name: str) -> Region:
        raise NotImplementedError

    def names(self) -> list[str]:
        raise NotImplementedError

    def identity(self, name: str) -> tuple[int, ...] | None:
        """Who ``name``'s bytes are, as mapped: (device, inode, size, mtime_ns, ctime_ns, offset,
        length) of the file holding them; None before they are mapped or if the file changed since."""
        return None

    def unchanged(self, name: str, identity: tuple[int, ...]) -> bool:
        """Does the file holding ``name`` still have ``identity`` (stat it again now)?"""
        return False

    def distrust(self, name: str) -> str | None:
        """``name`` failed its digest. A container that keeps copies of what it fetched drops this
        one (the next run fetches it again) and says so, for the error; an archive's bytes are
        the user's: left alone (None)."""
        return None

    def read_bytes(self, name: str, *, what: str) -> bytes:
        """Read a small file whole (manifests, configs, indexes)."""
        if not self.exists(name):
            raise MissingBlobError(f"{what} {name!r} is missing", where=self.path)
        if self.size(name) > MAX_JSON_BYTES:
            raise BadInputError(f"{what} {name!r} is implausibly large ({self.size(name)} bytes)", where=self.path)
        return self.region(name).tobytes()


def _memeq():
    return function("ls_memeq")


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """The file identity a write cannot keep: any write changes ctime, which no unprivileged process sets back."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _check_not_compressed(path: str, head: bytes) -> None:
    kind = detect(head)
    if kind != NONE:
        raise NotAnImageError(
            f"archive is {kind}-compressed; decompress it first (e.g. `{'gunzip' if kind == GZIP else kind + ' -d'}`)",
            where=path,
        )


# What the outer index keeps of a member (not directories, devices, fifos, unknown types)
_FILE, _SYMLINK, _HARDLINK = "file", "symlink", "hardlink"
_REGULAR_FLAGS = frozenset((b"0", b"\x00", b"7"))
_EXTENDED_FLAGS = frozenset((b"x", b"L", b"K"))  # pax, GNU long name, GNU long link name: of the next member


def _members(fd: int, file_size: int) -> Iterator[tuple[str, str, int, int, str | None]]:
    """``(kind, name, data offset, size, link target)`` of the members of the tar in ``fd``.

    Only header blocks (and extended headers) are read, with ``os.pread``:
    content is skipped by offset. The archive ends at a zero block, or at EOF
    right after a whole member (Go's archive/tar, which ``docker load`` uses,
    reads it so). Pax ``path``, ``linkpath`` and ``size`` records and GNU long
    names apply to the next member; global pax headers are ignored; sparse
    members, which cannot be read in place, are not listed. Damage raises
    :class:`BadInputError` naming the offset (the caller names the archive).
    """
    pos = 0
    pax: dict[str, bytes] = {}  # the pending member's pax records
    longname = longlink = None
    start = -1  # offset of the pending member's first extended header
    while True:
        blk = os.pread(fd, th.BLOCK_SIZE, pos)
        if len(blk) < th.BLOCK_SIZE:
            if blk:
                raise BadInputError(f"truncated archive: header at offset {pos} is cut short")
            if start >= 0:
                raise BadInputError(f"truncated archive: extended header at offset {start} and no member after it")
            return
        if blk == th.ZERO_BLOCK:
            return  # end-of-archive marker: what follows is not read
        name, _ids, size, _mtime, chksum, flag, link, magic, _owner, _major, _minor, prefix = th.HEADER.unpack(blk)
        if not th.checksum_ok(blk, chksum):
            if pos == 0:
                raise NotAnImageError("not an image archive (not a tar: bad header checksum)")
            raise BadInputError(f"corrupt archive: bad tar header checksum at offset {pos}")
        try:
            size = th.number(size, "size", pos)
            if pax.get("size") and flag not in _EXTENDED_FLAGS and flag != b"g":
                size = th.decimal(pax["size"], "size", pos)
        except BadInputError as e:
            raise BadInputError(f"corrupt archive: {e}") from None
        if size < 0:
            raise BadInputError(f"corrupt archive: negative size in tar header at offset {pos}")
        hpos, data = pos, pos + th.BLOCK_SIZE
        if flag == b"S" and blk[482]:  # old GNU sparse: its map goes on in extension blocks
            while True:
                ext = os.pread(fd, th.BLOCK_SIZE, data)
                if len(ext) < th.BLOCK_SIZE:
                    raise BadInputError(f"truncated archive: sparse header at offset {hpos} is cut short")
                data += th.BLOCK_SIZE
                if not ext[504]:
                    break
        pos = data + ((size + th.BLOCK_SIZE - 1) & -th.BLOCK_SIZE)  # the next header
        if flag in _EXTENDED_FLAGS:
            if size > th.MAX_META_SIZE:
                raise BadInputError(f"corrupt archive: extended header at offset {hpos} is too large ({size} bytes)")
            raw = os.pread(fd, size, data)
            if len(raw) < size:
                raise BadInputError(f"truncated archive: extended header at offset {hpos} ends past the end of the file")
            if flag == b"x":
                try:
                    pax.update(th.parse_records(raw, data))
                except BadInputError as e:
                    raise BadInputError(f"corrupt archive: {e}") from None
            elif flag == b"L":
                longname = th.cstr(raw)
            else:
                longlink = th.cstr(raw)
            if start < 0:
                start = hpos
            continue
        if flag == b"g":  # global pax header: ignored (as Go's archive/tar does)
            continue
        if longname is None:
            name = th.cstr(name)
            if magic[:6] == th.USTAR and prefix[0]:
                name = th.prefixed(name, prefix, blk)
        else:
            name = longname
        link = th.cstr(link) if longlink is None else longlink
        name = pax.get("path") or name
        link = pax.get("linkpath") or link
        text = name.decode("utf-8", "surrogateescape")
        if flag in _REGULAR_FLAGS and not (flag == b"\x00" and text.endswith("/")):
            if not any(k.startswith("GNU.sparse.") for k in pax):
                if data + size > file_size:
                    raise BadInputError(f"truncated archive: member {th.show(text)} ends past the end of the file")
                yield _FILE, text, data, size, None
        elif flag == b"2" or flag == b"1":
            yield (_SYMLINK if flag == b"2" else _HARDLINK), text, data, 0, link.decode("utf-8", "surrogateescape")
        pax = {}
        longname = longlink = None
        start = -1


class TarContainer(Container):
    """An image archive (docker-archive or oci-archive) read in place."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._members: dict[str, tuple[int, int]] = {}  # name -> (data offset, size)
        self._links: dict[str, str] = {}  # name -> target name (symlink or hardlink)
        self._mm: mmap.mmap | None = None
        self._stat: tuple[int, ...] | None = None  # the file as indexed
        self._mapped_stat: tuple[int, ...] | None = None  # the file as mapped, if it is the indexed one
        self._index()

    def __getstate__(self):
        return {"path": self.path, "_members": self._members, "_links": self._links, "_stat": self._stat}

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        self._mm = None
        self._mapped_stat = None

    def _index(self) -> None:
        try:
            with open(self.path, "rb") as f:
                head = f.read(th.BLOCK_SIZE)
                _check_not_compressed(self.path, head)
                if len(head) < th.BLOCK_SIZE:
                    raise NotAnImageError("not an image archive (too short to be a tar)", where=self.path)
                fd = f.fileno()
                st = os.fstat(fd)
                self._stat = _stat_key(st)
                try:
                    for kind, name, offset, size, link in _members(fd, st.st_size):
                        name = _clean(name)
                        if kind is _FILE:
                            self._members[name] = (offset, size)
                        elif kind is _SYMLINK:
                            self._links[name] = _clean(posixpath.join(posixpath.dirname(name), link))
                        else:
                            self._links[name] = _clean(link)
                except BadInputError as e:  # the walk names the offset; the archive is named here
                    raise e.__class__(str(e), where=self.path) from None
        except OSError as e:
            raise os_error(e, "read", self.path, cls=NotAnImageError) from None
        if not self._members:
            raise NotAnImageError("not an image archive (no files in the tar)", where=self.path)

    def _resolve(self, name: str) -> str | None:
        name = _clean(name)
        for _ in range(32):  # a link chain longer than this is a loop
            if name in self._members:
                return name
            if name not in self._links:
                return None
            name = self._links[name]
        return None

    def exists(self, name: str) -> bool:
        return self._resolve(name) is not None

    def names(self) -> list[str]:
        return sorted(set(self._members) | set(self._links))

    def size(self, name: str) -> int:
        real = self._resolve(name)
        if real is None:
            raise MissingBlobError(f"{name!r} is missing", where=self.path)
        return self._members[real][1]

    def link_target(self, name: str) -> str | None:
        """The final member a (possibly linked) name resolves to."""
        return self._resolve(name)

    def region(self, name: str) -> Region:
        real = self._resolve(name)
        if real is None:
            raise MissingBlobError(f"{name!r} is missing", where=self.path)
        offset, size = self._members[real]
        if self._mm is None and size:
            with open(self.path, "rb") as f:
                self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                mapped = _stat_key(os.fstat(f.fileno()))
                self._mapped_stat = mapped if mapped == self._stat else None
        return Region(self._mm, offset, size)

    def identity(self, name: str) -> tuple[int, ...] | None:
        real = self._resolve(name)
        if real is None or self._mapped_stat is None:
            return None
        return (*self._mapped_stat, *self._members[real])

    def unchanged(self, name: str, identity: tuple[int, ...]) -> bool:
        try:
            now = _stat_key(os.stat(self.path))
        except OSError:
            return False
        return now == identity[:5] and self.identity(name) == identity


class DirContainer(Container):
    """An OCI image layout directory."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._root = os.path.realpath(path)
        self._maps: dict[str, mmap.mmap] = {}
        self._stats: dict[str, tuple[int, ...]] = {}  # blob file -> its identity when mapped

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state) -> None:
        self.__init__(state["path"])

    def _full(self, name: str) -> str:
        """The file for ``name``, which must lie inside the layout once symlinks are resolved:
        a symlinked blob or ``blobs/`` directory must not make layerscope read a host file."""
        clean = _clean(name)
        if clean.startswith("..") or clean == "":
            raise BadInputError(f"refusing path {name!r} outside the layout", where=self.path)
        full = os.path.join(self.path, clean)
        real = os.path.realpath(full)
        if not real.startswith(self._root.rstrip(os.sep) + os.sep):
            raise BadInputError(f"refusing {name!r}: a symlink leads outside the layout (to {real})", where=self.path)
        return full

    def exists(self, name: str) -> bool:
        try:
            return stat.S_ISREG(os.stat(self._full(name)).st_mode)
        except OSError:
            return False

    def names(self) -> list[str]:
        out = []
        for root, _dirs, files in os.walk(self.path):
            for f in files:
                out.append(os.path.relpath(os.path.join(root, f), self.path))
        return sorted(out)

    def size(self, name: str) -> int:
        try:
            return os.stat(self._full(name)).st_size
        except OSError:
            raise MissingBlobError(f"{name!r} is missing", where=self.path) from None

    def region(self, name: str) -> Region:
        full = self._full(name)
        mm = self._maps.get(full)
        if mm is None:
            try:
                with open(full, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    if size == 0:
                        return Region(None, 0, 0)
                    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    self._stats[full] = _stat_key(os.fstat(f.fileno()))
            except FileNotFoundError:
                raise MissingBlobError(f"{name!r} is missing", where=self.path) from None
            except OSError as e:
                raise os_error(e, f"read {name!r}", self.path) from None
            self._maps[full] = mm
        return Region(mm, 0, len(mm))

    def identity(self, name: str) -> tuple[int, ...] | None:
        st = self._stats.get(self._full(name))
        return None if st is None else (*st, 0, st[2])

    def unchanged(self, name: str, identity: tuple[int, ...]) -> bool:
        try:
            now = _stat_key(os.stat(self._full(name)))
        except OSError:
            return False
        return now == identity[:5] and self.identity(name) == identity


def open_container(path: str) -> Container:
    """Open a path as a directory layout or an image archive."""
    if os.path.isdir(path):
        return DirContainer(path)
    if not os.path.exists(path):
        raise NotAnImageError("no such file or directory", where=path)
    if not os.path.isfile(path):
        raise NotAnImageError("not a regular file or directory", where=path)
    return TarContainer(path)
