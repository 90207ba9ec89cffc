"""Downloaded blobs on disk, keyed by digest, so compare, savings and CI reruns fetch once.

Layout: ``ROOT/blobs/sha256/<hex>`` (the OCI layout's own naming, so a
:class:`~layerscope.source.container.DirContainer` reads it as it is). A blob
is written to a temporary file in the same directory, checked against its
digest, and renamed into place: concurrent runs see whole, verified blobs or
none. One download per blob at a time across processes (an ``flock`` on
``locks/<hex>``): whoever comes second waits and finds the file. The cache is
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
        if self.has(digest):
            return path
        with self._locked(digest):
            if self.has(digest):  # someone else fetched it while we waited
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

    @contextlib.contextmanager
    def _locked(self, digest: str) -> Iterator[None]:
        folder = os.path.join(self.root, "blob-locks")
        try:
            os.makedirs(folder, exist_ok=True)
            fd = os.open(os.path.join(folder, self.name(digest).rsplit("/", 1)[-1]), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise os_error(e, "lock in the blob cache", folder, cls=UsageError) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def evict(self, *, keep: str | None = None) -> int:
        """Remove least recently used blobs until the cache fits its cap; bytes freed."""
        entries = []
        total = 0
        now = time.time()
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
