"""Plain-text renderings for a terminal."""

from __future__ import annotations

from ..analysis.inspect import InspectReport
from ..layer.entry import CONTENT_KINDS
from ..units import human_size
from .style import CHANGE_STYLE, Paint, capped, finish

LIMIT = 10  # rows per list in the text, unless --all
CHANGES_LIMIT = 50  # changes per layer in the text, unless --all


def short_digest(d: str | None) -> str:
    if not d:
        return "-"
    algo, _, hexpart = d.partition(":")
    return hexpart[:12] if hexpart else d[:12]


def _waste_text(w, paint: Paint, limit: int | None) -> list[str]:
    out = [
        "",
        f"Efficiency: {w.efficiency:.2%}   wasted: {paint(human_size(w.wasted_bytes), 'yellow')} "
        f"({w.wasted_bytes:,} bytes) of {human_size(w.total_bytes)} stored in files   "
        f"user layers wasted: {w.user_wasted_ratio:.2%}",
        f"            dive's figures: efficiency {w.dive_efficiency:.2%}, wasted {human_size(w.dive_wasted_bytes)}",
    ]
    reasons = ", ".join(f"{r} {human_size(b)}" for r, b in w.by_reason.items() if b)
    if reasons:
        out.append(f"            by reason: {reasons}")
        out.append("")
        out.append(paint(f"  {'wasted':>9}  {'reason':<14} {'layers':<10} path", "bold"))
        out += capped([f"  {paint.rjust(human_size(t.bytes), 9, 'yellow')}  {t.reason:<14} "
                       f"{','.join(map(str, t.layers)):<10} /{t.path}" for t in w.top[:limit]], len(w.top), limit)
    if w.duplicates:
        out.append("")
        out.append(f"Duplicate content: {paint(human_size(w.duplicate_bytes), 'yellow')} savable by hardlinking "
                   f"or dedup ({len(w.duplicates)} groups)")
        dup_limit = None if limit is None else 5
        out += capped([f"  {paint.rjust(human_size(d.savable_bytes), 9, 'yellow')}  {len(d.paths)} copies: "
                       + ", ".join("/" + p for p in d.paths[:3]) + (" …" if len(d.paths) > 3 else "")
                       for d in w.duplicates[:dup_limit]], len(w.duplicates), dup_limit)
    return out


def _one_line(s: str | None, width: int) -> str:
    if not s:
        return ""
    s = " ".join(s.split())
    for prefix, keep in (("/bin/sh -c #(nop) ", ""), ("/bin/sh -c ", "RUN "), ("RUN /bin/sh -c ", "RUN ")):
        if s.startswith(prefix):
            s = keep + s[len(prefix):]
            break
    return s if len(s) <= width else s[: width - 1] + "…"


def _verified(report: InspectReport) -> str:
    if not report.verified:
        return "no (--no-verify)"
    if report.legacy_id is not None:
        return "the id chain and layer files only (a pre-1.10 archive names no digests)"
    return "all blob digests and diff_ids"


def inspect_text(report: InspectReport, *, width: int = 120, color: bool = False, all_rows: bool = False) -> str:
    """The summary, one row per layer (every layer: they are the point), and the waste."""
    paint = Paint(color)
    out = [
        f"Image:      {report.ref or report.path} ({report.format})",
        f"Manifest:   {report.manifest_digest or '- (no manifest in a legacy docker-archive)'}",
        f"Config:     {report.config_digest or f'- (pre-1.10 docker-archive: no config; image id {report.legacy_id})'}",
        f"Platform:   {report.platform or '-'}",
        f"Size:       {human_size(report.size)} uncompressed, {human_size(report.compressed_size)} stored"
        f" ({report.size:,} / {report.compressed_size:,} bytes)",
        f"Verified:   {_verified(report)}",
        "",
    ]
    header = f"{'#':>3}  {'digest':<12}  {'size':>9}  {'stored':>9}  {'comp':<5}  {'entries':>7}  created_by"
    out.append(paint(header, "bold"))
    fixed = len(header) - len("created_by")
    for layer in report.layers:
        entries = "-" if layer.entries is None else f"{layer.entries:,}"
        comp = layer.compression + ("*" if layer.foreign else "")
        out.append(
            f"{layer.index:>3}  {short_digest(layer.digest):<12}  {human_size(layer.size):>9}  "
            f"{human_size(layer.compressed_size):>9}  {comp:<5}  {entries:>7}  "
            f"{_one_line(layer.created_by, max(20, width - fixed))}"
        )
    if any(layer.foreign for layer in report.layers):
        out.append("  * foreign layer: blob not in the image, not fetched")
    if report.waste is not None:
        out.extend(_waste_text(report.waste, paint, None if all_rows else LIMIT))
    for w in report.warnings:
        out.append(f"{paint('warning:', 'yellow')} {w}")
    return finish(out)


