"""What two images' manifests and configs say differently: layers, config, history.

None of this reads a layer's content: layers are matched by diff_id (the
digest of their uncompressed content, the same whatever the compression or
archive format), the shared prefix by ChainID (what a runtime's layer store
actually shares: a layer is only reused on top of the same layers below).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..source import Image

# ---- layers ---------------------------------------------------------------------------


@dataclass(slots=True)
class LayerRow:
    index: int
    digest: str | None  # blob digest (differs between a docker-archive and a gzip'ed OCI copy)
    diff_id: str | None  # what layers are matched by
    size: int | None  # uncompressed bytes; None for a foreign layer, or when the layers were not read
    compressed_size: int | None
    created_by: str | None


@dataclass(slots=True)
class SharedLayer:
    diff_id: str
    size: int | None
    a: list[int]  # where it sits in A (a layer may repeat)
    b: list[int]


@dataclass(slots=True)
class LayerComparison:
    a: list[LayerRow]
    b: list[LayerRow]
    shared: list[SharedLayer]  # in A's order
    only_a: list[LayerRow]
    only_b: list[LayerRow]
    shared_prefix: int  # leading layers with equal ChainIDs
    shared_chain_id: str | None  # the ChainID of the last of them
    first_divergence: int | None  # the first layer index where the stacks differ; None: same stack
    shared_bytes: int  # uncompressed, each shared diff_id once
    only_a_bytes: int
    only_b_bytes: int

    @property
    def identical(self) -> bool:
        return self.first_divergence is None


def chain_ids(diff_ids: list[str | None]) -> list[str]:
    """OCI ChainIDs: ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
    Stops at the first layer without a diff_id."""
    out: list[str] = []
    for d in diff_ids:
        if d is None:
            break
        out.append(d if not out else "sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def compare_layers(a: list[LayerRow], b: list[LayerRow]) -> LayerComparison:
    ca, cb = chain_ids([r.diff_id for r in a]), chain_ids([r.diff_id for r in b])
    prefix = 0
    while prefix < min(len(ca), len(cb)) and ca[prefix] == cb[prefix]:
        prefix += 1
    same_stack = prefix == len(a) == len(b)
    in_b: dict[str, list[int]] = {}
    for r in b:
        if r.diff_id:
            in_b.setdefault(r.diff_id, []).append(r.index)
    in_a: dict[str, list[int]] = {}
    for r in a:
        if r.diff_id:
            in_a.setdefault(r.diff_id, []).append(r.index)
    sizes = {r.diff_id: r.size for r in (*a, *b) if r.diff_id and r.size is not None}
    shared = [SharedLayer(d, sizes.get(d), idx, in_b[d]) for d, idx in in_a.items() if d in in_b]
    only_a = [r for r in a if not r.diff_id or r.diff_id not in in_b]
    only_b = [r for r in b if not r.diff_id or r.diff_id not in in_a]

    def unique_bytes(rows: list[LayerRow]) -> int:
        return sum({r.diff_id or f"#{r.index}": r.size or 0 for r in rows}.values())

    return LayerComparison(
        a=a, b=b, shared=shared, only_a=only_a, only_b=only_b, shared_prefix=prefix,
        shared_chain_id=ca[prefix - 1] if prefix else None,
        first_divergence=None if same_stack else prefix,
        shared_bytes=sum(s.size or 0 for s in shared),
        only_a_bytes=unique_bytes(only_a), only_b_bytes=unique_bytes(only_b),
    )


# ---- config -----------------------------------------------------------------------------

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


@dataclass(slots=True)
class ConfigChange:
    field: str  # env, cmd, entrypoint, user, workdir, exposed_ports, volumes, labels, platform, stop_signal, healthcheck
    key: str | None  # the variable, label, port or volume for keyed fields; None for the others
    change: str  # added | removed | changed
    a: Any  # the value in A (None when added)
    b: Any  # the value in B (None when removed)


# (our name, the config's key) of fields compared whole; empty strings and lists are "not set"
_WHOLE = (("cmd", "Cmd"), ("entrypoint", "Entrypoint"), ("user", "User"), ("workdir", "WorkingDir"),
          ("stop_signal", "StopSignal"), ("healthcheck", "Healthcheck"))
_KEYED = (("env", "Env"), ("exposed_ports", "ExposedPorts"), ("volumes", "Volumes"), ("labels", "Labels"))
FIELDS = ("env", "cmd", "entrypoint", "user", "workdir", "exposed_ports", "volumes", "labels", "platform",
          "stop_signal", "healthcheck")


def _run_config(image: Image) -> dict[str, Any]:
    c = image.config.get("config") if isinstance(image.config, dict) else None
    return c if isinstance(c, dict) else {}


def _keyed(name: str, value: Any) -> dict[str, Any]:
    if name == "env":
        out: dict[str, Any] = {}
        for item in value if isinstance(value, list) else ():
            if isinstance(item, str):
                k, eq, v = item.partition("=")
                out[k] = v if eq else None
        return out
    if name == "labels":
        return dict(value) if isinstance(value, dict) else {}
    return dict.fromkeys(value, None) if isinstance(value, dict) else {}  # ports, volumes: a set


def _set(value: Any) -> Any:
    return None if value in (None, "", [], {}) else value


def compare_config(a: Image, b: Image) -> list[ConfigChange]:
    """Every field that differs, in :data:`FIELDS` order (keys sorted within a field)."""
    ca, cb = _run_config(a), _run_config(b)
    found: dict[str, list[ConfigChange]] = {f: [] for f in FIELDS}
    for name, key in _WHOLE:
        va, vb = _set(ca.get(key)), _set(cb.get(key))
        if va != vb:
            found[name].append(ConfigChange(name, None, ADDED if va is None else REMOVED if vb is None else CHANGED,
                                            va, vb))
    for name, key in _KEYED:
        ka, kb = _keyed(name, ca.get(key)), _keyed(name, cb.get(key))
        valued = name in ("env", "labels")
        for k in sorted(ka.keys() | kb.keys()):
            if k not in kb:
                found[name].append(ConfigChange(name, k, REMOVED, ka[k] if valued else k, None))
            elif k not in ka:
                found[name].append(ConfigChange(name, k, ADDED, None, kb[k] if valued else k))
            elif ka[k] != kb[k]:
                found[name].append(ConfigChange(name, k, CHANGED, ka[k], kb[k]))
    pa = str(a.platform) if a.platform else None
    pb = str(b.platform) if b.platform else None
    if pa != pb:
        found["platform"].append(ConfigChange("platform", None, ADDED if pa is None else REMOVED if pb is None
                                              else CHANGED, pa, pb))
    return [c for f in FIELDS for c in found[f]]


# ---- history ----------------------------------------------------------------------------

SAME = "same"


@dataclass(slots=True)
class HistoryStep:
    change: str  # same | added | removed
    a: int | None  # the step's index in A's history (None: only in B)
    b: int | None
    created_by: str | None
    empty_layer: bool = False  # a config-only step (no layer)


@dataclass(slots=True)
class HistoryComparison:
    steps: list[HistoryStep] = field(default_factory=list)  # both histories, aligned

    @property
    def added(self) -> list[HistoryStep]:
        return [s for s in self.steps if s.change == ADDED]

    @property
    def removed(self) -> list[HistoryStep]:
        return [s for s in self.steps if s.change == REMOVED]


def history(image: Image) -> list[tuple[str | None, bool]]:
    """(created_by, empty_layer) per history step; an image without a history
    (pre-1.10 archives) has one step per layer."""
    h = image.config.get("history") if isinstance(image.config, dict) else None
    if not isinstance(h, list):
        return [(layer.created_by, False) for layer in image.layers]
    out = []
    for step in h:
        step = step if isinstance(step, dict) else {}
        cb = step.get("created_by")
        out.append((cb if isinstance(cb, str) else None, bool(step.get("empty_layer"))))
    return out


def compare_history(a: Image, b: Image) -> HistoryComparison:
    """The two step lists aligned as a diff aligns lines (difflib, no junk heuristics)."""
    from difflib import SequenceMatcher

    ha, hb = history(a), history(b)
    steps: list[HistoryStep] = []
    matcher = SequenceMatcher(None, [s[0] or "" for s in ha], [s[0] or "" for s in hb], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            steps.extend(HistoryStep(SAME, i, j, ha[i][0], ha[i][1] and hb[j][1])
                         for i, j in zip(range(i1, i2), range(j1, j2)))
            continue
        steps.extend(HistoryStep(REMOVED, i, None, ha[i][0], ha[i][1]) for i in range(i1, i2))
        steps.extend(HistoryStep(ADDED, None, j, hb[j][0], hb[j][1]) for j in range(j1, j2))
    return HistoryComparison(steps)
