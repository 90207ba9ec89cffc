"""Write an image out as docker-archive, oci-archive or an OCI layout directory, streaming.

The store rebuilds each layer tar byte for byte; this module turns those
tars (any source of uncompressed pieces) into an archive that ``docker
load``, skopeo, umoci and layerscope's own readers open.

Identity. The config is written as given, so the image ID (sha256 of the
config) never changes. An uncompressed layer blob *is* its tar, so its
digest is its diff_id. A compressed export (``gzip``, ``zstd``) makes new
blobs with new digests: the original image's compressed blobs came from
another compressor (Go's compress/flate, pgzip, zstd at some level) whose
output Python cannot reproduce (docs/store.md, "Export: original gzip
blobs"), so the manifest digest of a compressed export differs from the
original's. The blobs are reproducible, though: gzip via zlib level 6 with
mtime 0 and no file name, zstd level 3, one frame.

Layouts:

* ``oci-dir``: ``oci-layout``, ``index.json`` (one manifest descriptor with
  ``org.opencontainers.image.ref.name`` and the platform), ``blobs/sha256/``.
* ``oci-archive``: a tar of that layout.
* ``docker-archive``: ``manifest.json`` (Config, RepoTags, Layers) with the
  config and layers under ``blobs/sha256/<hex>`` (Docker 25+'s naming, which
  ``docker load``, skopeo and layerscope read). Compressed layer files are
  allowed there: skopeo's docker-archive transport detects compression by
  magic (tests/test_store_export.py checks it), as ``docker load`` does (not
  tested here: no Docker daemon). umoci 0.4.7 unpacks none and gzip layouts,
  not zstd (it predates the media type).

Checks and safety. Each layer's uncompressed bytes are hashed as they are
written; a diff_id or size mismatch raises :class:`DigestMismatchError` and
leaves no output. Everything is written under a temporary name in the
output's directory and renamed into place at the end (a directory for
``oci-dir``); an existing output is replaced only with ``overwrite=True``.
Blob names come from digests computed here, never from input text.

Memory stays bounded: a layer passes through in the pieces its ``open()``
yields. In an archive a blob's tar header needs its size and digest, which a
compressed blob has only once written: the header is written as a
placeholder and patched in place (``os.pwrite``) when the blob ends, so no
temporary blob file and no second copy.

Speed (benchmarks/export_speed.py, 2 shared cores, docs/store.md "Export"):
uncompressed ~1.1 GB/s from a cached 726 MB docker-archive (sha256 on a
helper thread beside the write of the same piece), 0.5-0.75 GB/s with other
jobs on the cores; zstd ~140 MB/s and gzip ~35 MB/s (both on every core).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable

from ..errors import BadInputError, DigestMismatchError, LayerscopeError, UsageError, os_error
from ..record import Record
from ..source.digest import parse_digest
from .compress import COMPRESSIONS, OCI_LAYER_TYPES, compressor

__all__ = ["FORMATS", "COMPRESSIONS", "ExportLayer", "ExportImage", "ExportedBlob", "ExportResult", "write_image",
           "from_source"]

FORMATS = ("docker-archive", "oci-archive", "oci-dir")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"

BLOCK = 512
_USTAR_MAX = 8 ** 11  # sizes from here on need the GNU base-256 size field (same 512-byte header)
SMALL = 256 << 10  # pieces below this are gathered before a write (fewer syscalls)
WRITE_BEHIND = 4  # pieces queued for the writer thread, at most
OVERLAP_MIN = 1 << 20  # uncompressed pieces from this size are hashed beside their write


class ExportLayer(Record):
    """One layer to write: its identity and a way to stream its uncompressed tar."""

    __slots__ = ("diff_id", "size", "open", "checked")

    diff_id: str  # digest of the uncompressed tar; checked while writing
    size: int  # uncompressed bytes; checked too
    open: Callable[[], Iterable[bytes | memoryview]]  # yields the tar in pieces (closed after use if it can be)

    def __init__(self, diff_id: str, size: int, open: Callable[[], Iterable[bytes | memoryview]],
                 checked: bool = False) -> None:
        # checked: the pieces carry a check of their own (the store's XXH3-128 of the layer, raised
        # by open()'s iterator at the end), so the diff_id is not hashed again (sha256 was half an
        # uncompressed export's time); `store verify --full` is what rehashes it
        self.diff_id = diff_id
        self.size = size
        self.open = open
        self.checked = checked


class ExportImage(Record):
    """What an export needs: the config bytes (kept exactly), the layers, names."""

    __slots__ = ("config", "layers", "repo_tags", "ref_name", "annotations")

    config: bytes
    layers: list[ExportLayer]
    repo_tags: list[str]  # docker-archive RepoTags, e.g. ["docker.io/library/app:1.0"]
    ref_name: str | None  # OCI index ref name; None: the tag of repo_tags[0], if any
    annotations: dict[str, str]  # extra annotations on the manifest's descriptor in index.json

    def __init__(self, config: bytes, layers: list[ExportLayer], repo_tags: list[str] | None = None,
                 ref_name: str | None = None, annotations: dict[str, str] | None = None) -> None:
        self.config = config
        self.layers = layers
        self.repo_tags = [] if repo_tags is None else repo_tags
        self.ref_name = ref_name
        self.annotations = {} if annotations is None else annotations


class ExportedBlob(Record):
    """A layer blob as written."""

    __slots__ = ("digest", "size", "media_type", "diff_id")

    digest: str
    size: int
    media_type: str
    diff_id: str

    def __init__(self, digest: str, size: int, media_type: str, diff_id: str) -> None:
        self.digest = digest
        self.size = size
        self.media_type = media_type
        self.diff_id = diff_id


class ExportResult(Record):
    """What was written: digests a caller can print or check against a registry."""

    __slots__ = ("path", "format", "compression", "manifest_digest", "config_digest", "layers", "bytes_written")

    path: str
    format: str
    compression: str
    manifest_digest: str | None  # the OCI manifest's digest; None for docker-archive (it holds no manifest blob)
    config_digest: str  # the image ID
    layers: list[ExportedBlob]
    bytes_written: int  # size of the archive, or of every file of the layout

    def __init__(self, path: str, format: str, compression: str, manifest_digest: str | None, config_digest: str,
                 layers: list[ExportedBlob], bytes_written: int) -> None:
        self.path = path
        self.format = format
        self.compression = compression
        self.manifest_digest = manifest_digest
        self.config_digest = config_digest
        self.layers = layers
        self.bytes_written = bytes_written


# ---- where blobs go ----------------------------------------------------------


def _write_all(fd: int, data) -> None:
    mv = memoryview(data)
    while mv:
        n = os.write(fd, mv)
        mv = mv[n:]


class _Out:
    """A file written in large writes: small pieces are gathered, big ones go straight through, on a
    thread of their own (the write is a copy into the page cache as long as the rebuild that feeds
    it: the two overlap). :meth:`flush` returns once everything is written."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pos = 0
        self._buf = bytearray()
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._abandoned = False

    def write(self, data) -> None:
        n = len(data)
        if not n:
            return
        if n >= SMALL:
            if self._buf:
                self._hand_on()
            self._put(data)
        else:
            self._buf += data
            if len(self._buf) >= SMALL:
                self._hand_on()
        self.pos += n

    def _hand_on(self) -> None:
        self._put(bytes(self._buf))
        self._buf.clear()

    def _put(self, data) -> None:
        if self._error is not None:
            raise self._error
        if WRITE_BEHIND <= 0:
            _write_all(self.fd, data)
            return
        if self._thread is None:
            self._queue = queue.Queue(maxsize=WRITE_BEHIND)
            self._thread = threading.Thread(target=self._run, name="layerscope-export-write", daemon=True)
            self._thread.start()
        self._queue.put(data)  # the pieces handed in are not reused by their makers

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            if self._error is None and not self._abandoned:
                try:
                    _write_all(self.fd, data)
                except BaseException as e:  # raised in the caller at its next write or flush
                    self._error = e

    def flush(self) -> None:
        if self._buf:
            self._hand_on()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """Stop the writer thread, writing nothing more (the export failed): the fd may then be closed."""
        self._abandoned = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


