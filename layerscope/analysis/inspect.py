"""`inspect`: what an image is made of, layer by layer.

The result objects are the single source for every renderer (text, JSON,
and later HTML / Markdown); they hold facts, never formatting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..layer.entry import Entry
from ..source import Image, open_image
from .layers import LayerFn, progress_bar, scan_image


@dataclass(slots=True)
class LayerInfo:
    index: int
    digest: str | None  # blob digest ("sha256:..."); for a legacy uncompressed layer, its diff_id
    diff_id: str | None
    media_type: str
    compression: str
    size: int | None  # uncompressed tar stream length; None for a foreign layer without blob
    compressed_size: int | None  # blob bytes as stored
    created_by: str | None
    entries: int | None  # tar members; None for a foreign layer without blob
    foreign: bool = False
    urls: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    files: list[Entry] | None = None  # the layer's entries, when asked for


@dataclass(slots=True)
class InspectReport:
    path: str
    format: str
    ref: str | None
    manifest_digest: str | None
    config_digest: str
    platform: str | None
    layers: list[LayerInfo]
    verified: bool
    warnings: list[str] = field(default_factory=list)

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
    on_layer: LayerFn | None = None,
) -> InspectReport:
    """Scan every layer of a resolved image (verifying digests by default).

    ``on_layer(index, scan)`` sees each layer's scan in layer order as soon
    as it is ready (see :func:`scan_image`).
    """
    update, close = progress_bar(len(image.layers), enabled=progress)
    try:
        scans = scan_image(image, verify=verify, keep_entries=keep_entries, jobs=jobs, progress=update,
                           on_layer=on_layer)
    finally:
        close()
    layers: list[LayerInfo] = []
    warnings: list[str] = []
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
        layers=layers, verified=verify, warnings=warnings,
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
    on_layer: LayerFn | None = None,
) -> InspectReport:
    """Open ``spec`` (``PATH[:REF]``) and inspect it; the library entry point."""
    img = open_image(spec, image=image, platform=platform, verify=verify)
    return inspect_image(img, verify=verify, keep_entries=keep_entries, jobs=jobs, progress=progress,
                         on_layer=on_layer)
