"""A running container's read/write layer, as the :class:`Entry` list of a layer tar.

A container's changes reach us in one of two shapes:

1. **an overlayfs upper directory** (docker's ``.../overlay2/<id>/diff``,
   containerd's ``.../snapshots/<n>/fs``, podman's ``.../overlay/<id>/diff``),
   read by :func:`read_upper_dir`;
2. **a layer tar** (what ``docker commit`` / ``podman commit`` store, or any
   diff with ``.wh.`` markers), plain or compressed, read by
   :func:`read_upper_tar`.

Both come out **in OCI layer form**, so the one whiteout logic downstream
(``layer/whiteout.py``, ``fs/overlay.py``) serves both. :func:`read_rw_layer`
picks the reader from what the path is.

Translating an upper directory (what overlayfs writes -> what we emit):

* a whiteout -- a character device 0/0, or ("xattr whiteout", kernel 6.7+) an
  *empty regular file* carrying ``trusted.overlay.whiteout`` or
  ``user.overlay.whiteout`` -- at ``d/name`` becomes a regular empty file
  ``d/.wh.name`` (mode 0600, owner and mtime of the whiteout inode, as
  docker's overlay2 differ writes it). Overlay shares one whiteout inode
  between many whiteouts (they are hard links of each other): whiteouts are
  never turned into hardlink entries.
* an opaque directory (``trusted.overlay.opaque``, ``user.overlay.opaque``
  for ``userxattr`` mounts, or fuse-overlayfs's ``user.fuseoverlayfs.opaque``,
  with the value ``y``) yields its own directory entry followed at once by
  ``d/.wh..wh..opq`` (regular, empty, the directory's permissions, owner and
  mtime). The value ``x`` (kernel 6.7+) does *not* make a directory opaque: it
  only tells lookup that the directory holds xattr whiteouts, which are
  translated one by one anyway. The upper *root* is never emitted; overlayfs
  ignores an opaque xattr on it, and so do we.
* overlay's own xattrs (``trusted.overlay.*``, ``user.overlay.*``,
  ``user.fuseoverlayfs.*``: origin, impure, uuid, nlink, upper, protattr,
  redirect, metacopy, whiteout, opaque ...) are bookkeeping, never file
  xattrs, and are not reported. That includes the *escaped* form
  ``trusted.overlay.overlay.X`` (a merged-view xattr named
  ``trusted.overlay.X`` on a nested overlay): unescaped it would read as
  overlay metadata downstream, so it is dropped too.
* ``metacopy`` (mount option ``metacopy=on``): a metadata-only copy-up. The
  upper file has the right size and metadata but *no data* (reading it gives
  zeros); its content is the lower file's. Such a file is emitted as a
  regular file with ``size`` = ``st_size``, ``digest`` None, ``data_size`` 0,
  the defect ``"metacopy"`` and ``link`` = the lower path its redirect xattr
  names (a renamed file, see ``_redirect_path``; None otherwise): the caller takes the content from
  that path, or the file's own path, or another name of the same inode, in
  the lower layers (``fs/overlay.py``).
* a directory with a redirect (``redirect_dir=on``: a renamed lower
  directory) is emitted with ``link`` = the lower path it was renamed from;
  ``fs/overlay.py`` shows that path's lower content under the new name, as
  the merged view does.
* ``redirect`` on anything else (a renamed file that is not metacopy):
  the entry was renamed from the lower path named in the xattr, and the merged
  view still shows that lower path's contents under the new name. A layer tar
  cannot say so (docker falls back to a naive diff when redirect_dir is on),
  so the entry carries the warning defect ``"redirect"``: below it, lower
  content that the tar form does not show is missing.
* literal ``.wh.*`` files in the upper dir (fuse-overlayfs' fallback when it
  cannot mknod, or an upper dir already in OCI form) pass through as the
  OCI markers they are; a marker we synthesise is not emitted twice.
* sockets cannot be stored in a tar (docker and tar skip them too): skipped.
  Other unknown file types are skipped as well.

Other rules:

* Order: depth first, each directory's entries sorted by the bytes of their
  on-disk names, a directory before its contents (its opaque marker right
  after it); deterministic for a given tree.
* Hard links inside the upper dir (a non-directory whose (st_dev, st_ino)
  was seen before) become ``"hardlink"`` entries whose ``link`` is the first
  path seen, as a tar writer would emit them; they carry the inode's mode,
  owner, mtime and xattrs, no content.
* Regular files are hashed with XXH3-128 in 1 MiB reads into one reused
  buffer (never a whole file in memory). A file of a *running* container can
  change while read: ``size`` is then the number of bytes hashed and the
  entry gets the defect ``"changed-while-read"``.
* Nothing is written, and no symlink is followed inside the upper dir: the
  walk holds a descriptor per directory level and opens every child relative
  to it with ``O_NOFOLLOW`` (a directory swapped for a symlink mid-walk fails
  to open instead of leading out); files and directories are opened
  ``O_NOATIME`` where allowed, so reading does not even touch access times
  (except a symlink's: the kernel records every readlink); xattrs of symlinks,
  devices and fifos are read with ``l*xattr`` through ``/proc/self/fd``. The
  path given by the caller itself may be a symlink (it is followed once).
* uname/gname stay empty (the host's user database says nothing about the
  container's); header/data offsets are 0 and ``raw_name`` is the path.
"""

