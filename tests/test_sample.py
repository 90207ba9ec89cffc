"""examples/make_sample.sh is reproducible: rebuilt at any time it gives the
committed examples/sample.tar byte for byte (so the digests the README shows),
and it honours SOURCE_DATE_EPOCH for every timestamp it stores."""
from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "make_sample.sh"
SAMPLE = ROOT / "examples" / "sample.tar"

pytestmark = pytest.mark.interop


@pytest.fixture(autouse=True)
def _tools(tools) -> None:  # skopeo and umoci (conftest)
    pass


def build(out: Path, epoch: str | None = None) -> bytes:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = epoch
    p = subprocess.run(["bash", str(SCRIPT), str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return out.read_bytes()


def digests(archive: Path) -> list[str]:
    """The config and layer digests of a docker-archive, from its manifest.json."""
    with tarfile.open(archive) as t:
        manifest = json.load(t.extractfile("manifest.json"))[0]
    return ["sha256:" + re.sub(r"\.(json|tar)$", "", name) for name in [manifest["Config"], *manifest["Layers"]]]


def test_rebuild_at_another_time_gives_the_committed_sample(tmp_path):
    first = build(tmp_path / "a.tar")
    time.sleep(1.1)  # the wall clock moves on by a full second (tar mtimes' resolution)
    second = build(tmp_path / "b.tar")
    assert first == second
    assert first == SAMPLE.read_bytes()


def test_readme_shows_the_sample_digests():
    """Also where test_readme cannot look: the elided JSON (config, layer 0)."""
    readme = (ROOT / "README.md").read_text()
    config, *layers = digests(SAMPLE)
    assert f'"config_digest": "{config}"' in readme
    assert f'"digest": "{layers[0]}"' in readme
    for index, digest in enumerate(layers):  # the inspect table's short digests
        assert re.search(rf"^  {index}  {digest[7:19]} ", readme, re.M), digest


def test_source_date_epoch_sets_every_timestamp(tmp_path):
    epoch = 1234567890
    data = build(tmp_path / "s.tar", str(epoch))
    assert data != SAMPLE.read_bytes()
    with tarfile.open(tmp_path / "s.tar") as outer:
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        config = json.load(outer.extractfile(manifest["Config"]))
        dates = {config["created"]} | {h["created"] for h in config["history"]}
        assert dates == {"2009-02-13T23:31:30Z"}
        for name in manifest["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(name)) as layer:
                mtimes = {m.mtime for m in layer if "/.wh." not in "/" + m.name}
            assert mtimes == {epoch}, name