def _tar_header(name: str, size: int, *, kind: bytes = tarfile.REGTYPE, mode: int = 0o644) -> bytes:
    """One 512-byte header block: names here are short (< 100) and fixed, so a patch fits in place."""
    ti = tarfile.TarInfo(name)
    ti.size, ti.type, ti.mode, ti.mtime = size, kind, mode, 0
    fmt = tarfile.USTAR_FORMAT if size < _USTAR_MAX else tarfile.GNU_FORMAT
    buf = ti.tobuf(format=fmt, encoding="utf-8", errors="strict")
    assert len(buf) == BLOCK
    return buf


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.split(":", 1)[1]


class _ArchiveSink:
    """Members of one tar file: a blob's header is a placeholder until its digest is known."""

    def __init__(self, fd: int) -> None:
        self.out = _Out(fd)
        self._header_at = -1

    def add_dir(self, name: str) -> None:
        self.out.write(_tar_header(name.rstrip("/") + "/", 0, kind=tarfile.DIRTYPE, mode=0o755))

    def add_bytes(self, name: str, data: bytes) -> None:
        self.out.write(_tar_header(name, len(data)))
        self.out.write(data)
        self._pad(len(data))

    def begin_blob(self) -> _Out:
        self._header_at = self.out.pos
        self.out.write(bytes(BLOCK))
        self._start = self.out.pos
        return self.out

    def end_blob(self, digest: str) -> int:
        size = self.out.pos - self._start
        self._pad(size)
        self.out.flush()
        os.pwrite(self.out.fd, _tar_header(_blob_name(digest), size), self._header_at)
        return size

    def _pad(self, size: int) -> None:
        if size % BLOCK:
            self.out.write(bytes(BLOCK - size % BLOCK))

    def abandon(self) -> None:
        self.out.abandon()

    def close(self) -> int:
        self.out.write(bytes(2 * BLOCK))  # end of archive
        self.out.flush()
        return self.out.pos


