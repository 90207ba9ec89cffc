"""CI gates: rules, where they are configured, and their verdict on an inspect report.

A :class:`Rules` holds one threshold per rule (``None``: not configured);
:func:`load_rules` finds and reads the configuration (``.layerscope.toml``,
``[tool.layerscope.ci]`` in ``pyproject.toml``, or dive's ``.dive-ci``), and
:func:`evaluate` turns a report into one :class:`RuleResult` per rule.

Compatibility with dive (``dive --ci``), checked against dive's source:

* comparisons are dive's: efficiency fails when ``efficiency < threshold``,
  wasted bytes when ``wasted > threshold``, the user-wasted ratio when
  ``ratio > threshold`` (a value equal to its threshold passes);
* byte sizes are parsed like go-humanize's ``ParseBytes`` (which dive uses):
  case-insensitive units, ``kB``/``MB``/``K``/``M`` are powers of 1000,
  ``KiB``/``MiB``/``Ki``/``Mi`` powers of 1024, commas in the number ignored,
  the product truncated to whole bytes;
* a ``.dive-ci`` file is read as dive reads it: a ``rules:`` mapping with
  camelCase keys, where ``disabled`` (also ``off``, ``false``, empty) turns a
  rule off and a rule the file leaves out keeps dive's default
  (``lowestEfficiency 0.9``, ``highestWastedBytes disabled``,
  ``highestUserWastedPercent 0.1``). Rules from a ``.dive-ci`` file, or from
  ``--dive-defaults``, are measured with dive's efficiency and wasted-bytes
  figures (``report.dive_efficiency``, ``report.dive_wasted_bytes``) so the
  verdict is dive's; layerscope's own config files use layerscope's
  (``metrics = "dive"`` / ``"layerscope"`` chooses explicitly).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import LayerscopeError
from ..fs.globs import compile_glob, glob_match, norm_path
from ..units import human_size, parse_size
from .ci_config import DIVE_DEFAULTS, RULE_NAMES, Growth, Rules, load_rules

__all__ = [
    "RULE_NAMES",
    "DIVE_DEFAULTS",
    "Growth",
    "Rules",
    "RuleResult",
    "evaluate",
    "load_rules",
    "overall",
    "parse_size",
    "compile_glob",
    "glob_match",
]

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
_FORBID_SHOWN = 5  # forbidden paths named in a failure message


# --------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RuleResult:
    name: str
    status: str  # "PASS" | "FAIL" | "SKIP"
    value: Any  # the measured value (None when skipped)
    threshold: Any  # the limit it was held to (None when skipped for want of one)
    message: str


def _sizes(v: int, op: str, t: float) -> str:
    hv, ht = human_size(v), human_size(t)
    if hv == ht:  # rounding hid the difference: show bytes
        return f"{v:,} B {op} {int(t):,} B"
    return f"{hv} {op} {ht}"


def _ratio(v: float, t: float, fmt: str) -> tuple[str, str]:
    a, b = format(v, fmt), format(t, "g")
    if v != t and float(a) == t:
        a = format(v, ".10g")
    return a, b


def _pct(v: float, t: float) -> tuple[str, str]:
    a, b = format(v * 100, ".2f"), format(t * 100, "g")
    if v != t and math.isclose(float(a), t * 100):
        a = format(v * 100, ".10g")
    return a + "%", b + "%"


def _show_path(path: str) -> str:
    """A path for a one-line message: leading "/", control and undecodable characters escaped."""
    out = []
    for ch in path:
        o = ord(ch)
        if ch.isprintable() and not 0xD800 <= o <= 0xDFFF:
            out.append(ch)
        elif 0xDC80 <= o <= 0xDCFF:  # a surrogate-escaped byte
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 0x100:
            out.append(f"\\x{o:02x}")
        else:
            out.append(f"\\u{o:04x}")
    return "/" + "".join(out)


def _metric(report: Any, attr: str, rule: str) -> Any:
    try:
        return getattr(report, attr)
    except AttributeError:
        raise LayerscopeError(f"rule {rule} needs the report's {attr}, which this layerscope's inspect() "
                              "does not provide yet") from None


def _dive_user_ratio(report: Any) -> Any:
    """dive's user-wasted ratio: ``report.dive_user_wasted_ratio``, else ``report.waste.dive_user_wasted_ratio``."""
    try:
        return report.dive_user_wasted_ratio
    except AttributeError:
        pass
    waste = _metric(report, "waste", "highest_user_wasted_percent")
    try:
        return waste.dive_user_wasted_ratio
    except AttributeError:
        raise LayerscopeError("rule highest_user_wasted_percent with dive's figures needs dive's user-wasted "
                              "ratio, which this layerscope's inspect() does not provide") from None


def _skip(name: str, rules: Rules) -> RuleResult:
    msg = "disabled" if name in rules.disabled else "not configured"
    return RuleResult(name, SKIP, None, None, msg)


