"""What a workload pulls and stores on a node, what its images share, and what a common base would save.

A node pulls each distinct layer blob once (by blob digest: the compressed
bytes the registry serves) and unpacks each distinct layer stack once (by
ChainID: containerd's snapshots and Docker's layerdb are keyed by it, so the
same diff_id on another parent is stored again). ``pulled`` and ``stored``
below count exactly that, for each workload (its containers, init containers,
sidecars), across all workloads given (one node running them all), and per
node of a placement.

The rebase estimate uses ``savings``' near misses: two layers with different
diff_ids whose files are mostly the same (a base rebuilt with new mtimes, a
re-run ``apt-get``). A near miss between two images' base layers (same
height, below the top of at least one, everything under it equal or near)
means the same base was built twice; layers linked so form a cluster, and rebuilding
every image on the cluster's most used variant would store each other
variant's common file bytes once. Images whose ``os-release`` files differ
are not the same distro base and are not paired.

Layers are read once each, as ``savings`` reads them (``digest_images``): the
uncompressed size, the ChainID check and the file digests come from that pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import UsageError
from ..record import Record
from ..source import Image
from ..workload.manifests import Workloads
from ..workload.resolve import Resolver
from .image_diff import chain_ids
from .layer_digests import DEFAULT_SAMPLE, LayerDigests, chunk_params
from .layers import blob_key, progress_bar
from .near_miss import NearMiss, near_misses
from .savings import digest_images, image_name

#: Where an image's distro is told: the first of these a layer provides, from the top.
OS_RELEASE = ("usr/lib/os-release", "etc/os-release")


class LayerRow(Record):
    """One layer of one image, with what pulling and storing it costs."""

    __slots__ = ("blob", "diff_id", "chain_id", "compressed", "size")

    blob: str  # what a registry serves it by: the blob digest (an uncompressed tar's is its diff_id)
    diff_id: str
    chain_id: str
    compressed: int  # bytes pulled
    size: int  # bytes unpacked (the uncompressed tar stream)

    def __init__(self, blob: str, diff_id: str, chain_id: str, compressed: int, size: int) -> None:
        self.blob = blob
        self.diff_id = diff_id
        self.chain_id = chain_id
        self.compressed = compressed
        self.size = size


class ImageRow(Record):
    __slots__ = ("ref", "source", "name", "manifest_digest", "layers", "os_release")

    ref: str  # the reference as a manifest wrote it (the first one that named this image)
    source: str  # what was read
    name: str
    manifest_digest: str | None
    layers: list[LayerRow]
    os_release: str | None  # the hex XXH3-128 of its os-release file (None: it has none)

    def __init__(self, ref: str, source: str, name: str, manifest_digest: str | None, layers: list[LayerRow],
                 os_release: str | None) -> None:
        self.ref = ref
        self.source = source
        self.name = name
        self.manifest_digest = manifest_digest
        self.layers = layers
        self.os_release = os_release

    @property
    def compressed(self) -> int:
        return sum(r.compressed for r in self.layers)

    @property
    def size(self) -> int:
        return sum(r.size for r in self.layers)


class Container(Record):
    __slots__ = ("name", "role", "ref", "image")

    name: str
    role: str
    ref: str
    image: int | None  # index into WorkloadReport.images (None: not resolved)

    def __init__(self, name: str, role: str, ref: str, image: int | None) -> None:
        self.name = name
        self.role = role
        self.ref = ref
        self.image = image


class SharedLayer(Record):
    """A stored layer (ChainID) that several images, or several workloads, have."""

    __slots__ = ("chain_id", "diff_id", "size", "compressed", "holders")

    chain_id: str
    diff_id: str
    size: int
    compressed: int
    holders: list[int]  # image indexes (within a workload) or workload indexes (across)

    def __init__(self, chain_id: str, diff_id: str, size: int, compressed: int, holders: list[int]) -> None:
        self.chain_id = chain_id
        self.diff_id = diff_id
        self.size = size
        self.compressed = compressed
        self.holders = holders


class Alone(Record):
    """What one image adds to its workload that no other image of it has."""

    __slots__ = ("image", "pulled", "stored")

    image: int
    pulled: int
    stored: int

    def __init__(self, image: int, pulled: int, stored: int) -> None:
        self.image = image
        self.pulled = pulled
        self.stored = stored


class Cost(Record):
    """Bytes a node pulls and stores for a set of images; ``naive_*``: each image on its own."""

    __slots__ = ("pulled", "stored", "naive_pulled", "naive_stored")

    pulled: int
    stored: int
    naive_pulled: int
    naive_stored: int

    def __init__(self, pulled: int, stored: int, naive_pulled: int, naive_stored: int) -> None:
        self.pulled = pulled
        self.stored = stored
        self.naive_pulled = naive_pulled
        self.naive_stored = naive_stored


class WorkloadRow(Record):
    __slots__ = ("name", "kind", "file", "document", "replicas", "node", "containers", "images", "cost",
                 "shared", "alone")

    name: str
    kind: str
    file: str
    document: int
    replicas: int | None
    node: str | None
    containers: list[Container]
    images: list[int]  # the distinct resolved images, in container order
    cost: Cost
    shared: list[SharedLayer]  # holders: image indexes
    alone: list[Alone]

    def __init__(self, name: str, kind: str, file: str, document: int, replicas: int | None, node: str | None,
                 containers: list[Container], images: list[int], cost: Cost, shared: list[SharedLayer],
                 alone: list[Alone]) -> None:
        self.name = name
        self.kind = kind
        self.file = file
        self.document = document
        self.replicas = replicas
        self.node = node
        self.containers = containers
        self.images = images
        self.cost = cost
        self.shared = shared
        self.alone = alone


class RebaseLayer(Record):
    """A layer variant rebuilding on its cluster's ``like`` would share: ``saving`` file bytes."""

    __slots__ = ("diff_id", "like", "common", "share", "cause", "saving", "saving_compressed", "images")

    diff_id: str
    like: str  # the variant it would be rebuilt as (its cluster's most used one)
    common: int  # the near miss's common file bytes with ``like``'s side
    share: float
    cause: str
    saving: int  # stored bytes saved
    saving_compressed: int  # pulled bytes saved (the saving at this layer's compression ratio)
    images: list[int]

    def __init__(self, diff_id: str, like: str, common: int, share: float, cause: str, saving: int,
                 saving_compressed: int, images: list[int]) -> None:
        self.diff_id = diff_id
        self.like = like
        self.common = common
        self.share = share
        self.cause = cause
        self.saving = saving
        self.saving_compressed = saving_compressed
        self.images = images