_CHANGE_LETTER = {"added": "A", "modified": "M", "metadata": "m", "deleted": "D", "opaque": "O"}
_TYPE_CHAR = {"file": "-", "dir": "d", "symlink": "l", "hardlink": "-", "char": "c", "block": "b", "fifo": "p"}


def changes_text(report, only: int | None = None, *, color: bool = False, all_rows: bool = False) -> str:
    paint = Paint(color)
    limit = None if all_rows else CHANGES_LIMIT
    out = ["Legend: A added, M modified, m metadata only (a full copy), D deleted, O opaque dir (lower content hidden)"]
    for d in report.layers:
        if only is not None and d.index != only:
            continue
        out.append("")
        out.append(paint(f"Layer {d.index}  {short_digest(d.digest)}  {_one_line(d.created_by, 90)}", "bold"))
        if not d.changes:
            out.append("  (no changes)")
        rows = []
        for c in d.changes[:limit]:
            extra = f"  (removes {paint(human_size(c.removed_bytes), 'red')})" if c.removed_bytes else ""
            size = human_size(c.size) if c.type in CONTENT_KINDS else ""
            letter = _CHANGE_LETTER[c.change]
            rows.append(f"  {paint(letter, CHANGE_STYLE[letter])}  {paint.ljust('/' + c.path, 60, CHANGE_STYLE[letter])} "
                        f"{c.type:<8} {size:>9}{extra}")
        out += capped(rows, len(d.changes), limit)
        for w in d.warnings:
            out.append(f"  {paint('warning:', 'yellow')} {w.code}: /{w.path}: {w.message}")
    return finish(out)


def mode_string(kind: str, mode: int) -> str:
    bits = "rwxrwxrwx"
    s = [_TYPE_CHAR.get(kind, "?")] + [bits[i] if mode & (1 << (8 - i)) else "-" for i in range(9)]
    for idx, flag, on, off in ((3, 0o4000, "s", "S"), (6, 0o2000, "s", "S"), (9, 0o1000, "t", "T")):
        if mode & flag:
            s[idx] = on if s[idx] != "-" else off
    return "".join(s)


def ls_text(rows) -> str:
    out = []
    for path, node in rows:
        e = node.entry
        size = e.size if node.is_content else 0
        link = f" -> {e.link}" if e.link and e.kind == "symlink" else (f" => /{e.link}" if e.kind == "hardlink" else "")
        layer = "rw" if node.layer == "rw" else f"L{node.layer}"
        out.append(f"{mode_string(e.kind, e.mode)} {e.uid:>5}:{e.gid:<5} {size:>10}  {layer:>3}  /{path}{link}")
    return "\n".join(out) + ("\n" if out else "")


def overlay_text(diff) -> str:
    out = [f"{i.kind} /{i.path}" for i in diff.items]
    out.append("")
    out.append(f"copy-up: {human_size(diff.copy_up_bytes)} ({diff.copy_up_bytes:,} bytes) of image files copied into the "
               f"container layer ({len(diff.copied_up)} files)")
    for p, size in sorted(diff.copied_up, key=lambda x: -x[1])[:10]:
        out.append(f"  {human_size(size):>9}  /{p}")
    for w in diff.warnings:
        out.append(f"warning: {w.code}: /{w.path}: {w.message}")
    return "\n".join(out) + "\n"
