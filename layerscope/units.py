"""Human-readable byte counts, one spelling everywhere (decimal units, as
dive and docker print them), so a size in a CI message reads the same as in
`inspect`."""

from __future__ import annotations


def human_size(n: float | None, *, signed: bool = False) -> str:
    """``61786`` -> ``"61.8 kB"``; ``None`` -> ``"-"``; ``signed`` adds ``+``."""
    if n is None:
        return "-"
    n = int(n)
    sign = ("+" if n >= 0 else "-") if signed else ("-" if n < 0 else "")
    value = float(abs(n))
    if value < 1000:
        return f"{sign}{int(value)} B"
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        value /= 1000.0
        if value < 1000:
            break
    return f"{sign}{value:.1f} {unit}"