class RebaseGroup(Record):
    __slots__ = ("images", "base", "layers", "saving", "saving_compressed")

    images: list[int]
    base: str  # the variant the others would be rebuilt on (the first cluster's)
    layers: list[RebaseLayer]
    saving: int
    saving_compressed: int

    def __init__(self, images: list[int], base: str, layers: list[RebaseLayer], saving: int,
                 saving_compressed: int) -> None:
        self.images = images
        self.base = base
        self.layers = layers
        self.saving = saving
        self.saving_compressed = saving_compressed


class Rebase(Record):
    __slots__ = ("saving", "saving_compressed", "stored_after", "pulled_after", "groups")

    saving: int
    saving_compressed: int
    stored_after: int  # the union's stored bytes, less the saving
    pulled_after: int
    groups: list[RebaseGroup]

    def __init__(self, saving: int, saving_compressed: int, stored_after: int, pulled_after: int,
                 groups: list[RebaseGroup]) -> None:
        self.saving = saving
        self.saving_compressed = saving_compressed
        self.stored_after = stored_after
        self.pulled_after = pulled_after
        self.groups = groups


class NodeRow(Record):
    __slots__ = ("name", "workloads", "cost")

    name: str
    workloads: list[int]
    cost: Cost

    def __init__(self, name: str, workloads: list[int], cost: Cost) -> None:
        self.name = name
        self.workloads = workloads
        self.cost = cost


