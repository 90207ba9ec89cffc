"""The store against restic and borg on the same image archives, same run (issue #11).

Each tool gets a fresh repository and the same docker-archive tars; reported:
the wall time of the backup / ``store add``, the repository's bytes on disk,
and for layerscope the export speed (every image written back as an
uncompressed docker-archive, layers checked against their diff_ids). restic
runs with ``--compression auto`` (a v2 repository), borg with
``--compression zstd,3``; neither encrypts (restic cannot turn it off: its
password comes from the environment; borg ``--encryption none``). The page
cache is warmed before each tool.

    python benchmarks/store_vs_restic_borg.py IMG.tar... [--workdir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

from timing import layerscope_exe


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
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    images = [os.path.abspath(p) for p in args.images]
    work = args.workdir or tempfile.mkdtemp(prefix="store-bench-", dir=os.path.dirname(images[0]))
    runners = {"layerscope": run_layerscope, "restic": run_restic, "borg": run_borg}
    total = sum(os.path.getsize(p) for p in images)
    rows = []
    try:
        for tool in args.tools.split(","):
            if tool != "layerscope" and shutil.which(tool) is None:
                continue
            os.makedirs(os.path.join(work, tool + "-run"))
            rows.append(runners[tool](images, os.path.join(work, tool + "-run")))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps({"input_bytes": total, "images": images, "results": rows}, indent=2))
        return
    print(f"{len(images)} archives, {total / 1e6:.0f} MB")
    peers = [r for r in rows if r["tool"] != "layerscope"]
    for r in rows:
        line = f"{r['tool']:10s} {r['seconds']:7.2f} s  {r['bytes'] / 1e6:8.1f} MB  ({r['bytes'] / total:.3f} of the input)"
        if r["tool"] == "layerscope" and r.get("export_seconds"):
            big, took = r["export_largest"]
            line += (f"  export {r['export_bytes'] / r['export_seconds'] / 1e6:.0f} MB/s over all, "
                     f"{big / took / 1e6:.0f} MB/s for the largest ({big / 1e6:.0f} MB)")
        print(line)
    mine = next((r for r in rows if r["tool"] == "layerscope"), None)
    if mine and peers:
        smallest = min(p["bytes"] for p in peers)
        fastest = min(p["seconds"] for p in peers)
        print(f"stored: {mine['bytes'] / smallest:.2f}x the smaller peer (goal <= 0.85); "
              f"add: {mine['seconds'] / fastest:.2f}x the faster peer (goal <= 0.5)")


if __name__ == "__main__":
    main()
