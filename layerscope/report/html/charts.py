"""Charts drawn on the Python side: bars and stacked bars (HTML), the treemap (SVG), a heatmap (a table).

The layout is computed here, not in the browser: the page then holds only
shapes (no data to parse, no layout code to trust), prints as it shows, and
the tests can check the geometry without a browser. The treemap is
squarified (Bruls, Huizing, van Wijk), one ``<g class="level">`` per
directory of the aggregate, shown one at a time by the page script.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .page import esc, size

W, H = 1000.0, 440.0  # the treemap's viewBox; areas are proportional to sizes within a level


def layer_colour(layer: Any) -> str:
    """One colour per layer index, far apart for neighbours (golden-angle hues); grey for none."""
    if layer is None:
        return "#b0b6bf"
    if isinstance(layer, str):
        return "#8d6e63"  # a container's read/write layer
    return f"hsl({(int(layer) * 137.508 + 200) % 360:.0f},58%,62%)"


def bars(rows: Sequence[tuple[str, float | None, str]], *, id: str | None = None, row_class: str = "bar",
         notes: Sequence[str | None] | None = None, colours: Sequence[str | None] | None = None,
         scales: Sequence[float] | None = None) -> str:
    """Horizontal bars: (label, value, shown value) per row, widths relative to the largest
    value (or to each row's own scale); a negative value is drawn red, a note goes on a line below."""
    largest = max((abs(v) for _, v, _ in rows if v is not None), default=0)
    ident = f' id="{esc(id)}"' if id else ""
    out = [f'<div class="bars"{ident}>']
    for k, (label, v, shown) in enumerate(rows):
        top = scales[k] if scales else largest
        width = 100.0 * abs(v) / top if v is not None and top else 0.0
        cls = "fill neg" if v is not None and v < 0 else "fill"
        colour = colours[k] if colours else None
        style = f"width:{width:.2f}%" + (f";background:{colour}" if colour else "")
        out.append(f'<span class="lbl" title="{esc(label)}">{esc(label)}</span>'
                   f'<span class="track {esc(row_class)}" data-value="{esc(v)}"><span class="{cls}" style="{style}">'
                   f'</span></span><span class="val">{esc(shown)}</span>')
        note = notes[k] if notes else None
        if note:
            out.append(f'<span></span><span class="cmd">{esc(note)}</span>')
    out.append("</div>")
    return "".join(out)


def stacked(rows: Sequence[tuple[str, Sequence[tuple[int, str, str]], str]], *, id: str, row_class: str) -> str:
    """Horizontal bars of coloured segments: (label, [(value, colour, title)], shown value) per row,
    each row's total on the scale of the largest total (what a whole is made of, side by side)."""
    largest = max((sum(v for v, _, _ in segs) for _, segs, _ in rows), default=0) or 1
    out = [f'<div class="bars" id="{esc(id)}">']
    for label, segs, shown in rows:
        left, parts = 0.0, []
        for v, colour, title in segs:
            width = 100.0 * v / largest
            parts.append(f'<span class="fill seg" style="left:{left:.2f}%;width:{width:.2f}%;background:{colour}" '
                         f'data-value="{v}" title="{esc(title)}"></span>')
            left += width
        out.append(f'<span class="lbl" title="{esc(label)}">{esc(label)}</span>'
                   f'<span class="track {esc(row_class)}" data-value="{sum(v for v, _, _ in segs)}">{"".join(parts)}'
                   f'</span><span class="val">{esc(shown)}</span>')
    out.append("</div>")
    return "".join(out)


def threshold_bar(v: float, threshold: float, shown: str, colour: str) -> str:
    """One bar with its threshold marked, both on the scale of the larger of the two (+10%);
    with a negative one (a shrinking image's growth) zero is in the middle."""
    top = max(abs(v), abs(threshold)) * 1.1 or 1.0
    if min(v, threshold) < 0:
        left = 50 + 50 * min(v, 0) / top
        width, mark = 50 * abs(v) / top, 50 + 50 * threshold / top
    else:
        left, width, mark = 0.0, 100 * v / top, 100 * threshold / top
    return (f'<span class="track rule-bar" data-value="{esc(v)}" data-threshold="{esc(threshold)}">'
            f'<span class="fill" style="left:{left:.2f}%;width:{width:.2f}%;background:{colour}"></span>'
            f'<span class="mark" style="left:{mark:.2f}%" title="threshold"></span></span>'
            f'<span class="val">{esc(shown)}</span>')


# ---- the treemap ------------------------------------------------------------------------

def squarify(sizes: Sequence[float], x: float, y: float, w: float, h: float) -> list[tuple[float, float, float, float]]:
    """Rectangles (x, y, w, h) for ``sizes`` (positive, largest first) filling the box,
    each area proportional to its size, in rows that keep the aspect ratios near 1."""
    total = sum(sizes)
    if not sizes or total <= 0 or w <= 0 or h <= 0:
        return []
    k = w * h / total
    areas = [s * k for s in sizes]
    out: list[tuple[float, float, float, float]] = []
    i, n = 0, len(areas)
    while i < n:
        side = min(w, h)
        row_sum, row_min, row_max = areas[i], areas[i], areas[i]
        j = i + 1
        worst = _worst(row_sum, row_min, row_max, side)
        while j < n:
            a = areas[j]
            s, lo, hi = row_sum + a, min(row_min, a), max(row_max, a)
            new = _worst(s, lo, hi, side)
            if new > worst:
                break
            row_sum, row_min, row_max, worst = s, lo, hi, new
            j += 1
        if j == n:  # the last row fills what is left exactly (no rounding gap)
            row_sum = w * h
        if w >= h:  # a column on the left
            cw = row_sum / h
            yy = y
            for a in areas[i:j]:
                rh = a / cw if j < n else h * a / sum(areas[i:j])
                out.append((x, yy, cw, rh))
                yy += rh
            x, w = x + cw, w - cw
        else:  # a row on top
            rh = row_sum / w
            xx = x
            for a in areas[i:j]:
                rw = a / rh if j < n else w * a / sum(areas[i:j])
                out.append((xx, y, rw, rh))
                xx += rw
            y, h = y + rh, h - rh
        i = j
    return out


def _worst(total: float, lo: float, hi: float, side: float) -> float:
    s2, side2 = total * total, side * side
    return max(side2 * hi / s2, s2 / (side2 * lo))


def _name(node: dict) -> str:
    if node["type"] == "rest":
        return f"({node['files']} small files)"
    path = node["path"]
    return path.rsplit("/", 1)[-1] or "/"


PREVIEW_MIN = 60.0  # px² (of the viewBox): smaller children are not previewed in their directory's box


def _preview(node: dict, x: float, y: float, w: float, h: float) -> str:
    """A directory's children, faint, inside its box below the label: what opening it shows."""
    top = 30.0 if h > 60 else 16.0
    if w < 30 or h < top + 14:
        return ""
    kids = [c for c in node.get("children", ()) if c["size"] > 0]
    rects = squarify([c["size"] for c in kids], x + 2, y + top, w - 4, h - top - 2)
    out = []
    for c, (rx, ry, rw, rh) in zip(kids, rects):
        if rw * rh < PREVIEW_MIN:
            continue
        out.append(f'<rect class="pv" x="{rx:.1f}" y="{ry:.1f}" width="{rw:.1f}" height="{rh:.1f}" '
                   f'fill="{layer_colour(c.get("layer"))}"/>')
        if rw > 40 and rh > 14:  # named where a name fits: a box that is most of its parent says little alone
            out.append(f'<text class="pvl" x="{rx + 3:.1f}" y="{ry + 11:.1f}">{esc(_fit(_name(c), rw, 5.4))}</text>')
    return "".join(out)


def _fit(name: str, width: float, char: float) -> str:
    """``name`` cut with an ellipsis to what ``width`` holds at ``char`` per character."""
    fit = max(int((width - 6) / char), 1)
    return name if len(name) <= fit else name[: max(fit - 1, 1)] + "\u2026"


def treemap(root: dict) -> str:
    """The aggregate (inspect's ``filesystem.root``) as one SVG: a level per directory."""
    levels: list[str] = []
    counter = [0]

    def level(node: dict, ident: str, parent: str | None) -> None:
        kids = [c for c in node.get("children", ()) if c["size"] > 0]
        rects = squarify([c["size"] for c in kids], 0.0, 0.0, W, H)
        parts: list[str] = []
        todo: list[tuple[dict, str]] = []
        for c, (x, y, w, h) in zip(kids, rects):
            name = _name(c)
            title = f"{c['path']}{' (rest)' if c['type'] == 'rest' else ''}\n{size(c['size'])}, {c['files']} files" + (
                f", mostly layer {c['layer']}" if c.get("layer") is not None else "")
            attrs = f' data-size="{c["size"]}" data-path="{esc(c["path"])}" data-layer="{esc(c.get("layer"))}"'
            cls = c["type"]
            if c["type"] == "dir" and any(k["size"] > 0 for k in c.get("children", ())):
                counter[0] += 1
                target = f"tm-{counter[0]}"
                todo.append((c, target))
                attrs += f' data-target="{target}"'
            elif c["type"] == "dir":
                cls = "leaf"
            label = ""
            if w > 46 and h > 15:
                label = f'<text x="{x + 3:.1f}" y="{y + 13:.1f}">{esc(_fit(name, w, 6.4))}</text>'
                if h > 30 and w > 60:
                    label += f'<text class="sz" x="{x + 3:.1f}" y="{y + 26:.1f}">{esc(size(c["size"]))}</text>'
            inner = _preview(c, x, y, w, h) if c["type"] == "dir" else ""
            parts.append(f'<g class="node {esc(cls)}"{attrs}><rect x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" '
                         f'height="{h:.2f}" fill="{layer_colour(c.get("layer"))}"><title>{esc(title)}</title></rect>'
                         f"{inner}{label}</g>")
        up = f' data-parent="{parent}"' if parent else ""
        hidden = "" if parent is None else ' style="display:none"'  # until drilled into
        levels.append(f'<g class="level" id="{ident}" data-name="{esc(_name(node))}"{up}{hidden}>'
                      f'{"".join(parts)}</g>')
        for c, target in todo:
            level(c, target, ident)

    level(root, "tm-0", None)
    return (f'<p id="crumbs"></p><svg id="treemap" viewBox="0 0 {W:.0f} {H:.0f}" role="img" '
            f'aria-label="the final filesystem by size">{"".join(levels)}</svg>')


def legend(layers: Iterable[Any], labels: dict[Any, str] | None = None) -> str:
    return '<div class="legend">' + "".join(
        f'<span><i class="sw" style="background:{layer_colour(l)}"></i>{esc((labels or {}).get(l, f"layer {l}"))}</span>'
        for l in layers) + "</div>"


# ---- the heatmap ------------------------------------------------------------------------

def heatmap(matrix: Sequence[Sequence[int]], names: Sequence[str], *, id: str) -> str:
    """An n x n table of shared bytes, shaded by the share of the row image's own bytes."""
    head = "".join(f'<th class="n" title="{esc(nm)}">{k}</th>' for k, nm in enumerate(names))
    rows = []
    for i, row in enumerate(matrix):
        own = row[i] if i < len(row) else 0
        cells = []
        for j, v in enumerate(row):
            share = v / own if own else 0.0
            light = 97 - 55 * min(share, 1.0)
            cells.append(f'<td class="cell" style="background:hsl(210,60%,{light:.0f}%)" data-bytes="{v}" '
                         f'title="{esc(names[i])} / {esc(names[j])}: {esc(size(v))}">{esc(size(v))}</td>')
        rows.append(f'<tr><th title="{esc(names[i])}">{i}</th>{"".join(cells)}</tr>')
    return f'<table class="heat" id="{esc(id)}"><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
