"""The public surface: what ``import layerscope`` offers, and what it costs to load."""

from __future__ import annotations

import subprocess
import sys

import layerscope

PUBLIC = {
    "inspect", "ci", "inspect_image", "open_image", "Image", "LayerRef", "InspectReport", "LayerInfo",
    "LayerscopeError", "BadInputError", "DigestMismatchError", "MissingBlobError", "NotAnImageError",
    "SelectionError",
}


def test_all_is_pinned_and_every_name_resolves():
    assert set(layerscope.__all__) == PUBLIC
    for name in layerscope.__all__:
        assert getattr(layerscope, name) is not None
    assert set(layerscope.__all__) <= set(dir(layerscope))
    from layerscope import BadInputError, LayerscopeError, inspect  # noqa: F401
    assert issubclass(BadInputError, LayerscopeError)
    assert callable(layerscope.ci.evaluate)


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_start_up_imports_only_what_the_command_needs():
    """`layerscope --version` and `import layerscope` load no analysis stage (start-up time)."""
    heavy = {"layerscope.analysis", "layerscope.source", "layerscope.fs", "layerscope.layer", "zstandard",
             "isal", "xxhash", "tarfile", "layerscope.report"}
    for code in ("import layerscope", "import layerscope.cli"):
        loaded = _loaded_after(code)
        assert not {m for m in loaded if m.split(".")[0] in heavy or ".".join(m.split(".")[:2]) in heavy}, code
