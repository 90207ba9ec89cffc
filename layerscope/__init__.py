"""layerscope: look inside container images layer by layer.

The public API (CI gates import this, not the CLI)::

    import layerscope
    report = layerscope.inspect("image.tar")        # verify digests, scan layers
    report.size, report.layers[0].entries
    image = layerscope.open_image("layout:tag", platform="linux/arm64")
"""

from __future__ import annotations

from .analysis.inspect import InspectReport, LayerInfo, inspect, inspect_image
from .errors import (
    BadInputError,
    DigestMismatchError,
    LayerscopeError,
    MissingBlobError,
    NotAnImageError,
    SelectionError,
)
from .source import Image, LayerRef, open_image
from . import ci  # noqa: E402  (public: layerscope.ci.evaluate for CI gates)

__version__ = "0.1.0"

__all__ = [
    "inspect",
    "ci",
    "inspect_image",
    "open_image",
    "Image",
    "LayerRef",
    "InspectReport",
    "LayerInfo",
    "LayerscopeError",
    "BadInputError",
    "DigestMismatchError",
    "MissingBlobError",
    "NotAnImageError",
    "SelectionError",
]
