"""OCI image layouts (directory or oci-archive): index -> manifest -> blobs.

Implements image-layout.md: ``oci-layout`` + ``index.json`` + ``blobs/<alg>/<hex>``.
Nested indexes are followed; ``org.opencontainers.image.ref.name`` selects an
image; platform selection skips attestation manifests and platforms whose
manifest blob is absent (a ``docker save --platform`` of a multi-platform image
keeps the index but only one platform's blobs).
"""

from __future__ import annotations

from typing import Any

from ..errors import BadInputError, MissingBlobError, NotAnImageError, SelectionError
from ..record import Record
from .container import Container
from .digest import parse_digest
from .image import Image, LayerRef, config_facts, is_foreign, load_json, require
from .platform import Platform, from_json, host_platform
from .reference import normalize_ref

REF_NAME = "org.opencontainers.image.ref.name"
INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
MAX_DEPTH = 8


def blob_name(digest: str, *, where: str) -> str:
    algo, hexpart = parse_digest(digest, where=where)
    return f"blobs/{algo}/{hexpart}"


class Candidate(Record):
    __slots__ = ("descriptor", "ref", "platform")

    descriptor: dict[str, Any]
    ref: str | None
    platform: Platform | None

    def __init__(self, descriptor: dict[str, Any], ref: str | None, platform: Platform | None) -> None:
        self.descriptor = descriptor
        self.ref = ref
        self.platform = platform


_DESCRIPTOR_FIELDS: dict[str, type | tuple[type, ...]] = {
    "mediaType": str, "size": int, "annotations": dict, "platform": dict, "urls": list,
}


def check_descriptor(d: Any, *, what: str, where: str) -> dict[str, Any]:
    """A descriptor (image-spec descriptor.md) whose fields have the types the
    spec gives them, so nothing downstream trips over a list where a string
    belongs: one clear error instead."""
    if not isinstance(d, dict) or "digest" not in d:
        raise BadInputError(f"{what} has a descriptor without a digest", where=where)
    parse_digest(d["digest"], where=f"{where}: {what}")
    for key, kind in _DESCRIPTOR_FIELDS.items():
        value = d.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise BadInputError(f"{what}: descriptor {d['digest']} has a bad {key!r} ({type(value).__name__})",
                                where=where)
    if isinstance(d.get("size"), int) and d["size"] < 0:
        raise BadInputError(f"{what}: descriptor {d['digest']} has a negative size", where=where)
    return d


def _descriptors(doc: Any, *, what: str, where: str) -> list[dict[str, Any]]:
    require(doc, dict, what=what, where=where)
    manifests = doc.get("manifests")
    if not isinstance(manifests, list):
        raise BadInputError(f"{what} has no manifests list", where=where)
    for d in manifests:
        check_descriptor(d, what=what, where=where)
    return manifests


def _is_attestation(d: dict[str, Any]) -> bool:
    ann = d.get("annotations") or {}
    if isinstance(ann, dict) and ann.get("vnd.docker.reference.type") == "attestation-manifest":
        return True
    p = d.get("platform")
    return isinstance(p, dict) and p.get("os") == "unknown" and p.get("architecture") == "unknown"


def _ref_of(d: dict[str, Any]) -> str | None:
    ann = d.get("annotations")
    if isinstance(ann, dict) and isinstance(ann.get(REF_NAME), str):
        return ann[REF_NAME]
    return None


def ref_matches(ref: str, wanted: str) -> bool:
    """An OCI ref name matches a tag, a full reference, or its short form."""
    if ref == wanted:
        return True
    tag = ref.rsplit(":", 1)[-1] if ":" in ref.rsplit("/", 1)[-1] else ref
    return wanted == tag or normalize_ref(ref) == normalize_ref(wanted)


def _unambiguous(doc: Any, kind: str, d: dict[str, Any], *, where: str) -> Any:
    """Refuse a document that could be read as an index and as a manifest (CVE-2021-41190):
    its own mediaType, or its fields, must say what the descriptor that led here says."""
    if not isinstance(doc, dict):
        return doc
    own = doc.get("mediaType") if isinstance(doc.get("mediaType"), str) else None  # a wrong type: not a claim
    own_kind = "index" if own in INDEX_TYPES else "manifest" if own in MANIFEST_TYPES else None
    both = "manifests" in doc and ("layers" in doc or "config" in doc)
    if both or (own_kind is not None and own_kind != kind):
        raise BadInputError(f"{d['digest']} is ambiguous: reached as an image {kind}, but its "
                            f"{'fields are both an index and a manifest' if both else 'mediaType is ' + repr(own)}",
                            where=where)
    return doc


