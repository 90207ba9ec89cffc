"""The public names, pinned: removing or renaming one breaks callers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import images as I
import layerscope
import layerscope.chunk

CHUNK_API = ["BACKEND", "DEFAULT_PARAMS", "DIGESTS", "Buffer", "ChunkParams", "Chunker", "chunk_digest",
             "chunk_digests", "cut_points", "iter_chunks"]
TOP_API = ["inspect", "ci", "inspect_image", "open_image", "Image", "LayerRef", "InspectReport", "LayerInfo",
           "compare", "compare_images", "CompareReport", "savings", "SavingsReport", "workloads", "WorkloadReport", "Store", "LayerscopeError", "BadInputError", "DigestMismatchError", "MissingBlobError", "NotAnImageError",
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


# What `layerscope inspect` of a small uncompressed single-layer docker-archive
# loads (issue #8: its start-up is most of its time). Pinned exactly: a module
# that joins the path must be needed there, or imported where it is used.
INSPECT_MODULES = {
    "layerscope", "layerscope._native", "layerscope._native.lib", "layerscope.analysis", "layerscope.ccore",
    "layerscope.analysis.inspect", "layerscope.analysis.layers", "layerscope.analysis.waste", "layerscope.cli",
    "layerscope.cli.options", "layerscope.cli.output", "layerscope.entry", "layerscope.errors", "layerscope.fs",
    "layerscope.fs.dive", "layerscope.fs.overlay", "layerscope.fs.tree", "layerscope.gcpause", "layerscope.layer",
    "layerscope.layer.cache", "layerscope.layer.capture", "layerscope.layer.entry", "layerscope.layer.paths", "layerscope.layer.scan",
    "layerscope.layer.tarscan", "layerscope.layer.whiteout", "layerscope.record", "layerscope.report",
    "layerscope.report.style", "layerscope.report.text", "layerscope.source", "layerscope.source.compression", "layerscope.source.container",
    "layerscope.source.digest", "layerscope.source.docker", "layerscope.source.docker_v1",
    "layerscope.source.image", "layerscope.source.limits", "layerscope.source.magic", "layerscope.source.oci", "layerscope.source.platform",
    "layerscope.source.reference", "layerscope.source.transport", "layerscope.sysinfo", "layerscope.places", "layerscope.tarheader", "layerscope.units",
    "layerscope.version",
}
# Not needed for that image, each a few ms of imports: the outer archive is read
# without tarfile, records are not dataclasses, no zstd or gzip layer, no layer
# big enough for hashing threads, one layer (no pool), no terminal (no progress
# bar), no pax member in the layer (the reference tar reader, base64), no write
# to the layer cache on a hit (tempfile).
NOT_FOR_A_SMALL_DOCKER_ARCHIVE = {
    "tarfile", "shutil", "bz2", "lzma", "dataclasses", "zstandard", "isal", "queue", "concurrent", "tqdm",
    "base64", "tempfile", "layerscope.layer.tar", "layerscope.layer.pax",
}


def _tiny_docker_archive(path):
    layer = I.make_tar([("dir", "etc"), ("file", "etc/hostname", b"tiny\n"), ("file", "bin/sh", b"x" * 50_000),
                        ("symlink", "bin/bash", "sh")])
    cfg = I.make_config([I.sha256(layer)])
    cfg_name = f"{I.hexof(I.sha256(cfg))}.json"
    manifest = [{"Config": cfg_name, "RepoTags": ["tiny:1"], "Layers": ["layer.tar"]}]
    I.tar_members(path, [("layer.tar", layer), (cfg_name, cfg), ("manifest.json", I.jbytes(manifest))])
    return path


@pytest.mark.parametrize("cache", ["off", "warm"])
def test_inspect_of_a_small_docker_archive_loads_only_what_it_needs(cache, tmp_path):
    image = _tiny_docker_archive(tmp_path / "tiny.tar")
    env = dict(os.environ, LAYERSCOPE_CACHE=str(tmp_path / "cache") if cache == "warm" else "off")
    env.pop("LAYERSCOPE_TAR_BACKEND", None)
    code = ("import sys; sys.argv = ['layerscope', 'inspect', sys.argv[1]]; from layerscope.entry import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(sorted(sys.modules))")
    for _ in range(2 if cache == "warm" else 1):  # warm: the first run fills the cache
        out = subprocess.run([sys.executable, "-c", code, str(image)], capture_output=True, text=True, env=env,
                             check=True, stdin=subprocess.DEVNULL).stdout
    loaded = set(eval(out.splitlines()[-1]))
    assert "Efficiency:" in out
    ours = {m for m in loaded if m.partition(".")[0] == "layerscope"}
    assert ours == INSPECT_MODULES, f"new: {sorted(ours - INSPECT_MODULES)}, gone: {sorted(INSPECT_MODULES - ours)}"
    needless = {m for m in loaded if m in NOT_FOR_A_SMALL_DOCKER_ARCHIVE or m.partition(".")[0] in
                NOT_FOR_A_SMALL_DOCKER_ARCHIVE}
    assert not needless, sorted(needless)
