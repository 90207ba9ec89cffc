"""Pre-1.10 ``docker save`` archives: ``repositories`` and ``<id>/json`` chains, no ``manifest.json``.

``repositories`` maps ``{"repo": {"tag": "<id>"}}``; each ``<id>/`` holds a v1
image JSON (``id``, ``parent``, ``config``, ``container_config``, ``created``,
``os``, ``architecture``) and that image's ``layer.tar``. An image is the
chain from the tagged id up through ``parent`` links to the root; its layers
are the chain's ``layer.tar`` files, root first (as Docker's legacy loader and
go-containerregistry's legacy format read them).

There is no config blob and nothing names a layer by digest: v1 ids were
random, not content hashes. So ``config_digest`` is ``None``, the diff_ids are
the ones computed while the layers stream by, and what verification can check
is the structure: every id of the chain present, no parent cycles, every
``layer.tar`` present. The image carries a warning saying so.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import BadInputError, MissingBlobError, SelectionError
from .container import Container
from .docker import MEDIA_TYPES
from .image import Image, LayerRef, load_json, require
from .platform import from_json
from .reference import normalize_ref

_ID = re.compile(r"^[0-9a-f]{64}\Z")  # Docker's v1 ValidateID: ids are directory names, never paths

UNVERIFIABLE = ("pre-1.10 docker-archive (no manifest.json): no config and no digests to check the layers "
                "against; diff_ids are computed from the layer tars")


def is_v1_archive(container: Container) -> bool:
    """``repositories`` is required, as Docker's current legacy loader requires it:
    ``<id>/json`` files alone are more likely a 1.10+ archive (which has them
    too) that lost its ``manifest.json`` to truncation."""
    return container.exists("repositories")


def _check_id(value: Any, *, what: str, where: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise BadInputError(f"{what} is {value!r}, not a 64-hex v1 image id", where=where)
    return value


class DockerV1Archive:
    def __init__(self, container: Container, *, verify: bool) -> None:
        self.c = container
        self.verify = verify
        where = container.path
        repos = require(load_json(container, "repositories", what="repositories"), dict,
                        what="repositories", where=where)
        by_id: dict[str, list[str]] = {}  # top id -> its "repo:tag"s, in archive order
        for repo, tags in repos.items():
            require(tags, dict, what=f"repositories entry {repo!r}", where=where)
            for tag, image_id in tags.items():
                _check_id(image_id, what=f"repositories tag {repo}:{tag}", where=where)
                by_id.setdefault(image_id, []).append(f"{repo}:{tag}")
        self.images = list(by_id.items())
        if not self.images:
            raise BadInputError("repositories names no images", where=where)

    def describe(self) -> str:
        return "; ".join(f"#{i} " + ", ".join(tags) for i, (_top, tags) in enumerate(self.images))

    def select(self, ref: str | None, index: int | None) -> Image:
        where = self.c.path
        if index is not None:
            if not 0 <= index < len(self.images):
                raise SelectionError(f"no image #{index}; the archive has {len(self.images)}: {self.describe()}",
                                     where=where)
            return self._image(self.images[index][0], None)
        if ref is not None:
            want = normalize_ref(ref)
            for top, tags in self.images:
                for t in tags:
                    if normalize_ref(t) == want:
                        return self._image(top, t)
            raise SelectionError(f"no image tagged {ref!r}; the archive has: {self.describe()}", where=where)
        if len(self.images) > 1:
            raise SelectionError(
                f"the archive holds {len(self.images)} images: {self.describe()}; "
                "choose with IMAGE.tar:name:tag or --image",
                where=where,
            )
        top, tags = self.images[0]
        return self._image(top, tags[0])

    def _json(self, image_id: str) -> dict[str, Any]:
        name = f"{image_id}/json"
        if not self.c.exists(name):
            raise MissingBlobError(f"v1 image {image_id[:12]}: {name!r} is missing", where=self.c.path)
        doc = require(load_json(self.c, name, what="v1 image JSON"), dict, what=f"v1 image JSON {name!r}",
                      where=self.c.path)
        if doc.get("id", image_id) != image_id:
            raise BadInputError(f"{name!r} says its id is {doc.get('id')!r}", where=self.c.path)
        return doc

    def _chain(self, top: str) -> list[tuple[str, dict[str, Any]]]:
        """(id, v1 JSON) from ``top`` up to the root; parents must exist and never repeat."""
        where = self.c.path
        chain: list[tuple[str, dict[str, Any]]] = []
        seen: set[str] = set()
        image_id: str | None = top
        while image_id:
            if image_id in seen:
                raise BadInputError(f"v1 image {image_id[:12]}: parent chain loops back to it", where=where)
            seen.add(image_id)
            doc = self._json(image_id)
            chain.append((image_id, doc))
            parent = doc.get("parent")
            if parent in (None, ""):
                break
            child, image_id = image_id, _check_id(parent, what=f"the parent of v1 image {image_id[:12]}", where=where)
            if not self.c.exists(f"{image_id}/json"):
                raise MissingBlobError(f"v1 image {child[:12]}: its parent {image_id[:12]} is missing "
                                       f"({image_id}/json)", where=where)
        return chain

    def _image(self, top: str, ref: str | None) -> Image:
        where = self.c.path
        chain = self._chain(top)[::-1]  # root first
        layers: list[LayerRef] = []
        for i, (image_id, doc) in enumerate(chain):
            name = f"{image_id}/layer.tar"
            if not self.c.exists(name):
                raise MissingBlobError(f"layer {i} file {name!r} is missing", where=where)
            layer = LayerRef(index=i, container=self.c, name=name, digest=None, diff_id=None, media_type="",
                             compressed_size=self.c.size(name), created_by=_created_by(doc))
            layer.media_type = MEDIA_TYPES[layer.compression()]
            layers.append(layer)
        config = chain[-1][1]
        return Image(
            path=where, format="docker-archive", ref=ref, manifest_digest=None, config_digest=None,
            config=config, platform=from_json(config), layers=layers, manifest=None,
            warnings=[UNVERIFIABLE], legacy_id=top,
        )


def _created_by(doc: dict[str, Any]) -> str | None:
    """What Docker's legacy loader puts in the history: ``container_config.Cmd`` joined by spaces."""
    cc = doc.get("container_config")
    cmd = cc.get("Cmd") if isinstance(cc, dict) else None
    if isinstance(cmd, list) and cmd and all(isinstance(c, str) for c in cmd):
        return " ".join(cmd)
    return None
