"""Alpine's database, ``lib/apk/db/installed``: one ``X:value`` line per field,
packages separated by blank lines (``P`` name, ``V`` version, ``A`` arch,
``I`` installed bytes)."""

from __future__ import annotations

from . import Package


def read_installed(path: str, data: bytes) -> list[Package]:
    out = []
    fields: dict[str, str] = {}
    for line in (*data.decode("utf-8", "replace").splitlines(), ""):
        if line.strip():
            if len(line) > 2 and line[1] == ":" and line[0] not in fields:
                fields[line[0]] = line[2:].strip()
            continue
        name, version = fields.get("P"), fields.get("V")
        if name and version:
            size = fields.get("I", "")
            out.append(Package("apk", name, version, name, path, fields.get("A") or None,
                               int(size) if size.isdigit() else None))
        fields = {}
    return out
