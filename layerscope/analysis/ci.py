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
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import BadInputError, LayerscopeError
from ..units import human_size

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

#: Every rule, in the order results are reported.
RULE_NAMES: tuple[str, ...] = (
    "lowest_efficiency",
    "highest_wasted_bytes",
    "highest_user_wasted_percent",
    "max_image_size",
    "max_layers",
    "forbid_paths",
    "max_growth",
)

#: dive's camelCase keys (``.dive-ci``'s ``rules:``) and the rules they name.
DIVE_KEYS: dict[str, str] = {
    "lowestEfficiency": "lowest_efficiency",
    "highestWastedBytes": "highest_wasted_bytes",
    "highestUserWastedPercent": "highest_user_wasted_percent",
}

#: dive's defaults (dive's ``DefaultCIRules``; ``None`` means disabled).
DIVE_DEFAULTS: dict[str, Any] = {
    "lowest_efficiency": 0.9,
    "highest_wasted_bytes": None,
    "highest_user_wasted_percent": 0.1,
}

METRICS = ("layerscope", "dive")
PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
_CONFIG_MAX_BYTES = 1 << 20
_FORBID_SHOWN = 5


# --------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------

_SIZE_UNITS: dict[str, int] = {"": 1, "b": 1}
for _i, _p in enumerate("kmgtpe", start=1):
    _SIZE_UNITS[_p] = _SIZE_UNITS[_p + "b"] = 1000 ** _i
    _SIZE_UNITS[_p + "i"] = _SIZE_UNITS[_p + "ib"] = 1024 ** _i
_NUMBER = re.compile(r"[0-9]+\.?[0-9]*|\.[0-9]+")


def parse_size(value: Any) -> int:
    """Bytes from an int or a size string ("20MB", "1.5GiB", "500kB", "1,000").

    Follows go-humanize's ``ParseBytes`` (dive's parser): the number is the
    leading run of digits, dots and commas (commas dropped), the rest, with
    spaces trimmed and case ignored, must be a unit: ``B``, ``k``/``kB``
    (1000), ``Ki``/``KiB`` (1024), and likewise M, G, T, P, E. The product
    is truncated to whole bytes. Raises ``ValueError``.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a size in bytes or a string like '20MB', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a size cannot be negative ({value})")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"not a valid size: {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a size in bytes or a string like '20MB', got {type(value).__name__}")
    s = value.strip()
    end = 0
    while end < len(s) and s[end] in "0123456789.,":
        end += 1
    number = s[:end].replace(",", "")
    if not _NUMBER.fullmatch(number):
        raise ValueError(f"not a size: {value!r} (use bytes or e.g. '20MB', '1.5GiB', '500kB')")
    unit = s[end:].strip().lower()
    if unit not in _SIZE_UNITS:
        raise ValueError(f"unknown size unit {s[end:].strip()!r} in {value!r} "
                         "(B, kB/MB/GB/TB: powers of 1000; KiB/MiB/GiB/TiB: powers of 1024)")
    product = float(number) * _SIZE_UNITS[unit]
    if product >= 2.0 ** 64:
        raise ValueError(f"size too large: {value!r}")
    return int(product)


def _parse_fraction(value: Any) -> float:
    """A ratio between 0 and 1: 0.2, "0.2" or "20%"."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a ratio between 0 and 1, got {value!r}")
    if isinstance(value, (int, float)):
        f = float(value)
    elif isinstance(value, str):
        s = value.strip()
        try:
            f = float(s[:-1]) / 100 if s.endswith("%") else float(s)
        except ValueError:
            raise ValueError(f"expected a ratio between 0 and 1 (e.g. 0.9 or '90%'), got {value!r}") from None
    else:
        raise ValueError(f"expected a ratio between 0 and 1, got {type(value).__name__}")
    if not math.isfinite(f) or not 0.0 <= f <= 1.0:
        raise ValueError(f"{value!r} is outside the allowed range 0..1")
    return f


def _parse_count(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a whole number, got {value!r}")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and value >= 0:
        return value
    raise ValueError(f"expected a whole number >= 0, got {value!r}")


def _parse_patterns(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"expected a list of glob patterns, got {type(value).__name__}")
    out = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"expected glob pattern strings, got {item!r}")
        compile_glob(item)  # reject what cannot be matched now, not mid-scan
        out.append(item)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Growth:
    """A growth allowance: absolute bytes, or a ratio of the baseline's size."""

    bytes: int | None = None
    ratio: float | None = None

    def allowed(self, baseline_size: int) -> float:
        return float(self.bytes) if self.bytes is not None else self.ratio * baseline_size

    def __str__(self) -> str:
        if self.bytes is not None:
            return human_size(self.bytes)
        return f"{self.ratio * 100:g}%"


