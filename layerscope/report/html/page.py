"""The page every HTML report shares: one self-contained file, safe to open.

No network: the Content-Security-Policy forbids every load (inline style and
script only, images as ``data:`` URLs), so a report read from an untrusted
image cannot call home even if some text escaped. Every string from a
document goes through :func:`esc` (text and attribute values alike);
the markup here is the only markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from typing import Any

from ...units import human_size

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
ROW_LIMIT = 1000  # rows per table: the rest is in the JSON document

CSS = """
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232b;margin:0;background:#f5f6f8}
main{max-width:1160px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:20px;margin:4px 0 2px}h2{font-size:16px;margin:0 0 8px}
.sub{color:#5b6573;margin:0 0 12px;word-break:break-all}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:12px 14px;margin:12px 0;
 break-inside:avoid}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #eceef1;vertical-align:top}
th{color:#5b6573;font-weight:600}
td.n,th.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.p{word-break:break-all;white-space:pre-line;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:13px}
.kv dt{color:#5b6573}.kv dd{margin:0;word-break:break-all}
.figs{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0}
.fig{border:1px solid #dde1e6;border-radius:6px;padding:6px 10px;min-width:120px}
.fig b{display:block;font-size:18px}.fig span{color:#5b6573;font-size:12px}
.bars{display:grid;grid-template-columns:minmax(60px,max-content) minmax(120px,1fr) max-content;gap:3px 8px;
 align-items:center;font-size:13px}
.bars .lbl{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:420px}
.track{position:relative;height:16px;background:#eef0f3;border-radius:3px}
.fill{position:absolute;left:0;top:0;bottom:0;border-radius:3px;background:#3b82c4;min-width:1px}
.fill.neg{background:#d9534f}.fill.pos{background:#4a9e5c}
.mark{position:absolute;top:-3px;bottom:-3px;width:2px;background:#1d232b}
.val{white-space:nowrap;font-variant-numeric:tabular-nums;text-align:right}
.cmd{grid-column:2/4;color:#5b6573;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px;
 margin:-2px 0 4px;white-space:pre-wrap;word-break:break-all}
.PASS{color:#2e7d32;font-weight:700}.FAIL{color:#c62828;font-weight:700}.SKIP{color:#757575;font-weight:700}
.warn{color:#8a5a00}
.legend{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:12px;margin:6px 0}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:4px;vertical-align:-1px}
#crumbs{font-size:13px;margin:4px 0 6px}#crumbs a{color:#2563a6;cursor:pointer;text-decoration:underline}
#treemap{width:100%;height:auto;display:block;background:#fff}
#treemap rect{stroke:#fff;stroke-width:1}
#treemap .dir{cursor:pointer}#treemap .dir:hover rect{opacity:.85}
#treemap text{font-size:11px;fill:#111;pointer-events:none}#treemap text.sz{fill:#333;font-size:10px}#treemap text.pvl{font-size:9px;fill:#222}
#treemap .rest rect{opacity:.55}
#treemap rect.pv{stroke:rgba(255,255,255,.7);stroke-width:.6;opacity:.55;pointer-events:none}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.shared{background:#e3f1e6}.only-a{background:#fbe3e1}.only-b{background:#e1ebfb}
input.filter{margin:4px 0 6px;padding:3px 6px;width:280px;border:1px solid #c6ccd4;border-radius:4px}
.heat td{text-align:center;font-size:12px;font-variant-numeric:tabular-nums}
.more{color:#5b6573;font-size:12px}
@media print{body{background:#fff;-webkit-print-color-adjust:exact;print-color-adjust:exact}main{max-width:none;padding:0}section{border:none;padding:4px 0}
 input.filter,#crumbs a{display:none}}
"""


def esc(value: Any) -> str:
    """Text or attribute value: every string from an image goes through here."""
    return html.escape("" if value is None else str(value), quote=True)


def size(n: int | None) -> str:
    return "-" if n is None else human_size(n)


def signed(n: int | None) -> str:
    return "-" if n is None else human_size(n, signed=True)


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def value(v: Any) -> str:
    """A free-form value (a config entry: a string, list or mapping) as text."""
    if v is None or isinstance(v, str):
        return "" if v is None else v
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def short(digest: str | None, n: int = 12) -> str:
    if not digest:
        return "-"
    algo, _, hexpart = digest.partition(":")
    return hexpart[:n] if hexpart else digest[:n]


def section(title: str, body: str, *, id: str | None = None) -> str:
    ident = f' id="{esc(id)}"' if id else ""
    return f"<section{ident}><h2>{esc(title)}</h2>{body}</section>"


def kv(pairs: Iterable[tuple[str, Any]]) -> str:
    """Facts as a definition list; values are escaped."""
    return '<dl class="kv">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs) + "</dl>"


def figures(items: Iterable[tuple[str, str]]) -> str:
    return '<div class="figs">' + "".join(
        f'<div class="fig"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for k, v in items) + "</div>"


def table(head: Sequence[str], rows: Sequence[Sequence[Any]], *, numeric: Iterable[int] = (), paths: Iterable[int] = (),
          id: str | None = None, filter: bool = False, limit: int = ROW_LIMIT, classes: Sequence[str] | None = None) -> str:
    """A table of escaped cells; ``numeric`` / ``paths`` are column indexes; ``filter`` adds
    a box that hides the rows not containing its text (the page script)."""
    if not rows:
        return '<p class="more">none</p>'
    num, pth = set(numeric), set(paths)

    def cls(i: int) -> str:
        return ' class="n"' if i in num else ' class="p"' if i in pth else ""

    ident = f' id="{esc(id)}"' if id else ""
    out = []
    if filter and id:
        out.append(f'<input class="filter" type="search" placeholder="filter rows" data-table="{esc(id)}">')
    out.append(f"<table{ident}><thead><tr>" + "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(head))
               + "</tr></thead><tbody>")
    for k, row in enumerate(rows[:limit]):
        rc = f' class="{esc(classes[k])}"' if classes and classes[k] else ""
        out.append(f"<tr{rc}>" + "".join(f"<td{cls(i)}>{esc(c)}</td>" for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    if len(rows) > limit:
        out.append(f'<p class="more">{len(rows) - limit} more rows in the JSON document (--json)</p>')
    return "".join(out)


# Rows filtered by their text; the treemap's drill-down (see svg.treemap). Nothing here loads anything.
SCRIPT = """
document.querySelectorAll('input.filter').forEach(function(box){
  var t=document.getElementById(box.dataset.table);
  box.addEventListener('input',function(){
    var q=box.value.toLowerCase();
    t.querySelectorAll('tbody tr').forEach(function(r){
      r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':'';
    });
  });
});
(function(){
  var svg=document.getElementById('treemap');
  if(!svg)return;
  var crumbs=document.getElementById('crumbs');
  function show(id){
    svg.querySelectorAll('g.level').forEach(function(g){g.style.display=g.id===id?'':'none';});
    var chain=[],g=document.getElementById(id);
    while(g){chain.unshift(g);g=g.dataset.parent?document.getElementById(g.dataset.parent):null;}
    crumbs.textContent='';
    chain.forEach(function(level,i){
      if(i)crumbs.appendChild(document.createTextNode(' \\u203a '));
      var name=i?level.dataset.name:'/';
      if(i===chain.length-1){var b=document.createElement('b');b.textContent=name;crumbs.appendChild(b);}
      else{var a=document.createElement('a');a.textContent=name;
        a.addEventListener('click',function(){show(level.id);});crumbs.appendChild(a);}
    });
    crumbs.dataset.level=id;
  }
  svg.querySelectorAll('g.dir').forEach(function(n){
    n.addEventListener('click',function(){show(n.dataset.target);});
  });
  show('tm-0');
})();
"""


def page(title: str, subtitle: str, sections: Iterable[str], *, kind: str) -> str:
    """The whole file: head with the CSP and style, the sections, the script."""
    body = "".join(sections)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f'<body data-report="{esc(kind)}"><main><h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p>'
        f"{body}</main><script>{SCRIPT}</script></body></html>\n"
    )