class _DirSink:
    """Files of an OCI layout directory: a blob is written to a temp name, renamed to its digest."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.total = 0
        self._fd = -1
        self._tmp = ""

    def add_dir(self, name: str) -> None:
        os.makedirs(os.path.join(self.root, name), exist_ok=True)

    def add_bytes(self, name: str, data: bytes) -> None:
        fd = os.open(os.path.join(self.root, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        self.total += len(data)

    def begin_blob(self) -> _Out:
        self._tmp = os.path.join(self.root, "blobs", "sha256", ".partial")
        self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._out = _Out(self._fd)
        return self._out

    def end_blob(self, digest: str) -> int:
        self._out.flush()
        os.close(self._fd)
        self._fd = -1
        os.rename(self._tmp, os.path.join(self.root, _blob_name(digest)))
        self.total += self._out.pos
        return self._out.pos

    def abandon(self) -> None:
        out = getattr(self, "_out", None)
        if out is not None:
            out.abandon()

    def close(self) -> int:
        if self._fd >= 0:
            os.close(self._fd)
        return self.total


# ---- one layer ---------------------------------------------------------------


def _feed(sink, layer: ExportLayer, comp, diff_hasher, blob_hasher, progress, where: str, algo: str,
          overlap) -> None:
    """Pieces in, blob out; the diff_id and size are checked before the compressor's tail is written."""
    out = sink.begin_blob()
    seen = 0
    pieces = layer.open()
    try:
        for piece in pieces:
            n = len(piece)
            if not n:
                continue
            seen += n
            if seen > layer.size:
                raise DigestMismatchError(f"layer is longer than its size {layer.size}", where=where)
            if overlap is not None and n >= OVERLAP_MIN:
                # uncompressed: hash on the helper thread while this one writes the same bytes
                # (both release the GIL); both finish before the next piece is asked for
                done = overlap.submit(diff_hasher.update, piece)
                out.write(piece)
                done.result()
            else:
                diff_hasher.update(piece)
                data = comp.compress(piece)
                if data:
                    if blob_hasher is not diff_hasher:
                        blob_hasher.update(data)
                    out.write(data)
            if progress is not None:
                progress(n)
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    if seen != layer.size:
        raise DigestMismatchError(f"layer is {seen} bytes, its size says {layer.size}", where=where)
    actual = f"{algo}:{diff_hasher.hexdigest()}"
    if actual != layer.diff_id:
        raise DigestMismatchError(f"diff_id mismatch: expected {layer.diff_id}, layer content is {actual}",
                                  where=where)
    tail = comp.flush()
    if tail:
        if blob_hasher is not diff_hasher:
            blob_hasher.update(tail)
        out.write(tail)


