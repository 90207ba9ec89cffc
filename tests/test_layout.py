"""Imports go one way along the data flow (docs/architecture.md): a stage
never imports a stage to its right, so each can be used and tested alone."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "layerscope"

# stage -> position along the data flow; equal positions may not import each other either
STAGES = {
    "errors": 0, "units": 0, "sysinfo": 0, "gcpause": 0, "record": 0, "ccore": 0,
    "places": 0.5,  # where files are kept (the user cache dir, sizes read with units): the layer cache and registry blobs
    "heap": 0.5,  # heap trimming through the C core (ccore)
    "testing": 0,  # image writers for tests and benchmarks: import no stage at all
    "tarheader": 0.5,  # the tar format, for both tar readers (source/ outer archives, layer/ layers): errors only
    "source": 1,
    "layer": 2, "chunk": 2,
    "fs": 3, "version": 3,
    "packages": 3,  # parses the bytes the layer scan kept (layer/capture.py); the model is no concern of it
    "analysis": 4, "store": 4,
    "workload": 3.5,  # issue #15: Kubernetes/ECS/compose files read into workload specs, their images resolved (sources); analysis/workload.py counts
    "fleet": 4.5,  # issue #16: savings/workload with their layers read on a dask cluster; imports analysis and source, cli imports it
    "report": 5,
    "explore": 5.5,  # issue #17: the interactive explorer (model over analysis and report, Textual UI); cli imports it
    "cli": 6, "ci": 6,
    "__init__": 7, "entry": 8, "__main__": 9,
}


def _stage(parts: tuple[str, ...]) -> str:
    return parts[0].removesuffix(".py")


def _imports(path: Path):
    """(stage imported, line) for every layerscope-internal import in ``path``."""
    for target, _names, line in _import_targets(path):
        yield target[0], line


def _import_targets(path: Path):
    """(module path as a list, names imported from it, line) for every
    layerscope-internal import in ``path``."""
    rel = path.relative_to(PKG).parts
    pkg = list(rel[:-1])  # the package the module lives in
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                target = base + (node.module.split(".") if node.module else [])
                if not target:  # "from . import x" at the top level
                    target = [node.names[0].name]
            elif node.module and node.module.split(".")[0] == "layerscope":
                target = node.module.split(".")[1:] or [node.names[0].name]
            else:
                continue
            yield target, [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "layerscope" and len(parts) > 1:
                    yield parts[1:], [], node.lineno


MODULES = sorted(p for p in PKG.rglob("*.py"))


def test_every_stage_is_placed():
    assert {_stage(p.relative_to(PKG).parts) for p in MODULES} <= set(STAGES)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PKG)) for p in MODULES])
def test_imports_follow_the_data_flow(path):
    me = _stage(path.relative_to(PKG).parts)
    for target, line in _imports(path):
        target = target.removesuffix(".py")
        if target == me or target not in STAGES:
            continue
        assert STAGES[target] < STAGES[me], f"{path.relative_to(PKG)}:{line} imports {target} (right of {me})"


# What the model (fs/) may use of the stages to its left: the Entry record (and
# its base, record.py) and the marker rules, never a reader (layer/tar.py, layer/upperdir.py, source/).
MODEL_MAY_IMPORT = {"errors", "units", "record", "layer.entry", "layer.whiteout"}
MODEL = sorted((PKG / "fs").glob("*.py"))


@pytest.mark.parametrize("path", MODEL, ids=[p.name for p in MODEL])
def test_the_model_imports_no_reader(path):
    for target, names, line in _import_targets(path):
        if target[0] == "fs" or target[0] not in STAGES:
            continue
        module = ".".join(target)
        # "from ..layer import whiteout" imports the submodule layer.whiteout
        allowed = module in MODEL_MAY_IMPORT or names and all(f"{module}.{n}" in MODEL_MAY_IMPORT for n in names)
        assert allowed, f"fs/{path.name}:{line} imports {module} {names}"


# Loading the model must not load the readers' machinery: the model is a pure
# function of Entry lists, usable (and picklable to workers) without it.
READER_ONLY = ("zstandard", "isal", "mmap")


def test_the_model_loads_without_the_readers():
    code = ("import sys, layerscope.fs, layerscope.fs.dive, layerscope.fs.globs; "
            f"print(sorted(m for m in sys.modules if m.partition('.')[0] in {READER_ONLY!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


TESTING = sorted((PKG / "testing").glob("*.py"))


@pytest.mark.parametrize("path", TESTING, ids=[p.name for p in TESTING])
def test_testing_helpers_use_the_standard_library_only(path):
    """They ship in the package: no test-only (or any third-party) dependency."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.partition(".")[0]
            assert top in sys.stdlib_module_names or top == "__future__", f"{path.name}:{node.lineno} imports {name}"