def evaluate(report: Any, rules: Rules, baseline: Any = None) -> list[RuleResult]:
    """One :class:`RuleResult` per rule, in :data:`RULE_NAMES` order.

    ``report`` is an ``InspectReport`` (or anything with the same
    attributes: ``size``, ``layers``, ``efficiency``, ``wasted_bytes``,
    ``user_wasted_ratio``, ``paths()``; with ``rules.metrics == "dive"``
    ``dive_efficiency``, ``dive_wasted_bytes`` and
    ``dive_user_wasted_ratio`` — or ``waste.dive_user_wasted_ratio`` —
    instead); only the attributes of configured rules are read.
    ``baseline`` is the report of the image to compare ``max_growth`` with
    (or its size in bytes); without it ``max_growth`` is skipped.
    """
    dive = rules.metrics == "dive"
    out: list[RuleResult] = []
    for name in RULE_NAMES:
        t = getattr(rules, name)
        if t is None:
            out.append(_skip(name, rules))
            continue
        if name == "lowest_efficiency":
            v = _metric(report, "dive_efficiency" if dive else "efficiency", name)
            out.append(_lowest_efficiency(float(v), t, dive))
        elif name == "highest_wasted_bytes":
            v = int(_metric(report, "dive_wasted_bytes" if dive else "wasted_bytes", name))
            note = " (dive's wasted bytes)" if dive else ""
            status = FAIL if v > t else PASS
            out.append(RuleResult(name, status, v, t, _sizes(v, ">" if status == FAIL else "<=", t) + note))
        elif name == "highest_user_wasted_percent":
            v = _dive_user_ratio(report) if dive else _metric(report, "user_wasted_ratio", name)
            if v is None:
                out.append(RuleResult(name, SKIP, None, t, "no layers above the base layers"))
                continue
            v = float(v)
            a, b = _pct(v, t)
            note = " (dive's figure)" if dive else ""
            if math.isnan(v):
                out.append(RuleResult(name, FAIL, v, t, "the user-wasted ratio is not a number" + note))
            elif v > t:
                out.append(RuleResult(name, FAIL, v, t, f"{a} > {b} of the bytes above the base layers{note}"))
            else:
                out.append(RuleResult(name, PASS, v, t, f"{a} <= {b} of the bytes above the base layers{note}"))
        elif name == "max_image_size":
            v = int(_metric(report, "size", name))
            status = FAIL if v > t else PASS
            out.append(RuleResult(name, status, v, t, _sizes(v, ">" if status == FAIL else "<=", t)))
        elif name == "max_layers":
            v = len(_metric(report, "layers", name))
            status = FAIL if v > t else PASS
            out.append(RuleResult(name, status, v, t, f"{v} {'>' if status == FAIL else '<='} {t}"))
        elif name == "forbid_paths":
            out.append(_forbid_paths(report, t))
        elif name == "max_growth":
            out.append(_max_growth(report, t, baseline))
    return out


def _lowest_efficiency(v: float, t: float, dive: bool) -> RuleResult:
    name = "lowest_efficiency"
    note = " (dive's efficiency)" if dive else ""
    if math.isnan(v):
        return RuleResult(name, FAIL, v, t, "efficiency is not a number" + note)
    a, b = _ratio(v, t, ".4f")
    if v < t:
        return RuleResult(name, FAIL, v, t, f"{a} < {b}{note}")
    return RuleResult(name, PASS, v, t, f"{a} >= {b}{note}")


def _forbid_paths(report: Any, patterns: tuple[str, ...]) -> RuleResult:
    name = "forbid_paths"
    compiled = [(p, compile_glob(p)) for p in patterns]
    paths: Iterable[str] = _metric(report, "paths", name)()
    hits: list[tuple[str, str]] = []
    for path in paths:
        norm = norm_path(path)
        for pat, rx in compiled:
            if rx.fullmatch(norm):
                hits.append((norm, pat))
                break
    hits.sort()
    n = len(hits)
    if not n:
        what = f"{len(patterns)} pattern{'s' if len(patterns) != 1 else ''}"
        return RuleResult(name, PASS, 0, list(patterns), f"no path matches {what}")
    shown = ", ".join(f"{_show_path(p)} ({pat})" for p, pat in hits[:_FORBID_SHOWN])
    more = f", and {n - _FORBID_SHOWN} more" if n > _FORBID_SHOWN else ""
    return RuleResult(name, FAIL, n, list(patterns),
                      f"{n} forbidden path{'s' if n != 1 else ''}: {shown}{more}")


def _max_growth(report: Any, growth: Growth, baseline: Any) -> RuleResult:
    name = "max_growth"
    if baseline is None:
        return RuleResult(name, SKIP, None, None, "no --baseline")
    base = int(baseline if isinstance(baseline, int) else baseline.size)
    size = int(_metric(report, "size", name))
    delta = size - base
    allowed = growth.allowed(base)
    status = FAIL if delta > allowed else PASS
    shown, limit = human_size(delta, signed=True), human_size(allowed, signed=True)
    if shown == limit and delta != int(allowed):  # rounding hid the difference: show bytes
        shown, limit = f"{delta:+,} B", f"+{int(allowed):,} B"
    pct = f" ({delta / base * 100:+.1f}%)" if base else ""
    of = f"{growth} of baseline" if growth.ratio is not None else "baseline"
    return RuleResult(name, status, delta, int(allowed),
                      f"{shown}{pct} {'>' if status == FAIL else '<='} {limit} ({of} {human_size(base)})")


def overall(results: Iterable[RuleResult]) -> str:
    """"FAIL" if any rule failed, else "PASS" (skips do not fail a gate)."""
    return FAIL if any(r.status == FAIL for r in results) else PASS
