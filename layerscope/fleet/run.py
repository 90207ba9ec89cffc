"""The distributed pass: each unique layer read once on some worker, the merge from combos.

The client opens the images (manifests and configs only), deduplicates their
layers by blob (a layer 1,000 tags share is one task), and submits one task per
unique blob, the largest first (``task.digest_layer``). Workers write the digest
tables to the work dir; the client gets a few numbers per layer back and never a
table. The combos (``merge.combos``, a group-by on digest over the work dir)
and those numbers make the same :class:`SavingsReport` and workload figures as
one machine's ``digest_images`` + ``merge``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence

from ..analysis.combos import Combo
from ..analysis.layers import _check_diff_id, blob_key, progress_bar
from ..analysis.savings import ImageLayers, image_name
from ..errors import UsageError
from ..record import Record
from ..source import Image, transport
from .task import Facts, Failed, Settings, Where, check_copy, digest_layer, load_members

RETRIES = 3


class FleetPass(Record):
    """What the workers' pass gave the client: each image's layers with their facts (keys as
    ``digest_images`` names them), and how to get the combos and the
    member lists of the unique layers (indexed in the order :func:`unique_layers` meets them)."""

    __slots__ = ("images", "combos", "members")

    def __init__(self, images: list[ImageLayers], combos: Callable[[str], list[Combo]],
                 members: Callable[[str], list[tuple]]) -> None:
        self.images = images  # tables: task.Facts, which are LayerFacts and more
        self.combos = combos  # "files" or "chunks" -> the combos
        self.members = members


def where_of(image: Image, index: int, platform: str | None) -> Where:
    """How a worker finds ``image``'s layer ``index`` again: a registry image by its manifest
    digest (the tag may move; the blob cache answers a pinned manifest without a request), a
    file by its path and the reference it was picked by."""
    layer = image.layers[index]
    path = str(image.path)
    plat = str(image.platform) if image.platform is not None and image.platform.os and \
        image.platform.architecture else platform
    if image.format == "registry":
        from ..source.registry.reference import parse_reference

        ref = parse_reference(path.removeprefix("docker://"))
        spec = f"docker://{ref.host}/{ref.repository}@{image.manifest_digest}" if image.manifest_digest else path
        return Where(spec, plat, index, blob_key(image, layer))
    if path == "-" or path.startswith(transport.DAEMON + ":") or transport.parse_spec(path).transport != transport.PATH:
        raise UsageError(f"{path}: --scheduler cannot read an image from stdin or the Docker daemon on the "
                         f"workers: save it to an archive they can read (docker save -o FILE)")
    if os.path.exists(path):  # workers may run elsewhere than the client's cwd
        path = os.path.abspath(path)
    return Where(f"{path}:{image.ref}" if image.ref else path, plat, index, blob_key(image, layer))


@contextlib.contextmanager
def work_dir(parent: str | None) -> Iterator[str]:
    """A fresh directory for one run's tables: in ``parent`` (it must be reachable at the same path
    by every worker and the client) or in the system's temp dir; removed afterwards."""
    if parent is not None:
        os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix="layerscope-fleet-", dir=parent)
    try:
        for kind in ("chunks", "files", "members"):
            os.mkdir(os.path.join(work, kind))
        yield os.path.abspath(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _settings(work: str, avg_chunk: int, sample: float, verify: bool, files_only: bool) -> Settings:
    from ..source import limits
    from ..source.registry import client as registry_client

    return Settings(work, avg_chunk, sample, verify, limits._explicit[0], tuple(sorted(registry_client._insecure)),
                    uuid.uuid4().hex, files_only)


def digest_fleet(images: Sequence[Image], client, work: str, *, platform: str | None = None, avg_chunk: int = 65536,
                 sample: float, verify: bool = True, progress: bool | None = False,
                 files_only: bool = False) -> FleetPass:
    """:func:`analysis.savings.digest_images` on a dask cluster (``client``), tables left in ``work``
    (``files_only``: file units and members only, as ``workload`` needs)."""
    import distributed

    settings = _settings(work, avg_chunk, sample, verify, files_only)
    todo: dict[str, tuple[int, int]] = {}  # blob key -> (image, layer) of its first copy
    rep: dict[str, int] = {}  # key the merge will know the layer by -> unique layer index
    idx_of: dict[str, int] = {}  # blob key -> that index, for the first blob of each such key
    for i, image in enumerate(images):
        for n, layer in enumerate(image.layers):
            if layer.foreign:
                continue
            key = blob_key(image, layer)
            if key in todo:
                continue
            todo[key] = (i, n)
            name = layer.diff_id or key  # as digest_images names it, but for a diff_id only its read tells
            if name not in rep:
                rep[name] = idx_of[key] = len(rep)
    wheres = {key: where_of(images[i], n, platform) for key, (i, n) in todo.items()}
    copies = []  # (where, first copy's where): other files holding a blob read elsewhere
    if verify:
        for i, image in enumerate(images):
            for n, layer in enumerate(image.layers):
                if layer.foreign:
                    continue
                key = blob_key(image, layer)
                fi, fn = todo[key]
                first = images[fi].layers[fn]
                if first is not layer and not key.startswith("file:") and (
                        first.container.path != layer.container.path or first.name != layer.name):
                    copies.append((where_of(image, n, platform), wheres[key]))

    order = sorted(todo, key=lambda k: -(images[todo[k][0]].layers[todo[k][1]].compressed_size or 0))
    tick, done = progress_bar(len(order), enabled=progress)
    run = settings.run
    futures = {}
    for rank, key in enumerate(order):
        futures[client.submit(digest_layer, wheres[key], idx_of.get(key), settings, key=f"layerscope-layer-{run}-{rank}",
                              retries=RETRIES, pure=False, priority=len(order) + len(copies) - rank)] = key
    checks = [client.submit(check_copy, w, first, settings, key=f"layerscope-copy-{run}-{k}", retries=RETRIES,
                            pure=False, priority=-k) for k, (w, first) in enumerate(copies)]
    facts: dict[str, Facts] = {}
    try:
        for future in distributed.as_completed([*futures, *checks]):
            result = future.result()
            if isinstance(result, Failed):
                raise result.error
            if future in futures:
                facts[futures[future]] = result
                if tick:
                    tick(1)
    finally:
        done()
        client.cancel([*futures, *checks])

    lite: list[ImageLayers] = []
    for i, image in enumerate(images):
        layers = []
        for n, layer in enumerate(image.layers):
            if layer.foreign:
                continue
            key = blob_key(image, layer)
            f = facts[key]
            if verify and todo[key] != (i, n):
                _check_diff_id(image, layer, f)
            layers.append((layer.diff_id or f.diff_id or key, f))
        lite.append(ImageLayers(image_name(image), layers))
    return _relabelled(lite, facts, todo, images, idx_of, work, client)


def _relabelled(lite: list[ImageLayers], facts: dict[str, Facts], todo: dict[str, tuple[int, int]],
                images: Sequence[Image], idx_of: dict[str, int], work: str, client) -> FleetPass:
    """The pass in the merge's terms. The workers wrote each unique layer under the index its
    name had before reading; a layer whose diff_id only the read told (a pre-1.10 archive) may
    turn out to be another's: such indices are mapped onto the final ones in the combos."""
    from .merge import combos

    final: dict[str, int] = {}  # merge key -> index, in the order unique_layers meets them
    source: dict[str, int] = {}  # merge key -> the written index holding its table
    written: dict[int, int] = {}  # written index -> final index
    for image, il in zip(images, lite):
        kept = [(n, layer) for n, layer in enumerate(image.layers) if not layer.foreign]
        for (n, layer), (name, _f) in zip(kept, il.layers):
            key = blob_key(image, layer)
            at = idx_of.get(key)
            final.setdefault(name, len(final))
            if at is not None:
                written.setdefault(at, final[name])
                source.setdefault(name, at)
    identity = all(a == b for a, b in written.items())

    def get(kind: str) -> list[Combo]:
        got = combos(os.path.join(work, kind), client=client)
        return got if identity else _remap(got, written)

    return FleetPass(lite, get, lambda name: load_members(work, source[name]))


def _remap(got: list[Combo], written: dict[int, int]) -> list[Combo]:
    """Combos over written indices as combos over final ones: two written layers that are one
    layer (the same bytes) hold the same units, so their indices merge within a combo."""
    sums: dict[tuple[int, ...], list[int]] = {}
    for combo, b, c, n in got:
        key = tuple(sorted({written[t] for t in combo}))
        acc = sums.setdefault(key, [0, 0, 0])
        acc[0] += b
        acc[1] += c
        acc[2] += n
    return [(k, b, c, n) for k, (b, c, n) in sums.items()]
