"""The scan's content hook (layer/capture.py): the bytes of package databases,
kept in the same pass as the tar walk, with either tar reader.

Wanted files of every size around the C reader's slice (so they straddle
slices and become its "pending" members), next to big unwanted files, read
through streams that hand out pieces of random sizes: the kept bytes must be
exactly each file's content, nothing else may be kept, and the pieces held
at once must stay bounded by the biggest wanted file, not by the layer.
"""

from __future__ import annotations

import io
import random
import tarfile

import pytest
from xxhash import xxh3_128_digest

from layerscope.layer import capture as C
from layerscope.layer import tarscan
from layerscope.layer.scan import scan

from test_tarscan import FORMATS, PieceStream, Stream


class Finishing:
    """A stream as ``scan`` needs it (``finish``, sizes and digests)."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.read = inner.read
        if hasattr(inner, "read1"):
            self.read1 = inner.read1
        self.size = len(inner.data)
        self.compression = "none"
        self.blob_digest = self.diff_id = None

    def finish(self) -> None:
        pass


def build(members: list[tuple[str, bytes]], fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, data in members:
            t = tarfile.TarInfo(name)
            t.size = len(data)
            tf.addfile(t, io.BytesIO(data))
    return buf.getvalue()


WANTED_PATHS = [
    "var/lib/dpkg/status", "var/lib/dpkg/status.d/base-files", "lib/apk/db/installed",
    "var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "usr/lib/python3/dist-packages/six-1.16.0.egg-info", "usr/lib/python3/dist-packages/x-1.egg-info/PKG-INFO",
    "usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
    "app/node_modules/left-pad/package.json", "app/node_modules/@scope/thing/package.json",
    "app/node_modules/a/node_modules/b/package.json",
]
UNWANTED_PATHS = [
    "var/lib/dpkg/status-old", "var/lib/dpkg/status.d/base-files.md5sums", "var/lib/dpkg/status.d/sub/x",
    "etc/status", "usr/lib/python3/dist-packages/x.dist-info/RECORD", "srv/METADATA",
    "app/node_modules/left-pad/lib/package.json", "app/package.json", "app/node_modules/@scope/package.json",
    "usr/lib/python3/dist-packages/.egg-info",
]


def test_database_kinds():
    assert [C.database_kind(p) for p in WANTED_PATHS] == [
        "dpkg", "dpkg-status.d", "apk", "rpm", "rpm", "python", "python", "python", "npm", "npm", "npm"]
    assert [C.database_kind(p) for p in UNWANTED_PATHS] == [None] * len(UNWANTED_PATHS)


def corpus(seed: int) -> tuple[list[tuple[str, bytes]], dict[bytes, bytes]]:
    rnd = random.Random(seed)
    s = tarscan.SLICE
    sizes = [0, 1, 511, 512, 513, 4000, s - 700, s - 1, s, s + 1, 2 * s + 300, 3 * s + 5]
    members, want = [], {}
    for i, n in enumerate(sizes):
        path = WANTED_PATHS[i % len(WANTED_PATHS)].replace("status.d/base-files", f"status.d/p{i}")
        if i >= len(WANTED_PATHS):
            path = f"opt/v{i}/node_modules/p{i}/package.json"
        data = rnd.randbytes(n)
        members.append((f"filler/big{i}", rnd.randbytes(rnd.choice([10, 5 * s + 17, s // 2]))))
        members.append((UNWANTED_PATHS[i % len(UNWANTED_PATHS)], rnd.randbytes(rnd.choice([3, s]))))
        members.append((path, data))
        want[xxh3_128_digest(data)] = data
    return members, want


class Watched(C.Capture):
    """Records the most bytes held at once."""

    peak = 0

    def _note(self, piece):
        out = super()._note(piece)
        Watched.peak = max(Watched.peak, self._held)
        return out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("stream", ["exact", "pieces"])
def test_kept_bytes_are_each_wanted_file(tar_backend, fmt, seed, stream, monkeypatch):
    members, want = corpus(seed)
    data = build(members, FORMATS[fmt])
    monkeypatch.setattr("layerscope.layer.scan.Capture", Watched)
    Watched.peak = 0
    inner = Stream(data, as_memoryview=True) if stream == "exact" else PieceStream(data, seed)
    result = scan(Finishing(inner), keep_entries=True)
    assert result.captured == want
    biggest = max(map(len, want.values()))
    if tar_backend == "c":  # unwanted big files are dropped as they stream by
        assert Watched.peak <= biggest + 3 * tarscan.SLICE
    else:  # the reference reader says what it wants after reading it: bounded by the cap
        assert Watched.peak <= C._RETAIN + tarscan.SLICE


def test_only_scans_that_keep_entries_capture(tar_backend):
    members, want = corpus(1)
    data = build(members, tarfile.PAX_FORMAT)
    assert scan(Finishing(Stream(data)), keep_entries=False).captured == {}
    assert scan(Finishing(Stream(data)), keep_entries=True, hash_content=False).captured == {}


def test_too_big_is_marked_not_kept(tar_backend, monkeypatch):
    monkeypatch.setattr(C, "MAX_CAPTURE", 1000)
    small, big = b"s" * 1000, b"b" * 1001
    data = build([("var/lib/dpkg/status", big), ("lib/apk/db/installed", small)], tarfile.PAX_FORMAT)
    got = scan(Finishing(Stream(data)), keep_entries=True).captured
    assert got == {xxh3_128_digest(big): None, xxh3_128_digest(small): small}


def test_sparse_database_is_not_kept(tar_backend, tmp_path):
    """A sparse member's stored bytes are not its content: marked, not kept."""
    import subprocess
    f = tmp_path / "var/lib/dpkg/status"
    f.parent.mkdir(parents=True)
    with open(f, "wb") as out:
        out.write(b"Package: x\n")
        out.seek(3 << 20)
        out.write(b"end\n")
    subprocess.run(["tar", "--sparse", "--format=gnu", "-C", tmp_path, "-cf", tmp_path / "l.tar",
                    "var/lib/dpkg/status"], check=True)
    got = scan(Finishing(Stream((tmp_path / "l.tar").read_bytes())), keep_entries=True).captured
    assert list(got.values()) == [None]
