"""Images the workload tests run, built with umoci, sharing a base on purpose; and an oracle.

One OCI layout (``test_workload.py``):

* ``base`` -- one layer: ``etc/os-release`` (debian 12), small files, 1 MiB of random bytes;
* ``web``, ``worker``, ``migrate``, ``logs``, ``cron`` -- base + one layer of their own;
* ``base2`` -- the base rebuilt: the same files, new mtimes (a new diff_id); ``api`` -- base2 + a layer:
  against ``web`` its base is the near miss a rebase would save;
* ``webnext`` -- base + web's own layer built again with new mtimes: a near miss in its top layer,
  which no rebase would share;
* ``other`` -- a base of its own with another ``os-release`` (alpine) and ``tool`` on it.

The expected figures are computed from the layout's manifests and blobs with
``hashlib``/``gzip`` (:func:`oracle`), never with layerscope.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import images as I
from overlay_images import _w, umoci
from savings_images import files_at, repack

TAGS = ["web", "worker", "migrate", "logs", "cron", "api", "tool", "webnext"]
BASE_FILES = {"etc/os-release": b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
              "usr/lib/libbase.so": I.rand_bytes(1 << 20, 501), "etc/text": I.text_bytes(300_000, 502),
              "usr/share/doc/readme": b"base image\n" * 50}


def _repack(L: Path, work: Path, src: str, dst: str, fn) -> None:
    repack(L, work, src, dst, fn, label="workload-test")


def _base(mtime_ns: int):
    return files_at(BASE_FILES, mtime_ns)


def _own(name: str, seed: int, size: int = 150_000, mtime_ns: int = 1_650_000_000_000_000_000):
    return files_at({f"srv/{name}/bin": I.rand_bytes(size, seed), f"srv/{name}/config.json": I.jbytes({"name": name})},
                    mtime_ns)


def _other(r: Path) -> None:
    _w(r, "etc/os-release", b"ID=alpine\nVERSION_ID=3.20.0\n")
    _w(r, "lib/libother.so", I.rand_bytes(700_000, 601))


def build(work: Path) -> Path:
    L = work / "layout"
    umoci("init", "--layout", L)
    umoci("new", "--image", f"{L}:empty")
    _repack(L, work, "empty", "base", _base(1_600_000_000_000_000_000))
    for k, name in enumerate(["web", "worker", "migrate", "logs", "cron"]):
        _repack(L, work, "base", name, _own(name, 510 + k))
    _repack(L, work, "base", "webnext", _own("web", 510, mtime_ns=1_660_000_000_000_000_000))
    _repack(L, work, "empty", "base2", _base(1_700_000_000_000_000_000))
    _repack(L, work, "base2", "api", _own("api", 520))
    _repack(L, work, "empty", "otherbase", _other)
    _repack(L, work, "otherbase", "tool", _own("tool", 530))
    return L


# --------------------------------------------------------------------------
# the oracle: the layout's manifests and blobs, read without layerscope
# --------------------------------------------------------------------------

def _blob(L: Path, digest: str) -> bytes:
    algo, hexd = digest.split(":")
    return (L / "blobs" / algo / hexd).read_bytes()


def layers(L: Path, tag: str) -> list[dict]:
    """Each layer of ``tag``: blob digest, compressed size (the descriptor's), diff_id, uncompressed
    size, ChainID and the uncompressed tar."""
    index = json.loads((L / "index.json").read_text())
    desc = next(m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
    manifest = json.loads(_blob(L, desc["digest"]))
    config = json.loads(_blob(L, manifest["config"]["digest"]))
    out, chain = [], None
    for diff_id, layer in zip(config["rootfs"]["diff_ids"], manifest["layers"]):
        raw = _blob(L, layer["digest"])
        assert len(raw) == layer["size"]
        tar = gzip.decompress(raw)
        assert "sha256:" + hashlib.sha256(tar).hexdigest() == diff_id
        chain = diff_id if chain is None else "sha256:" + hashlib.sha256(f"{chain} {diff_id}".encode()).hexdigest()
        out.append({"blob": layer["digest"], "compressed": layer["size"], "diff_id": diff_id, "size": len(tar),
                    "chain_id": chain, "tar": tar})
    return out


def pulled_stored(L: Path, tags: list[str]) -> tuple[int, int]:
    """What a node running ``tags`` pulls (distinct blobs, compressed) and stores (distinct ChainIDs)."""
    blobs, chains = {}, {}
    for t in tags:
        for lay in layers(L, t):
            blobs[lay["blob"]] = lay["compressed"]
            chains[lay["chain_id"]] = lay["size"]
    return sum(blobs.values()), sum(chains.values())


def file_bytes(tar: bytes) -> dict[str, int]:
    """sha256 of each regular file's content -> size."""
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        return {hashlib.sha256(tf.extractfile(m).read()).hexdigest(): m.size for m in tf if m.isreg() and m.size}
