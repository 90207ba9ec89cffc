"""``layerscope compare A B`` against ``inspect A`` + ``inspect B``, cold and warm layer cache.

    python benchmarks/compare_inspect.py [--images DIR] [--forms docker-archive,oci-gzip] [--rounds 3]
                                         [--a runtime] [--b app] [--json OUT]

Issue #9's speed goal: on two few-hundred-MB images that share their lower
layers, ``compare`` takes at most 0.75x the time of ``inspect A`` plus
``inspect B`` with a cold layer cache, and at most 0.3x with a warm one.
The images are the real ones ``benchmarks/make_real_images.py`` builds
(default ``/work/bench-real``; its ``info.json`` names the files): ``runtime``
(a Debian base + a language runtime, 3 layers) against ``app`` (``runtime``
plus 4 layers), which share their 3 lower layers.

Each figure is the median wall-clock time of ``--rounds`` runs of the
command line (``python -m layerscope ...``, output to /dev/null, verification
on), so start-up is counted as a user sees it. "Cold" runs get a fresh
``LAYERSCOPE_CACHE`` directory each (inspect A and inspect B one each: neither
profits from the other); "warm" runs a cache that a previous ``compare``
filled. The page cache is warmed once per file first, so the disk is out of
the picture. Ratios printed:

* ``cold``: compare (cold) / (inspect A + inspect B, both cold) -- goal <= 0.75
* ``warm``: compare (warm) / (inspect A + inspect B, both cold)  -- goal <= 0.3
* ``warm/warm``: compare (warm) / (inspect A + inspect B, both warm): the
  blob hashes a hit still does (sha256 of each blob once per run) bound it.

Run it on a quiet machine: two cores shared with anything else make every
figure noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMS = {"docker-archive": "docker-archive", "oci-gzip": "oci-gzip", "oci-zstd": "oci-zstd"}


def _cmd() -> list[str]:
    return [sys.executable, "-m", "layerscope"]


def run(argv: list[str], cache: str) -> float:
    env = dict(os.environ, LAYERSCOPE_CACHE=cache)
    t = time.perf_counter()
    p = subprocess.run(_cmd() + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    elapsed = time.perf_counter() - t
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()}")
    return elapsed


def warm_page_cache(path: str) -> None:
    with open(path, "rb") as f:
        while f.read(8 << 20):
            pass


def measure(a: str, b: str, rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in ("inspect_a_cold", "inspect_b_cold", "compare_cold",
                                                      "inspect_a_warm", "inspect_b_warm", "compare_warm")}
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="ls-bench-") as tmp:
            c1, c2, c3 = (os.path.join(tmp, n) for n in ("a", "b", "c"))
            times["inspect_a_cold"].append(run(["inspect", a], c1))
            times["inspect_b_cold"].append(run(["inspect", b], c2))
            times["compare_cold"].append(run(["compare", a, b], c3))
            # c3 now holds every layer of both: the warm runs
            times["compare_warm"].append(run(["compare", a, b], c3))
            times["inspect_a_warm"].append(run(["inspect", a], c3))
            times["inspect_b_warm"].append(run(["inspect", b], c3))
    med = {k: statistics.median(v) for k, v in times.items()}
    cold_pair = med["inspect_a_cold"] + med["inspect_b_cold"]
    warm_pair = med["inspect_a_warm"] + med["inspect_b_warm"]
    med["ratio_cold"] = med["compare_cold"] / cold_pair
    med["ratio_warm"] = med["compare_warm"] / cold_pair
    med["ratio_warm_warm"] = med["compare_warm"] / warm_pair
    return med


def container_diff_note() -> str:
    """Whether container-diff can be run here, and if not why (it is not installed by this script)."""
    exe = shutil.which("container-diff")
    if exe:
        return f"container-diff found at {exe}"
    return ("container-diff not available: it is a Go program (GoogleContainerTools, archived) with no PyPI or "
            "Debian package; building it (go install) needs its module and its dependencies from the Go module "
            "proxy, which this workplace does not reach (PyPI and Debian only)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default="/work/bench-real", help="make_real_images.py's output directory")
    ap.add_argument("--forms", default="docker-archive,oci-gzip")
    ap.add_argument("--a", default="runtime")
    ap.add_argument("--b", default="app")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", dest="json_out", help="also write the figures here")
    args = ap.parse_args()
    info = json.loads((Path(args.images) / "info.json").read_text())["images"]
    results = {}
    print(f"# compare {args.a} {args.b} vs inspect {args.a} + inspect {args.b}; median of {args.rounds}, seconds")
    print(f"{'form':<15} {'inspA':>6} {'inspB':>6} {'cmp':>6} {'ratio':>6}   {'inspA~':>6} {'inspB~':>6} "
          f"{'cmp~':>6} {'warm':>6} {'w/w':>6}")
    for form in args.forms.split(","):
        a, b = info[args.a]["forms"][form]["path"], info[args.b]["forms"][form]["path"]
        for p in (a, b):
            warm_page_cache(p)
        m = measure(a, b, args.rounds)
        results[form] = {"a": a, "b": b, **m}
        print(f"{form:<15} {m['inspect_a_cold']:6.2f} {m['inspect_b_cold']:6.2f} {m['compare_cold']:6.2f} "
              f"{m['ratio_cold']:6.2f}   {m['inspect_a_warm']:6.2f} {m['inspect_b_warm']:6.2f} "
              f"{m['compare_warm']:6.2f} {m['ratio_warm']:6.2f} {m['ratio_warm_warm']:6.2f}")
    print("# ratio = compare cold / (inspA + inspB cold) (goal <= 0.75); warm = compare warm / (inspA + inspB cold)"
          " (goal <= 0.3); w/w = compare warm / (inspA + inspB warm); ~ = warm cache")
    print("# " + container_diff_note())
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"schema": "layerscope.bench.compare_inspect/1",
                                                   "rounds": args.rounds, "results": results,
                                                   "container_diff": container_diff_note()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
