"""Plain-text renderings for a terminal."""

from __future__ import annotations

from ..analysis.inspect import InspectReport


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    step = 1000.0
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < step or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= step
    return f"{n} B"  # pragma: no cover


def short_digest(d: str | None) -> str:
    if not d:
        return "-"
    algo, _, hexpart = d.partition(":")
    return hexpart[:12] if hexpart else d[:12]


def _one_line(s: str | None, width: int) -> str:
    if not s:
        return ""
    s = " ".join(s.split())
    for prefix, keep in (("/bin/sh -c #(nop) ", ""), ("/bin/sh -c ", "RUN "), ("RUN /bin/sh -c ", "RUN ")):
        if s.startswith(prefix):
            s = keep + s[len(prefix):]
            break
    return s if len(s) <= width else s[: width - 1] + "…"


def inspect_text(report: InspectReport, *, width: int = 120) -> str:
    out = [
        f"Image:      {report.ref or report.path} ({report.format})",
        f"Manifest:   {report.manifest_digest or '- (no manifest in a legacy docker-archive)'}",
        f"Config:     {report.config_digest}",
        f"Platform:   {report.platform or '-'}",
        f"Size:       {human_size(report.size)} uncompressed, {human_size(report.compressed_size)} stored"
        f" ({report.size:,} / {report.compressed_size:,} bytes)",
        f"Verified:   {'all blob digests and diff_ids' if report.verified else 'no (--no-verify)'}",
        "",
    ]
    header = f"{'#':>3}  {'digest':<12}  {'size':>9}  {'stored':>9}  {'comp':<5}  {'entries':>7}  created_by"
    out.append(header)
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
    for w in report.warnings:
        out.append(f"warning: {w}")
    return "\n".join(out) + "\n"
