"""Byte counts for people: one spelling everywhere (decimal units, as dive
and docker print them, so a size in a CI message reads the same as in
`inspect`) and one parser for sizes in config files (go-humanize's, as dive
reads them)."""

from __future__ import annotations

import math
import re
from typing import Any


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