class OCILayout:
    """Reads an OCI image layout from a container (directory or tar)."""

    def __init__(self, container: Container, *, fmt: str, verify: bool) -> None:
        self.c = container
        self.fmt = fmt
        self.verify = verify
        where = container.path
        if container.exists("oci-layout"):
            layout = load_json(container, "oci-layout", what="oci-layout")
            if not isinstance(layout, dict) or not isinstance(layout.get("imageLayoutVersion"), str):
                raise BadInputError("oci-layout has no imageLayoutVersion", where=where)
        self.index = load_json(container, "index.json", what="index.json")
        self.top = _descriptors(self.index, what="index.json", where=where)

    def _load(self, d: dict[str, Any], what: str) -> Any:
        name = blob_name(d["digest"], where=self.c.path)
        if self.verify and isinstance(d.get("size"), int) and self.c.exists(name) and self.c.size(name) != d["size"]:
            raise BadInputError(f"{what} {d['digest']} is {self.c.size(name)} bytes, descriptor says {d['size']}", where=self.c.path)
        return load_json(self.c, name, what=f"{what} {d['digest']}", digest=d["digest"], verify=self.verify)

    def _expand(self, d: dict[str, Any], ref: str | None, depth: int, out: list[Candidate], skipped: list[str]) -> None:
        if depth > MAX_DEPTH:
            raise BadInputError("image indexes nested too deep (a loop?)", where=self.c.path)
        mt = d.get("mediaType")
        name = blob_name(d["digest"], where=self.c.path)
        if not self.c.exists(name):
            skipped.append(d)
            return
        if mt in INDEX_TYPES or (mt not in MANIFEST_TYPES and self._looks_like_index(d)):
            sub = _unambiguous(self._load(d, "image index"), "index", d, where=self.c.path)
            for child in _descriptors(sub, what=f"image index {d['digest']}", where=self.c.path):
                self._expand(child, _ref_of(child) or ref, depth + 1, out, skipped)
            return
        if _is_attestation(d):
            return
        out.append(Candidate(d, ref, from_json(d.get("platform"))))

    def _looks_like_index(self, d: dict[str, Any]) -> bool:
        doc = self._load(d, "manifest")
        return isinstance(doc, dict) and "manifests" in doc and "layers" not in doc

    def refs(self) -> list[str]:
        return [r for d in self.top if (r := _ref_of(d))]

    def select(self, ref: str | None, index: int | None, platform: Platform | None) -> Image:
        where = self.c.path
        top = self.top
        if index is not None:
            if not 0 <= index < len(top):
                raise SelectionError(f"no image #{index}; the layout has {len(top)}", where=where)
            top = [top[index]]
        elif ref is not None:
            top = [d for d in top if (r := _ref_of(d)) and ref_matches(r, ref)]
            if not top:
                raise SelectionError(f"no image named {ref!r}; available: {', '.join(self.refs()) or 'none named'}", where=where)
        cands: list[Candidate] = []
        self.skipped: list[dict[str, Any]] = []  # descriptors whose blob is absent
        for d in top:
            self._expand(d, _ref_of(d), 0, cands, self.skipped)
        if not cands:
            if self.skipped:
                raise MissingBlobError(f"manifest blob {self.skipped[0]['digest']} is missing", where=where)
            raise NotAnImageError("no image manifest found in index.json", where=where)
        refs = sorted({c.ref or "" for c in cands})
        if len(refs) > 1 and ref is None and index is None:
            names = ", ".join(r or "(unnamed)" for r in refs)
            raise SelectionError(f"several images in this layout: {names}; choose one with PATH:NAME or --image", where=where)
        chosen = self._pick_platform(cands, platform)
        return self._image(chosen)

    def _pick_platform(self, cands: list[Candidate], wanted: Platform | None) -> Candidate:
        for c in cands:
            if c.platform is None and (wanted is not None or len(cands) > 1):
                cfg = self._config_of(c.descriptor)
                c.platform = from_json(cfg) if cfg is not None else None
        if wanted is None:
            if len(cands) == 1:
                return cands[0]
            wanted = host_platform()
            hits = [c for c in cands if c.platform and c.platform.matches(wanted)]
            if not hits:
                avail = ", ".join(str(c.platform) for c in cands)
                raise SelectionError(f"no manifest for the host platform {wanted}; choose with --platform from: {avail}", where=self.c.path)
            return hits[0]
        hits = [c for c in cands if c.platform and c.platform.matches(wanted)]
        if not hits:
            for d in self.skipped:
                p = from_json(d.get("platform"))
                if p is not None and p.matches(wanted):
                    raise MissingBlobError(
                        f"platform {p} is listed but its manifest blob {d['digest']} is not in the layout", where=self.c.path
                    )
            avail = ", ".join(str(c.platform) for c in cands if c.platform) or "none stated"
            raise SelectionError(f"no manifest for platform {wanted}; available: {avail}", where=self.c.path)
        return hits[0]

    def _config_of(self, d: dict[str, Any]) -> dict[str, Any] | None:
        m = self._load(d, "manifest")
        cfg = m.get("config") if isinstance(m, dict) else None
        if not isinstance(cfg, dict) or "digest" not in cfg:
            return None
        name = blob_name(cfg["digest"], where=self.c.path)
        if not self.c.exists(name):
            return None
        doc = load_json(self.c, name, what=f"config {cfg['digest']}", digest=cfg["digest"], verify=self.verify)
        return doc if isinstance(doc, dict) else None

    def _image(self, cand: Candidate) -> Image:
        d = cand.descriptor
        where = self.c.path
        manifest = require(self._load(d, "manifest"), dict, what=f"manifest {d['digest']}", where=where)
        _unambiguous(manifest, "manifest", d, where=where)
        return image_from_manifest(
            self.c, manifest, path=where, fmt=self.fmt, ref=cand.ref,
            manifest_digest=d["digest"], verify=self.verify, platform_hint=cand.platform,
        )


