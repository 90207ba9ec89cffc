"""``docker://REF``: an image in a registry, read as an OCI layout whose blobs arrive on demand.

:class:`RegistryContainer` answers the questions the OCI layout reader asks
(``index.json``, ``blobs/<alg>/<hex>``): ``index.json`` is made up of the one
manifest (or index) the reference names, and every blob is fetched from the
registry into the blob cache the first time it is read, checked against its
digest, and then read from there like any layout's file (mapped, never whole in
memory). So platform selection, nested indexes, attestation skipping and every
check are the layout reader's own: a registry image is read by the same code as
an ``oci:`` directory.

Once the image is chosen, its layer blobs are downloaded in the background (a
few at a time, in layer order) while the first layers are already being read;
a reader that gets to a blob first waits for it. Worker processes reopen the
container by pickle and find the blobs in the cache (or wait on the per-blob
lock of the download in progress).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import mmap
import queue
import threading
from typing import Any

from ...errors import BadInputError, MissingBlobError
from .cache import BlobCache
from .client import Client
from .reference import Reference, parse_reference
from ..container import MAX_JSON_BYTES, Container, DirContainer, Region
from ..image import Image
from ..oci import INDEX_TYPES, REF_NAME, OCILayout
from ..platform import Platform, parse_platform

PREFETCH = 3  # blobs downloaded at once in the background, over every registry image of the process
_MANIFEST_FIELDS = ("config", "layers", "manifests")


class _Fetchers:
    """The process's background downloads: one FIFO queue, :data:`PREFETCH` daemon threads
    started on first use (again in a forked child, whose threads did not survive the fork)."""

    _queue: queue.SimpleQueue | None = None
    _pid = 0
    _lock = threading.Lock()

    @classmethod
    def submit(cls, jobs: list[tuple[RegistryContainer, str, _Done]]) -> None:
        with cls._lock:
            if cls._queue is None or cls._pid != os.getpid():
                cls._queue, cls._pid = queue.SimpleQueue(), os.getpid()
                for _ in range(PREFETCH):
                    threading.Thread(target=cls._run, args=(cls._queue,), name="layerscope-fetch",
                                     daemon=True).start()
            for job in jobs:
                cls._queue.put(job)

    @staticmethod
    def _run(todo: queue.SimpleQueue) -> None:
        while True:
            container, name, future = todo.get()
            container._download_job(name, future)


class RegistryContainer(Container):
    """The blobs of one repository, as an OCI layout fetched lazily into ``cache``."""

    def __init__(self, reference: Reference, client: Client, cache: BlobCache, top: bytes, media_type: str,
                 digest: str) -> None:
        self.path = f"docker://{reference.short()}"
        self.reference = reference
        self.client = client
        self.cache = cache
        self._index = json.dumps({"schemaVersion": 2, "manifests": [
            {"mediaType": media_type, "digest": digest, "size": len(top),
             "annotations": {REF_NAME: reference.short()}}]}).encode()
        self._manifests: set[str] = {digest}  # digests fetched from /manifests/, not /blobs/
        self._sizes: dict[str, int] = {}  # blob name -> size from a descriptor
        self._files = DirContainer(cache.root)
        self._pending: dict[str, _Done] = {}
        self._streams: dict[str, _Stream] = {}  # blobs being downloaded that readers may follow
        self._lock = threading.Lock()
        cache.ensure(digest, lambda f: f.write(top))  # checked: the client hashed it

    def __getstate__(self):
        return {"path": self.path, "reference": self.reference, "client": self.client, "cache": self.cache,
                "_index": self._index, "_manifests": self._manifests, "_sizes": self._sizes}

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        self._files = DirContainer(self.cache.root)
        self._pending = {}
        self._streams = {}
        self._lock = threading.Lock()

    # ---- what the layout reader asks --------------------------------------------------

    def exists(self, name: str) -> bool:
        return name == "index.json" or (name.startswith("blobs/") and name.count("/") == 2)

    def names(self) -> list[str]:
        return ["index.json", *sorted(self._sizes)]

    def size(self, name: str) -> int:
        if name == "index.json":
            return len(self._index)
        if name in self._sizes:  # the descriptor's word: a cached copy of another size is fetched again
            return self._sizes[name]
        if self._files.exists(name):
            return self._files.size(name)
        return self.client.blob_size(self.reference.repository, _digest(name))

    def read_bytes(self, name: str, *, what: str) -> bytes:
        if name == "index.json":
            return self._index
        self._fetch(name)
        data = self._files.read_bytes(name, what=what)
        self._learn(data)
        return data

    def region(self, name: str) -> Region:
        with self._lock:
            pending = self._pending.get(name)
            stream = self._streams.get(name)
        if pending is not None and stream is not None:
            mapped = stream.wait_started(pending)
            if mapped is not None:  # being downloaded: read it as it arrives
                return GrowingRegion(mapped, stream)
        self._fetch(name)
        return self._files.region(name)

    def identity(self, name: str) -> tuple[int, ...] | None:
        return self._files.identity(name)

    def unchanged(self, name: str, identity: tuple[int, ...]) -> bool:
        return self._files.unchanged(name, identity)

    def distrust(self, name: str) -> str | None:
        # the download checked the digest before the rename: a copy that fails it now was damaged since
        try:
            path = self.cache.path(_digest(name))
            read = self._files.identity(name)  # the file whose bytes failed, as mapped
            st = os.stat(path)
            if read is None or (st.st_dev, st.st_ino) != tuple(read[:2]):
                return None  # replaced since (a fetch of a good copy): that one stays
            os.unlink(path)
        except (OSError, BadInputError, MissingBlobError):
            return None
        return "the damaged copy in the blob cache was removed: the next run fetches it again"

    # ---- fetching -----------------------------------------------------------------------

    def prefetch(self, names: list[str]) -> None:
        """Queue ``names`` (those not cached yet) for download in the background, in order.

        One queue and :data:`PREFETCH` daemon threads serve every registry image of the process,
        first come first served: a run over a thousand images downloads a few blobs at a time,
        not a few per image. Daemon threads: a process that ends early (an error, ^C) is not held
        up by downloads nobody will read (their temporary files go with the next eviction)."""
        jobs = []
        with self._lock:
            for name in names:
                if name in self._pending or self.cache.has(_digest(name)):
                    continue
                self._pending[name] = future = _Done()
                size = self._sizes.get(name)
                if size:
                    self._streams[name] = _Stream(size)
                jobs.append((self, name, future))
        if jobs:
            _Fetchers.submit(jobs)

    def _download_job(self, name: str, future: _Done) -> None:
        try:
            self._download(name)
        except BaseException as e:  # handed to whoever reads the blob
            future.set_exception(e)
        else:
            future.set_result(None)

    def _fetch(self, name: str) -> None:
        with self._lock:
            pending = self._pending.get(name)
        if pending is not None:
            pending.result()  # its error is this read's error
            return
        self._download(name)

    def _download(self, name: str) -> None:
        digest = _digest(name)
        repo = self.reference.repository
        if digest in self._manifests:
            def fetch(f) -> None:
                data, _mt, _d = self.client.manifest(repo, digest)  # checked against the digest
                f.write(data)
            self.cache.ensure(digest, fetch)
            return
        size = self._sizes.get(name)
        stream = self._streams.get(name)

        def fetch(f) -> None:
            self.client.fetch_blob(repo, digest, f, size=size, progress=stream.arrived if stream else None)

        try:
            self.cache.ensure(digest, fetch, size=size, started=stream.started if stream else None)
        except BaseException as e:
            if stream is not None:
                stream.failed(e)
            raise
        if stream is not None:
            stream.arrived(size)

    def _learn(self, data: bytes) -> None:
        """Note what a manifest or index says of its blobs: children of an index are manifests
        (fetched from /manifests/), descriptor sizes bound the downloads."""
        if len(data) > MAX_JSON_BYTES or not any(f.encode() in data for f in _MANIFEST_FIELDS):
            return
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return  # the layout reader says what is wrong with it
        if not isinstance(doc, dict):
            return
        for key in ("manifests", "layers"):
            items = doc.get(key)
            for d in items if isinstance(items, list) else []:
                self._note(d, manifest=key == "manifests")
        self._note(doc.get("config"), manifest=False)

    def _note(self, d: Any, *, manifest: bool) -> None:
        if not isinstance(d, dict) or not isinstance(d.get("digest"), str):
            return
        try:
            name = self.cache.name(d["digest"])
        except BadInputError:
            return
        if manifest or d.get("mediaType") in INDEX_TYPES:
            self._manifests.add(d["digest"])
        if isinstance(d.get("size"), int) and not isinstance(d.get("size"), bool) and d["size"] >= 0:
            self._sizes[name] = d["size"]



class _Done:
    """A download's outcome, waited for by readers (concurrent.futures would load logging at start-up)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._error: BaseException | None = None

    def set_result(self, _value) -> None:
        self._event.set()

    def set_exception(self, e: BaseException) -> None:
        self._error = e
        self._event.set()

    def done(self) -> bool:
        return self._event.is_set()

    def result(self, timeout: float | None = None) -> None:
        if not self._event.wait(timeout):
            raise TimeoutError("the download did not end in time")
        if self._error is not None:
            raise self._error


