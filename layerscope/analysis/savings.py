"""What sharing saves across images: by layer, ChainID, file and chunk (issue #10).

Two steps, kept apart so the first can later run on other machines:
:func:`digest_images` reads each unique layer once (a thread pool,
``analysis/layer_digests.py``: a pure function of the layer's bytes), and
:func:`merge` turns the per-layer tables into totals, per-image figures and
the pairwise matrix without reading anything.

Memory: the per-layer chunk tables (24 bytes per chunk of each unique layer:
a 16-byte XXH3-128 digest, a 4-byte size and a 4-byte compressed size) are
merged by a k-way walk over their sorted digests, never gathered into one
Python set: 10 million chunks take about 240 MB of tables, and the walk adds
nothing per chunk (a heap of one cursor per layer, and sums per set of layers
holding a chunk: peak RSS grew by under 1 MB over the tables merging 10
million). The walk is C (``src_c/chunkmerge.c``): about 40 ns a chunk, 0.4 s
for 10 million (benchmarks/bench_merge.py: 10 layers of 1 million random
digests, pairs sharing half). Without a C compiler the same walk runs in
Python (heapq.merge): about 1.6 us a chunk, ~16 s for 10 million. Files are a
dict (digest -> images), like the scan's entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from ..errors import UsageError
from ..record import Record
from ..source import Image, LayerRef, open_many
from .image_diff import chain_ids
from .combos import Combo, _c_combos, _py_combos, chunk_combos, file_combos  # noqa: F401 - also their home before
from .layer_digests import DEFAULT_SAMPLE, LayerDigests, chunk_params, layer_digests, layer_files
from .near_miss import NearMiss, near_misses_from
from .layers import _check_diff_id, blob_key, default_jobs, progress_bar, read_layer, verify_blob

LEVELS = ("layer", "chainid", "file", "chunk")


@dataclass
class Level:
    """One image at one level: its bytes, those some other image has too, those only it has."""

    bytes: int = 0
    shared: int = 0

    @property
    def unique(self) -> int:
        return self.bytes - self.shared


@dataclass
class ImageSavings:
    name: str
    levels: dict[str, Level] = field(default_factory=lambda: {k: Level() for k in LEVELS})


@dataclass
class TopLayer:
    diff_id: str
    size: int
    images: list[int]  # indexes into SavingsReport.images


@dataclass
class SavingsReport:
    images: list[str]
    naive: int  # every image stored on its own (uncompressed layer bytes)
    totals: dict[str, int]  # level -> bytes stored once per unique unit
    compressed: dict[str, int]  # "naive" and each level -> the same through zstd level 3
    per_image: list[ImageSavings]
    matrix: dict[str, list[list[int]]]  # "layer" / "chunk" -> bytes images i and j have in common
    top_layers: list[TopLayer]
    near_misses: list[NearMiss]
    avg_chunk: int


@dataclass
class ImageLayers:
    """The merge's input for one image: each layer's diff_id and digest table, in order."""

    name: str
    layers: list[tuple[str, LayerDigests]]  # (diff_id or another name of its bytes, table)


class LayerFacts(Record):
    """What the merge needs of one layer besides its combos (a fleet run has no more on the client)."""

    __slots__ = ("size", "compressed", "file_bytes")

    size: int  # uncompressed tar stream bytes
    compressed: int  # the stream through zstd level 3
    file_bytes: int  # the sum of its unique regular-file contents' sizes

    def __init__(self, size: int, compressed: int, file_bytes: int) -> None:
        self.size = size
        self.compressed = compressed
        self.file_bytes = file_bytes


def facts(table: LayerDigests) -> LayerFacts:
    return LayerFacts(table.size, table.compressed, sum(table.files.values()))


def unique_layers(images: Sequence[ImageLayers]) -> dict[str, LayerDigests]:
    """Each layer key's table (the first image's that has it), in the order they are met: the
    order the combos' layer indices follow."""
    tables: dict[str, LayerDigests] = {}
    for im in images:
        for key, table in im.layers:
            tables.setdefault(key, table)
    return tables


