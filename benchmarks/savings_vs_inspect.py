"""`savings` over several images against `inspect` of each image, cold cache (issue #10's speed goal).

The goal: ``savings IMG...`` takes at most 1.3x the time ``inspect`` takes on
the unique layers alone. Here the images are given on the command line and
the inspect side is every image inspected once with ``LAYERSCOPE_CACHE=off``;
when the images share layers, pass each unique layer once (e.g. the image
that holds most of them) for a fair baseline. Best of ``--rounds``; the page
cache is warmed first. Uses the ``layerscope`` next to this Python.

    python benchmarks/savings_vs_inspect.py IMG... [--rounds 3] [--compress-sample 0.125]
"""

from __future__ import annotations

import argparse
import os

from timing import layerscope_exe, timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--compress-sample", default="0.125")
    args = ap.parse_args()
    ls = layerscope_exe()
    for img in args.images:  # warm the page cache
        timed([ls, "inspect", "--no-cache", img])
    inspect = min(sum(timed([ls, "inspect", "--no-cache", img]) for img in args.images) for _ in range(args.rounds))
    savings = min(timed([ls, "savings", "--compress-sample", args.compress_sample, *args.images])
                  for _ in range(args.rounds))
    print(f"inspect {inspect:.2f} s, savings {savings:.2f} s: {savings / inspect:.2f}x (goal <= 1.3x)")


if __name__ == "__main__":
    main()
