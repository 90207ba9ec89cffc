"""A stand-in for ``layerscope.explore.model.Explore`` over hand-made data.

Throwaway: the explorer's UI tests run on it until the real model is in the
checkout (tests/test_explore_app.py then prefers the real one). It follows
the model's documented interface only, with a tiny overlay of its own.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LayerRow:
    index: int | str
    digest: str | None
    size: int
    created_by: str | None
    wasted: int
    changes: int


@dataclass
class TreeRow:
    path: str
    name: str
    kind: str
    size: int
    change: str | None
    source: int | str | None
    has_children: bool
    link: str | None
    changed_below: bool


@dataclass
class Change:
    path: str
    change: str
    type: str
    size: int
    removed_bytes: int = 0
    lower: Any = None


@dataclass
class _Entry:
    kind: str
    size: int
    source: Any
    link: str | None = None


# a layer: (created_by, [(path, change, kind, size[, link])]); parents come before children
BASE = [
    ("ADD rootfs.tar /", [
        ("bin", "added", "dir", 0), ("bin/sh", "added", "file", 1000), ("bin/ls", "added", "file", 2000),
        ("etc", "added", "dir", 0), ("etc/hosts", "added", "file", 100), ("etc/passwd", "added", "file", 500),
        ("lib", "added", "symlink", 0, "usr/lib"), ("tmp", "added", "dir", 0),
        ("usr", "added", "dir", 0), ("usr/lib", "added", "dir", 0),
        ("usr/lib/libc.so", "added", "file", 50_000), ("usr/lib/libm.so", "added", "file", 20_000),
        ("var", "added", "dir", 0), ("var/log", "added", "dir", 0), ("var/log/old.log", "added", "file", 7000),
    ]),
    ("RUN apt-get install -y curl && curl -o /tmp/cache.tar https://example.invalid/cache.tar", [
        ("etc/passwd", "modified", "file", 520), ("tmp/cache.tar", "added", "file", 80_000),
        ("usr/bin", "added", "dir", 0), ("usr/bin/curl", "added", "file", 30_000),
    ]),
    ("RUN rm /tmp/cache.tar && chmod 600 /etc/hosts && update-libc", [
        ("etc/hosts", "metadata", "file", 100), ("tmp/cache.tar", "deleted", "file", 80_000),
        ("usr/lib/libc.so", "modified", "file", 51_000),
    ]),
    ("COPY app /opt/app", [
        ("opt", "added", "dir", 0), ("opt/app", "added", "dir", 0), ("opt/app/data.bin", "added", "file", 10_000),
        ("opt/app/main.py", "added", "file", 3000), ("var/log", "opaque", "dir", 0),
        ("var/log/new.log", "added", "file", 200),
    ]),
]
RW = ("container", [("bin/ls", "deleted", "file", 2000), ("etc/hosts", "modified", "file", 120),
                    ("tmp/scratch", "added", "file", 400)])
OTHER_TOP = ("COPY app /opt/app", [
    ("opt", "added", "dir", 0), ("opt/app", "added", "dir", 0), ("opt/app/extra.txt", "added", "file", 50),
    ("opt/app/main.py", "added", "file", 3100),
])


def big_layer(files: int, per_dir: int = 1000) -> tuple[str, list]:
    """A layer adding ``files`` files in directories of ``per_dir`` (the laziness test)."""
    ops: list = [("big", "added", "dir", 0)]
    for d in range(0, files, per_dir):
        ops.append((f"big/d{d // per_dir:04d}", "added", "dir", 0))
        ops.extend((f"big/d{d // per_dir:04d}/f{i:05d}", "added", "file", 10) for i in range(d, min(files, d + per_dir)))
    return ("RUN make big", ops)


@dataclass
class _Side:
    name: str
    layers: list  # [(index, created_by, ops)]
    states: list = field(default_factory=list)  # per layer: path -> _Entry (merged, after it)
    kids: list = field(default_factory=list)  # per layer: dir -> set of child names
    waste: list = field(default_factory=list)  # (path, bytes, layer, reason)
    dirsizes: dict = field(default_factory=dict)  # layer position -> dir -> file bytes below (on first ask)
    below: dict = field(default_factory=dict)  # layer position -> dirs with a change of that layer below

    def sizes(self, i: int) -> dict[str, int]:
        if i not in self.dirsizes:
            out: dict[str, int] = {}
            for p, e in self.states[i].items():
                if e.kind == "file":
                    parts = p.split("/")
                    for k in range(1, len(parts)):
                        d = "/".join(parts[:k])
                        out[d] = out.get(d, 0) + e.size
            self.dirsizes[i] = out
        return self.dirsizes[i]

    def changed_dirs(self, i: int) -> set[str]:
        if i not in self.below:
            self.below[i] = {"/".join(parts[:k]) for o in self.layers[i][2]
                             for parts in [o[0].split("/")] for k in range(1, len(parts))}
        return self.below[i]

    def build(self) -> None:
        state: dict[str, _Entry] = {}
        kids: dict[str, set[str]] = {}
        for index, _cb, ops in self.layers:
            state, kids = dict(state), {k: set(v) for k, v in kids.items()}
            for path, change, kind, size, *link in ops:
                parent, _, name = path.rpartition("/")
                if change == "deleted":
                    old = state.pop(path, None)
                    kids.get(parent, set()).discard(name)
                    if old is not None and old.kind == "file":
                        self.waste.append((path, old.size, index, "deleted"))
                    continue
                if change == "opaque":
                    for p in [p for p in state if p.startswith(path + "/")]:
                        state.pop(p)
                    kids[path] = set()
                old = state.get(path)
                if change == "modified" and old is not None and old.kind == "file":
                    self.waste.append((path, old.size, index, "overwritten"))
                state[path] = _Entry(kind, size, index, link[0] if link else None)
                kids.setdefault(parent, set()).add(name)
            self.states.append(state)
            self.kids.append(kids)


class Explore:
    """The fake: the documented interface over :data:`BASE` (+ :data:`RW`, a B side)."""

    def __init__(self, layers: list, *, rw: bool = False, other: list | None = None, name: str = "fake:1") -> None:
        self.name = name
        self._rw = rw
        full = [(i, cb, ops) for i, (cb, ops) in enumerate(layers)]
        if rw:
            full.append(("rw", RW[0], RW[1]))
        self._sides = {"A": _Side("A", full)}
        if other is not None:
            self._sides["B"] = _Side("B", [(i, cb, ops) for i, (cb, ops) in enumerate(other)])
        for s in self._sides.values():
            s.build()
        self.sides = list(self._sides)
        self.side = "A"
        self._view = "container" if rw else "image"

    @classmethod
    def load(cls, spec: str = "fake", *, rw=None, compare=None, platform=None, verify=True, cache=True,
             progress=False) -> Explore:
        other = [*BASE[:3], OTHER_TOP] if compare else None
        return cls(BASE, rw=bool(rw), other=other)

    # ------------------------------------------------------------------ sides, view

    def set_side(self, side: str) -> None:
        if side not in self._sides:
            raise ValueError(side)
        self.side = side

    @property
    def view(self) -> str:
        return self._view

    @view.setter
    def view(self, value: str) -> None:
        self._view = value

    @property
    def _s(self) -> _Side:
        return self._sides[self.side]

    def _pos(self, layer: Any) -> int:
        return [i for i, _c, _o in self._s.layers].index(layer)

    @property
    def layers(self) -> list[LayerRow]:
        rows = []
        for index, cb, ops in self._s.layers:
            if index == "rw" and self._view == "image":
                continue
            wasted = sum(w[1] for w in self._s.waste if w[2] == index)
            size = sum(o[3] for o in ops if o[1] != "deleted" and o[2] == "file")
            rows.append(LayerRow(index, f"sha256:{self.side.lower()}{index}" + "0" * 8, size, cb, wasted, len(ops)))
        return rows

    # ------------------------------------------------------------------ per layer

    def _ops(self, layer: Any) -> dict[str, tuple]:
        i = self._pos(layer)
        cache = self.__dict__.setdefault("_opcache", {})
        if (self.side, i) not in cache:
            cache[self.side, i] = {o[0]: o for o in self._s.layers[i][2]}
        return cache[self.side, i]

    def changes(self, layer: Any) -> list[Change]:
        return [Change(o[0], o[1], o[2], o[3]) for o in self._s.layers[self._pos(layer)][2]]

    def _row(self, layer: Any, path: str, state: dict, kids: dict, ops: dict) -> TreeRow | None:
        op = ops.get(path)
        e = state.get(path)
        if e is None:
            if op is None or op[1] != "deleted":
                return None
            return TreeRow(path, path.rpartition("/")[2], op[2], op[3], "deleted", layer, False, None, False)
        i = self._pos(layer)
        size = e.size if e.kind != "dir" else self._s.sizes(i).get(path, 0)
        below = path in self._s.changed_dirs(i)
        return TreeRow(path, path.rpartition("/")[2], e.kind, size, op[1] if op else None, e.source,
                       bool(kids.get(path)) or below, e.link, below)

    def children(self, layer: Any, path: str = "") -> list[TreeRow]:
        i = self._pos(layer)
        state, kids, ops = self._s.states[i], self._s.kids[i], self._ops(layer)
        names = set(kids.get(path, ()))
        names |= {p.rpartition("/")[2] for p, o in ops.items() if o[1] == "deleted" and p.rpartition("/")[0] == path}
        rows = (self._row(layer, f"{path}/{n}" if path else n, state, kids, ops) for n in sorted(names))
        return [r for r in rows if r is not None]

    def row(self, layer: Any, path: str) -> TreeRow | None:
        i = self._pos(layer)
        return self._row(layer, path, self._s.states[i], self._s.kids[i], self._ops(layer))

    def history(self, path: str) -> list[tuple]:
        return [(index, o[1], o[3]) for index, _cb, ops in self._s.layers for o in ops if o[0] == path]

    def wasted_paths(self, limit: int | None = None) -> list[tuple]:
        rows = sorted(self._s.waste, key=lambda w: (-w[1], w[0]))
        return rows[:limit] if limit is not None else rows

    def details(self) -> dict:
        total = sum(o[3] for _i, _c, ops in self._s.layers for o in ops if o[2] == "file" and o[1] != "deleted")
        wasted = sum(w[1] for w in self._s.waste)
        reasons: dict[str, int] = {}
        for w in self._s.waste:
            reasons[w[3]] = reasons.get(w[3], 0) + w[1]
        return {"efficiency": {"efficiency": 1 - wasted / total if total else 1.0, "wasted_bytes": wasted,
                               "user_wasted_ratio": wasted / total if total else 0.0, "by_reason": reasons,
                               "top": [{"path": w[0], "bytes": w[1], "reason": w[3]} for w in self.wasted_paths(5)]},
                "duplicate_content": {"savable_bytes": 0, "groups": []}}

    def find(self, layer: Any, pattern: str, limit: int = 10_000) -> list[str]:
        state = self._s.states[self._pos(layer)]
        glob = any(c in pattern for c in "*?[")
        def hit(p: str) -> bool:
            if not glob:
                return pattern in p
            return fnmatch.fnmatchcase(p, pattern) or fnmatch.fnmatchcase(p.rpartition("/")[2], pattern)
        hits = [p for p in sorted(state) if hit(p)]
        return hits[:limit]

    def diff_against_other(self) -> dict[str, str] | None:
        if len(self._sides) < 2:
            return None
        mine = self._s.states[-1]
        theirs = self._sides["B" if self.side == "A" else "A"].states[-1]
        out = {p: "added" for p in mine.keys() - theirs.keys()}
        out.update({p: "removed" for p in theirs.keys() - mine.keys()})
        out.update({p: "modified" for p in mine.keys() & theirs.keys()
                    if (mine[p].kind, mine[p].size) != (theirs[p].kind, theirs[p].size)})
        return out