class WorkloadReport(Record):
    __slots__ = ("files", "images", "workloads", "total", "shared", "rebase", "nodes", "warnings")

    files: list[str]
    images: list[ImageRow]
    workloads: list[WorkloadRow]
    total: Cost  # every workload on one node; naive: each workload on a node of its own
    shared: list[SharedLayer]  # layers several workloads store; holders: workload indexes
    rebase: Rebase
    nodes: list[NodeRow]
    warnings: list[str]

    def __init__(self, files: list[str], images: list[ImageRow], workloads: list[WorkloadRow], total: Cost,
                 shared: list[SharedLayer], rebase: Rebase, nodes: list[NodeRow], warnings: list[str]) -> None:
        self.files = files
        self.images = images
        self.workloads = workloads
        self.total = total
        self.shared = shared
        self.rebase = rebase
        self.nodes = nodes
        self.warnings = warnings


# -- counting -------------------------------------------------------------------------------------

def cost(images: Sequence[ImageRow], *, naive: Sequence[int] | None = None) -> Cost:
    """Distinct blobs pulled, distinct ChainIDs stored; naive: ``naive`` (default: these images'
    own totals, summed)."""
    blobs: dict[str, int] = {}
    chains: dict[str, int] = {}
    for im in images:
        for r in im.layers:
            blobs[r.blob] = r.compressed
            chains[r.chain_id] = r.size
    if naive is None:
        naive = (sum(im.compressed for im in images), sum(im.size for im in images))
    return Cost(sum(blobs.values()), sum(chains.values()), naive[0], naive[1])


def _shared(members: Sequence[tuple[int, ImageRow]]) -> list[SharedLayer]:
    """Stored layers several of ``members`` (holder index, image) have, biggest first."""
    held: dict[str, tuple[LayerRow, set[int]]] = {}
    for holder, im in members:
        for r in im.layers:
            held.setdefault(r.chain_id, (r, set()))[1].add(holder)
    out = [SharedLayer(c, r.diff_id, r.size, r.compressed, sorted(h)) for c, (r, h) in held.items() if len(h) > 1]
    out.sort(key=lambda s: (-s.size, s.chain_id))
    return out


def _alone(index: int, images: Sequence[tuple[int, ImageRow]]) -> Alone:
    mine = dict(images)[index]
    blobs = {r.blob for i, im in images if i != index for r in im.layers}
    chains = {r.chain_id for i, im in images if i != index for r in im.layers}
    pulled = {r.blob: r.compressed for r in mine.layers if r.blob not in blobs}
    stored = {r.chain_id: r.size for r in mine.layers if r.chain_id not in chains}
    return Alone(index, sum(pulled.values()), sum(stored.values()))


# -- the rebase estimate ---------------------------------------------------------------------------