_FRACTIONAL = re.compile(r"\+?([0-9]*\.[0-9]+|[0-9]+\.)")


def _parse_growth(value: Any) -> Growth:
    """Bytes (an int or "20MB") or a ratio of the baseline (0.1, "0.1", "10%")."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected bytes ('20MB') or a ratio of the baseline ('10%', 0.1), got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"not a valid growth ratio: {value!r}")
        return Growth(ratio=value)
    if isinstance(value, str):
        s = value.strip()
        if s.endswith("%") or _FRACTIONAL.fullmatch(s):
            try:
                ratio = float(s[:-1]) / 100 if s.endswith("%") else float(s)
            except ValueError:
                raise ValueError(f"not a percentage: {value!r}") from None
            if not math.isfinite(ratio) or ratio < 0:
                raise ValueError(f"not a valid growth ratio: {value!r}")
            return Growth(ratio=ratio)
        value = s.removeprefix("+")
    return Growth(bytes=parse_size(value))


_PARSERS = {
    "lowest_efficiency": _parse_fraction,
    "highest_wasted_bytes": parse_size,
    "highest_user_wasted_percent": _parse_fraction,
    "max_image_size": parse_size,
    "max_layers": _parse_count,
    "forbid_paths": _parse_patterns,
    "max_growth": _parse_growth,
}


_NEEDS_ANALYSIS = ("lowest_efficiency", "highest_wasted_bytes", "highest_user_wasted_percent", "forbid_paths")


def _is_disabled(value: Any) -> bool:
    """dive's rule: "disabled", "off", "false" or empty (any case) turn a rule off."""
    if value is None or value is False:
        return True
    return isinstance(value, str) and value.strip().lower() in ("", "disabled", "off", "false")


# --------------------------------------------------------------------------
# globs
# --------------------------------------------------------------------------

