"""`savings` over several images against `inspect` of their unique layers alone, cold cache (issue #10).

The goal: ``savings IMG...`` takes at most 1.3x the time ``inspect`` takes on
the unique layers alone. The baseline is one image built here whose layers
are exactly the unique layers of the images given (each blob copied as it is,
compressed or not, into an OCI archive), inspected with
``LAYERSCOPE_CACHE=off``: the same bytes to read, inflate and walk, once.
Best of ``--rounds``, interleaved, each run right after reading its files (the page cache). Uses the ``layerscope``
next to this Python.

    python benchmarks/savings_vs_inspect.py IMG... [--rounds 3] [--compress-sample 0.03125]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import tarfile
import tempfile

from timing import layerscope_exe, timed

from layerscope.source import open_images

_TAR = "application/vnd.oci.image.layer.v1.tar"
_SUFFIX = {"gzip": "+gzip", "zstd": "+zstd", "none": ""}


def unique_layers_image(specs: list[str], out: str) -> tuple[int, int]:
    """Write an OCI archive at ``out`` holding each unique layer (by diff_id) of ``specs`` once,
    stacked in first-seen order; returns (layers, uncompressed bytes of their blobs' contents)."""
    seen: dict[str, object] = {}
    for spec in specs:
        for image in open_images(spec):
            for layer in image.layers:
                if not layer.foreign:
                    seen.setdefault(layer.diff_id, layer)
    descriptors, diff_ids = [], []
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for diff_id, layer in seen.items():
            region = layer.container.region(layer.name)
            h = hashlib.sha256()
            size = 0
            for window in region.windows():
                h.update(window)
                size += len(window)
            digest = f"sha256:{h.hexdigest()}"
            info = tarfile.TarInfo(f"blobs/sha256/{digest[7:]}")
            info.size = size
            tar.addfile(info, _RegionReader(region))
            descriptors.append({"mediaType": _TAR + _SUFFIX[layer.compression()], "digest": digest, "size": size})
            diff_ids.append(diff_id)
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        config_desc = _add_blob(tar, config, "application/vnd.oci.image.config.v1+json")
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": config_desc, "layers": descriptors}).encode()
        manifest_desc = _add_blob(tar, manifest, "application/vnd.oci.image.manifest.v1+json")
        _add_file(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _add_file(tar, "index.json", json.dumps({"schemaVersion": 2, "manifests": [manifest_desc]}).encode())
    return len(descriptors), sum(d["size"] for d in descriptors)


class _RegionReader(io.RawIOBase):
    def __init__(self, region) -> None:
        self._windows = region.windows()
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._left:
            self._left = next(self._windows, None)
            if self._left is None:
                return 0
        n = min(len(b), len(self._left))
        b[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


def _add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _add_blob(tar: tarfile.TarFile, data: bytes, media_type: str) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _add_file(tar, f"blobs/sha256/{digest[7:]}", data)
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def _warm(paths: list[str]) -> None:
    for path in paths:
        with open(path, "rb") as f:
            while f.read(16 << 20):
                pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--compress-sample", default="0.03125")
    args = ap.parse_args()
    ls = layerscope_exe()
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(args.images[0]))) as tmp:
        unique = os.path.join(tmp, "unique-layers.tar")
        count, size = unique_layers_image(args.images, unique)
        inspect_cmd = [ls, "inspect", "--no-cache", unique]
        savings_cmd = [ls, "savings", "--compress-sample", args.compress_sample, *args.images]
        inspect, savings = [], []
        for _ in range(args.rounds):  # interleaved, each after warming its files: the page cache
            _warm([unique])           # of a small VM is reclaimed within seconds
            inspect.append(timed(inspect_cmd))
            _warm(args.images)
            savings.append(timed(savings_cmd))
        inspect, savings = min(inspect), min(savings)
    print(f"{len(args.images)} images, {count} unique layers ({size / 1e6:.0f} MB of blobs): inspect of the unique "
          f"layers {inspect:.2f} s, savings {savings:.2f} s: {savings / inspect:.2f}x (goal <= 1.3x)")


if __name__ == "__main__":
    main()