def rebase(images: Sequence[ImageRow], misses: Sequence[NearMiss], total: Cost) -> Rebase:
    """Clusters of near-miss base layers; each variant but the cluster's most used one saves its
    best common bytes with a variant before it.

    A near miss (``savings``' pairs of layers with mostly the same files) counts as a rebuilt
    base between two images when it sits at the same height in both, below the top layer of at
    least one of them, with every layer under it equal or itself such a near miss, and the images'
    os-release files agree (or one has none). Two versions of an app on one base differ in their
    own top layers: rebasing would not make those equal, so they are not counted."""
    holders: dict[str, set[int]] = {}
    rows: dict[str, LayerRow] = {}
    for i, im in enumerate(images):
        for r in im.layers:
            holders.setdefault(r.diff_id, set()).add(i)
            rows.setdefault(r.diff_id, r)
    near = {}
    for m in misses:
        near[(m.a, m.b)] = near[(m.b, m.a)] = (m.common, m.share, m.cause)
    pairs: dict[tuple[str, str], tuple[int, float, str]] = {}
    if near:
        for x in range(len(images)):
            for y in range(x + 1, len(images)):
                for a, b in _aligned(images[x], images[y], near):
                    pairs[(a, b)] = pairs[(b, a)] = near[(a, b)]
    parent: dict[str, str] = {}

    def find(d: str) -> str:
        while parent.setdefault(d, d) != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    for a, b in pairs:
        parent[find(a)] = find(b)
    clusters: dict[str, list[str]] = {}
    for d in parent:
        clusters.setdefault(find(d), []).append(d)
    first_met = {d: k for k, d in enumerate(holders)}
    groups: dict[frozenset[int], list[tuple[str, list[RebaseLayer]]]] = {}
    for members in clusters.values():
        members.sort(key=lambda d: (-len(holders[d]), -rows[d].size, first_met[d]))
        base, layers = members[0], []
        for k, d in enumerate(members[1:], 1):
            linked = [(pairs[(d, x)], x) for x in members[:k] if (d, x) in pairs]
            if not linked:  # reached through a later variant only: its match comes after it
                linked = [(pairs[(d, x)], x) for x in members if (d, x) in pairs]
            (common, share, cause), like = max(linked, key=lambda t: (t[0][0], -first_met[t[1]]))
            r = rows[d]
            saving = min(common, r.size)
            layers.append(RebaseLayer(d, like, common, share, cause, saving,
                                      _scaled(saving, r.compressed, r.size), sorted(holders[d])))
        imgs = frozenset().union(*(holders[d] for d in members))
        groups.setdefault(imgs, []).append((base, layers))
    out = []
    for imgs, found in groups.items():
        layers = [lay for _, ls in found for lay in ls]
        layers.sort(key=lambda lay: (-lay.saving, lay.diff_id))
        out.append(RebaseGroup(sorted(imgs), found[0][0], layers, sum(lay.saving for lay in layers),
                               sum(lay.saving_compressed for lay in layers)))
    out.sort(key=lambda g: (-g.saving, g.images))
    saving = sum(g.saving for g in out)
    saving_c = sum(g.saving_compressed for g in out)
    return Rebase(saving, saving_c, total.stored - saving, total.pulled - saving_c, out)


def _aligned(x: ImageRow, y: ImageRow, near: dict[tuple[str, str], tuple]) -> list[tuple[str, str]]:
    """The near-miss pairs of ``x``'s and ``y``'s base layers: from the bottom, while each height
    holds the same layer or a near miss, and not at a height that is both images' top layer.
    A layer below one image's top is part of its base; the other image, whose top it is, is that
    base image itself (a rebuild of it)."""
    if x.os_release is not None and y.os_release is not None and x.os_release != y.os_release:
        return []
    out = []
    both_top = min(len(x.layers), len(y.layers)) - 1 if len(x.layers) == len(y.layers) else -1
    for k, (a, b) in enumerate(zip(x.layers, y.layers)):
        if k == both_top:  # the top of both: two builds of one image, not of its base
            break
        if a.diff_id == b.diff_id:
            continue
        if (a.diff_id, b.diff_id) not in near:
            break
        out.append((a.diff_id, b.diff_id))
    return out


def _scaled(n: int, compressed: int, size: int) -> int:
    return int(n * compressed / size + 0.5) if size else 0


def os_release(tables: Sequence[LayerDigests]) -> str | None:
    """The hex digest of the os-release file the top-most layer providing one holds."""
    for t in reversed(tables):
        found = layer_os_release(t.members)
        if found is not None:
            return found
    return None


def layer_os_release(members: Sequence[tuple]) -> str | None:
    """The hex digest of one layer's os-release file (None: it has none): per layer, so that a
    fleet's workers can tell it and the client pick the top-most."""
    found = {m[0]: m for m in members if m[0] in OS_RELEASE}
    for path in OS_RELEASE:
        m = found.get(path)
        if m is not None and m[2] is not None:
            return m[2].hex()
    return None


# -- the whole report ------------------------------------------------------------------------------

