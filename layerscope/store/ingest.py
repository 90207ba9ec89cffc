"""``store add``: images from any source ``inspect`` reads into a repository, one transaction each.

Each layer the repository does not hold yet is read once and kept as a recipe
(``recipe.py``); its blob digest and diff_id are checked as it is read, and a
layer whose diff_id the repository already holds is not read at all (the store
keeps layers by diff_id: what export rebuilds is checked against it again).
The config and the manifest are kept as they are, so an export has the same
image ID. An image is committed whole or not at all.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import BadInputError, UsageError
from ..record import Record
from ..source import Image, open_many
from .decompose import decompose

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .repo import Repository


class Added(Record):
    __slots__ = ("name", "layers", "layers_read", "bytes_read")

    name: str
    layers: int
    layers_read: int  # the others were in the repository already
    bytes_read: int  # uncompressed layer bytes read

    def __init__(self, name: str, layers: int, layers_read: int, bytes_read: int) -> None:
        self.name = name
        self.layers = layers
        self.layers_read = layers_read
        self.bytes_read = bytes_read


def default_name(image: Image) -> str:
    """The image's reference when it has one, else the archive's file name."""
    if image.ref:
        return image.ref
    return os.path.basename(os.path.normpath(str(image.path)))


def config_bytes(image: Image) -> bytes:
    """The config exactly as stored (its sha256 is the image ID)."""
    digest = image.config_digest
    if digest is None:
        raise BadInputError("a pre-1.10 docker-archive has no config to keep: not stored", where=str(image.path))
    hex_ = digest.split(":", 1)[1]
    c = _container_of(image)
    for name in (f"blobs/sha256/{hex_}", f"{hex_}.json"):
        if c.exists(name):
            data = c.read_bytes(name, what="config")
            if "sha256:" + hashlib.sha256(data).hexdigest() == digest:
                return data
    raise BadInputError(f"config {digest} not found by its digest", where=str(image.path))


def manifest_bytes(image: Image) -> bytes | None:
    """The image manifest exactly as stored, when the source has one (OCI layouts and archives)."""
    if image.manifest_digest is None:
        return None
    c = _container_of(image)
    name = "blobs/" + image.manifest_digest.replace(":", "/", 1)
    if not c.exists(name):
        return None
    data = c.read_bytes(name, what="manifest")
    algo, hex_ = image.manifest_digest.split(":", 1)
    if hashlib.new(algo, data).hexdigest() != hex_:
        raise BadInputError(f"manifest {image.manifest_digest} does not match its digest", where=str(image.path))
    return data


def _container_of(image: Image):
    for layer in image.layers:
        return layer.container
    raise BadInputError("an image without layers", where=str(image.path))


def record_of(image: Image, manifest_digest: str | None) -> dict[str, Any]:
    """What the repository keeps of an image beside its blobs: enough to write it out again."""
    return {
        "source": str(image.path),
        "format": image.format,
        "ref": image.ref,
        "config_digest": image.config_digest,
        "manifest_digest": manifest_digest,
        "layers": [{"diff_id": layer.diff_id, "media_type": layer.media_type, "digest": layer.digest,
                    "compressed_size": layer.compressed_size} for layer in image.layers],
    }


def add_image(repo: Repository, image: Image, *, name: str | None = None,
              progress: Callable[[int], None] | None = None) -> Added:
    """Store one image (one transaction); ``progress`` gets the uncompressed bytes read."""
    name = name or default_name(image)
    config = config_bytes(image)
    manifest = manifest_bytes(image)
    read = bytes_read = 0
    with repo.transaction() as txn:
        for layer in image.layers:
            if layer.foreign:
                raise BadInputError("foreign layer: its blob is not in the archive, so the store cannot keep it",
                                    where=layer.where(str(image.path)))
            if layer.diff_id is None:
                raise BadInputError("layer without a diff_id in the config", where=layer.where(str(image.path)))
            if txn.has_layer(layer.diff_id):
                continue
            stream = layer.open(verify=True, where=layer.where(str(image.path)))
            try:
                recipe = decompose(stream, txn.chunks)
                stream.finish()
            finally:
                stream.close()
            txn.layer(layer.diff_id, recipe.size, recipe.pairs, recipe.structure_ids, recipe.content_ids, recipe.xxh3)
            read += 1
            bytes_read += recipe.size
            if progress:
                progress(recipe.size)
        blobs = [image.config_digest]
        txn.blob(image.config_digest, config)
        if manifest is not None:
            txn.blob(image.manifest_digest, manifest)
            blobs.append(image.manifest_digest)
        txn.image(name, record_of(image, image.manifest_digest if manifest is not None else None),
                  [layer.diff_id for layer in image.layers], blobs)
    return Added(name, len(image.layers), read, bytes_read)


def add(repo: Repository, specs: Iterable[str | Image], *, name: str | None = None, all_images: bool = False,
        platform: str | None = None, progress: Callable[[int], None] | None = None) -> list[Added]:
    """Store every image ``specs`` name (``PATH[:REF]``, directories of archives, opened images).
    Always verified: the store keeps bytes, and keeps them by digest."""
    images = open_many(specs, all_images=all_images, platform=platform, verify=True)
    if name is not None and len(images) != 1:
        raise UsageError(f"--name names one image; {len(images)} were given")
    return [add_image(repo, image, name=name, progress=progress) for image in images]
