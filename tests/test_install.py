"""Installing without a C compiler: the build warns in one line and goes on,
and the installed package chunks with the pure-Python FastCDC, giving the
cut points and digests the C core gives.

A real build (pip wheel, with pip's isolated build environment, as `pip
install .` does) of a copy of the source with ``CC=/bin/false``, installed
into a fresh venv that borrows this environment's dependencies.  Skipped
only when the build cannot run here at all (no index to fetch setuptools
and cffi from, a pip too old for ``--python``); about 15 s.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from layerscope.chunk import BACKEND, DEFAULT_PARAMS, ChunkParams, chunk_digests, cut_points, iter_chunks

ROOT = Path(__file__).resolve().parent.parent
DEPS = ["cffi", "_cffi_backend", "click", "isal", "tqdm", "xxhash", "yaml", "zstandard"]
WARNING = re.compile(r"^\s*WARNING: layerscope: C core not built \(.+\); installing the pure-Python tar reader and chunker "
                     r"\(same results, slower\)$", re.M)

pytestmark = pytest.mark.install

# What the installed package is asked to chunk, and how (run there and here).
PROBE = """
import io, json, random, sys
from layerscope.chunk import BACKEND, DEFAULT_PARAMS, ChunkParams, chunk_digests, cut_points, iter_chunks
try:
    import layerscope._native
    has_native = True
except ImportError:
    has_native = False
data = random.Random(8).randbytes(300_000)
small = ChunkParams(256, 1024, 4096, 2)
out = {
    "file": __import__("layerscope").__file__,
    "has_native": has_native,
    "backend": [BACKEND.name, BACKEND.native],
    "default": cut_points(data, params=DEFAULT_PARAMS),
    "small": cut_points(data, params=small),
    "stream": [len(c) for c in iter_chunks(io.BytesIO(data), small, read_size=10_000)],
    "sha256": [d.hex() for d in chunk_digests(data, cut_points(data, params=small), "sha256")],
}
from layerscope.layer import iter_entries, tarscan
out["tar_backend"] = [tarscan.BACKEND.name, tarscan.BACKEND.native]
out["tar"] = [[e.path, e.kind, e.size, e.digest.hex() if e.digest else None, e.header_offset]
              for e in iter_entries(io.BytesIO(TAR))]
json.dump(out, sys.stdout)
"""


# A small layer tar for PROBE, built the same way there and here (tarfile and
# a seeded random are deterministic): read there without the C scanner.
PROBE_TAR = """
def probe_tar():
    import io, random, tarfile
    rnd = random.Random(9)
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for i in range(30):
            ti = tarfile.TarInfo(f"d{i % 3}/" + "f" * (i * 7) + str(i))
            data = rnd.randbytes(rnd.choice([0, 1, 600, 70_000]))
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()
TAR = probe_tar()
"""
PROBE = PROBE_TAR + PROBE


def _copy_source(dst: Path) -> Path:
    """The project without build products: a stale compiled module must not sneak into the wheel."""
    ignore = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "*.so", "_native*",
                                    ".pytest_cache", ".hypothesis", ".benchmarks", "venv*", "tests", "benchmarks")
    shutil.copytree(ROOT, dst, ignore=ignore)
    return dst


def _site_dirs() -> list[str]:
    """Where this environment's copies of the runtime dependencies live."""
    dirs = []
    for name in DEPS:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, f"{name} is not installed here"
        origin = Path(spec.origin).parent
        d = str(origin.parent if spec.submodule_search_locations else origin)
        if d not in dirs:
            dirs.append(d)
    return dirs


@pytest.fixture(scope="module")
def no_compiler_install(tmp_path_factory) -> tuple[Path, str]:
    """(venv, build log) of an install whose C compiler is /bin/false."""
    tmp = tmp_path_factory.mktemp("install")
    src = _copy_source(tmp / "src")
    env = {**os.environ, "CC": "/bin/false", "CXX": "/bin/false", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "--no-cache-dir",
                            "-w", str(tmp / "dist"), str(src)],
                           env=env, capture_output=True, text=True, timeout=300)
    log = build.stdout + build.stderr
    if build.returncode != 0 and re.search(r"Could not find a version that satisfies|No matching distribution|"
                                           r"Failed to establish a new connection", log):
        pytest.skip("cannot build here: pip could not fetch the build requirements (setuptools, cffi)")
    assert build.returncode == 0, log[-4000:]
    wheel = next((tmp / "dist").glob("layerscope-*.whl"))

    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "_layerscope_test_deps.pth").write_text("\n".join(_site_dirs()) + "\n")
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                           "--no-cache-dir", str(wheel)], env=env, capture_output=True, text=True, timeout=300)
    if inst.returncode != 0 and "no such option: --python" in inst.stderr:
        pytest.skip("pip is too old to install into another environment (--python needs pip 22.3)")
    assert inst.returncode == 0, inst.stdout + inst.stderr
    return venv, log


def test_build_warns_in_one_line_and_ships_no_c_module(no_compiler_install, tmp_path):
    venv, log = no_compiler_install
    assert len(WARNING.findall(log)) == 1, log[-4000:]
    wheel = next(Path(venv).parent.glob("dist/layerscope-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "layerscope/chunk/pynative.py" in names
    assert not [n for n in names if "_native" in n.rsplit("/", 1)[-1]], names


def test_version_names_the_pure_python_chunker(no_compiler_install):
    venv, _ = no_compiler_install
    p = subprocess.run([venv / "bin" / "layerscope", "--version"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "layerscope, version 0.1.0 (tar reader: pure Python; chunker: pure Python; C core not built)\n"


def test_pure_python_install_chunks_like_the_c_core(no_compiler_install):
    venv, _ = no_compiler_install
    p = subprocess.run([venv / "bin" / "python", "-c", PROBE], capture_output=True, text=True, timeout=120,
                       cwd=venv)
    assert p.returncode == 0, p.stderr
    there = json.loads(p.stdout)
    assert Path(there["file"]).is_relative_to(venv)  # the installed wheel, not this checkout
    assert there["has_native"] is False
    assert there["backend"] == ["pure Python; C core not built", False]

    assert BACKEND.native, "this test compares with the C core: run it where the C core is built"
    import io
    import random
    data = random.Random(8).randbytes(300_000)
    small = ChunkParams(256, 1024, 4096, 2)
    assert there["default"] == cut_points(data, params=DEFAULT_PARAMS)
    assert there["small"] == cut_points(data, params=small)
    assert there["stream"] == [len(c) for c in iter_chunks(io.BytesIO(data), small, read_size=10_000)]
    assert there["sha256"] == [d.hex() for d in chunk_digests(data, there["small"], "sha256")]

    # the tar reader: the reference there, the C scanner here, the same entries
    from layerscope.layer import iter_entries, tarscan
    probe: dict = {}
    exec(PROBE_TAR, probe)
    assert there["tar_backend"] == ["pure-Python tar reader", False]
    assert tarscan.BACKEND.native
    here = [[e.path, e.kind, e.size, e.digest.hex() if e.digest else None, e.header_offset]
            for e in iter_entries(io.BytesIO(probe["TAR"]))]
    assert there["tar"] == here and len(here) == 30