def image_from_manifest(
    c: Container,
    manifest: dict[str, Any],
    *,
    path: str,
    fmt: str,
    ref: str | None,
    manifest_digest: str | None,
    verify: bool,
    platform_hint: Platform | None,
) -> Image:
    """Build an Image from an OCI/Docker v2 manifest whose blobs live in ``c``."""
    what = f"manifest {manifest_digest}"
    cfg_desc = manifest.get("config")
    layers = manifest.get("layers")
    if not isinstance(cfg_desc, dict) or not isinstance(layers, list):
        raise BadInputError(f"{what} is not an image manifest (no config/layers)", where=path)
    check_descriptor(cfg_desc, what=f"{what} config", where=path)
    for ld in layers:
        check_descriptor(ld, what=f"{what} layer", where=path)
    cfg_digest = cfg_desc.get("digest")
    cfg_name = blob_name(cfg_digest, where=f"{path}: {what} config")
    if not c.exists(cfg_name):
        raise MissingBlobError(f"config blob {cfg_digest} is missing", where=path)
    config = load_json(c, cfg_name, what=f"config {cfg_digest}", digest=cfg_digest, verify=verify)
    diff_ids, created = config_facts(config, where=path, verify=verify, n_layers=len(layers))
    refs: list[LayerRef] = []
    for i, ld in enumerate(layers):
        name = blob_name(ld["digest"], where=f"{path}: {what} layer {i}")
        mt = ld.get("mediaType") if isinstance(ld.get("mediaType"), str) else ""
        size = ld.get("size") if isinstance(ld.get("size"), int) else None
        urls = [u for u in (ld.get("urls") or []) if isinstance(u, str)]
        if not c.exists(name):
            if is_foreign(mt):
                name = None
            else:
                raise MissingBlobError(f"layer {i} blob {ld['digest']} is missing", where=path)
        elif verify and size is not None and c.size(name) != size:
            raise BadInputError(f"layer {i} blob {ld['digest']} is {c.size(name)} bytes, manifest says {size}", where=path)
        refs.append(LayerRef(
            index=i, container=c, name=name, digest=ld["digest"], diff_id=diff_ids[i], media_type=mt,
            compressed_size=c.size(name) if name else size, created_by=created[i], urls=urls,
        ))
    return Image(
        path=path, format=fmt, ref=ref, manifest_digest=manifest_digest, config_digest=cfg_digest,
        config=config, platform=from_json(config) or platform_hint, layers=refs, manifest=manifest,
    )
