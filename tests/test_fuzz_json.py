"""Garbage JSON in the right places: seeded structural mutations of every JSON
document of an image (index.json, manifests, configs, a docker-archive's
manifest.json and repositories) -- a value replaced by one of the wrong type,
a key dropped -- must end in a result or one clear error (exit 2), never in
an "internal error". Both with digest checks and with ``--no-verify`` (which
lets a mutated blob past its digest, so the parsers see it).

These found: descriptors whose mediaType/size/annotations/urls had the wrong
type, and RepoTags that were not a list.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import shutil
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import images as I
from layerscope.cli import main

SEEDS = range(300)
WRONG = [None, 0, -1, 2 ** 70, "", "x", "sha256:zz", [], {}, [1], {"a": 1}, True, 1.5, "../../etc/passwd",
         "sha256:" + "0" * 64]


def mutate(doc, rnd: random.Random):
    """Replace one value anywhere in ``doc`` by a wrong one, or drop a key."""
    paths: list[list] = []

    def walk(o, p):
        paths.append(p)
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, p + [k])
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, p + [i])

    walk(doc, [])
    if len(paths) == 1:
        return rnd.choice(WRONG)
    p = rnd.choice(paths[1:])
    o = doc
    for k in p[:-1]:
        o = o[k]
    if isinstance(o, dict) and rnd.random() < 0.2:
        del o[p[-1]]
    else:
        o[p[-1]] = rnd.choice(WRONG)
    return doc


def check(spec: Path, seed: int) -> None:
    runner = CliRunner()
    for args in (["inspect", str(spec)], ["inspect", str(spec), "--no-verify"],
                 ["ls", str(spec), "-R", "--no-verify"], ["changes", str(spec), "--no-verify"]):
        r = runner.invoke(main, args)
        out = r.output or ""
        assert r.exit_code in (0, 2), (seed, args, r.exit_code, out[-300:])
        assert "internal error" not in out, (seed, args, out.strip().splitlines()[-1])
        assert r.exception is None or isinstance(r.exception, SystemExit), (seed, args, repr(r.exception))


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("fuzz") / "layout"
    I.build_simple_oci_layout(base, compress="gzip")
    return base


@pytest.mark.parametrize("seed", SEEDS)
def test_mutated_oci_layout_json(layout, tmp_path, seed):
    rnd = random.Random(seed)
    d = tmp_path / "img"
    shutil.copytree(layout, d)
    blobs = d / "blobs" / "sha256"
    docs = [d / "index.json"] + sorted(p for p in blobs.iterdir() if p.read_bytes()[:1] == b"{")
    target = rnd.choice(docs)
    data = json.dumps(mutate(json.loads(target.read_bytes()), rnd)).encode()
    if target.name != "index.json" and rnd.random() < 0.7:
        # store it under its new digest and point index.json at it (a consistent but wrong document)
        new = hashlib.sha256(data).hexdigest()
        (blobs / new).write_bytes(data)
        index = (d / "index.json").read_bytes()
        (d / "index.json").write_bytes(index.replace(target.name.encode(), new.encode()).replace(
            b'"size": %d' % target.stat().st_size, b'"size": %d' % len(data)))
    else:
        target.write_bytes(data)
    check(d, seed)


@pytest.fixture(scope="module")
def docker_members(tmp_path_factory) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    path = tmp_path_factory.mktemp("fuzz") / "docker.tar"
    I.build_legacy_docker_archive(path, "docker")
    with tarfile.open(path) as tf:
        return [(ti, tf.extractfile(ti).read() if ti.isreg() else None) for ti in tf]


@pytest.mark.parametrize("seed", SEEDS)
def test_mutated_docker_archive_json(docker_members, tmp_path, seed):
    rnd = random.Random(seed)
    docs = [i for i, (ti, data) in enumerate(docker_members)
            if data is not None and (ti.name.endswith(".json") or ti.name == "repositories")]
    k = rnd.choice(docs)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for i, (ti, data) in enumerate(docker_members):
            if i == k:
                data = json.dumps(mutate(json.loads(data), rnd)).encode()
                ti = tarfile.TarInfo(ti.name)
                ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    spec = tmp_path / "img.tar"
    spec.write_bytes(buf.getvalue())
    check(spec, seed)
