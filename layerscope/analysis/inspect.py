"""`inspect`: what an image is made of, layer by layer.

The result objects are the single source for every renderer (text, JSON,
and later HTML / Markdown); they hold facts, never formatting.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import UsageError
from ..gcpause import paused_gc
from ..fs.dive import DiveModel
from ..fs.overlay import LayerChanges, Overlay
from ..layer.entry import Entry
from ..source import Image, open_image
from ..layer.cache import ScanCache
from ..record import Record
from .layers import progress_bar, scan_image
from .waste import Waste, measure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .filesystem import Filesystem


class LayerInfo(Record):
    __slots__ = ("index", "digest", "diff_id", "media_type", "compression", "size", "compressed_size", "created_by",
                 "entries", "foreign", "urls", "defects", "files")

    index: int
    digest: str | None  # blob digest ("sha256:..."); for a legacy uncompressed layer, its diff_id
    diff_id: str | None
    media_type: str
    compression: str
    size: int | None  # uncompressed tar stream length; None for a foreign layer without blob
    compressed_size: int | None  # blob bytes as stored
    created_by: str | None
    entries: int | None  # tar members; None for a foreign layer without blob
    foreign: bool
    urls: list[str]
    defects: list[str]
    files: list[Entry] | None  # the layer's entries, when asked for

    def __init__(self, index: int, digest: str | None, diff_id: str | None, media_type: str, compression: str,
                 size: int | None, compressed_size: int | None, created_by: str | None, entries: int | None,
                 foreign: bool = False, urls: list[str] | None = None, defects: list[str] | None = None,
                 files: list[Entry] | None = None) -> None:
        self.index = index
        self.digest = digest
        self.diff_id = diff_id
        self.media_type = media_type
        self.compression = compression
        self.size = size
        self.compressed_size = compressed_size
        self.created_by = created_by
        self.entries = entries
        self.foreign = foreign
        self.urls = [] if urls is None else urls
        self.defects = [] if defects is None else defects
        self.files = files


class InspectReport(Record):
    __slots__ = ("path", "format", "ref", "manifest_digest", "config_digest", "platform", "layers", "verified",
                 "warnings", "source_warnings", "legacy_id", "waste", "overlay", "layer_changes")

    path: str
    format: str
    ref: str | None
    manifest_digest: str | None
    config_digest: str | None  # None: a pre-1.10 docker-archive has no config blob
    platform: str | None
    layers: list[LayerInfo]
    verified: bool
    warnings: list[str]  # the source's first, then each layer's defects
    source_warnings: list[str]  # the source's alone (commands without a warnings list print them)
    legacy_id: str | None  # a pre-1.10 docker-archive's image id
    waste: Waste | None  # None when the layers were not stacked (analyze=False)
    overlay: Overlay | None  # the stacked filesystem model (up to ``upto``)
    layer_changes: list[LayerChanges] | None  # what each stacked layer changed

    def __init__(self, path: str, format: str, ref: str | None, manifest_digest: str | None, config_digest: str | None,
                 platform: str | None, layers: list[LayerInfo], verified: bool, warnings: list[str] | None = None,
                 source_warnings: list[str] | None = None, legacy_id: str | None = None, waste: Waste | None = None,
                 overlay: Overlay | None = None, layer_changes: list[LayerChanges] | None = None) -> None:
        self.path = path
        self.format = format
        self.ref = ref
        self.manifest_digest = manifest_digest
        self.config_digest = config_digest
        self.platform = platform
        self.layers = layers
        self.verified = verified
        self.warnings = [] if warnings is None else warnings
        self.source_warnings = [] if source_warnings is None else source_warnings
        self.legacy_id = legacy_id
        self.waste = waste
        self.overlay = overlay
        self.layer_changes = layer_changes

    def _need_waste(self) -> Waste:
        if self.waste is None:
            raise UsageError("efficiency needs the layers stacked: inspect with analyze=True and all layers")
        return self.waste

    @property
    def efficiency(self) -> float:
        """1 - wasted_bytes / regular-file bytes stored in the layers."""
        return self._need_waste().efficiency

    @property
    def wasted_bytes(self) -> int:
        """Bytes that squashing the image would save (stored, not visible at the end)."""
        return self._need_waste().wasted_bytes

    @property
    def user_wasted_ratio(self) -> float:
        """Waste in layers above the base divided by the file bytes of those layers."""
        return self._need_waste().user_wasted_ratio

    @property
    def dive_efficiency(self) -> float:
        return self._need_waste().dive_efficiency

    @property
    def dive_wasted_bytes(self) -> int:
        return self._need_waste().dive_wasted_bytes

    @property
    def dive_user_wasted_ratio(self) -> float:
        return self._need_waste().dive_user_wasted_ratio

    @property
    def filesystem(self) -> Filesystem | None:
        """The final filesystem by size in a bounded number of nodes (the HTML treemap's
        data); None when the waste was not measured (analyze=False or ``upto``)."""
        return self.waste.filesystem if self.waste is not None else None

    def paths(self) -> Iterator[str]:
        """Every path of the final merged filesystem (relative, sorted)."""
        if self.overlay is None:
            raise UsageError("paths need the layers stacked: inspect with analyze=True")
        return self.overlay.tree.walk()

    @property
    def size(self) -> int:
        """Sum of the layers' uncompressed tar stream lengths (bytes)."""
        return sum(layer.size or 0 for layer in self.layers)

    @property
    def compressed_size(self) -> int:
        """Sum of the layer blobs as stored (bytes)."""
        return sum(layer.compressed_size or 0 for layer in self.layers)


