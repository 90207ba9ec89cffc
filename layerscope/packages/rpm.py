"""RPM's database, ``rpmdb.sqlite`` (rpm 4.16+), read with the stdlib sqlite3.

The ``Packages`` table holds one header blob per package: big-endian
``il`` (index entries) and ``dl`` (data bytes), ``il`` entries of (tag,
type, offset, count), then the data. The bytes are opened in memory
(``Connection.deserialize``), never written to disk; a database left in
WAL mode is read as a rollback-journal one (its checkpointed content: what
the image holds without its ``-wal`` file).
"""

from __future__ import annotations

import struct

from . import BadDatabase, Package

NAME, VERSION, RELEASE, EPOCH, SIZE, ARCH, LONGSIZE = 1000, 1001, 1002, 1003, 1009, 1022, 5009
_INT32, _INT64, _STRING = 4, 5, 6
_ENTRY = struct.Struct(">iiii")
_WANTED = {NAME, VERSION, RELEASE, EPOCH, SIZE, ARCH, LONGSIZE}


def header_tags(blob: bytes) -> dict[int, object]:
    """The tags this module reads, from one header blob (``ValueError`` if malformed)."""
    if len(blob) < 8:
        raise ValueError("short header")
    il, dl = struct.unpack_from(">ii", blob)
    start = 8 + il * _ENTRY.size
    if il < 0 or dl < 0 or start + dl > len(blob):
        raise ValueError("header sizes out of range")
    data = memoryview(blob)[start:start + dl]
    out: dict[int, object] = {}
    for i in range(il):
        tag, kind, offset, count = _ENTRY.unpack_from(blob, 8 + i * _ENTRY.size)
        if tag not in _WANTED or not 0 <= offset < dl:
            continue
        if kind == _STRING:
            end = bytes(data[offset:]).find(b"\0")
            if end < 0:
                raise ValueError("unterminated string")
            out[tag] = bytes(data[offset:offset + end]).decode("utf-8", "replace")
        elif kind == _INT32 and count >= 1 and offset + 4 <= dl:
            out[tag] = struct.unpack_from(">I", data, offset)[0]
        elif kind == _INT64 and count >= 1 and offset + 8 <= dl:
            out[tag] = struct.unpack_from(">Q", data, offset)[0]
    return out


def read_rpmdb(path: str, data: bytes) -> tuple[list[Package], list[str]]:
    import sqlite3

    if data[18:20] == b"\x02\x02":  # WAL mode: read it as a plain database file
        data = data[:18] + b"\x01\x01" + data[20:]
    if not data.startswith(b"SQLite format 3\0"):
        raise BadDatabase("not a readable rpm sqlite database (no sqlite header); its packages are not compared")
    db = sqlite3.connect(":memory:")
    try:
        db.deserialize(data)
        rows = db.execute("SELECT blob FROM Packages").fetchall()
    except (sqlite3.Error, MemoryError, OverflowError) as e:  # deserialize says MemoryError for some garbage
        raise BadDatabase(f"not a readable rpm sqlite database ({e}); its packages are not compared") from None
    finally:
        db.close()
    out, warnings, bad = [], [], 0
    for (blob,) in rows:
        try:
            tags = header_tags(bytes(blob))
        except (ValueError, struct.error, TypeError):
            bad += 1
            continue
        name, version, release = tags.get(NAME), tags.get(VERSION), tags.get(RELEASE)
        if not (isinstance(name, str) and isinstance(version, str)):
            bad += 1
            continue
        full = f"{version}-{release}" if release else version
        if EPOCH in tags:
            full = f"{tags[EPOCH]}:{full}"
        arch = tags.get(ARCH) if isinstance(tags.get(ARCH), str) else None
        size = tags.get(LONGSIZE, tags.get(SIZE))
        out.append(Package("rpm", name, full, f"{name}.{arch}" if arch else name, path, arch,
                           size if isinstance(size, int) else None))
    if bad:
        warnings.append(f"/{path}: {bad} package header(s) could not be read; those packages are not compared")
    seen: dict[str, int] = {}
    for p in out:
        seen[p.key] = seen.get(p.key, 0) + 1
    if any(n > 1 for n in seen.values()):  # several versions of one package (kernels, gpg-pubkey)
        out = [Package(p.type, p.name, p.version, f"{p.key}@{p.version}", p.path, p.arch, p.size)
               if seen[p.key] > 1 else p for p in out]
    return out, warnings
