"""layerscope: look inside container images layer by layer.

The public API (CI gates import this, not the CLI)::

    import layerscope
    report = layerscope.inspect("image.tar")        # verify digests, scan layers
    report.size, report.layers[0].entries
    image = layerscope.open_image("layout:tag", platform="linux/arm64")
"""

from __future__ import annotations

from importlib import import_module as _import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Loaded on first use, so `layerscope --version` and a CI gate that needs
# one function do not pay for every stage's imports.
_LAZY = {
    "inspect": ".analysis.inspect",
    "inspect_image": ".analysis.inspect",
    "InspectReport": ".analysis.inspect",
    "LayerInfo": ".analysis.inspect",
    "open_image": ".source",
    "Image": ".source",
    "LayerRef": ".source",
    "LayerscopeError": ".errors",
    "BadInputError": ".errors",
    "DigestMismatchError": ".errors",
    "MissingBlobError": ".errors",
    "NotAnImageError": ".errors",
    "SelectionError": ".errors",
}

if TYPE_CHECKING:  # pragma: no cover
    from . import ci
    from .analysis.inspect import InspectReport, LayerInfo, inspect, inspect_image
    from .errors import (BadInputError, DigestMismatchError, LayerscopeError, MissingBlobError, NotAnImageError,
                         SelectionError)
    from .source import Image, LayerRef, open_image


def __getattr__(name: str):
    if name == "ci":  # public: layerscope.ci.evaluate for CI gates
        return _import_module(".ci", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'layerscope' has no attribute {name!r}")
    value = getattr(_import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