class Resolution(Record):
    """The distinct images a workload set resolves to, and each workload's containers."""

    __slots__ = ("images", "refs", "sources", "containers", "warnings")

    images: list[Image]
    refs: list[str]  # the reference that first named each image
    sources: list[str]
    containers: list[list[Container]]  # per workload
    warnings: list[str]

    def __init__(self, images: list[Image], refs: list[str], sources: list[str], containers: list[list[Container]],
                 warnings: list[str]) -> None:
        self.images = images
        self.refs = refs
        self.sources = sources
        self.containers = containers
        self.warnings = warnings


class LayerPass(Record):
    """What the counting needs of reading the layers, from one machine's tables or a fleet's
    per-layer facts: each image's name and kept layers (diff_id or another name of their bytes,
    uncompressed size), its os-release digest, and the near misses."""

    __slots__ = ("names", "layers", "os_release", "near")

    names: list[str]
    layers: list[list[tuple[str, int]]]
    os_release: list[str | None]
    near: list[NearMiss]

    def __init__(self, names: list[str], layers: list[list[tuple[str, int]]], os_release: list[str | None],
                 near: list[NearMiss]) -> None:
        self.names = names
        self.layers = layers
        self.os_release = os_release
        self.near = near


def workload_report(parsed: Workloads, resolver: Resolver, *, files: Sequence[str] = (),
                    placement: dict[str, list[str]] | None = None, avg_chunk: int = 65536,
                    sample: float = DEFAULT_SAMPLE, verify: bool = True, jobs: int | None = None,
                    progress: bool | None = False) -> WorkloadReport:
    """Resolve every image of ``parsed`` through ``resolver``, read each unique layer once, and count.

    ``placement``: node name -> workload names (exact, or the last ``/`` part when that names
    one workload), added to the nodes Pods name themselves (``spec.nodeName``)."""
    chunk_params(avg_chunk)
    res = resolve_images(parsed, resolver)
    read = layer_pass(res.images, avg_chunk=avg_chunk, sample=sample, verify=verify, jobs=jobs, progress=progress)
    return count_report(parsed, res, read, files=files, placement=placement)


def resolve_images(parsed: Workloads, resolver: Resolver) -> Resolution:
    """Each workload's images through ``resolver``; what cannot be resolved, or is left out, is a warning."""
    warnings = list(parsed.warnings)
    images: list[Image] = []
    refs: list[str] = []
    sources: list[str] = []
    index_of: dict[int, int] = {}  # id(Image) -> index
    containers_of: list[list[Container]] = []
    for w in parsed.workloads:
        cs = []
        for use in w.images:
            res = resolver.resolve(use.ref)
            if res.image is None:
                warnings.append(f"{w.name}: {use.role} {use.name}: cannot resolve {use.ref}: {res.problem}")
                cs.append(Container(use.name, use.role, use.ref, None))
                continue
            k = index_of.get(id(res.image))
            if k is None:
                k = index_of[id(res.image)] = len(images)
                images.append(res.image)
                refs.append(use.ref)
                sources.append(res.source or "")
            cs.append(Container(use.name, use.role, use.ref, k))
        containers_of.append(cs)
    for im in images:
        foreign = sum(1 for layer in im.layers if layer.foreign)
        if foreign:
            warnings.append(f"{image_name(im)}: {foreign} foreign layer(s) (fetched from their URLs, "
                            f"not the registry) left out of the counts")
    return Resolution(images, refs, sources, containers_of, warnings)


def layer_pass(images: list[Image], *, avg_chunk: int = 65536, sample: float = DEFAULT_SAMPLE, verify: bool = True,
               jobs: int | None = None, progress: bool | None = False) -> LayerPass:
    """Each unique layer read once on this machine (``digest_images``), and what counting needs of it."""
    unique = len({blob_key(im, layer) for im in images for layer in im.layers if not layer.foreign})
    tick, done = progress_bar(unique, enabled=progress)
    try:
        tables = digest_images(images, avg_chunk=avg_chunk, sample=sample, verify=verify, jobs=jobs, progress=tick,
                               files_only=True) if images else []
    finally:
        done()
    by_diff: dict[str, LayerDigests] = {}
    for il in tables:
        for diff_id, table in il.layers:
            by_diff.setdefault(diff_id, table)
    return LayerPass([il.name for il in tables], [[(k, t.size) for k, t in il.layers] for il in tables],
                     [os_release([t for _, t in il.layers]) for il in tables], near_misses(by_diff))


