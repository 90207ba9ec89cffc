"""The README's examples are real: its command transcripts are re-run on the
bundled sample image and must print what the README shows, and its pytest
gate is run against generated images and must pass and fail as it claims."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from images import OCILayout, make_config, make_tar, pack_oci_archive, rand_bytes, sha256

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README, re.S | re.M)


def transcripts() -> list[tuple[str, str]]:
    """(command, expected output) for every ``$ layerscope …`` in a fenced
    block, except elided ones (``…`` on a line of its own or inside JSON)."""
    out = []
    for lang, body in BLOCKS:
        if lang or not body.startswith("$ "):
            continue
        parts = re.split(r"^\$ ", body, flags=re.M)[1:]
        for part in parts:
            cmd, _, expected = part.partition("\n")
            if not cmd.startswith("layerscope ") or re.search(r"^\s*…,?$", expected, re.M):
                continue
            if ";" in cmd:  # the bad-input example is covered by test_bad_input
                continue
            out.append((cmd, expected))
    return out


def config_files() -> dict[str, str]:
    """Config files the README shows: the TOML block headed by its file name
    and the ``$ cat FILE`` transcripts."""
    files = {}
    for lang, body in BLOCKS:
        first, _, rest = body.partition("\n")
        if lang == "toml" and first.startswith("# "):
            files[first[2:].strip()] = rest
        m = re.search(r"^\$ cat (\S+)\n(.*?)(?=^\$ |\Z)", body, re.S | re.M)
        if m:
            files[m.group(1)] = m.group(2)
    return files


SHIPPED = ["examples/sample.tar", "examples/.layerscope.toml", "examples/.dive-ci", "examples/compose.yaml"]


def test_readme_has_transcripts():
    cmds = [c for c, _ in transcripts()]
    assert any(c.startswith("layerscope inspect") for c in cmds)
    assert any(c.startswith("layerscope ci") and "--config examples/.layerscope.toml" in c for c in cmds)
    assert any(c.startswith("layerscope ci") and "--config examples/.dive-ci" in c for c in cmds)
    assert {"examples/.layerscope.toml", "examples/.dive-ci"} <= set(config_files())


@pytest.mark.parametrize("name", sorted(config_files()))
def test_readme_configs_are_the_shipped_files(name):
    """What the README shows of a rules file is what ships in examples/ (the
    commands run on the shipped file, so the README cannot drift from it)."""
    assert config_files()[name] == (ROOT / name).read_text()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A fresh directory holding only what ships in examples/: no stray
    .layerscope.toml is around for the ``ci`` commands to find."""
    d = tmp_path_factory.mktemp("readme")
    (d / "examples").mkdir()
    for name in SHIPPED:
        shutil.copy(ROOT / name, d / name)
    return d


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


@pytest.mark.parametrize("cmd,expected", transcripts(), ids=[c for c, _ in transcripts()])
def test_readme_transcript(workdir, cmd, expected):
    argv = cmd.split()
    exe = shutil.which("layerscope")
    argv = [exe, *argv[1:]] if exe else [sys.executable, "-m", "layerscope", *argv[1:]]
    p = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 1), p.stderr
    if "--json" in argv:
        # JSON goes compact when piped; compare the document, not the layout.
        import json
        assert json.loads(p.stdout) == json.loads(expected)
    else:
        assert _norm(p.stdout) == _norm(expected)


# --------------------------------------------------------------------------
# the pytest gate
# --------------------------------------------------------------------------

def gate_code() -> str:
    for lang, body in BLOCKS:
        if lang == "python" and "def test_image_gates" in body:
            return body
    raise AssertionError("README lost its pytest gate example")


def build_image(path: Path, layers: list[list[tuple]]) -> None:
    raws = [make_tar(entries) for entries in layers]
    work = path.with_suffix(".layout")
    lay = OCILayout(work)
    descs = [lay.blob(r, "application/vnd.oci.image.layer.v1.tar") for r in raws]
    cfg = make_config([sha256(r) for r in raws], created_by=[f"step {i}" for i in range(len(raws))])
    lay.add_ref(lay.image(descs, cfg), "latest")
    lay.finish()
    pack_oci_archive(work, path)


BASE = [("dir", "usr"), ("dir", "usr/bin"), ("file", "usr/bin/tool", rand_bytes(200_000, 1), 0o755)]
APP = [("dir", "app"), ("file", "app/main.py", rand_bytes(50_000, 2))]


def run_gate(tmp_path: Path, app_layers: list[list[tuple]]) -> str:
    (tmp_path / "build").mkdir()
    build_image(tmp_path / "build" / "main.tar", [BASE, APP])
    build_image(tmp_path / "build" / "app.tar", app_layers)
    (tmp_path / "test_gate.py").write_text(gate_code())
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_gate.py"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    return p.stdout.strip().splitlines()[-1]


def test_gate_passes_on_a_clean_image(tmp_path):
    assert re.match(r"2 passed", run_gate(tmp_path, [BASE, APP + [("file", "app/extra", b"x" * 1000)]]))


def test_gate_fails_on_a_forbidden_path(tmp_path):
    app = APP + [("file", "app/server.pem", b"-----BEGIN PRIVATE KEY-----\n")]
    assert re.match(r"1 failed, 1 passed", run_gate(tmp_path, [BASE, app]))


def test_gate_fails_on_chmod_copy_and_growth(tmp_path):
    chmod = [("dir", "usr"), ("dir", "usr/bin"), ("file", "usr/bin/tool", rand_bytes(200_000, 1), 0o700)]
    assert re.match(r"2 failed", run_gate(tmp_path, [BASE, APP, chmod]))
