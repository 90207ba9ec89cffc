#!/usr/bin/env python3
"""`changes` and `ls -R` against `inspect` on the same image, same run.

    python benchmarks/compare_views.py [--workdir DIR] [--repeat 5]

Goal (issue 3): `changes` and `ls` take no more than 1.2x `inspect` on a
few-hundred-MB, 7-layer image: the overlay model must cost little next to
reading and verifying the layers. Reuses compare_dive's image generation and
child measurement (wall spawn..reap, peak RSS through GNU time).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare_dive as cd  # noqa: E402
import make_image  # noqa: E402

COMMANDS = {"inspect": ["inspect"], "changes": ["changes"], "ls -R": ["ls", "-R"]}
GOAL = 1.2


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default=os.environ.get("LAYERSCOPE_BENCH_DIR", "/tmp/layerscope-bench"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    if not all(os.path.exists(os.path.join(args.workdir, f)) for f in cd.IMAGES.values()):
        make_image.main([args.workdir])
    ls_cmd, note = cd.layerscope_command()
    if ls_cmd is None:
        print(f"layerscope not available: {note}", file=sys.stderr)
        return 2
    cd._GNU_TIME = cd.gnu_time()
    method = "gnu-time" if cd._GNU_TIME else "wait4"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        for label, fname in cd.IMAGES.items():
            image = os.path.join(args.workdir, fname)
            res: dict[str, list[dict]] = {k: [] for k in COMMANDS}
            for rnd in range(args.repeat + 1):  # round 0 is the warm-up
                order = list(COMMANDS) if rnd % 2 else list(COMMANDS)[::-1]
                for name in order:
                    r = cd.run_measured([*ls_cmd, *COMMANDS[name], image, "--json"], out, dict(os.environ), method)
                    if r["rc"] != 0:
                        print(f"{name} failed on {image}: {r.get('stderr_tail', '')}", file=sys.stderr)
                        return 1
                    if rnd:
                        res[name].append(r)
            base = min(r["wall_s"] for r in res["inspect"])
            for name, runs in res.items():
                best = min(r["wall_s"] for r in runs)
                rows.append((label, name, best, statistics.median(r["wall_s"] for r in runs),
                             max(r["maxrss_kb"] for r in runs) / 1024, best / base))
    print(f"{'image':<16}{'command':<10}{'best s':>9}{'median s':>10}{'RSS MB':>9}{'x inspect':>11}")
    for label, name, best, med, rss, ratio in rows:
        flag = "" if name == "inspect" else ("  ok" if ratio <= GOAL else f"  > {GOAL}")
        print(f"{label:<16}{name:<10}{best:>9.3f}{med:>10.3f}{rss:>9.1f}{ratio:>11.2f}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
