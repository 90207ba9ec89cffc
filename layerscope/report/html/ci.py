"""``layerscope.ci/1`` as a page: each rule's value against its threshold, PASS / FAIL / SKIP."""

from __future__ import annotations

from typing import Any

from ..ci_out import format_value
from .charts import threshold_bar
from .page import esc, kv, page, section, size

COLOURS = {"PASS": "#4a9e5c", "FAIL": "#d9534f", "SKIP": "#b0b6bf"}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def render_ci(doc: dict[str, Any]) -> str:
    rows = []
    for r in doc["rules"]:
        name, status, v, t = r["name"], r["status"], r["value"], r["threshold"]
        if _number(v) and _number(t):
            chart = threshold_bar(v, t, f"{format_value(name, v)} / {format_value(name, t)}", COLOURS.get(status, "#b0b6bf"))
        else:
            chart = (f'<span class="track rule-bar none"></span>'
                     f'<span class="val">{esc(format_value(name, v))} / {esc(format_value(name, t))}</span>')
        rows.append(f'<span class="lbl"><b class="{esc(status)}">{esc(status)}</b> {esc(name)}</span>{chart}'
                    f'<span></span><span class="cmd">{esc(r["message"])}</span>')
    im = doc["image"]
    facts = [("image", f"{im['ref'] or '-'} ({im['path']})"), ("size", size(im["size"])),
             ("layers", im["layers"]), ("config", doc["config"]["source"] or "-"), ("metrics", doc["config"]["metrics"])]
    if doc["baseline"]:
        b = doc["baseline"]
        facts.append(("baseline", f"{b['ref'] or '-'} ({b['path']}), {size(b['size'])}"))
    parts = [section("Result", f'<p><b class="{esc(doc["result"])}" id="result">{esc(doc["result"])}</b></p>'
                     + kv(facts), id="result-section"),
             section("Rules (value / threshold; the mark is the threshold)",
                     f'<div class="bars" id="rules">{"".join(rows)}</div>', id="rules-section")]
    return page(f"ci: {doc['result']} - {im['ref'] or im['path']}", "layerscope ci", parts, kind="ci")