from __future__ import annotations

import errno
import mmap
import os
import stat

from xxhash import xxh3_128, xxh3_128_digest

from ..errors import BadInputError, os_error
from ..source.compression import LayerStream
from ..source.container import Region
from . import whiteout
from .entry import BLOCK, CHAR, DIR, FIFO, FILE, HARDLINK, METACOPY, SYMLINK, Entry
from .tarscan import iter_entries

__all__ = ["CHANGED_WHILE_READ", "METACOPY", "READ_SIZE", "REDIRECT", "read_rw_layer", "read_upper_dir",
           "read_upper_tar"]

READ_SIZE = 1 << 20  # bytes per read when hashing a file of the upper dir

# Defects this module adds to entries (see the module docstring); METACOPY
# is defined in entry.py, as the model acts on it.
REDIRECT = "redirect"
CHANGED_WHILE_READ = "changed-while-read"

# overlayfs (trusted.* for a privileged mount, user.* with "userxattr") and
# fuse-overlayfs keep their bookkeeping in these namespaces.
_OVERLAY_PREFIXES = ("trusted.overlay.", "user.overlay.", "user.fuseoverlayfs.")
_OPAQUE = ("trusted.overlay.opaque", "user.overlay.opaque", "user.fuseoverlayfs.opaque")
_WHITEOUT = ("trusted.overlay.whiteout", "user.overlay.whiteout")
_METACOPY = ("trusted.overlay.metacopy", "user.overlay.metacopy")
_REDIRECT = ("trusted.overlay.redirect", "user.overlay.redirect")

_EMPTY_DIGEST = xxh3_128_digest(b"")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: if a regular file is swapped for a fifo between lstat and open,
# the open must not hang; fstat then tells us it is not a file any more.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY
_NOATIME = getattr(os, "O_NOATIME", 0)
# xattrs may simply be unsupported or forbidden (user.* on a symlink, trusted.*
# without CAP_SYS_ADMIN): that means "none we can see", not an error.
_XATTR_ABSENT = {errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.ENODATA}
_PROC_FD = os.path.isdir("/proc/self/fd")


def _open_noatime(name: str, flags: int, dir_fd: int | None = None) -> int:
    """``os.open`` with O_NOATIME when allowed (it needs ownership or CAP_FOWNER).

    Directories too: listing one is an access that relatime would record.
    """
    if _NOATIME:
        try:
            return os.open(name, flags | _NOATIME, dir_fd=dir_fd)
        except PermissionError as e:
            if e.errno != errno.EPERM:
                raise
    return os.open(name, flags, dir_fd=dir_fd)


def _sort_key(name: str) -> bytes:
    return os.fsencode(name)