class _Stream:
    """A blob on its way into the cache: its temporary file mapped, and how much has arrived."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.got = 0
        self.error: BaseException | None = None
        self.mm: mmap.mmap | None = None
        self._cond = threading.Condition()
        self._started = False

    def started(self, path: str) -> None:
        with open(path, "rb") as f:
            mm = mmap.mmap(f.fileno(), self.size, access=mmap.ACCESS_READ)
        with self._cond:
            self.mm, self._started = mm, True
            self._cond.notify_all()

    def arrived(self, got: int) -> None:
        with self._cond:
            if got > self.got:
                self.got = got
                self._cond.notify_all()

    def failed(self, e: BaseException) -> None:
        with self._cond:
            self.error = e
            self._cond.notify_all()

    def wait_started(self, future: _Done) -> mmap.mmap | None:
        """The mapped file once the download began; None if it ended first or never maps."""
        with self._cond:
            while not self._started and not future.done() and self.error is None:
                self._cond.wait(0.05)
            return self.mm if self._started and self.got < self.size else None

    def wait_for(self, end: int) -> None:
        """Return once the first ``end`` bytes are there; the download's error if it failed."""
        with self._cond:
            while self.got < end:
                if self.error is not None:
                    raise self.error
                self._cond.wait(0.5)


class GrowingRegion(Region):
    """A blob being downloaded, read as it arrives: each window is handed out once its bytes are
    in (the file was made its full length first, so the map never has to grow)."""

    __slots__ = ("stream",)

    def __init__(self, mm: mmap.mmap, stream: _Stream) -> None:
        super().__init__(mm, 0, stream.size)
        self.stream = stream

    def _ready(self, n: int) -> None:
        self.stream.wait_for(n)


