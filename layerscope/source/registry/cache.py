"""Downloaded blobs on disk, keyed by digest, so compare, savings and CI reruns fetch once.

Layout: ``ROOT/blobs/sha256/<hex>`` (the OCI layout's own naming, so a
:class:`~layerscope.source.container.DirContainer` reads it as it is). A blob
is written to a temporary file in the same directory, checked against its
digest, and renamed into place: concurrent runs see whole, verified blobs or
none. One download per blob at a time across processes (an ``flock`` on
``blob-locks/<hex>``): whoever comes second waits and finds the file. A lock
file lives only while its blob is being fetched: the holder unlinks it before
it lets go, and a waiter that then gets the lock on an unlinked file opens
the path again, so the folder holds one file per download in flight, not one
per blob ever fetched. The cache is
capped (``LAYERSCOPE_BLOB_CACHE_MAX``, default 10 GB); after a blob is added,
the least recently used go first (a use refreshes a blob's mtime). A reader
that has a blob mapped keeps its bytes when it is evicted (unlinked, not
overwritten).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator

from ...errors import UsageError, os_error
from ...places import cache_dir, size_from_env
from ..digest import parse_digest

DEFAULT_MAX_BYTES = 10 * 1000**3
STALE = 3600  # seconds after which a temporary file is a killed download's leftover


def default_root() -> str | None:
    """The layer cache's directory (``LAYERSCOPE_CACHE``, else the user's cache dir); None when off."""
    return cache_dir()


def default_max_bytes() -> int:
    return size_from_env("LAYERSCOPE_BLOB_CACHE_MAX", DEFAULT_MAX_BYTES)


class BlobCache:
    """Blobs under ``root`` (the layout dir), at most ``max_bytes`` (None: no cap, a private dir)."""

    def __init__(self, root: str, *, max_bytes: int | None = None) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.dir = os.path.join(root, "blobs")
        self.fetched = 0  # blobs this process downloaded (the rest were here)

    @classmethod
    def default(cls, enabled: bool | None = None) -> BlobCache:
        """The user's blob cache, or (``enabled`` False, or caching off) a private one removed at exit."""
        root = default_root() if enabled is not False else None
        if root is None:
            from ..spool import scratch_dir

            return cls(os.path.join(scratch_dir(), "registry"))
        return cls(root, max_bytes=default_max_bytes())

    def name(self, digest: str) -> str:
        """The blob's name inside the layout (``blobs/sha256/<hex>``); the digest is checked first."""
        algo, hex_ = parse_digest(digest, where="blob cache")
        return f"blobs/{algo}/{hex_}"

    def path(self, digest: str) -> str:
        return os.path.join(self.root, self.name(digest))

    def has(self, digest: str) -> bool:
        path = self.path(digest)
        try:
            os.utime(path)  # a use: the LRU order
            return True
        except OSError:
            return False

    def ensure(self, digest: str, fetch: Callable[[object], object], *, size: int | None = None,
               started: Callable[[str], None] | None = None) -> str:
        """The blob's path, calling ``fetch(file)`` to download it (into a temporary file, which it
        must fill and check) when it is not here; one download at a time per blob. With ``size``
        the temporary file is made that long first and ``started(its path)`` is called before
        the fetch, so a reader can map it and follow the download."""
        path = self.path(digest)
        if self._whole(path, size, drop=False):
            return path
        with self._locked(digest):
            if self._whole(path, size, drop=True):  # someone else fetched it while we waited
                return path
            folder = os.path.dirname(path)
            try:
                os.makedirs(folder, exist_ok=True)
                import tempfile  # only for a download: not at start-up

                fd, tmp = tempfile.mkstemp(prefix=".partial-", dir=folder)
            except OSError as e:
                raise os_error(e, "write to the blob cache", folder, cls=UsageError) from None
            try:
                with os.fdopen(fd, "w+b") as f:
                    if size:
                        f.truncate(size)
                        if started is not None:
                            started(tmp)
                    fetch(f)
                    f.flush()
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            self.fetched += 1
        if self.max_bytes is not None:
            self.evict(keep=path)
        return path

    def _whole(self, path: str, size: int | None, *, drop: bool) -> bool:
        """Is the blob here (a use: its mtime refreshed) and, when its descriptor's ``size`` is known,
        of that size? A copy of another size is damaged (cut, or grown by something else): with
        ``drop`` (only under the blob's lock: unlocked, the file seen may be replaced by a good
        fetch before the unlink) it is removed, to be fetched again. Equal size with other bytes
        is found by the digest check when it is read (docs/registry.md)."""
        try:
            os.utime(path)
            if size is None or os.stat(path).st_size == size:
                return True
            if drop:
                os.unlink(path)
        except OSError:
            pass
        return False

    @contextlib.contextmanager
    def _locked(self, digest: str) -> Iterator[None]:
        folder = os.path.join(self.root, "blob-locks")
        path = os.path.join(folder, self.name(digest).rsplit("/", 1)[-1])
        while True:
            try:
                os.makedirs(folder, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as e:
                raise os_error(e, "lock in the blob cache", folder, cls=UsageError) from None
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, path):
                break
            os.close(fd)  # its holder unlinked it as it finished: lock the path as it is now
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)  # still holding it: nobody can be inside with this file
            os.close(fd)

    def evict(self, *, keep: str | None = None) -> int:
        """Remove least recently used blobs until the cache fits its cap; bytes freed."""
        entries = []
        total = 0
        now = time.time()
        _drop_stale_locks(os.path.join(self.root, "blob-locks"), now)
        for dirpath, _dirs, files in os.walk(self.dir):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                if f.startswith(".partial-"):
                    if now - st.st_mtime > STALE:
                        with contextlib.suppress(OSError):
                            os.unlink(p)
                    continue
                total += st.st_size
                entries.append((st.st_mtime, st.st_size, p))
        freed = 0
        if self.max_bytes is None or total <= self.max_bytes:
            return 0
        for _mtime, size, p in sorted(entries):
            if total - freed <= self.max_bytes:
                break
            if p == keep:
                continue
            with contextlib.suppress(OSError):
                os.unlink(p)
                freed += size
        return freed


def _same_file(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _drop_stale_locks(folder: str, now: float) -> None:
    """Lock files older than STALE that nobody holds: left by a killed download (or by a
    layerscope that kept them all)."""
    for f in _listdir(folder):
        path = os.path.join(folder, f)
        try:
            if now - os.stat(path).st_mtime <= STALE:
                continue
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _same_file(fd, path):
                os.unlink(path)
        except OSError:
            pass  # held: a download is running
        finally:
            os.close(fd)


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []
