"""POSIX.1-2001 (pax) extended header records.

A pax extended header's data is a sequence of records ``"%d %s=%s\\n"`` where
the leading decimal is the length of the whole record **in bytes** (itself
included). Values are bytes: ``SCHILY.xattr.*`` values are raw xattr bytes
(NULs and invalid UTF-8 included) and ``hdrcharset=BINARY`` paths need not be
UTF-8, so nothing is decoded here except the keyword.
"""

from __future__ import annotations

import base64
import binascii

from ..errors import BadInputError

SCHILY_XATTR = "SCHILY.xattr."
LIBARCHIVE_XATTR = "LIBARCHIVE.xattr."


def parse_records(data: bytes, offset: int) -> list[tuple[str, bytes]]:
    """Split a pax header's data into ``(keyword, value)`` pairs, in order.

    Repeated keywords are all returned (GNU sparse 0.0 repeats
    ``GNU.sparse.offset`` / ``GNU.sparse.numbytes``). Trailing NUL padding is
    tolerated; anything else that is not a well-formed record raises
    :class:`BadInputError` naming ``offset`` (where ``data`` starts).
    """
    out: list[tuple[str, bytes]] = []
    pos = 0
    end = len(data)
    while pos < end:
        if data[pos] == 0 and not data[pos:].strip(b"\0"):
            break  # NUL padding after the last record
        sp = data.find(b" ", pos, pos + 24)
        field = data[pos:sp] if sp > pos else b""
        if not field.isdigit():
            raise BadInputError(f"bad pax record length at offset {offset + pos}")
        length = int(field)
        rec_end = pos + length
        if rec_end > end or length <= sp - pos + 1 or data[rec_end - 1] != 0x0A:
            raise BadInputError(f"bad pax record at offset {offset + pos}")
        eq = data.find(b"=", sp + 1, rec_end - 1)
        if eq <= sp + 1:
            raise BadInputError(f"bad pax record (no keyword=) at offset {offset + pos}")
        out.append((data[sp + 1 : eq].decode("utf-8", "surrogateescape"), data[eq + 1 : rec_end - 1]))
        pos = rec_end
    return out


def libarchive_xattr(key: str, value: bytes, offset: int) -> tuple[str, bytes]:
    """Decode a ``LIBARCHIVE.xattr.NAME=VALUE`` record.

    NAME is URL-encoded, VALUE base64 (libarchive omits the ``=`` padding).
    """
    quoted = key[len(LIBARCHIVE_XATTR) :].encode("utf-8", "surrogateescape")
    from urllib.parse import unquote_to_bytes  # rare (libarchive xattrs): not at start-up

    name = unquote_to_bytes(quoted).decode("utf-8", "surrogateescape")
    v = bytes(value).strip()
    try:
        raw = base64.b64decode(v + b"=" * (-len(v) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BadInputError(f"bad base64 in pax record {key!r} at offset {offset}") from None
    return name, raw