def count_report(parsed: Workloads, res: Resolution, read: LayerPass, *, files: Sequence[str] = (),
                 placement: dict[str, list[str]] | None = None) -> WorkloadReport:
    """The report from the resolved images and what reading their layers gave (no I/O)."""
    warnings = list(res.warnings)
    rows: list[ImageRow] = []
    for im, ref, source, name, layers, osr in zip(res.images, res.refs, res.sources, read.names, read.layers,
                                                  read.os_release):
        kept = [layer for layer in im.layers if not layer.foreign]
        diff_ids = [key for key, _ in layers]
        lrows = []
        for layer, (diff_id, size), chain in zip(kept, layers, chain_ids(diff_ids)):
            blob = layer.digest or diff_id
            compressed = layer.compressed_size if layer.compressed_size is not None else size
            lrows.append(LayerRow(blob, diff_id, chain, compressed, size))
        rows.append(ImageRow(ref, source, name, im.manifest_digest, lrows, osr))

    workloads: list[WorkloadRow] = []
    for w, cs in zip(parsed.workloads, res.containers):
        mine = list(dict.fromkeys(c.image for c in cs if c.image is not None))
        members = [(i, rows[i]) for i in mine]
        workloads.append(WorkloadRow(w.name, w.kind, w.file, w.document, w.replicas, w.node, cs, mine,
                                     cost([im for _, im in members]), _shared(members),
                                     [_alone(i, members) for i in mine]))
    everything = [rows[i] for i in sorted({i for w in workloads for i in w.images})]
    total = cost(everything, naive=(sum(w.cost.pulled for w in workloads), sum(w.cost.stored for w in workloads)))
    across = _shared([(k, rows[i]) for k, w in enumerate(workloads) for i in w.images])
    nodes = _nodes(workloads, rows, placement or {})
    return WorkloadReport(list(files), rows, workloads, total, across, rebase(rows, read.near, total), nodes, warnings)


def _nodes(workloads: list[WorkloadRow], rows: list[ImageRow], placement: dict[str, list[str]]) -> list[NodeRow]:
    on: dict[str, list[int]] = {}
    for k, w in enumerate(workloads):
        if w.node:
            on.setdefault(w.node, []).append(k)
    by_name: dict[str, list[int]] = {}
    for k, w in enumerate(workloads):
        by_name.setdefault(w.name, []).append(k)
        short = w.name.rsplit("/", 1)[-1]
        if short != w.name:
            by_name.setdefault(short, []).append(k)
    for node, names in placement.items():
        for name in names:
            hits = by_name.get(name, [])
            exact = [k for k in hits if workloads[k].name == name]
            hits = exact or hits
            if len(hits) != 1:
                raise UsageError(f"--node {node}={name}: " + ("no workload of that name" if not hits else
                                 "names several workloads: " + ", ".join(workloads[k].name for k in hits)))
            if hits[0] not in on.setdefault(node, []):
                on[node].append(hits[0])
    out = []
    for node in sorted(on):
        ks = sorted(on[node])
        imgs = sorted({i for k in ks for i in workloads[k].images})
        naive = (sum(workloads[k].cost.pulled for k in ks), sum(workloads[k].cost.stored for k in ks))
        out.append(NodeRow(node, ks, cost([rows[i] for i in imgs], naive=naive)))
    return out


def parse_placement(items: Sequence[str]) -> dict[str, list[str]]:
    """``--node NAME=WORKLOAD,...`` options (repeatable; a node named twice gathers both)."""
    out: dict[str, list[str]] = {}
    for item in items:
        node, sep, rest = item.partition("=")
        names = [n.strip() for n in rest.split(",") if n.strip()]
        if not sep or not node.strip() or not names:
            raise UsageError(f"--node {item!r}: expected NAME=WORKLOAD[,WORKLOAD...]")
        out.setdefault(node.strip(), []).extend(names)
    return out