def _cached_manifest(blobs: BlobCache, digest: str) -> tuple[bytes, str, str] | None:
    """(bytes, media type, digest) of the manifest or index a digest reference names, when an
    earlier run cached it: checked against the digest again (the cache is the user's files)."""
    try:
        if not blobs.has(digest):
            return None
        with open(blobs.path(digest), "rb") as f:
            data = f.read(MAX_JSON_BYTES + 1)
    except (OSError, BadInputError):
        return None  # a malformed digest: the registry request reports it
    algo, hex_ = digest.split(":", 1)
    if len(data) > MAX_JSON_BYTES or hashlib.new(algo, data).hexdigest() != hex_:
        with contextlib.suppress(OSError):  # damaged: dropped, fetched again and checked
            os.unlink(blobs.path(digest))
        return None
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    media_type = doc.get("mediaType") if isinstance(doc, dict) else None
    return data, media_type if isinstance(media_type, str) else "", digest


def _digest(name: str) -> str:
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != "blobs":
        raise MissingBlobError(f"{name!r} is not a blob name", where="registry")
    return f"{parts[1]}:{parts[2]}"


_PREFETCH = [True]  # off while a fleet client opens images whose layers its workers read


@contextlib.contextmanager
def no_prefetch():
    """Open registry images without downloading their layers in the background (a fleet
    client: the workers fetch them)."""
    before = _PREFETCH[0]
    _PREFETCH[0] = False
    try:
        yield
    finally:
        _PREFETCH[0] = before


def open_registry_image(text: str, *, platform: str | Platform | None = None, verify: bool = True,
                        cache: bool | None = None, prefetch: bool = True) -> Image:
    """The image ``docker://text`` names (``--platform`` picks from an index), its layer blobs
    being fetched into the blob cache in the background (not with ``prefetch`` off: a fleet
    task reads one layer, fetched when it is read)."""
    ref = parse_reference(text)
    client = Client(ref.host, ref.hostname)
    blobs = BlobCache.default(cache)
    pinned = _cached_manifest(blobs, ref.digest) if ref.digest else None
    if pinned is not None:  # a digest names the same bytes for ever: no request needed
        top, media_type, digest = pinned
    else:
        top, media_type, digest = client.manifest(ref.repository, ref.ref)
    container = RegistryContainer(ref, client, blobs, top, media_type, digest)
    wanted = parse_platform(platform) if isinstance(platform, str) else platform
    image = OCILayout(container, fmt="registry", verify=verify).select(None, 0, wanted)
    image.path = container.path
    image.ref = ref.short()
    if prefetch and _PREFETCH[0]:
        container.prefetch([layer.name for layer in image.layers if layer.name])
    return image
