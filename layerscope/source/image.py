"""The resolved image: which manifest, which config, which layer blobs.

Formats (docker-archive, OCI layout) differ only in how they get here; from
an :class:`Image` on, a layer is a :class:`LayerRef` that opens as a verified
uncompressed stream.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..errors import BadInputError, DigestMismatchError
from ..record import Record
from .compression import LayerStream, blob_mismatch, detect, diff_id_mismatch, hash_region
from .container import Container
from .digest import new_hasher, parse_digest, sha256_digest
from .platform import Platform

FOREIGN_MARKERS = ("foreign", "nondistributable")


class LayerRef(Record):
    """One layer of an image, located in its container."""

    __slots__ = ("index", "container", "name", "digest", "diff_id", "media_type", "compressed_size", "created_by",
                 "urls")

    index: int
    container: Container
    name: str | None  # file name in the container; None when the blob is absent (foreign)
    digest: str | None  # blob digest as the manifest names it (None: legacy archive, unknown)
    diff_id: str | None  # from the config's rootfs.diff_ids
    media_type: str
    compressed_size: int | None
    created_by: str | None
    urls: list[str]

    def __init__(self, index: int, container: Container, name: str | None, digest: str | None, diff_id: str | None,
                 media_type: str, compressed_size: int | None, created_by: str | None = None,
                 urls: list[str] | None = None) -> None:
        self.index = index
        self.container = container
        self.name = name
        self.digest = digest
        self.diff_id = diff_id
        self.media_type = media_type
        self.compressed_size = compressed_size
        self.created_by = created_by
        self.urls = [] if urls is None else urls

    @property
    def foreign(self) -> bool:
        return self.name is None

    def compression(self) -> str:
        if self.name is None:
            mt = self.media_type
            return "zstd" if "zstd" in mt else "gzip" if "gzip" in mt else "none"
        region = self.container.region(self.name)
        head = region.head(6)
        return detect(head)

    def where(self, image_path: str) -> str:
        return f"{image_path}: layer {self.index} ({self.digest or self.diff_id or self.name})"

    def cache_key(self) -> str | None:
        """The digest that names this layer's bytes, known before reading them.

        The blob digest from the manifest; for a legacy docker-archive layer
        (no manifest digest) stored uncompressed, its diff_id names the same
        bytes. None when nothing does (a compressed legacy layer).
        """
        if self.name is None:
            return None
        if self.digest:
            return self.digest
        if self.diff_id and self.compression() == "none":
            return self.diff_id
        return None

    def blob_identity(self) -> tuple[int, ...] | None:
        """The identity of the file bytes holding this blob (Container.identity), mapping them first."""
        if self.name is None:
            return None
        self.container.region(self.name)
        return self.container.identity(self.name)

    def blob_unchanged(self, identity: tuple[int, ...]) -> bool:
        return self.name is not None and self.container.unchanged(self.name, identity)

    def same_bytes(self, other: LayerRef) -> bool | None:
        """Is this blob byte for byte ``other``'s (another file's copy)? None: cannot tell fast."""
        if self.name is None or other.name is None:
            return None
        return self.container.region(self.name).same_bytes(other.container.region(other.name))

    def check_blob(self, expected: str, *, where: str | None = None) -> None:
        """Hash the stored blob and compare it with ``expected`` (what a cache hit rests on)."""
        where = where or self.where(self.container.path)
        algo, _hex = parse_digest(expected, where=where)
        h = new_hasher(algo)
        hash_region(self.container.region(self.name), h)
        actual = f"{algo}:{h.hexdigest()}"
        if actual != expected:
            if self.digest:
                raise blob_mismatch(expected, actual, where, self._distrust)
            raise diff_id_mismatch(expected, actual, where)

    def open(self, *, verify: bool = True, where: str | None = None) -> LayerStream:
        """The layer's uncompressed tar stream, hashing as it is read."""
        if self.name is None:
            raise BadInputError("foreign layer: blob not in the archive (layerscope never fetches it)", where=where)
        return LayerStream(
            self.container.region(self.name),
            where=where or self.where(self.container.path),
            blob_digest=self.digest,
            diff_id=self.diff_id,
            verify=verify,
            on_mismatch=self._distrust,
        )

    def _distrust(self) -> str | None:
        return self.container.distrust(self.name) if self.name is not None else None


