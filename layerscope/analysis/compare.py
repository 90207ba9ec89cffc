"""`compare`: everything that differs between two images, from layers down to packages.

Both images' layers are read in one pool, each unique blob once (a layer
the two share is scanned, or taken from the layer cache, a single time), and
each image is stacked into its merged filesystem as its scans arrive. The
result object holds facts only; ``report/compare_out.py`` renders it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import UsageError
from ..fs.diff import TreeDiff, diff_trees, path_order, size
from ..fs.overlay import Overlay
from ..fs.tree import Tree
from ..gcpause import paused_gc
from ..layer.cache import ScanCache
from ..layer.scan import LayerScan
from ..source import Image, open_image
from .image_diff import (ConfigChange, HistoryComparison, LayerComparison, LayerRow, compare_config,
                         compare_history, compare_layers)
from .installed import PackageComparison, compare_packages, installed, kept_bytes
from .layers import blob_key, progress_bar, scan_images

SECTIONS = ("layers", "config", "history", "files", "packages")
_NEED_SCAN = {"layers", "files", "packages"}
_NEED_TREE = {"files", "packages"}
EXPLAINED = 0.9  # a directory whose size change one subdirectory holds this much of is not listed


@dataclass(slots=True)
class ImageSide:
    """One of the two images, as the report names it."""

    path: str
    format: str
    ref: str | None
    manifest_digest: str | None
    config_digest: str | None
    platform: str | None
    layers: int
    size: int | None  # uncompressed bytes of its layers (None when they were not read)
    compressed_size: int | None
    verified: bool  # digests checked: the manifest and config always, the layers when they were read
    warnings: list[str] = field(default_factory=list)  # the source's, then each layer's defects


@dataclass(slots=True)
class DirectoryDelta:
    path: str  # relative ("" is the root)
    size_delta: int  # bytes of regular files: B minus A, everything below the directory
    added: int  # paths below it, by kind of change
    removed: int
    modified: int


@dataclass(slots=True)
class CompareReport:
    a: ImageSide
    b: ImageSide
    sections: tuple[str, ...]  # what was compared (``only``); the others are None
    mtime: bool  # modification times compared
    layers: LayerComparison | None = None
    config: list[ConfigChange] | None = None
    history: HistoryComparison | None = None
    files: TreeDiff | None = None
    directories: list[DirectoryDelta] | None = None  # largest size change first
    packages: PackageComparison | None = None

    @property
    def differ(self) -> bool:
        """Does anything compared differ? (``--exit-code`` exits 1 when it does.)"""
        return bool(
            (self.layers is not None and not self.layers.identical)
            or self.config
            or (self.history is not None and (self.history.added or self.history.removed))
            or self.files
            or self.packages
        )


def parse_only(only: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"files,packages"`` or a list of section names -> the sections, in report order."""
    if only is None:
        return SECTIONS
    names = [n.strip() for n in (only.split(",") if isinstance(only, str) else only) if n.strip()]
    bad = [n for n in names if n not in SECTIONS]
    if bad or not names:
        raise UsageError(f"--only takes a comma-separated list of {', '.join(SECTIONS)}"
                         + (f"; not {', '.join(map(repr, bad))}" if bad else ""))
    return tuple(s for s in SECTIONS if s in names)


def compare_images(
    a: Image,
    b: Image,
    *,
    verify: bool = True,
    jobs: int | None = None,
    progress: bool | None = None,
    cache: ScanCache | bool | str | None = None,
    only: str | Iterable[str] | None = None,
    mtime: bool = False,
) -> CompareReport:
    """Compare two resolved images (``only``: the sections to compute, default all)."""
    sections = parse_only(only)
    scans: list[list[LayerScan | None]] | None = None
    trees = None
    if _NEED_SCAN & set(sections):
        overlays = [Overlay(changes=False), Overlay(changes=False)] if _NEED_TREE & set(sections) else None
        scans, trees = _read(a, b, verify=verify, jobs=jobs, progress=progress, cache=cache, overlays=overlays)
    report = CompareReport(_side(a, scans[0] if scans else None, verify), _side(b, scans[1] if scans else None, verify),
                           sections, mtime)
    if "layers" in sections:
        report.layers = compare_layers(_rows(a, scans[0]), _rows(b, scans[1]))
    if "config" in sections:
        report.config = compare_config(a, b)
    if "history" in sections:
        report.history = compare_history(a, b)
    if "files" in sections:
        report.files = diff_trees(trees[0], trees[1], mtime=mtime)
        report.directories = directory_deltas(report.files)
    if "packages" in sections:
        memo: dict = {}  # a database both images have is read once
        (pa, wa), (pb, wb) = (installed(t, kept_bytes(s), memo) for t, s in zip(trees, scans))
        report.packages = compare_packages(pa, pb, [f"A: {w}" for w in wa] + [f"B: {w}" for w in wb])
    return report


def compare(
    a: str,
    b: str,
    *,
    image_a: str | None = None,
    image_b: str | None = None,
    platform_a: str | None = None,
    platform_b: str | None = None,
    verify: bool = True,
    jobs: int | None = None,
    progress: bool | None = False,
    cache: ScanCache | bool | str | None = None,
    only: str | Iterable[str] | None = None,
    mtime: bool = False,
) -> CompareReport:
    """Open ``a`` and ``b`` (``PATH[:REF]``, any format ``inspect`` reads, in any mix) and compare them.

    ``image_a``/``platform_a`` pick the image in a multi-image archive or
    index as ``inspect``'s ``image``/``platform`` do (likewise for B);
    ``only`` limits the work to some of :data:`SECTIONS` (``"config,history"``
    reads no layer); ``mtime`` compares modification times too.
    """
    blobs = False if cache is False else None  # --no-cache: registry blobs go to a temporary directory too
    ia = open_image(a, image=image_a, platform=platform_a, verify=verify, blob_cache=blobs)
    ib = open_image(b, image=image_b, platform=platform_b, verify=verify, blob_cache=blobs)
    return compare_images(ia, ib, verify=verify, jobs=jobs, progress=progress, cache=cache, only=only, mtime=mtime)


