"""Images that share a base, built with umoci, with what ``savings`` must find made on purpose.

One OCI layout (``test_savings.py``):

* ``base`` -- one layer: small files and ``data/big`` (4 MiB of random bytes);
* ``one`` -- base + ``mid`` (several files) + ``top1``;
* ``two`` -- base + the same ``mid`` layer + ``top2``: base and mid shared by layer;
* ``rebuilt`` -- base + ``mid`` rebuilt: the same files, new mtimes (no layer
  shared, every file shared): the near miss;
* ``onebyte`` -- base + ``data/big`` with one byte changed (a new file, one chunk or two new);
* ``append`` -- base + ``data/big`` with 1 MiB appended (a new file, ~1 MiB of new chunks).

The expected values are computed from the layout (manifests, configs, layer
tars read with ``tarfile``), never with layerscope (:func:`oracle`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

import images as I
from overlay_images import _w, umoci, unpack

BIG = 4 << 20
TAGS = ["one", "two", "rebuilt", "onebyte", "append"]
MID_FILES = {f"opt/mid/f{i}": I.rand_bytes(30_000 + 7_000 * i, 100 + i) for i in range(6)}


@dataclass
class SavingsImages:
    layout: Path

    def args(self, tags: list[str] = TAGS) -> list[str]:
        return [f"{self.layout}:{t}" for t in tags]


def repack(L: Path, work: Path, src: str, dst: str, fn, label: str = "savings-test") -> None:
    """Tag ``dst``: ``src`` unpacked by umoci, changed by ``fn(rootfs)``, repacked as one more layer."""
    bundle = work / f"bundle-{dst}"
    fn(unpack(L, src, bundle))
    umoci("repack", "--image", f"{L}:{dst}", "--history.created_by", f"{label}: {dst}", bundle)
    shutil.rmtree(bundle)



def files_at(files: dict[str, bytes], mtime_ns: int):
    """A change writing ``files`` (path -> bytes) with one fixed mtime: a rebuild is the same
    files at another one."""
    def change(r: Path) -> None:
        for rel, data in files.items():
            _w(r, rel, data)
            os.utime(r / rel, ns=(mtime_ns, mtime_ns))
    return change


def _base(r: Path) -> None:
    _w(r, "etc/a", b"alpha\n")
    _w(r, "etc/b", I.rand_bytes(9000, 1))
    _w(r, "etc/text", I.text_bytes(600_000, 9))  # compressible: the zstd figures mean something
    _w(r, "data/big", I.rand_bytes(BIG, 2))


def _mid(mtime_ns: int):
    return files_at(MID_FILES, mtime_ns)


def _top(n: int):
    def change(r: Path) -> None:
        _w(r, f"srv/top{n}", I.rand_bytes(20_000, 200 + n))
    return change


def _one_byte(r: Path) -> None:
    data = bytearray((r / "data/big").read_bytes())
    data[BIG // 2] ^= 0xFF
    (r / "data/big").write_bytes(bytes(data))


def _append(r: Path) -> None:
    with open(r / "data/big", "ab") as f:
        f.write(I.rand_bytes(1 << 20, 3))


def build(work: Path) -> SavingsImages:
    L = work / "layout"
    umoci("init", "--layout", L)
    umoci("new", "--image", f"{L}:empty")
    repack(L, work, "empty", "base", _base)
    repack(L, work, "base", "mid", _mid(1_600_000_000_000_000_000))
    repack(L, work, "mid", "one", _top(1))
    repack(L, work, "mid", "two", _top(2))
    repack(L, work, "base", "rebuilt", _mid(1_700_000_000_000_000_000))
    repack(L, work, "base", "onebyte", _one_byte)
    repack(L, work, "base", "append", _append)
    return SavingsImages(L)


# --------------------------------------------------------------------------
# the oracle: manifests, configs and layer tars, read without layerscope
# --------------------------------------------------------------------------

def _blob(L: Path, digest: str) -> bytes:
    algo, hexd = digest.split(":")
    return (L / "blobs" / algo / hexd).read_bytes()


def image_layers(L: Path, tag: str) -> list[tuple[str, bytes]]:
    """(diff_id, uncompressed layer tar) of a tag, in order."""
    index = json.loads((L / "index.json").read_text())
    desc = next(m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
    manifest = json.loads(_blob(L, desc["digest"]))
    config = json.loads(_blob(L, manifest["config"]["digest"]))
    out = []
    for diff_id, layer in zip(config["rootfs"]["diff_ids"], manifest["layers"]):
        raw = _blob(L, layer["digest"])
        tar = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        assert "sha256:" + hashlib.sha256(tar).hexdigest() == diff_id
        out.append((diff_id, tar))
    return out


def file_contents(tar: bytes) -> dict[str, int]:
    """sha256 of each regular file's content -> size."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        for m in tf:
            if m.isreg() and m.size:
                out[hashlib.sha256(tf.extractfile(m).read()).hexdigest()] = m.size
    return out


def zstd_size(data: bytes) -> int:
    import zstandard
    return len(zstandard.ZstdCompressor(level=3).compress(data))


def file_bodies(tar: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        return {hashlib.sha256(b := tf.extractfile(m).read()).hexdigest(): b for m in tf if m.isreg() and m.size}


def compressed_oracle(L: Path, tags: list[str] = TAGS) -> dict:
    """zstd -3 of each unique layer tar, and of each unique file's content, whole."""
    layers = {d: tar for t in tags for d, tar in image_layers(L, t)}
    files = {}
    for tar in layers.values():
        files.update(file_bodies(tar))
    return {"layer": sum(map(zstd_size, layers.values())), "file": sum(map(zstd_size, files.values()))}


def oracle(L: Path, tags: list[str] = TAGS) -> dict:
    """naive, layer (unique diff_id) and file (unique regular-file content) bytes, per image too."""
    layers = {t: image_layers(L, t) for t in tags}
    naive = sum(len(tar) for ls in layers.values() for _, tar in ls)
    unique = {d: len(tar) for ls in layers.values() for d, tar in ls}
    files: dict[str, int] = {}
    per_image_files = {}
    for t, ls in layers.items():
        mine: dict[str, int] = {}
        for _, tar in ls:
            mine.update(file_contents(tar))
        per_image_files[t] = mine
        files.update(mine)
    return {"naive": naive, "layer": sum(unique.values()), "file": sum(files.values()),
            "diff_ids": {t: [d for d, _ in ls] for t, ls in layers.items()},
            "layer_sizes": unique, "files": per_image_files}
