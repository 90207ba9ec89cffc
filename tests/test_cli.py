"""The CLI over the bundled sample image: output shape, jobs, progress, API parity."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import layerscope

SAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "sample.tar")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "layerscope", *args], capture_output=True, text=True, timeout=60)


def test_inspect_json_contract_and_parallelism_do_not_change_results():
    one = run("inspect", SAMPLE, "--json", "-j", "1")
    two = run("inspect", SAMPLE, "--json", "-j", "2")
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    doc = json.loads(one.stdout)
    assert doc == json.loads(two.stdout)
    assert doc["schema"] == "layerscope.inspect/2"
    assert set(doc["image"]) >= {"ref", "manifest_digest", "config_digest", "platform", "size", "compressed_size"}
    keys = {"index", "digest", "diff_id", "media_type", "compression", "size", "compressed_size", "created_by", "entries"}
    assert all(set(layer) >= keys for layer in doc["layers"])
    assert doc["image"]["size"] == sum(layer["size"] for layer in doc["layers"])
    assert all(isinstance(layer["size"], int) for layer in doc["layers"])


def test_text_output_has_one_row_per_layer():
    res = run("inspect", SAMPLE)
    assert res.returncode == 0, res.stderr
    rows = [line for line in res.stdout.splitlines() if line[:3].strip().isdigit()]
    assert len(rows) == 3
    assert "docker.io/layerscope/sample:1.0" in res.stdout


def test_progress_goes_to_stderr_only():
    res = run("inspect", SAMPLE, "--json", "--progress")
    assert res.returncode == 0
    json.loads(res.stdout)
    assert "layers" in res.stderr


def test_python_api_matches_cli():
    report = layerscope.inspect(SAMPLE, keep_entries=True)
    doc = json.loads(run("inspect", SAMPLE, "--json").stdout)
    assert [layer.digest for layer in report.layers] == [layer["digest"] for layer in doc["layers"]]
    assert report.size == doc["image"]["size"]
    assert [len(layer.files) for layer in report.layers] == [layer["entries"] for layer in doc["layers"]]


def test_usage_errors_exit_2_without_traceback():
    for args in (["inspect", SAMPLE, "--platform", "linux"], ["inspect"], ["inspect", SAMPLE, "--image", "nope:1"]):
        res = run(*args)
        assert res.returncode == 2, args
        assert "Traceback" not in res.stderr


def test_version_names_the_chunker_in_use():
    from layerscope.chunk import BACKEND

    res = run("--version")
    assert res.returncode == 0, res.stderr
    tar = "C" if BACKEND.native else "pure Python"
    assert res.stdout == f"layerscope, version {layerscope.__version__} (tar reader: {tar}; chunker: {BACKEND.name})\n"
    assert BACKEND.name == ("C FastCDC" if BACKEND.native else "pure Python; C core not built")


def test_version_names_the_forced_reference_tar_reader(monkeypatch):
    from layerscope.version import version_line

    monkeypatch.setenv("LAYERSCOPE_TAR_BACKEND", "python")
    assert "(tar reader: pure Python; chunker: " in version_line()


def test_short_version_option():
    assert run("-V").stdout == run("--version").stdout != ""


def _script() -> str:
    """The installed `layerscope` console script (completion scripts call it by name)."""
    exe = shutil.which("layerscope", path=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    if exe is None:
        pytest.skip("the layerscope console script is not installed (pip install -e .)")
    return exe


def test_readme_completion_lines_produce_scripts():
    """Every `_LAYERSCOPE_COMPLETE=<shell>_source` the README shows prints that shell's completion script."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    shells = re.findall(r"_LAYERSCOPE_COMPLETE=(\w+)_source layerscope", readme)
    assert sorted(shells) == ["bash", "fish", "zsh"]
    for shell in shells:
        p = subprocess.run([_script()], env={**os.environ, "_LAYERSCOPE_COMPLETE": f"{shell}_source"},
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and not p.stderr, p.stderr
        assert "_layerscope_completion" in p.stdout and f"_LAYERSCOPE_COMPLETE={shell}_complete" in p.stdout


def test_bash_completion_completes():
    """The bash script, loaded as ~/.bashrc would, completes commands and options."""
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    exe = _script()
    script = f"""
eval "$(_LAYERSCOPE_COMPLETE=bash_source {exe})"
complete -p layerscope >/dev/null || exit 3
COMPREPLY=(); COMP_WORDS=(layerscope ins); COMP_CWORD=1; _layerscope_completion {exe}; echo "${{COMPREPLY[*]}}"
COMPREPLY=(); COMP_WORDS=(layerscope ci x.tar --ci); COMP_CWORD=3; _layerscope_completion {exe}; echo "${{COMPREPLY[*]}}"
"""
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True, timeout=60,
                       env={**os.environ})
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["inspect", "--ci-config"]
