"""The public names, pinned: removing or renaming one breaks callers."""

from __future__ import annotations

import subprocess
import sys

import layerscope
import layerscope.chunk

CHUNK_API = ["BACKEND", "DEFAULT_PARAMS", "DIGESTS", "Buffer", "ChunkParams", "Chunker", "chunk_digest",
             "chunk_digests", "cut_points", "iter_chunks"]
TOP_API = ["inspect", "ci", "inspect_image", "open_image", "Image", "LayerRef", "InspectReport", "LayerInfo",
           "compare", "compare_images", "CompareReport", "LayerscopeError", "BadInputError", "DigestMismatchError", "MissingBlobError", "NotAnImageError",
           "SelectionError"]


def test_chunk_all_is_pinned():
    assert layerscope.chunk.__all__ == CHUNK_API
    for name in CHUNK_API:
        assert getattr(layerscope.chunk, name) is not None


def test_top_level_all_is_pinned_and_resolves():
    assert layerscope.__all__ == TOP_API
    # in a fresh interpreter: the names load lazily, and star-import sees them all
    code = ("from layerscope import *; import layerscope; "
            "print(sorted(n for n in layerscope.__all__ if n not in globals()), callable(inspect), ci.evaluate)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("[] True <function evaluate")


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_start_up_imports_only_what_the_command_needs():
    """`layerscope --version` and `import layerscope` load no analysis stage (start-up time)."""
    heavy = {"layerscope.analysis", "layerscope.source", "layerscope.fs", "layerscope.layer", "zstandard",
             "isal", "xxhash", "tarfile", "layerscope.report"}
    for code in ("import layerscope", "import layerscope.cli", "import layerscope.entry"):
        loaded = _loaded_after(code)
        assert not {m for m in loaded if m.split(".")[0] in heavy or ".".join(m.split(".")[:2]) in heavy}, code


def test_version_is_answered_without_loading_the_cli():
    """The executable's --version / -V path loads neither click nor any stage but the chunk backend."""
    for flag in ("--version", "-V"):
        code = (f"import sys; sys.argv = ['layerscope', {flag!r}]; from layerscope.entry import main; main(); "
                "print(sorted(m for m in sys.modules if m == 'click' or m.startswith('layerscope.')))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        line, loaded = out.splitlines()
        assert line.startswith("layerscope, version ") and "; chunker: " in line
        assert set(eval(loaded)) <= {"layerscope.entry", "layerscope.version", "layerscope.chunk",
                                     "layerscope.chunk.backend", "layerscope.errors", "layerscope._native",
                                     "layerscope._native.lib", "layerscope.chunk.pynative",
                                     "layerscope.chunk.reference"}, loaded
    # and the click path prints the same line
    from click.testing import CliRunner
    from layerscope.cli import main
    from layerscope.version import version_line
    assert CliRunner().invoke(main, ["--version"]).output == version_line() + "\n"