class Image(Record):
    """A single-platform image selected from an archive or layout."""

    __slots__ = ("path", "format", "ref", "manifest_digest", "config_digest", "config", "platform", "layers",
                 "manifest", "warnings", "legacy_id")

    path: str  # the archive or layout the user named
    format: str  # "docker-archive", "oci-layout", "oci-archive"
    ref: str | None
    manifest_digest: str | None
    config_digest: str | None  # None: a pre-1.10 docker-archive has no config blob
    config: dict[str, Any]
    platform: Platform | None
    layers: list[LayerRef]
    manifest: dict[str, Any] | None
    warnings: list[str]  # the source is readable but odd: said, not fatal
    legacy_id: str | None  # a pre-1.10 docker-archive's image id (random, not a digest)

    def __init__(self, path: str, format: str, ref: str | None, manifest_digest: str | None, config_digest: str | None,
                 config: dict[str, Any], platform: Platform | None, layers: list[LayerRef],
                 manifest: dict[str, Any] | None = None, warnings: list[str] | None = None,
                 legacy_id: str | None = None) -> None:
        self.path = path
        self.format = format
        self.ref = ref
        self.manifest_digest = manifest_digest
        self.config_digest = config_digest
        self.config = config
        self.platform = platform
        self.layers = layers
        self.manifest = manifest
        self.warnings = [] if warnings is None else warnings
        self.legacy_id = legacy_id


def load_json(container: Container, name: str, *, what: str, digest: str | None = None, verify: bool = True) -> Any:
    """Read and parse a small JSON file; check its digest when it has one."""
    data = container.read_bytes(name, what=what)
    if verify and digest:
        algo, _hex = parse_digest(digest, where=container.path)
        actual = f"{algo}:{hashlib.new(algo, data).hexdigest()}"
        if actual != digest:
            raise DigestMismatchError(f"{what} digest mismatch: expected {digest}, got {actual}", where=container.path)
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadInputError(f"{what} {name!r} is not valid JSON: {e}", where=container.path) from None
    except RecursionError:  # "[[[[..." a hundred thousand deep: json's C parser recurses
        raise BadInputError(f"{what} {name!r} nests too deeply to be a document", where=container.path) from None


def require(obj: Any, kind: type, *, what: str, where: str) -> Any:
    if not isinstance(obj, kind):
        raise BadInputError(f"{what} is not a JSON {'object' if kind is dict else 'array' if kind is list else kind.__name__}", where=where)
    return obj


def config_facts(config: Any, *, where: str, verify: bool, n_layers: int) -> tuple[list[str | None], list[str | None]]:
    """Diff_ids and per-layer created_by from an image config.

    History entries with ``empty_layer`` make no layer; the rest map to
    layers in order. Builders get the count wrong in the wild, so a
    mismatch maps what it can instead of failing.
    """
    require(config, dict, what="image config", where=where)
    rootfs = config.get("rootfs")
    diff_ids_raw = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids_raw, list):
        raise BadInputError("image config has no rootfs.diff_ids list", where=where)
    for d in diff_ids_raw:
        parse_digest(d, where=f"{where}: image config rootfs.diff_ids")
    if len(diff_ids_raw) != n_layers:  # structural, not a digest check: --no-verify keeps it
        raise BadInputError(
            f"manifest lists {n_layers} layers but the config has {len(diff_ids_raw)} diff_ids", where=where
        )
    diff_ids: list[str | None] = list(diff_ids_raw[:n_layers]) + [None] * max(0, n_layers - len(diff_ids_raw))
    created: list[str | None] = []
    history = config.get("history")
    if isinstance(history, list):
        for h in history:
            if isinstance(h, dict) and not h.get("empty_layer"):
                cb = h.get("created_by")
                created.append(cb if isinstance(cb, str) else None)
    created = created[:n_layers] + [None] * max(0, n_layers - len(created))
    return diff_ids, created


def config_digest_of(data: bytes) -> str:
    return sha256_digest(data)


def is_foreign(media_type: str) -> bool:
    return any(m in media_type for m in FOREIGN_MARKERS)
