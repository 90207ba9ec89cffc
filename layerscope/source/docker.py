"""docker-archive (`docker save`, `skopeo copy docker-archive:`, `podman save`).

``manifest.json`` lists images: ``Config`` (file name), ``RepoTags`` and
``Layers`` (file names, in order). Layer files come in several shapes:
legacy ``<id>/layer.tar``; skopeo/podman's ``<diffid>.tar`` with
``<id>/layer.tar`` symlinks to it; Docker 25+'s ``blobs/sha256/<hex>`` inside
an OCI layout that sits next to ``manifest.json``; and compressed blobs from
the containerd image store. The container resolves links; compression is
found by magic; when an OCI index sits alongside, the matching OCI manifest
supplies the manifest digest and media types.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..errors import BadInputError, MissingBlobError, SelectionError
from .container import Container
from .image import Image, LayerRef, config_facts, is_foreign, load_json, require
from .oci import INDEX_TYPES, _descriptors, blob_name, check_descriptor, image_from_manifest
from .platform import from_json
from .reference import normalize_ref

_BLOB_PATH = re.compile(r"^blobs/(sha256|sha512)/([0-9a-f]+)\Z")
_HEX_JSON = re.compile(r"^(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?\Z")

MEDIA_TYPES = {
    "none": "application/vnd.docker.image.rootfs.diff.tar",
    "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "bzip2": "application/vnd.oci.image.layer.v1.tar",
    "xz": "application/vnd.oci.image.layer.v1.tar",
}


def _first_tag(entry: dict[str, Any]) -> str | None:
    """The ref an image gets when chosen by position (alone, or ``--image N``)."""
    return next((t for t in entry.get("RepoTags") or [] if isinstance(t, str)), None)


class DockerArchive:
    def __init__(self, container: Container, *, verify: bool) -> None:
        self.c = container
        self.verify = verify
        doc = load_json(container, "manifest.json", what="manifest.json")
        self.entries = require(doc, list, what="manifest.json", where=container.path)
        if not self.entries:
            raise BadInputError("manifest.json lists no images", where=container.path)
        for e in self.entries:
            if not isinstance(e, dict) or not isinstance(e.get("Config"), str) or not isinstance(e.get("Layers"), list) \
                    or not all(isinstance(x, str) for x in e["Layers"]):
                raise BadInputError("manifest.json entry lacks Config/Layers", where=container.path)
            tags = e.get("RepoTags")
            if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
                raise BadInputError("manifest.json entry has RepoTags that are not a list of strings",
                                    where=container.path)
            sources = e.get("LayerSources")
            if sources is not None and not isinstance(sources, dict):
                raise BadInputError("manifest.json entry has LayerSources that are not a mapping", where=container.path)

    def describe(self) -> str:
        out = []
        for i, e in enumerate(self.entries):
            tags = e.get("RepoTags") or []
            out.append(f"#{i} " + (", ".join(t for t in tags if isinstance(t, str)) or "(untagged)"))
        return "; ".join(out)

    def select(self, ref: str | None, index: int | None) -> Image:
        where = self.c.path
        if index is not None:
            if not 0 <= index < len(self.entries):
                raise SelectionError(f"no image #{index}; the archive has {len(self.entries)}: {self.describe()}", where=where)
            e = self.entries[index]
            return self._image(e, _first_tag(e))
        if ref is not None:
            want = normalize_ref(ref)
            for e in self.entries:
                for t in e.get("RepoTags") or []:
                    if isinstance(t, str) and normalize_ref(t) == want:
                        return self._image(e, t)
            raise SelectionError(f"no image tagged {ref!r}; the archive has: {self.describe()}", where=where)
        if len(self.entries) > 1:
            raise SelectionError(
                f"the archive holds {len(self.entries)} images: {self.describe()}; choose with IMAGE.tar:name:tag or --image",
                where=where,
            )
        e = self.entries[0]
        return self._image(e, _first_tag(e))

    def _oci_manifest_for(self, config_digest: str) -> tuple[str, dict[str, Any]] | None:
        """Docker 25+ archives carry an OCI index too: find the manifest of this config."""
        if not self.c.exists("index.json"):
            return None
        try:
            todo = list(_descriptors(load_json(self.c, "index.json", what="index.json"), what="index.json", where=self.c.path))
        except BadInputError:
            return None
        for _ in range(64):
            if not todo:
                break
            d = todo.pop(0)
            name = blob_name(d["digest"], where=self.c.path)
            if not self.c.exists(name):
                continue
            doc = load_json(self.c, name, what=f"manifest {d['digest']}", digest=d["digest"], verify=self.verify)
            if not isinstance(doc, dict):
                continue
            if d.get("mediaType") in INDEX_TYPES or "manifests" in doc:
                todo.extend(x for x in doc.get("manifests") or [] if isinstance(x, dict) and "digest" in x)
            elif isinstance(doc.get("config"), dict) and doc["config"].get("digest") == config_digest:
                return d["digest"], doc
        return None

    def _image(self, e: dict[str, Any], ref: str | None) -> Image:
        where = self.c.path
        cfg_name = e["Config"]
        if not self.c.exists(cfg_name):
            raise MissingBlobError(f"config {cfg_name!r} is missing", where=where)
        raw = self.c.read_bytes(cfg_name, what="config")
        cfg_digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        warnings = []
        m = _HEX_JSON.match(cfg_name)
        if m and cfg_digest != "sha256:" + m.group(1):
            # docker load and dive accept it (Docker derives the image ID from the content), and the
            # diff_ids inside are still checked against the layers: say so, report the real digest
            warnings.append(f"config file {cfg_name!r} is not named by its digest: the content is {cfg_digest}")
        oci = self._oci_manifest_for(cfg_digest)
        if oci is not None and len(oci[1].get("layers") or []) == len(e["Layers"]):
            img = image_from_manifest(self.c, oci[1], path=where, fmt="docker-archive", ref=ref,
                                      manifest_digest=oci[0], verify=self.verify, platform_hint=None)
            img.warnings[:0] = warnings
            return img
        config = load_json(self.c, cfg_name, what="config")
        diff_ids, created = config_facts(config, where=where, verify=self.verify, n_layers=len(e["Layers"]))
        sources = e.get("LayerSources") if isinstance(e.get("LayerSources"), dict) else {}
        layers: list[LayerRef] = []
        for i, name in enumerate(e["Layers"]):
            digest = None
            foreign_desc = sources.get(diff_ids[i]) if diff_ids[i] else None
            if not self.c.exists(name):
                if isinstance(foreign_desc, dict) and is_foreign(str(foreign_desc.get("mediaType", ""))):
                    check_descriptor(foreign_desc, what=f"manifest.json LayerSources of layer {i}", where=where)
                    layers.append(LayerRef(
                        index=i, container=self.c, name=None, digest=foreign_desc.get("digest"),
                        diff_id=diff_ids[i], media_type=foreign_desc["mediaType"],
                        compressed_size=foreign_desc.get("size") if isinstance(foreign_desc.get("size"), int) else None,
                        created_by=created[i], urls=[u for u in foreign_desc.get("urls") or [] if isinstance(u, str)],
                    ))
                    continue
                raise MissingBlobError(f"layer {i} file {name!r} is missing", where=where)
            real = getattr(self.c, "link_target", lambda n: n)(name) or name
            bm = _BLOB_PATH.match(real)
            if bm:
                digest = f"{bm.group(1)}:{bm.group(2)}"
            layer = LayerRef(
                index=i, container=self.c, name=name, digest=digest, diff_id=diff_ids[i], media_type="",
                compressed_size=self.c.size(name), created_by=created[i],
            )
            layer.media_type = MEDIA_TYPES[layer.compression()]
            layers.append(layer)
        return Image(
            path=where, format="docker-archive", ref=ref, manifest_digest=None, config_digest=cfg_digest,
            config=config, platform=from_json(config), layers=layers, manifest=None, warnings=warnings,
        )