def merge(images: Sequence[ImageLayers], *, avg_chunk: int = 65536, top: int = 10) -> SavingsReport:
    """The totals, per-image figures and matrix of the per-layer tables (no I/O)."""
    tables = unique_layers(images)
    uniq = list(tables.values())
    lite = [ImageLayers(im.name, [(k, facts(t)) for k, t in im.layers]) for im in images]
    return merge_combos(lite, file_combos(uniq), chunk_combos(uniq), lambda k: tables[k].members,
                        avg_chunk=avg_chunk, top=top)


def merge_combos(images: Sequence[ImageLayers], files: Sequence[Combo], chunks: Sequence[Combo],
                 members: Callable[[str], list[tuple]], *, avg_chunk: int = 65536, top: int = 10) -> SavingsReport:
    """:func:`merge` from each image's layer facts (``ImageLayers`` whose tables are
    :class:`LayerFacts`) and the file and chunk combos of the unique layers (indices in the
    order :func:`unique_layers` meets them); ``members(key)``: a layer's member list, asked for
    the near misses only."""
    n = len(images)
    per = [ImageSavings(im.name) for im in images]
    naive = sum(t.size for im in images for _, t in im.layers)
    compressed = {"naive": sum(t.compressed for im in images for _, t in im.layers)}
    tables: dict[str, LayerFacts] = {}
    layer_images: dict[str, set[int]] = {}
    chain_images: dict[str, tuple[int, set[int]]] = {}
    for i, im in enumerate(images):
        keys = [k for k, _ in im.layers]
        for (key, table), chain in zip(im.layers, chain_ids(keys)):
            tables.setdefault(key, table)
            layer_images.setdefault(key, set()).add(i)
            chain_images.setdefault(chain, (table.size, table.compressed, set()))[2].add(i)
    totals = dict.fromkeys(LEVELS, 0)
    compressed.update(dict.fromkeys(LEVELS, 0))
    layer_matrix = [[0] * n for _ in range(n)]
    for key, owners in layer_images.items():
        _count(per, "layer", tables[key].size, owners, layer_matrix)
        totals["layer"] += tables[key].size
        compressed["layer"] += tables[key].compressed
    for size, csize, owners in chain_images.values():
        _count(per, "chainid", size, owners, None)
        totals["chainid"] += size
        compressed["chainid"] += csize
    keys = list(tables)
    owners_of = [layer_images[k] for k in keys]
    totals["file"], compressed["file"] = _count_combos(files, owners_of, per, "file", None)
    chunk_matrix = [[0] * n for _ in range(n)]
    totals["chunk"], compressed["chunk"] = _count_combos(chunks, owners_of, per, "chunk", chunk_matrix)
    ranked = sorted(layer_images, key=lambda k: (-len(layer_images[k]), -tables[k].size, k))
    top_layers = [TopLayer(k, tables[k].size, sorted(layer_images[k])) for k in ranked[:top]]
    near = near_misses_from(keys, [tables[k].file_bytes for k in keys], files, members)
    return SavingsReport(images=[im.name for im in images], naive=naive, totals=totals, compressed=compressed, per_image=per,
                         matrix={"layer": layer_matrix, "chunk": chunk_matrix}, top_layers=top_layers,
                         near_misses=near, avg_chunk=avg_chunk)


def _count(per: list[ImageSavings], level: str, size: int, owners: AbstractSet[int],
           matrix: list[list[int]] | None) -> None:
    # linear in ``size``: counting units with the same owners one by one or their sum once is the same
    shared = len(owners) > 1
    for i in owners:
        lv = per[i].levels[level]
        lv.bytes += size
        if shared:
            lv.shared += size
        if matrix is not None:
            row = matrix[i]
            for j in owners:
                row[j] += size


