"""layerscope: look inside container images layer by layer.

The public API (CI gates import this, not the CLI)::

    import layerscope
    report = layerscope.inspect("image.tar")        # verify digests, scan layers
    report.size, report.layers[0].entries
    diff = layerscope.compare("old.tar", "new.tar")  # layers, config, history, files, packages
    saved = layerscope.savings(["a.tar", "b.tar"])   # what layer/ChainID/file/chunk sharing store
    pods = layerscope.workloads(["k8s.yaml"], images=["ci-images/"])  # what each pod/task/node pulls
    saved = layerscope.savings(tags, scheduler="tcp://dask:8786")  # the same, its layers read on a cluster
    image = layerscope.open_image("layout:tag", platform="linux/arm64")

The names below are loaded on first use, so that importing one stage (say
``layerscope.fs``, the pure model) does not pull in every other stage and
its dependencies (zstd, ISA-L, mmap).
"""

from __future__ import annotations

import importlib

from .errors import (
    BadInputError,
    DigestMismatchError,
    LayerscopeError,
    MissingBlobError,
    NotAnImageError,
    SelectionError,
)

TYPE_CHECKING = False  # not from typing: start-up time (`layerscope --version`)
if TYPE_CHECKING:
    from . import ci
    from .analysis.compare import CompareReport, compare, compare_images
    from .analysis.inspect import InspectReport, LayerInfo, inspect, inspect_image
    from .analysis.savings import SavingsReport
    from .analysis.workload import WorkloadReport
    from .fleet.api import savings, workloads
    from .source import Image, LayerRef, open_image

from .version import __version__  # noqa: E402

__all__ = [
    "inspect",
    "ci",
    "inspect_image",
    "open_image",
    "Image",
    "LayerRef",
    "InspectReport",
    "LayerInfo",
    "compare",
    "compare_images",
    "CompareReport",
    "savings",
    "SavingsReport",
    "workloads",
    "WorkloadReport",
    "Store",
    "LayerscopeError",
    "BadInputError",
    "DigestMismatchError",
    "MissingBlobError",
    "NotAnImageError",
    "SelectionError",
]

# public name -> the module that defines it (None: the name is a submodule)
_LAZY = {
    "inspect": ".analysis.inspect",
    "inspect_image": ".analysis.inspect",
    "InspectReport": ".analysis.inspect",
    "LayerInfo": ".analysis.inspect",
    "compare": ".analysis.compare",
    "compare_images": ".analysis.compare",
    "CompareReport": ".analysis.compare",
    "savings": ".fleet.api",  # the single-machine one unless a dask scheduler is named
    "SavingsReport": ".analysis.savings",
    "workloads": ".fleet.api",
    "WorkloadReport": ".analysis.workload",
    "Store": ".store.api",
    "open_image": ".source",
    "Image": ".source",
    "LayerRef": ".source",
    "ci": None,  # layerscope.ci.evaluate for CI gates
}


def __getattr__(name: str) -> object:
    where = _LAZY.get(name, "")
    if where == "":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = importlib.import_module(f".{name}" if where is None else where, __name__)
    if where is not None:
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
