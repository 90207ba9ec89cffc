"""dpkg's database: ``var/lib/dpkg/status`` and distroless ``status.d/NAME``.

Both are deb822 stanzas (``Field: value``, continuation lines indented,
stanzas separated by blank lines). A package counts when its ``Status``
says its files are on disk (not ``not-installed`` or ``config-files``);
distroless stanzas carry no ``Status`` and count. ``Installed-Size`` is in
KiB.
"""

from __future__ import annotations

from collections.abc import Iterator

from . import Package

_GONE = ("not-installed", "config-files")


def stanzas(text: str) -> Iterator[dict[str, str]]:
    """deb822 paragraphs as dicts (first-line values; continuation lines are not needed here)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
                fields = {}
            continue
        if line[0] in " \t" or ":" not in line:
            continue
        key, _, value = line.partition(":")
        fields[key.strip().lower()] = value.strip()
    if fields:
        yield fields


def read_status(path: str, data: bytes, *, distroless: bool = False) -> list[Package]:
    out = []
    for f in stanzas(data.decode("utf-8", "replace")):
        name, version = f.get("package"), f.get("version")
        if not name or not version:
            continue
        status = f.get("status")
        if status is None and not distroless:
            continue
        if status is not None and status.split()[-1:] and status.split()[-1] in _GONE:
            continue
        arch = f.get("architecture") or None
        size = f.get("installed-size", "")
        out.append(Package("deb", name, version, f"{name}:{arch}" if arch else name, path, arch,
                           int(size) * 1024 if size.isdigit() else None))
    return out