class _Trusted:
    """The diff_id hasher of a layer whose pieces are checked on their own (``ExportLayer.checked``)."""

    def __init__(self, hexdigest: str) -> None:
        self._hex = hexdigest

    def update(self, data) -> None:
        pass

    def hexdigest(self) -> str:
        return self._hex


def _write_layer(sink, layer: ExportLayer, compress: str, progress, where: str) -> tuple[str, int]:
    """Stream one layer into the sink, checking its diff_id and size; (blob digest, blob size)."""
    algo, hex_ = parse_digest(layer.diff_id, where=f"{where}: diff_id")
    diff_hasher = _Trusted(hex_) if layer.checked else hashlib.new(algo)
    blob_hasher = diff_hasher if compress == "none" and algo == "sha256" else hashlib.sha256()
    comp = compressor(compress)
    overlap = None
    if compress == "none" and blob_hasher is diff_hasher and not layer.checked and layer.size >= 4 * OVERLAP_MIN:
        from concurrent.futures import ThreadPoolExecutor

        overlap = ThreadPoolExecutor(1, thread_name_prefix="layerscope-export-hash")
    try:
        _feed(sink, layer, comp, diff_hasher, blob_hasher, progress, where, algo, overlap)
    finally:
        comp.close()
        if overlap is not None:
            overlap.shutdown(wait=True)
    digest = "sha256:" + blob_hasher.hexdigest()
    return digest, sink.end_blob(digest)


# ---- documents -----------------------------------------------------------------


def _json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _platform(config: dict) -> dict | None:
    if not isinstance(config.get("os"), str) or not isinstance(config.get("architecture"), str):
        return None
    p = {"architecture": config["architecture"], "os": config["os"]}
    if isinstance(config.get("variant"), str):
        p["variant"] = config["variant"]
    return p


def _ref_name(image: ExportImage) -> str | None:
    if image.ref_name is not None:
        return image.ref_name
    if not image.repo_tags:
        return None
    tag = image.repo_tags[0]
    last = tag.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def _parse_config(config: bytes, where: str) -> dict:
    try:
        doc = json.loads(config)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadInputError(f"image config is not valid JSON: {e}", where=where) from None
    if not isinstance(doc, dict):
        raise BadInputError("image config is not a JSON object", where=where)
    diff_ids = doc["rootfs"].get("diff_ids") if isinstance(doc.get("rootfs"), dict) else None
    if not isinstance(diff_ids, list):
        raise BadInputError("image config has no rootfs.diff_ids list", where=where)
    return doc


# ---- the whole image -----------------------------------------------------------