def _read(a: Image, b: Image, *, verify: bool, jobs: int | None, progress: bool | None,
          cache: ScanCache | bool | str | None, overlays: list[Overlay] | None):
    """Scan both images' unique blobs in one pool; stack each image as its scans arrive.

    The layers the two start with in common (the same blobs) are stacked once,
    for A, and B goes on from a copy of that tree.
    """
    images = (a, b)
    keys = [[None if layer.foreign else blob_key(image, layer) for layer in image.layers] for image in images]
    common = 0
    while common < min(map(len, keys)) and keys[0][common] is not None and keys[0][common] == keys[1][common]:
        common += 1
    uses: dict[str, int] = {}  # a scan's entries go once every layer using them is stacked
    for key in keys[0] + keys[1]:
        if key is not None:
            uses[key] = uses.get(key, 0) + 1
    fork: list[Tree] = []

    def stack(i: int, index: int, scan: LayerScan | None) -> None:
        if overlays is None:
            return
        if i == 0 or index >= common:
            if i == 1 and index == common and common:
                overlays[1].tree = fork[0]
            overlays[i].apply(index, scan.entries if scan is not None and scan.entries else [])
        if i == 0 and index == common - 1:
            fork.append(overlays[0].tree.copy())
        key = keys[i][index]
        if scan is not None and key is not None:
            uses[key] -= 1
            if not uses[key]:
                scan.entries = None  # stacked everywhere: the per-layer records are no longer needed

    update, close = progress_bar(len(uses), enabled=progress)
    with paused_gc():  # one small object per entry, no cycles: see gcpause.py
        try:
            scans = scan_images([a, b], verify=verify, keep_entries=True, jobs=jobs, progress=update,
                                on_layer=stack, cache=cache)
        finally:
            close()
    if overlays is not None and common and common == len(b.layers):
        overlays[1].tree = fork[0]  # B is the layers A starts with
    return scans, [o.tree for o in overlays] if overlays is not None else None


def _rows(image: Image, scans: list[LayerScan | None]) -> list[LayerRow]:
    return [LayerRow(ref.index, ref.digest or (s.blob_digest if s else None), ref.diff_id or (s.diff_id if s else None),
                     s.size if s is not None else None, ref.compressed_size, ref.created_by)
            for ref, s in zip(image.layers, scans)]


def _side(image: Image, scans: list[LayerScan | None] | None, verify: bool) -> ImageSide:
    warnings = list(image.warnings)
    if scans is not None:
        warnings.extend(f"layer {ref.index}: {d}" for ref, s in zip(image.layers, scans) if s is not None
                        for d in s.defects)
        warnings.extend(f"layer {ref.index} is a foreign layer whose blob is not in the image; not fetched, "
                        "not compared" for ref, s in zip(image.layers, scans) if s is None)
    return ImageSide(
        path=image.path, format=image.format, ref=image.ref, manifest_digest=image.manifest_digest,
        config_digest=image.config_digest, platform=str(image.platform) if image.platform else None,
        layers=len(image.layers),
        size=sum(s.size for s in scans if s is not None) if scans is not None else None,
        compressed_size=sum(ref.compressed_size or 0 for ref in image.layers), verified=verify,
        warnings=warnings,
    )


def directory_deltas(files: TreeDiff) -> list[DirectoryDelta]:
    """Where the size change is: directories, largest change first, each with
    everything below it; a directory is left out when one subdirectory holds
    at least :data:`EXPLAINED` of its change (that subdirectory says it better),
    so a growth shows as the few directories it is made of."""
    direct: dict[str, list[int]] = {}  # dir -> [delta, added, removed, modified] of its own entries

    def count(path: str, delta: int, slot: int) -> None:
        d = path.rpartition("/")[0]
        row = direct.get(d)
        if row is None:
            row = direct[d] = [0, 0, 0, 0]
        row[0] += delta
        row[slot] += 1

    for p, node in files.added:
        count(p, size(node), 1)
    for p, node in files.removed:
        count(p, -size(node), 2)
    for m in files.modified:
        count(m.path, size(m.b) - size(m.a), 3)
    rows: dict[str, list[int]] = {}  # dir -> the same, everything below it
    for d, own in direct.items():
        while True:
            row = rows.get(d)
            if row is None:
                row = rows[d] = [0, 0, 0, 0]
            for k in range(4):
                row[k] += own[k]
            if not d:
                break
            d = d.rpartition("/")[0]
    biggest: dict[str, int] = {}  # dir -> the largest same-sign change of one of its subdirectories
    for d, row in rows.items():
        if d:
            parent = d.rpartition("/")[0]
            total = rows[parent][0]
            if (total > 0 and row[0] > 0) or (total < 0 and row[0] < 0):
                biggest[parent] = max(biggest.get(parent, 0), abs(row[0]))
    out = [DirectoryDelta(d, *row) for d, row in rows.items()
           if row[0] and biggest.get(d, 0) < EXPLAINED * abs(row[0])]
    out.sort(key=lambda r: (-abs(r.size_delta), path_order(r.path)))
    return out