def _segment_regex(seg: str) -> str:
    """One path segment's glob (``*``, ``?``, ``[seq]``, ``[!seq]``) as a regex that never crosses "/"."""
    out: list[str] = []
    i, n = 0, len(seg)
    while i < n:
        c = seg[i]
        if c == "*":
            while i < n and seg[i] == "*":
                i += 1
            out.append("[^/]*")
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and seg[j] in "!^":
                j += 1
            if j < n and seg[j] == "]":
                j += 1
            while j < n and seg[j] != "]":
                j += 1
            if j >= n:  # no closing bracket: a literal "["
                out.append(re.escape(c))
            else:
                body = seg[i + 1:j]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = "".join(ch if ch == "-" else re.escape(ch) for ch in body)
                out.append(f"(?!/)[{'^' if negate else ''}{body}]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile a path glob: ``**`` is zero or more directories, ``*`` and
    ``?`` stay within one path segment, ``[seq]``/``[!seq]`` are character
    classes; a leading or trailing "/" is ignored. ``*`` matches names
    starting with a dot too (``**/*.pem`` finds ``.key.pem``); matching is
    case-sensitive, like the paths in a Linux image. ``a/**`` matches ``a``
    itself and everything below it."""
    if not isinstance(pattern, str):
        raise ValueError(f"a glob pattern must be a string, got {pattern!r}")
    segs = [s for s in pattern.split("/") if s]
    if not segs:
        raise ValueError(f"empty glob pattern {pattern!r}")
    collapsed: list[str] = []
    for s in segs:
        if not (s == "**" and collapsed and collapsed[-1] == "**"):
            collapsed.append(s)
    rx = ""
    last = len(collapsed) - 1
    for i, seg in enumerate(collapsed):
        if seg == "**":
            if i == last:
                rx = rx[:-1] + "(?:/.*)?" if rx else ".*"  # drop the "/" the previous segment added
            else:
                rx += "(?:[^/]+/)*"
        else:
            rx += _segment_regex(seg) + ("" if i == last else "/")
    try:
        return re.compile(rx, re.DOTALL)
    except re.error as e:
        raise ValueError(f"bad glob pattern {pattern!r}: {e}") from None


def _norm_path(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path.strip("/")


def glob_match(pattern: str | re.Pattern[str], path: str) -> bool:
    """Does image path ``path`` (relative or with a leading "/") match the glob?"""
    rx = compile_glob(pattern) if isinstance(pattern, str) else pattern
    return rx.fullmatch(_norm_path(path)) is not None


# --------------------------------------------------------------------------
# rules and their configuration
# --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Rules:
    """Thresholds; ``None`` is "not configured", names in ``disabled`` were switched off explicitly."""

    lowest_efficiency: float | None = None
    highest_wasted_bytes: int | None = None
    highest_user_wasted_percent: float | None = None
    max_image_size: int | None = None
    max_layers: int | None = None
    forbid_paths: tuple[str, ...] | None = None
    max_growth: Growth | None = None
    metrics: str = "layerscope"  # whose efficiency / wasted-bytes figures: "layerscope" or "dive"
    disabled: frozenset[str] = field(default_factory=frozenset)
    source: str | None = None  # where the rules came from, for output

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, source: str | None = None,
                     metrics: str = "layerscope") -> Rules:
        """Rules from a flat mapping of rule keys (snake_case, or dive's camelCase).

        Values may be given as in a config file ("20MB", "10%", "disabled").
        An unknown key or a bad value raises :class:`BadInputError` naming it
        (and ``source``, when given).
        """
        if not isinstance(mapping, Mapping):
            raise BadInputError(f"CI rules must be a mapping of rule names to thresholds, got {type(mapping).__name__}",
                                where=source)
        values: dict[str, Any] = {}
        given_as: dict[str, str] = {}
        disabled: set[str] = set()
        for key, raw in mapping.items():
            if key == "metrics":
                if raw not in METRICS:
                    raise BadInputError(f"metrics: expected one of {', '.join(map(repr, METRICS))}, got {raw!r}",
                                        where=source)
                metrics = raw
                continue
            name = DIVE_KEYS.get(key, key) if isinstance(key, str) else key
            if name not in _PARSERS:
                raise BadInputError(f"unknown key {key!r} (known: {', '.join(RULE_NAMES)}, "
                                    f"{', '.join(DIVE_KEYS)}, metrics)", where=source)
            if name in given_as:
                raise BadInputError(f"{key!r} and {given_as[name]!r} set the same rule", where=source)
            given_as[name] = key
            if _is_disabled(raw) or (name == "forbid_paths" and raw in ([], ())):
                disabled.add(name)
                continue
            try:
                values[name] = _PARSERS[name](raw)
            except ValueError as e:
                raise BadInputError(f"{key}: {e}", where=source) from None
        return cls(**values, metrics=metrics, disabled=frozenset(disabled), source=source)

    @classmethod
    def dive_defaults(cls, *, source: str = "dive's defaults") -> Rules:
        """dive's CI defaults: lowestEfficiency 0.9, highestWastedBytes disabled, highestUserWastedPercent 0.1."""
        return cls(lowest_efficiency=DIVE_DEFAULTS["lowest_efficiency"],
                   highest_user_wasted_percent=DIVE_DEFAULTS["highest_user_wasted_percent"],
                   metrics="dive", disabled=frozenset({"highest_wasted_bytes"}), source=source)

    @property
    def configured(self) -> tuple[str, ...]:
        """Names of the rules that will be evaluated (set, not disabled)."""
        return tuple(n for n in RULE_NAMES if getattr(self, n) is not None)

    @property
    def needs_analysis(self) -> bool:
        """Do the configured rules need the layers stacked (waste figures, final paths)?"""
        return any(getattr(self, n) is not None for n in _NEEDS_ANALYSIS)


def _read_text(path: Path, shown: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(_CONFIG_MAX_BYTES + 1)
    except IsADirectoryError:
        raise BadInputError("is a directory, not a config file", where=shown) from None
    except FileNotFoundError:
        raise BadInputError("no such config file", where=shown) from None
    except OSError as e:
        raise BadInputError(f"cannot read config file: {e.strerror or e}", where=shown) from None
    if len(data) > _CONFIG_MAX_BYTES:
        raise BadInputError(f"too large for a config file (over {_CONFIG_MAX_BYTES:,} bytes)", where=shown)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInputError(f"config file is not UTF-8 text (byte {e.start})", where=shown) from None


def _kind(path: Path, text: str) -> str:
    name = path.name.lower()
    if name == "pyproject.toml":
        return "pyproject"
    if name.endswith(".toml"):
        return "toml"
    if name.startswith(".dive-ci") or name.endswith((".yaml", ".yml")):
        return "dive"
    return "dive" if re.search(r"(?m)^rules[ \t]*:", text) else "toml"


def _toml(text: str, shown: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise BadInputError(f"not valid TOML: {' '.join(str(e).split())}", where=shown) from None


def _rules_from_toml(doc: dict[str, Any], shown: str) -> Rules | None:
    """``[ci]`` or top-level keys of a .layerscope.toml; ``None`` if it holds neither."""
    if "ci" in doc:
        table = doc["ci"]
        if not isinstance(table, dict):
            raise BadInputError("'ci' must be a table ([ci])", where=shown)
        stray = [k for k, v in doc.items() if k != "ci" and not isinstance(v, dict)
                 and (k in _PARSERS or k in DIVE_KEYS or k == "metrics")]
        if stray:
            raise BadInputError(f"rule key {stray[0]!r} is outside the [ci] table; put every rule in [ci]",
                                where=shown)
        return Rules.from_mapping(table, source=shown)
    top = {k: v for k, v in doc.items() if not isinstance(v, dict)}  # other tables belong to other commands
    if not top:
        return None
    return Rules.from_mapping(top, source=shown)


def _rules_from_dive_ci(text: str, shown: str) -> Rules:
    """A dive ``.dive-ci`` YAML file, read the way dive reads it."""
    import yaml  # only needed for dive files

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or type(e).__name__
        raise BadInputError(f"not valid YAML: {problem}{where}", where=shown) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise BadInputError(f"expected a mapping with a 'rules:' key, got a YAML {type(doc).__name__}", where=shown)
    for key in doc:
        if key != "rules":
            raise BadInputError(f"unknown key {key!r} (a .dive-ci file holds one key, 'rules')", where=shown)
    table = doc.get("rules") or {}
    user = Rules.from_mapping(table, source=shown, metrics="dive")
    # dive: a rule the file leaves out keeps dive's default
    values = {n: getattr(user, n) for n in RULE_NAMES}
    disabled = set(user.disabled)
    for name, default in DIVE_DEFAULTS.items():
        if values[name] is None and name not in disabled:
            if default is None:
                disabled.add(name)
            else:
                values[name] = default
    return Rules(**values, metrics=user.metrics, disabled=frozenset(disabled), source=shown)


def _load_file(path: Path, shown: str, *, explicit: bool) -> Rules | None:
    text = _read_text(path, shown)
    kind = _kind(path, text)
    if kind == "dive":
        return _rules_from_dive_ci(text, shown)
    doc = _toml(text, shown)
    if kind == "pyproject":
        table: Any = doc
        for key in ("tool", "layerscope", "ci"):
            table = table.get(key) if isinstance(table, dict) else None
        if table is None:
            if explicit:
                raise BadInputError("no [tool.layerscope.ci] table", where=shown)
            return None
        if not isinstance(table, dict):
            raise BadInputError("tool.layerscope.ci must be a table", where=shown)
        return Rules.from_mapping(table, source=f"{shown} [tool.layerscope.ci]")
    rules = _rules_from_toml(doc, shown)
    if rules is None and explicit:
        raise BadInputError("no CI rules: expected a [ci] table or top-level rule keys", where=shown)
    return rules


#: Files looked for in the current directory, first found wins.
SEARCH_ORDER = (".layerscope.toml", "pyproject.toml", ".dive-ci")


def load_rules(path: str | Path | None = None, *, dive_defaults: bool = False,
               cwd: str | Path | None = None) -> Rules:
    """Find and read the CI rules.

    ``path`` (a ``.layerscope.toml``-style TOML file, a ``pyproject.toml``,
    or a dive ``.dive-ci`` YAML file, told apart by name, then by content)
    wins; otherwise the first of ``.layerscope.toml`` (a ``[ci]`` table or
    top-level keys), ``pyproject.toml`` (``[tool.layerscope.ci]``) and
    ``.dive-ci`` found in ``cwd`` (default: the current directory). With none
    found, ``dive_defaults=True`` gives dive's defaults; otherwise
    :class:`BadInputError` (a gate with no rules would pass anything).
    """
    base = Path(cwd) if cwd is not None else Path.cwd()
    if path is not None:
        p = Path(path)
        return _load_file(p if p.is_absolute() else base / p, str(path), explicit=True)
    for name in SEARCH_ORDER:
        candidate = base / name
        if candidate.is_file():
            rules = _load_file(candidate, name, explicit=False)
            if rules is not None:
                return rules
    if dive_defaults:
        return Rules.dive_defaults(source="dive's defaults (--dive-defaults)")
    raise BadInputError("no CI rules found: give --config FILE, or add .layerscope.toml ([ci]), "
                        "[tool.layerscope.ci] in pyproject.toml or a .dive-ci file to the current directory, "
                        "or use --dive-defaults")


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
        norm = _norm_path(path)
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