def _check_args(out: str, image: ExportImage, format: str, compress: str, overwrite: bool) -> dict:
    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if compress not in COMPRESSIONS:
        raise UsageError(f"unknown compression {compress!r}; choose one of {', '.join(COMPRESSIONS)}")
    config = _parse_config(image.config, out)
    diff_ids = config["rootfs"]["diff_ids"]
    if diff_ids != [layer.diff_id for layer in image.layers]:
        raise UsageError(f"the config's rootfs.diff_ids ({len(diff_ids)}) are not the layers' diff_ids "
                         f"({len(image.layers)}) in order", where=out)
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise UsageError(f"the output's directory {parent!r} does not exist", where=out)
    if os.path.lexists(out):
        if not overwrite:
            raise UsageError("the output exists (`--force`, or overwrite=True in Python, replaces it)", where=out)
        if os.path.isdir(out) and not os.path.islink(out) and format != "oci-dir":
            raise UsageError(f"the output is a directory; a {format} is a file", where=out)
        if format == "oci-dir" and not os.path.isdir(out):
            raise UsageError("the output exists and is not a directory", where=out)
    return config


def write_image(out: str | os.PathLike, image: ExportImage, *, format: str = "docker-archive",
                compress: str = "none", progress: Callable[[int], None] | None = None,
                overwrite: bool = False) -> ExportResult:
    """Write ``image`` to ``out`` as ``format`` with layers compressed by ``compress``.

    ``progress(n)`` is called with each count of uncompressed layer bytes
    written. Nothing appears at ``out`` unless the whole export succeeded.
    """
    path = os.fspath(out)
    config = _check_args(path, image, format, compress, overwrite)
    parent = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path.rstrip("/")) or "export"
    try:
        if format == "oci-dir":
            tmp = tempfile.mkdtemp(prefix=f".{base}.", suffix=".partial", dir=parent)
            fd = -1
            sink = _DirSink(tmp)
        else:
            fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".partial", dir=parent)
            sink = _ArchiveSink(fd)
    except OSError as e:
        raise os_error(e, "create a temporary file beside the output", path, cls=UsageError) from None
    ok = False
    try:
        result = _write(sink, image, config, path, format, compress, progress)
        result.bytes_written = sink.close()
        if fd >= 0:
            os.close(fd)
            fd = -1
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        else:
            _replace_dir(tmp, path)
        ok = True
        return result
    except OSError as e:
        raise os_error(e, "write the export", path) from None
    finally:
        if not ok:
            sink.abandon()  # its writer thread stops before the file is closed under it
        if fd >= 0:
            os.close(fd)
        if not ok:
            if format == "oci-dir":
                shutil.rmtree(tmp, ignore_errors=True)
            elif os.path.lexists(tmp):
                os.unlink(tmp)


def _replace_dir(tmp: str, path: str) -> None:
    """Move the finished layout into place; an old one (overwrite) is renamed aside first, then removed."""
    os.chmod(tmp, 0o755)
    if not os.path.lexists(path):
        os.rename(tmp, path)
        return
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".old", dir=os.path.dirname(os.path.abspath(path)))
    os.rmdir(old)
    os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def _write(sink, image: ExportImage, config: dict, path: str, format: str, compress: str, progress) -> ExportResult:
    oci = format != "docker-archive"
    if oci:
        sink.add_bytes("oci-layout", _json({"imageLayoutVersion": "1.0.0"}))
    sink.add_dir("blobs")
    sink.add_dir("blobs/sha256")
    media_type = OCI_LAYER_TYPES[compress]
    blobs: list[ExportedBlob] = []
    done: dict[str, ExportedBlob] = {}  # diff_id -> its blob: a layer repeated in an image is written once
    for i, layer in enumerate(image.layers):
        if layer.diff_id in done:
            blobs.append(done[layer.diff_id])
            continue
        where = f"{path}: layer {i} ({layer.diff_id})"
        try:
            digest, size = _write_layer(sink, layer, compress, progress, where)
        except (LayerscopeError, OSError):
            raise
        except Exception as e:  # the layer's source failed in a way of its own
            raise BadInputError(f"reading the layer failed: {e}", where=where) from None
        blob = ExportedBlob(digest, size, media_type, layer.diff_id)
        done[layer.diff_id] = blob
        blobs.append(blob)
    config_digest = "sha256:" + hashlib.sha256(image.config).hexdigest()
    sink.add_bytes(_blob_name(config_digest), image.config)
    if not oci:
        entry = {"Config": _blob_name(config_digest), "RepoTags": list(image.repo_tags),
                 "Layers": [_blob_name(b.digest) for b in blobs]}
        sink.add_bytes("manifest.json", _json([entry]))
        return ExportResult(path, format, compress, None, config_digest, blobs, 0)
    manifest = _json({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(image.config)},
        "layers": [{"mediaType": b.media_type, "digest": b.digest, "size": b.size} for b in blobs],
    })
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    sink.add_bytes(_blob_name(manifest_digest), manifest)
    desc: dict = {"mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest)}
    annotations = dict(image.annotations)
    ref = _ref_name(image)
    if ref is not None:
        annotations[REF_NAME] = ref
    if annotations:
        desc["annotations"] = annotations
    platform = _platform(config)
    if platform is not None:
        desc["platform"] = platform
    sink.add_bytes("index.json", _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc]}))
    return ExportResult(path, format, compress, manifest_digest, config_digest, blobs, 0)


