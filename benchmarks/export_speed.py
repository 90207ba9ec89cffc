"""Export speed: an image's layers, read through layerscope's source readers, written out by store/export.py.

    python benchmarks/export_speed.py [IMAGE] [--format F] [--compress C] [--out DIR] [--repeat N]

IMAGE defaults to /work/bench-real/app.docker.tar (~700 MB of uncompressed
layers). The output goes to a temp dir beside --out (default: the system temp
dir) and is removed after each run. The figure is uncompressed layer bytes per
second of wall time, the best of --repeat runs (the first run warms the page
cache for the source).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

from layerscope.source import open_image
from layerscope.store.export import from_source, write_image

MB = 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", default="/work/bench-real/app.docker.tar")
    ap.add_argument("--format", default="oci-archive", choices=("docker-archive", "oci-archive", "oci-dir"))
    ap.add_argument("--compress", default="none", choices=("none", "gzip", "zstd"))
    ap.add_argument("--out", default=None, help="directory for the output (default: the temp dir)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    img = open_image(args.image)
    exp = from_source(img)
    total = sum(layer.size for layer in exp.layers)
    print(f"{args.image}: {len(exp.layers)} layers, {total / MB:.0f} MB uncompressed; "
          f"{args.format}, compress {args.compress}", flush=True)
    best = None
    for run in range(args.repeat):
        work = tempfile.mkdtemp(prefix="export-speed-", dir=args.out)
        try:
            out = os.path.join(work, "out" if args.format == "oci-dir" else "out.tar")
            t0 = time.perf_counter()
            res = write_image(out, exp, format=args.format, compress=args.compress)
            dt = time.perf_counter() - t0
        finally:
            shutil.rmtree(work)
        rate = total / dt / MB
        best = rate if best is None else max(best, rate)
        print(f"run {run + 1}: {dt:.2f} s, {rate:.0f} MB/s uncompressed, {res.bytes_written / MB:.0f} MB written",
              flush=True)
    print(f"best: {best:.0f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
