#!/usr/bin/env python3
"""How fast the explorer's model opens a 100,000-file image (issue #17).

    python benchmarks/explore_open.py [--files 100000] [--layers 4] [--repeat 3] [--workdir DIR]

Builds an OCI layout of ``--files`` files over ``--layers`` layers (the first
holds half; each later one adds files, rewrites some of the layer below and
deletes a few directories with whiteouts), then times, with the layer cache
off:

* ``inspect`` of the image (the API ``layerscope inspect`` calls);
* ``Explore.load`` (the scan: inspect with per-layer changes, the indexes);
* the first screen: ``children(top, "")`` (which sums every directory of the
  top layer once), expanding 50 directories, then ``children`` at layer 1.

Goal: the first screen's data under 1 s; ``load`` close to ``inspect``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from layerscope import inspect  # noqa: E402
from layerscope.explore.model import Explore  # noqa: E402
from layerscope.gcpause import paused_gc  # noqa: E402
from layerscope.testing import samples  # noqa: E402


def _path(i: int) -> str:
    """File ``i``: ten to a directory, ten directories to a parent, three levels deep."""
    return f"srv/a{i // 10_000}/b{i // 1000 % 10}/c{i // 10 % 100}/f{i}.txt"


def build(root: Path, files: int, layers: int) -> Path:
    """The layout: layer 0 has half the files, each later layer adds its share of the rest,
    rewrites 2% of the files below and whites out one directory of ten files."""
    first = files // 2
    per = (files - first) // max(1, layers - 1)
    stack, made = [], 0
    for n in range(layers):
        count = first if n == 0 else per
        entries: list[tuple] = [("file", _path(i), b"x" * (i % 200)) for i in range(made, made + count)]
        if n:
            entries += [("file", _path(i), b"y" * (i % 300)) for i in range(0, made, 50)]
            entries.append(("whiteout", _path(made - 1).rpartition("/")[0]))
        made += count
        stack.append((samples.layer(entries), f"RUN layer {n}"))
    return samples.oci_layout(root, {"t": (stack, {"Cmd": ["/bin/sh"]})})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--ui", action=argparse.BooleanOptionalAction, default=True,
                    help="also time the app end to end, headless")
    ap.add_argument("--freeze", action=argparse.BooleanOptionalAction, default=True,
                    help="load in a freezing GC pause, as the CLI does (--no-freeze: as a library caller)")
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="layerscope-explore-"))
    t = time.perf_counter()
    lay = build(work / f"img-{args.files}-{args.layers}", args.files, args.layers)
    spec = f"{lay}:t"
    print(f"image: {args.files:,} files in {args.layers} layers, written in {time.perf_counter() - t:.1f} s ({lay})")

    res: dict[str, list[float]] = {k: [] for k in ("inspect", "load", "root", "expand50", "other", "first screen")}
    for _ in range(args.repeat):
        t = time.perf_counter()
        inspect(spec, cache=False, changes=False)
        res["inspect"].append(time.perf_counter() - t)
        t = time.perf_counter()
        with paused_gc(freeze=args.freeze):  # what `layerscope explore` does (a long-lived process)
            model = Explore.load(spec, cache=False)
        res["load"].append(time.perf_counter() - t)
        top = model.layers[-1].index
        t0 = t = time.perf_counter()
        rows = model.children(top, "")
        res["root"].append(time.perf_counter() - t)
        t = time.perf_counter()
        todo, opened = [r.path for r in rows if r.has_children], 0
        while todo and opened < 50:
            path = todo.pop(0)
            todo.extend(r.path for r in model.children(top, path) if r.has_children)
            opened += 1
        res["expand50"].append(time.perf_counter() - t)
        res["first screen"].append(time.perf_counter() - t0)
        t = time.perf_counter()
        model.children(1, "")
        res["other"].append(time.perf_counter() - t)
    ui = _ui(spec, args.freeze) if args.ui else None
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"inspect {med['inspect'] * 1000:.0f} ms; Explore.load {med['load'] * 1000:.0f} ms "
          f"({med['load'] / med['inspect']:.2f}x)")
    print(f"children(top, '') {med['root'] * 1000:.0f} ms; expanding 50 directories {med['expand50'] * 1000:.1f} ms; "
          f"first screen {med['first screen'] * 1000:.0f} ms (goal < 1000 ms: "
          f"{'ok' if med['first screen'] < 1 else 'MISSED'}); children(1, '') {med['other'] * 1000:.0f} ms")
    if ui:
        print("the app, headless at 100x30 (Textual's pilot; the real model): " +
              "; ".join(f"{k} {v * 1000:.0f} ms" for k, v in ui.items()))
    return 0 if med["first screen"] < 1 else 1


def _ui(spec: str, freeze: bool) -> dict[str, float]:
    """The app end to end, headless (Textual's pilot, real model): load, first paint of the top
    layer's tree, expand all (the app stops at 20,000 rows), then the time a key takes to be
    handled and the screen to settle, per ``down`` and per ``pagedown``, collapsed (one row: the
    pilot's own cost per key) and expanded. Smooth-scroll animation is off (TEXTUAL_ANIMATIONS=none):
    it spreads a page-down over ~11 frames by design, which is not lag."""
    import asyncio
    import os

    os.environ["TEXTUAL_ANIMATIONS"] = "none"
    from layerscope.explore.app import ExploreApp, FileTree, LayersTable

    out: dict[str, float] = {}
    t = time.perf_counter()
    with paused_gc(freeze=freeze):
        model = Explore.load(spec, cache=False)
    out["load"] = time.perf_counter() - t

    async def per_key(pilot, key: str, n: int = 20) -> float:
        t = time.perf_counter()
        for _ in range(n):
            await pilot.press(key)
        await pilot.pause()
        return (time.perf_counter() - t) / n

    async def go() -> None:
        t = time.perf_counter()
        app = ExploreApp(model)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            out["first paint"] = time.perf_counter() - t
            app.query_one(FileTree).focus()
            out["down, collapsed"] = await per_key(pilot, "down")
            t = time.perf_counter()
            await pilot.press("E")
            await pilot.pause()
            out["expand all"] = time.perf_counter() - t
            out["down, 20,000 rows"] = await per_key(pilot, "down")
            out["pagedown, 20,000 rows"] = await per_key(pilot, "pagedown")
            app.query_one(LayersTable).focus()
            t = time.perf_counter()
            await pilot.press("up")
            await pilot.pause()
            out["layer switch"] = time.perf_counter() - t
    asyncio.run(go())
    return out


if __name__ == "__main__":
    sys.exit(main())