def _child(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _xattrs(target: int | str, where: str) -> dict[str, bytes]:
    """Every xattr of an fd, or of a path without following its last component."""
    follow = isinstance(target, int)  # an fd is never "followed"; a path must not be
    try:
        names = os.listxattr(target) if follow else os.listxattr(target, follow_symlinks=False)
    except OSError as e:
        if e.errno in _XATTR_ABSENT:
            return {}
        raise os_error(e, "list xattrs", where) from None
    out = {}
    for name in sorted(names):
        try:
            out[name] = os.getxattr(target, name) if follow else os.getxattr(target, name, follow_symlinks=False)
        except OSError as e:
            if e.errno in _XATTR_ABSENT:  # ENODATA: removed since listed (a running container)
                continue
            raise os_error(e, f"read xattr {name!r}", where) from None
    return out


def _split(xattrs: dict[str, bytes]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(file xattrs, overlay bookkeeping xattrs)."""
    if not xattrs:
        return xattrs, {}
    own = {}
    ovl = {}
    for k, v in xattrs.items():
        (ovl if k.startswith(_OVERLAY_PREFIXES) else own)[k] = v
    return own, ovl


def _has(ovl: dict[str, bytes], names: tuple[str, ...]) -> bool:
    return any(n in ovl for n in names)


def _redirect_path(ovl: dict[str, bytes], rel_dir: str) -> str | None:
    """Where overlay's redirect xattr says the lower content is: ``"/b/g"``
    (absolute: a path in the lower layers) or ``"a/moved/g"`` (relative: a
    name in the same directory, given in upper coordinates -- the directory
    itself may have been renamed, so ``fs/overlay.py`` maps it)."""
    value = next((ovl[n] for n in _REDIRECT if n in ovl), None)
    if not value:
        return None
    target = os.fsdecode(value)
    if target.startswith("/"):
        return "/" + "/".join(p for p in target.split("/") if p)
    return _child(rel_dir, target)


def _is_opaque(ovl: dict[str, bytes]) -> bool:
    # "y" = opaque. "x" (kernel 6.7+) = "this merge dir holds xattr whiteouts":
    # not opaque; the whiteouts inside are translated one by one.
    return any(ovl.get(n) == b"y" for n in _OPAQUE)


class _Walk:
    def __init__(self, top: str) -> None:
        self.top = top
        self.out: list[Entry] = []
        self.emitted: set[str] = set()
        self.links: dict[tuple[int, int], tuple[str, dict[str, bytes]]] = {}
        self.buf = bytearray(READ_SIZE)

    def where(self, rel: str) -> str:
        return os.path.join(self.top, rel) if rel else self.top

    def fail(self, rel: str, what: str, e: OSError) -> BadInputError:
        return os_error(e, what, self.where(rel))

    def emit(self, e: Entry) -> None:
        if e.path in self.emitted:  # e.g. a literal ".wh.x" next to a whiteout device "x"
            return
        self.emitted.add(e.path)
        self.out.append(e)

    def listdir(self, fd: int, rel: str) -> list[str]:
        try:
            with os.scandir(fd) as it:
                names = [d.name for d in it]
        except OSError as e:
            raise self.fail(rel, "list directory", e) from None
        names.sort(key=_sort_key)
        return names

    # ---- one directory entry ----------------------------------------------

    def visit(self, dfd: int, rel_dir: str, name: str) -> tuple[int, str] | None:
        """Emit the entries of ``name`` in directory ``dfd``; return (fd, rel) of a directory to descend."""
        rel = _child(rel_dir, name)
        try:
            st = os.lstat(name, dir_fd=dfd)
        except FileNotFoundError:
            return None  # deleted since listed: a running container
        except OSError as e:
            raise self.fail(rel, "stat", e) from None
        fmt = stat.S_IFMT(st.st_mode)
        if fmt == stat.S_IFDIR:
            return self.directory(dfd, rel_dir, name, rel)
        if fmt == stat.S_IFREG:
            self.regular(dfd, rel_dir, name, rel, st)
            return None
        if fmt == stat.S_IFCHR and st.st_rdev == 0:
            self.whiteout(rel_dir, name, st)
            return None
        if fmt == stat.S_IFSOCK:
            return None  # a tar cannot hold a socket (tar and docker skip them too)
        if fmt not in (stat.S_IFLNK, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO):
            return None  # unknown file type (door, whiteout inode of another OS...)
        # symlink, device, fifo: never opened; xattrs through the parent's fd
        lpath = f"/proc/self/fd/{dfd}/{name}" if _PROC_FD else self.where(rel)
        own, ovl = _split(_xattrs(lpath, self.where(rel)))
        defects = (REDIRECT,) if _has(ovl, _REDIRECT) else ()
        if self.hardlinked(rel, st, own, defects):
            return None
        link = None
        major = minor = 0
        if fmt == stat.S_IFLNK:
            kind = SYMLINK
            try:
                link = os.fsdecode(os.readlink(name, dir_fd=dfd))
            except FileNotFoundError:
                return None
            except OSError as e:
                raise self.fail(rel, "read symlink", e) from None
        elif fmt == stat.S_IFIFO:
            kind = FIFO
        else:
            kind = CHAR if fmt == stat.S_IFCHR else BLOCK
            major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
        self.emit(Entry(rel, kind, 0, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime, link, own,
                        major, minor, raw_name=rel, defects=defects))
        return None

    def hardlinked(self, rel: str, st: os.stat_result, own: dict[str, bytes] | None, defects: tuple) -> bool:
        """Emit a hardlink entry if this inode was seen; else remember it. True if emitted."""
        if st.st_nlink < 2:
            return False
        key = (st.st_dev, st.st_ino)
        first = self.links.get(key)
        if first is None:
            if own is not None:
                self.links[key] = (rel, own)
            return False
        target, xattrs = first
        self.emit(Entry(rel, HARDLINK, 0, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime, target,
                        dict(xattrs), raw_name=rel, defects=defects))
        return True

    def whiteout(self, rel_dir: str, name: str, st: os.stat_result) -> None:
        path = whiteout.whiteout_path(rel_dir, name)
        self.emit(Entry(path, FILE, 0, 0o600, st.st_uid, st.st_gid, st.st_mtime, None, {}, digest=_EMPTY_DIGEST,
                        raw_name=path))

    def directory(self, dfd: int, rel_dir: str, name: str, rel: str) -> tuple[int, str] | None:
        try:
            fd = _open_noatime(name, _DIR_FLAGS, dfd)
        except FileNotFoundError:
            return None
        except OSError as e:
            # ELOOP / ENOTDIR: swapped for a symlink or a file since lstat
            raise self.fail(rel, "open directory", e) from None
        try:
            st = os.fstat(fd)
            own, ovl = _split(_xattrs(fd, self.where(rel)))
        except BaseException:
            os.close(fd)
            raise
        mode = stat.S_IMODE(st.st_mode)
        # a renamed lower directory (redirect_dir=on): ``link`` names where its lower content is
        source = _redirect_path(ovl, rel_dir)
        self.emit(Entry(rel, DIR, 0, mode, st.st_uid, st.st_gid, st.st_mtime, source, own, raw_name=rel))
        if _is_opaque(ovl):
            marker = whiteout.opaque_path(rel)
            self.emit(Entry(marker, FILE, 0, mode & 0o777, st.st_uid, st.st_gid, st.st_mtime, None, {},
                            digest=_EMPTY_DIGEST, raw_name=marker))
        return fd, rel

    def regular(self, dfd: int, rel_dir: str, name: str, rel: str, st: os.stat_result) -> None:
        if st.st_nlink > 1 and (st.st_dev, st.st_ino) in self.links:
            # a later name of an inode already emitted (a whiteout is never
            # remembered, so this is not one); no need to open it again
            self.hardlinked(rel, st, None, ())
            return
        fd = self.open_file(dfd, name, rel)
        if fd is None:
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise BadInputError("changed type while being read (no longer a regular file)",
                                    where=self.where(rel))
            own, ovl = _split(_xattrs(fd, self.where(rel)))
            if st.st_size == 0 and _has(ovl, _WHITEOUT):
                self.whiteout(rel_dir, name, st)  # an xattr whiteout
                return
            metacopy = _has(ovl, _METACOPY)
            # a renamed metacopy file's redirect names where its bytes are: resolved below, no defect
            defects: tuple[str, ...] = (REDIRECT,) if _has(ovl, _REDIRECT) and not metacopy else ()
            if self.hardlinked(rel, st, own, defects):
                return
            mode = stat.S_IMODE(st.st_mode)
            if metacopy:
                # metadata-only copy-up: no data here, the content is a lower file's
                self.emit(Entry(rel, FILE, st.st_size, mode, st.st_uid, st.st_gid, st.st_mtime,
                                _redirect_path(ovl, rel_dir), own, raw_name=rel, defects=(METACOPY,),
                                data_size=0))
                return
            digest, size = self.hash(fd, rel)
            after = os.fstat(fd)
            if size != st.st_size or after.st_size != st.st_size or after.st_mtime_ns != st.st_mtime_ns:
                defects += (CHANGED_WHILE_READ,)
            self.emit(Entry(rel, FILE, size, mode, st.st_uid, st.st_gid, st.st_mtime, None, own, digest=digest,
                            raw_name=rel, defects=defects, data_size=size))
        except OSError as e:
            raise self.fail(rel, "read", e) from None
        finally:
            os.close(fd)

    def open_file(self, dfd: int, name: str, rel: str) -> int | None:
        try:
            return _open_noatime(name, _FILE_FLAGS, dfd)
        except FileNotFoundError:
            return None  # deleted since listed
        except OSError as e:
            raise self.fail(rel, "open", e) from None

    def hash(self, fd: int, rel: str) -> tuple[bytes, int]:
        h = xxh3_128()
        buf = self.buf
        view = memoryview(buf)
        total = 0
        while True:
            n = os.readv(fd, [buf])
            if not n:
                break
            h.update(view[:n])
            total += n
        view.release()
        return h.digest(), total


def read_upper_dir(path: str | os.PathLike) -> list[Entry]:
    """Entries, in OCI layer form, of an overlayfs upper directory (see the module doc)."""
    top = os.fspath(path)
    try:
        root = _open_noatime(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # the caller's path may be a symlink
    except FileNotFoundError:
        raise BadInputError("no such file or directory", where=top) from None
    except NotADirectoryError:
        raise BadInputError("not a directory", where=top) from None
    except OSError as e:
        raise os_error(e, "open directory", top) from None
    walk = _Walk(top)
    # one open descriptor per level of nesting, so no component is ever resolved twice
    stack: list[tuple[int, str, list[str], int]] = []
    try:
        stack.append((root, "", walk.listdir(root, ""), 0))
        while stack:
            fd, rel, names, i = stack[-1]
            if i == len(names):
                stack.pop()
                os.close(fd)
                continue
            stack[-1] = (fd, rel, names, i + 1)
            sub = walk.visit(fd, rel, names[i])
            if sub is not None:
                sub_fd, sub_rel = sub
                try:
                    children = walk.listdir(sub_fd, sub_rel)
                except BaseException:
                    os.close(sub_fd)
                    raise
                stack.append((sub_fd, sub_rel, children, 0))
    finally:
        for fd, *_ in stack:
            os.close(fd)
    return walk.out


def read_upper_tar(path: str | os.PathLike) -> list[Entry]:
    """Entries of a layer tar file (plain, gzip, zstd, bzip2 or xz: detected by magic)."""
    where = os.fspath(path)
    try:
        with open(where, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise BadInputError("empty file, not a layer tar", where=where)
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise os_error(e, "read", where) from None
    stream = None
    try:
        stream = LayerStream(Region(mm, 0, len(mm)), where=where, verify=False)
        entries = list(iter_entries(stream))
        stream.finish()  # decompress to the end: corruption after the tar's end is still an error
        return entries
    except BadInputError as e:
        if e.where is None:
            raise BadInputError(str(e), where=where) from None
        raise
    finally:
        del stream
        try:
            mm.close()
        except BufferError:
            pass  # a window of an abandoned stream still exports the map; the GC closes it


def read_rw_layer(path: str | os.PathLike) -> list[Entry]:
    """A container's read/write layer: an upper directory or a layer tar file."""
    where = os.fspath(path)
    try:
        st = os.stat(where)
    except FileNotFoundError:
        raise BadInputError("no such file or directory", where=where) from None
    except OSError as e:
        raise os_error(e, "stat", where) from None
    if stat.S_ISDIR(st.st_mode):
        return read_upper_dir(where)
    if stat.S_ISREG(st.st_mode):
        return read_upper_tar(where)
    raise BadInputError("not a directory or a regular file (expected an upper dir or a layer tar)", where=where)