# ---- from a source image -------------------------------------------------------


def _config_bytes(image) -> bytes:
    """The config's exact bytes (the Image keeps only its parse), found by its digest."""
    digest = image.config_digest
    if not digest:
        raise BadInputError("the image has no config blob (a pre-1.10 archive): nothing to keep the ID of",
                            where=image.path)
    from ..source.container import open_container

    c = image.layers[0].container if image.layers else open_container(image.path)
    hexpart = digest.split(":", 1)[1]
    for name in (f"blobs/sha256/{hexpart}", f"{hexpart}.json", hexpart):
        if c.exists(name):
            data = c.read_bytes(name, what="config")
            if "sha256:" + hashlib.sha256(data).hexdigest() == digest:
                return data
    if c.exists("manifest.json"):  # a docker-archive may name its config anything
        for entry in json.loads(c.read_bytes("manifest.json", what="manifest.json")):
            name = entry.get("Config") if isinstance(entry, dict) else None
            if isinstance(name, str) and c.exists(name):
                data = c.read_bytes(name, what="config")
                if "sha256:" + hashlib.sha256(data).hexdigest() == digest:
                    return data
    raise BadInputError(f"config {digest} not found in the source", where=image.path)


def _pieces(ref, piece: int = 8 << 20):
    # The source's own checks are off: the export hashes every byte against the diff_id anyway.
    stream = ref.open(verify=False)
    try:
        while True:
            data = stream.read1(piece)
            if not data:
                return
            yield data
    finally:
        stream.close()


def _stream_size(ref) -> int:
    if ref.compression() == "none":
        return ref.compressed_size
    n = 0
    for data in _pieces(ref):
        n += len(data)
    return n


def from_source(image, *, repo_tags: list[str] | None = None, ref_name: str | None = None) -> ExportImage:
    """An :class:`ExportImage` of an image opened by layerscope's readers (``open_image``).

    Used to re-export an archive in another format and by the benchmark. The
    uncompressed size of a compressed source layer is found by reading it once.
    """
    config = _config_bytes(image)
    layers = []
    for ref in image.layers:
        if ref.diff_id is None:
            raise BadInputError(f"layer {ref.index} has no diff_id", where=image.path)
        layers.append(ExportLayer(ref.diff_id, _stream_size(ref), lambda ref=ref: _pieces(ref)))
    if repo_tags is None:
        repo_tags = [image.ref] if image.format == "docker-archive" and image.ref else []
    if ref_name is None and image.format != "docker-archive":
        ref_name = image.ref
    return ExportImage(config, layers, repo_tags=repo_tags, ref_name=ref_name)
