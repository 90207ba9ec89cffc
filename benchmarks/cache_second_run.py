"""Layer cache: second run / first run of `layerscope inspect` on the real images.

The first run of each round starts from an empty ``LAYERSCOPE_CACHE`` (it
scans, verifies and fills the cache); the second runs with it. Best of
``--rounds`` firsts and of 3 seconds per round; the page cache is warmed
first. Uses the ``layerscope`` next to this Python (install it non-editable
to leave the editable import hook out of the figures).

    python benchmarks/cache_second_run.py [--images base,runtime,app,nodemods,big] [--dir /work/bench-real]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from timing import layerscope_exe, timed

FORMS = {"docker-archive": "docker", "oci-gzip": "oci-gzip", "oci-zstd": "oci-zstd"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default="base,runtime,app,nodemods,big")
    ap.add_argument("--dir", default=os.environ.get("LAYERSCOPE_REAL_DIR", "/work/bench-real"),
                    help="make_real_images.py's output directory")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    ls = layerscope_exe()
    print("| image | " + " | ".join(FORMS) + " |")
    print("| --- |" + " ---: |" * len(FORMS))
    for img in args.images.split(","):
        cells = []
        for suffix in FORMS.values():
            cmd = [ls, "inspect", os.path.join(args.dir, f"{img}.{suffix}.tar")]
            timed(cmd, "off")  # page cache warm
            firsts, seconds = [], []
            for _ in range(args.rounds):
                d = tempfile.mkdtemp(prefix="ls-cache-")
                try:
                    firsts.append(timed(cmd, d))
                    seconds.append(min(timed(cmd, d) for _ in range(3)))
                finally:
                    shutil.rmtree(d)
            f, s = min(firsts), min(seconds)
            cells.append(f"{f:.3f} -> {s:.3f} s = {s / f:.2f}")
        print(f"| {img} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