def inspect_image(
    image: Image,
    *,
    verify: bool = True,
    keep_entries: bool = False,
    jobs: int | None = None,
    progress: bool | None = None,
    analyze: bool = True,
    upto: int | None = None,
    base_layers: int = 1,
    cache: ScanCache | bool | str | None = None,
    changes: bool = True,
) -> InspectReport:
    """Scan every layer of a resolved image (verifying digests by default).

    With ``analyze`` the layers are stacked into the merged filesystem while
    later ones are still being read (up to layer ``upto``; all by default),
    and, for the whole image, the waste is measured. ``keep_entries`` keeps
    each layer's tar records on the report as well. Scans come from and go
    to the layer cache (``cache``: see :func:`~layerscope.analysis.layers.open_cache`).
    With ``changes=False`` ``layer_changes`` holds each layer's warnings but
    no per-path changes (faster, and lighter on many-file layers).
    """
    if upto is not None and not 0 <= upto < len(image.layers):
        raise UsageError(f"no layer {upto}: the image has layers 0..{len(image.layers) - 1}")
    overlay = Overlay(changes=changes) if analyze else None
    dive = DiveModel() if analyze and upto is None else None
    diffs: list[LayerChanges] = []

    def stack(index: int, scan) -> None:
        entries = scan.entries if scan is not None and scan.entries else []
        if upto is None or index <= upto:
            if dive is not None:
                dive.add_layer(entries)
            diffs.append(overlay.apply(index, entries))
        if scan is not None and not keep_entries:
            scan.entries = None  # stacked: the per-layer records are no longer needed

    update, close = progress_bar(len(image.layers), enabled=progress)
    with paused_gc():  # one small object per entry, no cycles: see gcpause.py
        try:
            scans = scan_image(image, verify=verify, keep_entries=keep_entries or analyze, jobs=jobs, progress=update,
                               on_layer=stack if analyze else None, cache=cache)
        finally:
            close()
        layers: list[LayerInfo] = []
        warnings: list[str] = list(image.warnings)
        for ref, sc in zip(image.layers, scans):
            if sc is None:
                layers.append(LayerInfo(
                    index=ref.index, digest=ref.digest, diff_id=ref.diff_id, media_type=ref.media_type,
                    compression=ref.compression(), size=None, compressed_size=ref.compressed_size,
                    created_by=ref.created_by, entries=None, foreign=True, urls=ref.urls,
                ))
                warnings.append(f"layer {ref.index} is a foreign layer whose blob is not in the image; not fetched, not analysed")
                continue
            digest = ref.digest or sc.blob_digest
            if digest is None and sc.compression == "none":
                digest = ref.diff_id  # an uncompressed blob's digest is its diff_id
            layers.append(LayerInfo(
                index=ref.index, digest=digest, diff_id=ref.diff_id or sc.diff_id, media_type=ref.media_type,
                compression=sc.compression, size=sc.size, compressed_size=ref.compressed_size,
                created_by=ref.created_by, entries=sc.entry_count, defects=sc.defects, files=sc.entries,
            ))
            warnings.extend(f"layer {ref.index}: {d}" for d in sc.defects)
        return InspectReport(
            path=image.path, format=image.format, ref=image.ref, manifest_digest=image.manifest_digest,
            config_digest=image.config_digest, platform=str(image.platform) if image.platform else None,
            layers=layers, verified=verify, warnings=warnings, source_warnings=list(image.warnings),
            legacy_id=image.legacy_id,
            waste=measure(overlay, dive, base_layers=base_layers) if dive is not None else None,
            overlay=overlay, layer_changes=diffs if analyze else None,
        )


def inspect(
    spec: str,
    *,
    image: str | None = None,
    platform: str | None = None,
    verify: bool = True,
    keep_entries: bool = False,
    jobs: int | None = None,
    progress: bool | None = False,
    analyze: bool = True,
    upto: int | None = None,
    base_layers: int = 1,
    cache: ScanCache | bool | str | None = None,
    changes: bool = True,
) -> InspectReport:
    """Open ``spec`` (``PATH[:REF]``) and inspect it; the library entry point.

    ``report.efficiency``, ``report.wasted_bytes``, ``report.layers`` … are
    what CI gates read; ``analyze=False`` only reads and verifies the layers.
    """
    img = open_image(spec, image=image, platform=platform, verify=verify, blob_cache=False if cache is False else None)
    return inspect_image(img, verify=verify, keep_entries=keep_entries, jobs=jobs, progress=progress,
                         analyze=analyze, upto=upto, base_layers=base_layers, cache=cache,
                         changes=changes)
