"""Renderings of a CI gate's verdict: text, JSON (``layerscope.ci/1``), JUnit XML, Markdown.

Every renderer takes the same facts: the report (only its identity and size
are shown), the :class:`~layerscope.analysis.ci.Rules` that were applied,
the per-rule results, and the baseline report when there was one.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from ..analysis.ci import FAIL, PASS, SKIP, RuleResult, Rules, overall
from ..units import human_size
from .style import Paint, finish

CI_SCHEMA = "layerscope.ci/1"


# --------------------------------------------------------------------------
# shared
# --------------------------------------------------------------------------

def _image_name(report: Any) -> str:
    ref, path = getattr(report, "ref", None), getattr(report, "path", None)
    if ref and path:
        return f"{ref} ({path})"
    return str(ref or path or "-")


def _summary(results: Sequence[RuleResult]) -> str:
    total = len(results)
    failed = sum(r.status == FAIL for r in results)
    skipped = sum(r.status == SKIP for r in results)
    tail = f", {skipped} skipped" if skipped else ""
    if failed:
        return f"FAIL ({failed} of {total} rules failed{tail})"
    passed = total - skipped
    return f"PASS ({passed} of {total} rules passed{tail})"


def _config_line(rules: Rules) -> str:
    src = rules.source or "-"
    return src + ("; measured with dive's figures" if rules.metrics == "dive" else "")


def format_value(name: str, value: Any) -> str:
    """A rule's value or threshold for a table cell."""
    if value is None:
        return "-"
    if name == "lowest_efficiency":
        return f"{value:.4f}"
    if name == "highest_user_wasted_percent":
        return f"{value * 100:.2f}%"
    if name in ("highest_wasted_bytes", "max_image_size"):
        return human_size(value)
    if name == "max_growth":
        return human_size(value, signed=True)
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


# --------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------

_STATUS_STYLE = {PASS: "green", FAIL: "red", SKIP: "dim"}


def ci_text(report: Any, rules: Rules, results: Sequence[RuleResult], *, baseline: Any = None,
            baseline_spec: str | None = None, color: bool = False) -> str:
    paint = Paint(color)
    out = [f"Image:     {_image_name(report)}", f"Config:    {_config_line(rules)}"]
    if baseline is not None:
        out.append(f"Baseline:  {_image_name(baseline)}")
    elif baseline_spec:
        out.append(f"Baseline:  {baseline_spec} (not read: max_growth is not configured)")
    out.append("")
    for r in results:
        out.append(f"{paint(r.status, _STATUS_STYLE[r.status])}  {r.name}: {r.message}")
    verdict = overall(results)
    out.append(f"Result: {paint(_summary(results), _STATUS_STYLE[verdict])}")
    return finish(out)


# --------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------

def _image_doc(report: Any) -> dict[str, Any]:
    layers = getattr(report, "layers", None)
    return {
        "ref": getattr(report, "ref", None),
        "path": getattr(report, "path", None),
        "format": getattr(report, "format", None),
        "config_digest": getattr(report, "config_digest", None),
        "platform": getattr(report, "platform", None),
        "size": getattr(report, "size", None),
        "compressed_size": getattr(report, "compressed_size", None),
        "layers": len(layers) if layers is not None else None,
    }


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):  # NaN is not JSON
        return None
    if isinstance(v, tuple):
        return list(v)
    return v


def ci_doc(report: Any, rules: Rules, results: Sequence[RuleResult], *, baseline: Any = None) -> dict[str, Any]:
    return {
        "schema": CI_SCHEMA,
        "image": _image_doc(report),
        "baseline": _image_doc(baseline) if baseline is not None else None,
        "config": {"source": rules.source, "metrics": rules.metrics},
        "result": overall(results),
        "rules": [
            {"name": r.name, "status": r.status, "value": _json_value(r.value),
             "threshold": _json_value(r.threshold), "message": r.message}
            for r in results
        ],
    }


# --------------------------------------------------------------------------
# JUnit XML
# --------------------------------------------------------------------------

_XML_BAD = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(s: Any) -> str:
    """Text XML 1.0 can carry: characters it forbids (controls, lone surrogates) escaped."""
    return _XML_BAD.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", str(s))


def ci_junit(report: Any, rules: Rules, results: Sequence[RuleResult], *, baseline: Any = None) -> str:
    """One testsuite, one testcase per rule: ``<failure>`` for FAIL, ``<skipped>`` for SKIP."""
    tests = str(len(results))
    failures = str(sum(r.status == FAIL for r in results))
    skipped = str(sum(r.status == SKIP for r in results))
    counts = {"tests": tests, "failures": failures, "errors": "0", "skipped": skipped, "time": "0"}
    root = ET.Element("testsuites", {"name": "layerscope ci", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": _xml_text(f"layerscope ci: {_image_name(report)}"), **counts})
    props = ET.SubElement(suite, "properties")
    for k, v in (("image", _image_name(report)), ("config", rules.source or "-"), ("metrics", rules.metrics),
                 ("baseline", _image_name(baseline) if baseline is not None else "-"),
                 ("result", overall(results))):
        ET.SubElement(props, "property", {"name": k, "value": _xml_text(v)})
    for r in results:
        case = ET.SubElement(suite, "testcase", {"classname": "layerscope.ci", "name": r.name, "time": "0"})
        msg = _xml_text(r.message)
        if r.status == FAIL:
            fail = ET.SubElement(case, "failure", {"message": msg, "type": "layerscope.ci.RuleFailed"})
            fail.text = _xml_text(f"{r.name}: {r.message}\nvalue: {format_value(r.name, r.value)}\n"
                                  f"threshold: {format_value(r.name, r.threshold)}")
        elif r.status == SKIP:
            ET.SubElement(case, "skipped", {"message": msg})
        else:
            ET.SubElement(case, "system-out").text = msg
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------

def ci_markdown(report: Any, rules: Rules, results: Sequence[RuleResult], *, baseline: Any = None) -> str:
    """A PR comment / GitHub job summary: the verdict, one table row per rule (``--format markdown``'s rendering)."""
    from .markdown import render

    return render(ci_doc(report, rules, results, baseline=baseline))