def _count_combos(combos: Sequence[Combo], owners_of: list[set[int]], per: list[ImageSavings], level: str,
                  matrix: list[list[int]] | None) -> tuple[int, int]:
    """Count each unit once for the images of every layer holding it, by sets of layers: a few
    per layer, where there are millions of units."""
    by_owners: dict[frozenset[int], int] = {}
    total = ctotal = 0
    for combo, size, csize, _ in combos:
        owners = frozenset().union(*(owners_of[t] for t in combo))
        by_owners[owners] = by_owners.get(owners, 0) + size
        total += size
        ctotal += csize
    for owners, size in by_owners.items():
        _count(per, level, size, owners, matrix)
    return total, ctotal


ProgressFn = Callable[[int], None]


def digest_images(images: list[Image], *, avg_chunk: int = 65536, sample: float = DEFAULT_SAMPLE,
                  verify: bool = True, jobs: int | None = None, progress: ProgressFn | None = None,
                  files_only: bool = False) -> list[ImageLayers]:
    """Each unique layer (by blob) read once, on a thread pool; a copy of a shared blob in another
    file is checked against the digest (memcmp against the verified copy), as ``compare`` does.
    ``files_only``: file digests and members without chunks or compressed figures
    (:func:`layer_files`; what ``workload`` needs)."""
    params = chunk_params(avg_chunk)
    todo: dict[str, tuple[Image, LayerRef]] = {}
    for image in images:
        for layer in image.layers:
            if not layer.foreign:
                todo.setdefault(blob_key(image, layer), (image, layer))

    # the other copies of a shared blob (another archive's file): checked as the last tasks, where
    # they fill the gap the largest layers leave at the end of the pass
    copies: list[tuple[Image, LayerRef, str]] = []
    if verify:
        for image in images:
            for layer in image.layers:
                if layer.foreign:
                    continue
                key = blob_key(image, layer)
                first = todo[key][1]
                if first is not layer and not key.startswith("file:") and (
                        first.container.path != layer.container.path or first.name != layer.name):
                    copies.append((image, layer, key))

    def run(key: str) -> LayerDigests:
        image, layer = todo[key]
        read = layer_files if files_only else (lambda stream: layer_digests(stream, params, sample=sample))
        table = read_layer(layer, read, where=layer.where(image.path), verify=verify)
        if progress:
            progress(1)
        return table

    def check(image: Image, layer: LayerRef, key: str) -> None:
        verify_blob(layer, key, where=layer.where(image.path), cache=None, verified=todo[key][1])

    order = sorted(todo, key=lambda k: -(todo[k][1].compressed_size or 0))  # largest first
    jobs = min(jobs or default_jobs(), len(order)) or 1
    if jobs > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {k: pool.submit(run, k) for k in order}
            checks = [pool.submit(check, *c) for c in copies]
            try:
                tables = {k: futures[k].result() for k in order}
                for f in checks:
                    f.result()
            finally:
                for f in [*futures.values(), *checks]:
                    f.cancel()
    else:
        tables = {k: run(k) for k in order}
        for c in copies:
            check(*c)
    out = []
    for image in images:
        layers = []
        for layer in image.layers:
            if layer.foreign:
                continue
            key = blob_key(image, layer)
            table = tables[key]
            if verify and todo[key][1] is not layer:
                _check_diff_id(image, layer, table)
            layers.append((layer.diff_id or table.diff_id or key, table))
        out.append(ImageLayers(image_name(image), layers))
    return out


def image_name(image: Image) -> str:
    """How an image is named in the report: its path, and the reference inside it when there is one
    (a registry's or the daemon's image is named by the reference it was asked by)."""
    if image.ref and image.format != "registry" and not str(image.path).startswith("docker-daemon:"):
        return f"{image.path}:{image.ref}"
    return str(image.path)


OPEN_THREADS = 8  # registry images opened at once (a manifest and a probe each: round trips)


