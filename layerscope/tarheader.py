"""The tar format's building blocks: header blocks, their fields, pax records.

One home for what both tar readers need: the outer-archive index
(``source/container.py``: names -> offsets of a docker-archive or
oci-archive) and the layer readers (``layer/tar.py``, the reference, and
``layer/tarscan.py``). Each reader keeps its own walk and policies; the
rules for decoding a block and its records live here. Imports ``errors``
only (tests/test_layout.py places it between the leaves and ``source/``).

Layout of a 512-byte header block (ustar / pax; old GNU differs after 345)::

    0 name[100]  100 mode[8]  108 uid[8]  116 gid[8]  124 size[12]
    136 mtime[12]  148 chksum[8]  156 typeflag  157 linkname[100]
    257 magic[6] version[2]  265 uname[32]  297 gname[32]
    329 devmajor[8]  337 devminor[8]  345 prefix[155]  500 pad[12]

Old GNU: 345 atime[12] 357 ctime[12] 369 offset[12] 381 longnames[4]
386 sparse[4] of (offset[12], numbytes[12]), 482 isextended, 483 realsize[12].

A POSIX.1-2001 (pax) extended header's data is a sequence of records
``"%d %s=%s\\n"`` where the leading decimal is the length of the whole record
**in bytes** (itself included). Values are bytes: ``SCHILY.xattr.*`` values
are raw xattr bytes (NULs and invalid UTF-8 included) and
``hdrcharset=BINARY`` paths need not be UTF-8, so nothing is decoded here
except the keyword.
"""

from __future__ import annotations

import math
import struct
from zlib import adler32

from .errors import BadInputError

BLOCK_SIZE = 512
ZERO_BLOCK = bytes(BLOCK_SIZE)
MAX_META_SIZE = 16 << 20  # pax / GNU long-name data kept in memory: refuse more

# name, mode+uid+gid, size, mtime, chksum, typeflag, linkname, magic+version,
# uname+gname, devmajor, devminor, prefix, pad (mode/uid/gid and uname/gname are
# kept together: each pair is one cache lookup per member)
HEADER = struct.Struct("100s24s12s12s8sc100s8s64s8s8s155s12x")
USTAR = b"ustar\x00"  # POSIX magic (+ version "00"); old GNU has "ustar  \0"
_SIGNED = struct.Struct("148b8x356b")


def show(name: str) -> str:
    """A member name for a one-line error message: quoted, escaped, bounded."""
    return repr(name if len(name) <= 120 else name[:117] + "...")


def base256(field: bytes) -> int:
    """GNU base-256: high bit set; the next bit is the sign (two's complement)."""
    bits = len(field) * 8 - 1
    n = int.from_bytes(field, "big") & ((1 << bits) - 1)
    if field[0] & 0x40:
        n -= 1 << bits
    return n


def number(field: bytes, what: str, offset: int) -> int:
    """A numeric header field: octal (space/NUL terminated, maybe empty) or base-256."""
    if field[0] & 0x80:
        return base256(field)
    i = field.find(0)
    s = (field if i < 0 else field[:i]).strip(b" ")
    if not s:
        return 0
    if s.isdigit():
        try:
            return int(s, 8)
        except ValueError:
            pass
    raise BadInputError(f"bad {what} field {bytes(field)!r} in tar header at offset {offset}")


def cstr(field: bytes) -> bytes:
    """A string field: up to its first NUL, if any."""
    i = field.find(0)
    return field if i < 0 else field[:i]


def checksum_ok(blk: bytes | memoryview, stored: bytes) -> bool:
    """Does the chksum field ``stored`` match the block, in any spelling writers use?

    Octal, NUL and/or space terminated, of the unsigned byte sum or (old
    writers) the signed one; the chksum field itself counts as 8 spaces.
    """
    # Exact unsigned byte sum via adler32's low half (sum mod 65521), over
    # pieces short enough (<= 256 bytes) that the sum cannot wrap: ~5x
    # faster than sum(blk).
    s = (
        (adler32(blk[:148], 0) & 0xFFFF)
        + (adler32(blk[156:356], 0) & 0xFFFF)
        + (adler32(blk[356:], 0) & 0xFFFF)
        + 256
    )
    i = stored.find(0)
    c = (stored if i < 0 else stored[:i]).strip(b" ")
    if c.isdigit():
        try:
            want = int(c, 8)
        except ValueError:
            return False
        return want == s or want == sum(_SIGNED.unpack_from(blk)) + 256
    return False


def prefixed(name: bytes, prefix: bytes, blk: bytes | memoryview) -> bytes:
    """A ustar member's name with its ``prefix`` field (non-empty) put in front."""
    if blk[508:512] == b"tar\x00":  # star: 131-byte prefix, then atime/ctime
        prefix = prefix[:131]
    prefix = cstr(prefix)
    return prefix + b"/" + name if prefix else name


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


def decimal(value: bytes, key: str, offset: int, *, allow_float: bool = False):
    """A pax record's number (``size``, ``uid``, ``mtime``...): decimal, a float where allowed."""
    v = bytes(value).strip()
    try:
        if allow_float:
            f = float(v)
            if not math.isfinite(f):
                raise ValueError
            return f
        if not v.isdigit():
            raise ValueError
        return int(v)
    except ValueError:
        raise BadInputError(f"bad value {v[:40]!r} for pax {key!r} at offset {offset}") from None
