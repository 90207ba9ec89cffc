"""CI rules and where they are configured: value parsing, :class:`Rules`,
and :func:`load_rules` (``.layerscope.toml``, ``[tool.layerscope.ci]`` in
``pyproject.toml``, or dive's ``.dive-ci``, read as dive reads it: see
:mod:`layerscope.analysis.ci`)."""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadInputError, os_error
from ..fs.globs import compile_glob
from ..units import human_size, parse_size

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
_CONFIG_MAX_BYTES = 1 << 20


# --------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------

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
    # what the source said that was ignored (keys of a .dive-ci that dive ignores), one line each, for
    # the caller to show: a library does not print
    warnings: tuple[str, ...] = ()

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
        raise os_error(e, "read config file", shown) from None
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


def _dive_rule_keys(table: Any, shown: str) -> tuple[dict[Any, Any], list[str]]:
    """The keys of ``rules:`` that mean something, and a warning for each other one.

    dive reads its config through viper, which matches keys in any case and
    ignores every key it does not look up (no error, no message): layerscope
    matches dive's keys the same way and ignores the others too, but says so.
    layerscope's own rule names (snake_case) count as known.
    """
    if not isinstance(table, Mapping):
        return table, []  # Rules.from_mapping rejects it with a clear message
    by_lower = {k.lower(): k for k in DIVE_KEYS}
    known = [*DIVE_KEYS, *_PARSERS, "metrics"]
    kept: dict[Any, Any] = {}
    warnings: list[str] = []
    for key, value in table.items():
        name = by_lower.get(key.lower(), key) if isinstance(key, str) else key
        if name in DIVE_KEYS or name in _PARSERS or name == "metrics":
            if name in kept:
                raise BadInputError(f"rules: {name!r} is set twice (dive matches keys in any case)", where=shown)
            kept[name] = value
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        warnings.append(f"ignoring unknown rule key 'rules.{key}' (dive ignores it too{hint})")
    return kept, warnings


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
    # dive reads `rules` (in any case) and ignores the rest, e.g. the `plugins:` list and the
    # `plugin1/rule1:` sections of dive's own .dive-ci
    rule_keys = [k for k in doc if isinstance(k, str) and k.lower() == "rules"]
    if len(rule_keys) > 1:
        raise BadInputError(f"{rule_keys[0]!r} and {rule_keys[1]!r} are the same key to dive", where=shown)
    warnings = [f"ignoring key {k!r} (dive ignores it too; only 'rules' is read)" for k in doc if k not in rule_keys]
    table, ignored = _dive_rule_keys(doc[rule_keys[0]] if rule_keys else None, shown)
    user = Rules.from_mapping(table or {}, source=shown, metrics="dive")
    # dive: a rule the file leaves out keeps dive's default
    values = {n: getattr(user, n) for n in RULE_NAMES}
    disabled = set(user.disabled)
    for name, default in DIVE_DEFAULTS.items():
        if values[name] is None and name not in disabled:
            if default is None:
                disabled.add(name)
            else:
                values[name] = default
    return Rules(**values, metrics=user.metrics, disabled=frozenset(disabled), source=shown,
                 warnings=tuple(warnings + ignored))


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
