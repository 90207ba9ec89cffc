"""A variant of a docker-archive with one large file slightly changed: what a patch release looks like.

The store benchmark (issue #11) wants, beside images that share a base and a
rebuilt layer, an image whose only difference is a few bytes inside a large
file: a tar-stream chunker loses the chunk around the change, and so does a
file-level store (the file's digest changes); a chunk-level one keeps the rest.
This copies a docker-archive, finds the largest regular file of its last layer,
overwrites ``--bytes`` bytes in its middle, and writes the new layer, config
(its diff_id) and manifest; the other layers are copied as they are.

    python benchmarks/make_variant.py /work/bench-real/runtime.docker.tar /work/bench-real/patched.docker.tar
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile


def _largest_file(layer: str) -> str:
    with tarfile.open(layer) as t:
        return max((m for m in t if m.isreg()), key=lambda m: m.size).name


def _patch_layer(src: str, dst: str, target: str, nbytes: int) -> None:
    """Copy the layer tar member by member (same headers), changing ``nbytes`` of ``target``."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tout:
        for m in tin:
            data = tin.extractfile(m) if m.isreg() else None
            if m.name == target:
                body = bytearray(data.read())
                mid = len(body) // 2
                body[mid:mid + nbytes] = bytes(b ^ 0xFF for b in body[mid:mid + nbytes])
                data = io.BytesIO(bytes(body))
            tout.addfile(m, data)


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def make_variant(src: str, dst: str, nbytes: int = 16, tag: str = "docker.io/layerscope-bench/patched:latest") -> dict:
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(dst))) as tmp:
        with tarfile.open(src) as t:
            t.extractall(tmp, filter="data")
        with open(os.path.join(tmp, "manifest.json")) as f:
            manifest = json.load(f)
        entry = manifest[0]
        with open(os.path.join(tmp, entry["Config"])) as f:
            config = json.load(f)
        last = os.path.join(tmp, entry["Layers"][-1])
        target = _largest_file(last)
        patched = os.path.join(tmp, "patched.tar")
        _patch_layer(last, patched, target, nbytes)
        diff_id = _sha256_file(patched)
        os.makedirs(os.path.join(tmp, diff_id), exist_ok=True)
        os.replace(patched, os.path.join(tmp, diff_id, "layer.tar"))
        config["rootfs"]["diff_ids"][-1] = f"sha256:{diff_id}"
        raw = json.dumps(config, separators=(",", ":")).encode()
        config_name = hashlib.sha256(raw).hexdigest() + ".json"
        with open(os.path.join(tmp, config_name), "wb") as f:
            f.write(raw)
        entry.update(Config=config_name, RepoTags=[tag], Layers=entry["Layers"][:-1] + [f"{diff_id}/layer.tar"])
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
            json.dump([entry], f)
        names = ["manifest.json", config_name, *entry["Layers"]]
        out = dst + ".tmp"
        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
            for name in names:
                t.add(os.path.join(tmp, name), arcname=name)
        os.replace(out, dst)
    return {"changed_file": target, "bytes": nbytes, "diff_id": f"sha256:{diff_id}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--bytes", type=int, default=16)
    args = ap.parse_args()
    print(json.dumps(make_variant(args.src, args.dst, args.bytes)))


if __name__ == "__main__":
    main()