def fleet_specs(images: Iterable[str | Image] = (), *, from_file: Sequence[str] = (),
                from_registry: Sequence[str] = (), repos: Sequence[str] = (), tags: str | int = "latest",
                progress: bool | None = False,
                on_warning: Callable[[str, str], None] | None = None) -> list[str | Image]:
    """``images``, then the specs listed in each ``from_file``, then those a walk of each
    ``from_registry`` finds (``source/registry/catalog.py``: ``repos`` globs, the ``tags``
    rule). A spec met before is not taken again; a file or registry that gives no image
    is a UsageError (a wrong glob or prefix must not pass for an empty fleet)."""
    out: list[str | Image] = list(images)
    if not from_file and not from_registry:
        return out
    from ..source.registry import catalog

    seen = {s for s in out if isinstance(s, str)}

    def add(specs: list[str], where: str) -> None:
        if not specs:
            raise UsageError(f"no images found in {where}")
        for spec in specs:
            if spec not in seen:
                seen.add(spec)
                out.append(spec)

    for path in from_file:
        add(catalog.read_spec_file(path), path)
    rule = catalog.parse_tag_rule(tags)  # a bad rule fails before any request

    def bar(total: int, what: str):
        return progress_bar(total, enabled=progress, desc=what, unit="list")

    for registry in from_registry:
        found = catalog.walk(registry, repos=repos, tags_rule=rule, warn=on_warning, bar=bar)
        where = registry + (f" (repositories matching {', '.join(repos)})" if repos else "")
        add(found, where)
    return out


def savings(images: Iterable[str | Image] = (), *, all_images: bool = False, platform: str | None = None,
            avg_chunk: int = 65536, sample: float = DEFAULT_SAMPLE, verify: bool = True,
            jobs: int | None = None, progress: bool | None = False, from_file: Sequence[str] = (),
            from_registry: Sequence[str] = (), repos: Sequence[str] = (), tags: str | int = "latest",
            on_warning: Callable[[str, str], None] | None = None) -> SavingsReport:
    """What layer, ChainID, file and chunk sharing store for ``images``.

    Each is an opened :class:`Image` or a spec ``inspect`` reads (``PATH[:REF]``;
    a directory of archives; with ``all_images``, every image of a multi-image
    archive or layout). ``sample``: the share of the bytes compressed to measure the zstd
    figures (1: all; ``analysis/layer_digests.py``). ``progress``: a bar on stderr (None:
    when it is a terminal).

    Fleet inputs (issue #16; :func:`fleet_specs`): ``from_file``, lists of specs one a
    line; ``from_registry``, ``docker://HOST[:PORT][/PREFIX]`` registries walked through
    their catalog, ``repos`` (fnmatch globs on repository names) and ``tags`` (``latest``,
    ``all`` or a count) choosing what is taken. A repository whose tag list fails is
    skipped with ``on_warning(where, message)``.
    """
    specs = fleet_specs(images, from_file=from_file, from_registry=from_registry, repos=repos, tags=tags,
                        progress=progress, on_warning=on_warning)
    remote = sum(1 for s in specs if isinstance(s, str) and s.startswith("docker://"))
    tick, done = progress_bar(len(specs) if remote > 1 else 0, enabled=progress, desc="images", unit="image")
    try:
        opened = open_many(specs, all_images=all_images, platform=platform, verify=verify,
                           threads=OPEN_THREADS, progress=tick)
    finally:
        done()
    if len(opened) < 1:
        raise UsageError("savings needs at least one image")
    chunk_params(avg_chunk)  # bad sizes fail before any layer is read
    if not 0 < sample <= 1:
        raise UsageError(f"the compression sample must be in (0, 1], not {sample}")
    unique = len({blob_key(im, layer) for im in opened for layer in im.layers if not layer.foreign})
    tick, done = progress_bar(unique, enabled=progress)
    try:
        tables = digest_images(opened, avg_chunk=avg_chunk, sample=sample, verify=verify, jobs=jobs,
                               progress=tick)
    finally:
        done()
    return merge(tables, avg_chunk=avg_chunk)
