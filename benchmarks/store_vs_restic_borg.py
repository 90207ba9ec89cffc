"""The store against restic and borg on the same image archives, same run (issue #11).

Each tool gets a fresh repository and the same docker-archive tars; reported:
the wall time of the backup / ``store add``, the repository's bytes on disk,
and for layerscope the export speed (every image written back as an
uncompressed docker-archive, layers checked against their diff_ids). restic
runs with ``--compression auto`` (a v2 repository), borg with
``--compression zstd,3``; neither encrypts (restic cannot turn it off: its
password comes from the environment; borg ``--encryption none``). The page
cache is warmed before each tool.

    python benchmarks/store_vs_restic_borg.py IMG.tar... [--rounds N] [--workdir DIR] [--json]

With ``--rounds N`` the tools take turns N times, each round with fresh
repositories, and the best and the median round of each are reported (this
machine's timings swing by 15%: one round decides nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from timing import byte_compile, layerscope_exe


def _du(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            total += os.lstat(os.path.join(root, f)).st_size
    return total


def _warm(paths: list[str]) -> None:
    for p in paths:
        with open(p, "rb") as f:
            while f.read(16 << 20):
                pass


def _timed(cmd: list[str], env: dict | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def run_restic(images: list[str], work: str) -> dict:
    repo = os.path.join(work, "restic")
    env = dict(os.environ, RESTIC_PASSWORD="layerscope-bench", RESTIC_REPOSITORY=repo,
               RESTIC_CACHE_DIR=os.path.join(work, "restic-cache"))
    subprocess.run(["restic", "init", "--repository-version", "2"], check=True, stdout=subprocess.DEVNULL, env=env)
    _warm(images)
    seconds = _timed(["restic", "backup", "--compression", "auto", *images], env)
    return {"tool": "restic", "seconds": seconds, "bytes": _du(repo)}


def run_borg(images: list[str], work: str) -> dict:
    repo = os.path.join(work, "borg")
    env = dict(os.environ, BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes", BORG_BASE_DIR=os.path.join(work, "borg-home"))
    subprocess.run(["borg", "init", "--encryption", "none", repo], check=True, stdout=subprocess.DEVNULL, env=env)
    _warm(images)
    seconds = _timed(["borg", "create", "--compression", "zstd,3", f"{repo}::bench", *images], env)
    return {"tool": "borg", "seconds": seconds, "bytes": _du(repo)}


def run_layerscope(images: list[str], work: str) -> dict:
    ls = layerscope_exe()
    store = os.path.join(work, "layerscope")
    subprocess.run([ls, "store", "init", "--store", store], check=True, stdout=subprocess.DEVNULL)
    _warm(images)
    seconds = _timed([ls, "store", "add", "--store", store, *images])
    out = subprocess.run([ls, "store", "ls", "--store", store, "--json"], check=True, capture_output=True, text=True)
    names = [i["name"] for i in json.loads(out.stdout)["images"]]
    exports = []  # (bytes, seconds) per image, each `store export` a process of its own
    for k, name in enumerate(names):
        target = os.path.join(work, f"export-{k}.tar")
        took = _timed([ls, "store", "export", "--store", store, name, "-o", target])
        exports.append((os.path.getsize(target), took))
        os.unlink(target)
    return {"tool": "layerscope", "seconds": seconds, "bytes": _du(store),
            "export_seconds": sum(t for _b, t in exports), "export_bytes": sum(b for b, _t in exports),
            "export_largest": max(exports)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="+")
    ap.add_argument("--workdir", help="where the repositories go (default: a temp dir beside the first image)")
    ap.add_argument("--tools", default="layerscope,restic,borg")
    ap.add_argument("--rounds", type=int, default=1, help="take turns this many times; best and median reported")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    images = [os.path.abspath(p) for p in args.images]
    work = args.workdir or tempfile.mkdtemp(prefix="store-bench-", dir=os.path.dirname(images[0]))
    runners = {"layerscope": run_layerscope, "restic": run_restic, "borg": run_borg}
    total = sum(os.path.getsize(p) for p in images)
    runs: dict[str, list[dict]] = {}
    byte_compile()
    try:
        for k in range(args.rounds):
            for tool in args.tools.split(","):
                if tool != "layerscope" and shutil.which(tool) is None:
                    continue
                where = os.path.join(work, f"{tool}-run-{k}")
                os.makedirs(where)
                runs.setdefault(tool, []).append(runners[tool](images, where))
                shutil.rmtree(where, ignore_errors=True)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps({"input_bytes": total, "images": images, "rounds": args.rounds, "runs": runs}, indent=2))
        return
    print(f"{len(images)} archives, {total / 1e6:.0f} MB, {args.rounds} round(s); seconds: best / median")
    for tool, rs in runs.items():
        secs = sorted(r["seconds"] for r in rs)
        line = (f"{tool:10s} {secs[0]:7.2f} / {statistics.median(secs):5.2f} s  {rs[0]['bytes'] / 1e6:8.1f} MB  "
                f"({rs[0]['bytes'] / total:.3f} of the input)")
        if tool == "layerscope" and rs[0].get("export_seconds"):
            overall = sorted(r["export_bytes"] / r["export_seconds"] / 1e6 for r in rs)
            largest = sorted(r["export_largest"][0] / r["export_largest"][1] / 1e6 for r in rs)
            line += (f"  export MB/s (best / median): {overall[-1]:.0f} / {statistics.median(overall):.0f} over all, "
                     f"{largest[-1]:.0f} / {statistics.median(largest):.0f} for the largest "
                     f"({rs[0]['export_largest'][0] / 1e6:.0f} MB)")
        print(line)
    mine, peers = runs.get("layerscope"), {t: rs for t, rs in runs.items() if t != "layerscope"}
    if mine and peers:
        smallest = min(rs[0]["bytes"] for rs in peers.values())
        best = min(min(r["seconds"] for r in rs) for rs in peers.values())
        median = min(statistics.median(r["seconds"] for r in rs) for rs in peers.values())
        print(f"stored: {mine[0]['bytes'] / smallest:.2f}x the smaller peer (goal <= 0.85); "
              f"add: {min(r['seconds'] for r in mine) / best:.2f}x the faster peer best to best, "
              f"{statistics.median(r['seconds'] for r in mine) / median:.2f}x median to median (goal <= 0.5)")

if __name__ == "__main__":
    main()
