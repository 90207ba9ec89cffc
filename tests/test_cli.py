"""The CLI over the bundled sample image: output shape, jobs, progress, API parity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
