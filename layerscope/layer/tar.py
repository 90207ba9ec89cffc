"""Streaming tar reader: a layer stream in, :class:`Entry` records out.

The reference reader: :mod:`.tarscan` runs the C scanner when the package
has it and hands it over to this module for what C does not take; both
give the same entries and errors. The rules live here.

Reads ustar, POSIX pax and GNU (incl. old-GNU and pax sparse) archives from any
object with ``read(n)``; never seeks, never extracts, never holds more than one
1 MiB slice of file content. Each regular file's content is hashed with
XXH3-128 on the way through. The header block layout, its fields and the pax
record syntax are in :mod:`layerscope.tarheader`.

The reader stops right after the end-of-archive marker (two zero blocks, or
one zero block and EOF): the caller owns the stream and drains the rest.

Policy choices worth knowing (each one covered by a test):

* a bad header checksum, non-tar data, truncation anywhere, a malformed pax
  record, a multi-volume member ('M') raise :class:`BadInputError` with the
  byte offset; but EOF right after a whole member (its padding included or
  not), with no end-of-archive block at all, ends the archive (as in Go's archive/tar, which docker and
  containerd use; `umoci insert` writes such layers) with a stream note
  ``no-end-marker``: with verification on, a blob cut there fails its digest;
* a lone zero block followed by a non-zero block is an error (Go's
  archive/tar, which unpacks layers in docker/containerd, refuses it too);
* directories, links, devices and fifos never carry content, but a header of
  those types with a nonzero size has that many data bytes consumed; the entry
  keeps ``size`` 0 and gets the defect ``"ignored-data"`` because tar readers
  disagree here (Go and Python skip nothing, GNU tar skips for some types);
* unknown type flags are regular files (POSIX), their data hashed; a '\\0'
  (pre-POSIX) member whose name ends in "/" is a directory, as Go and tarfile
  read it;
* global pax headers ('g') are read through and ignored (tarfile applies them
  to every later member; Go's archive/tar does not, nor do we);
* pax/GNU long-name data is held in memory, so its total per member is capped
  (``MAX_META_SIZE``), and a sparse file may expand to ``MAX_SPARSE_SIZE`` at
  most (its holes are hashed as zeros).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol
from zlib import adler32

from xxhash import xxh3_128, xxh3_128_digest

from ..errors import BadInputError
from ..tarheader import (
    BLOCK_SIZE,
    HEADER,
    MAX_META_SIZE,
    USTAR,
    ZERO_BLOCK,
    base256,
    checksum_ok,
    cstr,
    decimal,
    number,
    parse_records,
    prefixed,
    show,
)
from .entry import BLOCK as _BLOCK_KIND
from .entry import CHAR, DIR, FIFO, FILE, HARDLINK, NO_XATTRS, SYMLINK, Entry
from .paths import normalize_link, normalize_path
from .pax import LIBARCHIVE_XATTR, SCHILY_XATTR, libarchive_xattr

__all__ = ["BLOCK_SIZE", "READ_SIZE", "Readable", "iter_entries"]

READ_SIZE = 256 << 10  # content is read (and hashed) in slices of this size
MAX_SPARSE_SIZE = 1 << 40  # expanded size of a sparse file: refuse more (1 TiB of zeros to hash)
# Extended attributes are kept with their entry for the whole run, so a hostile pax header (up to
# MAX_META_SIZE) of a million tiny xattrs must not become a million-key dict per member: real
# files carry a handful (capabilities, SELinux label, ACLs); Linux caps one value at 64 KiB.
MAX_XATTRS = 128
MAX_XATTR_BYTES = 1 << 20  # names and values of one member's xattrs together
IGNORED_DATA = "ignored-data"
NO_END_MARKER = "no-end-marker"

_ZEROS = memoryview(bytes(READ_SIZE))
_EMPTY_DIGEST = xxh3_128_digest(b"")

_KINDS = {
    b"0": FILE,
    b"\x00": FILE,
    b"7": FILE,
    b"1": HARDLINK,
    b"2": SYMLINK,
    b"3": CHAR,
    b"4": _BLOCK_KIND,
    b"5": DIR,
    b"6": FIFO,
    b"D": DIR,  # GNU dumpdir: a directory whose data lists its contents
    b"S": FILE,  # old GNU sparse
}
# Types that are not members of their own: they describe the next one, or nothing.
_META = frozenset((b"x", b"g", b"L", b"K", b"V", b"M"))
_NO_DEFECTS: tuple[str, ...] = ()
_MAP_IN_DATA: list = []  # sentinel: pax sparse 1.0 keeps its map at the head of the data


class Readable(Protocol):
    def read(self, n: int, /) -> bytes | memoryview: ...


def _truncated(what: str, offset: int) -> BadInputError:
    return BadInputError(f"truncated tar: {what} at offset {offset}")


def _bad_checksum(offset: int) -> BadInputError:
    return BadInputError(
        f"not a tar archive or corrupt tar: bad header checksum at offset {offset}"
        if offset == 0
        else f"corrupt tar: bad header checksum at offset {offset}"
    )


def _read_exact(read, n: int, what: str, offset: int):
    buf = read(n)
    if len(buf) < n:
        raise _truncated(what, offset + len(buf))
    return buf


def _skip(read, n: int, offset: int, what: str):
    """Consume ``n`` bytes (a padded data area) and return the next header block."""
    while n > READ_SIZE:
        _read_exact(read, READ_SIZE, what, offset)
        n -= READ_SIZE
        offset += READ_SIZE
    buf = read(n + BLOCK_SIZE)
    if len(buf) < n:
        raise _truncated(what, offset + len(buf))
    return buf[n:]


def _hash_big(read, size: int, padded: int, offset: int, hashing: bool, what: str):
    """Hash a file's content in READ_SIZE slices; return (digest, next header block)."""
    h = xxh3_128() if hashing else None
    left = size
    rem = padded
    while rem > READ_SIZE:
        # rem > READ_SIZE (a multiple of 512) implies a whole slice of content
        buf = _read_exact(read, READ_SIZE, what, offset)
        if h is not None:
            h.update(buf)
        left -= READ_SIZE
        rem -= READ_SIZE
        offset += READ_SIZE
    buf = read(rem + BLOCK_SIZE)
    if len(buf) < left:  # content cut short (only padding missing is the end of the stream: see below)
        raise _truncated(what, offset + len(buf))
    if h is not None:
        h.update(memoryview(buf)[:left])
        return h.digest(), buf[rem:]
    return None, buf[rem:]


def _hash_zeros(h, n: int) -> None:
    while n > READ_SIZE:
        h.update(_ZEROS)
        n -= READ_SIZE
    if n:
        h.update(_ZEROS[:n])


def _gnu_sparse_map(area: bytes | memoryview, count: int, what: str, offset: int):
    """(offset, numbytes) pairs of an old-GNU sparse header or extension block."""
    out = []
    for k in range(count):
        o = 24 * k
        if area[o] == 0:
            break
        out.append((number(area[o : o + 12], what, offset), number(area[o + 12 : o + 24], what, offset)))
    return out


def apply_pax(pax: dict[str, bytes], hpos: int, name: bytes, link: bytes | None, size: int, uid: int, gid: int,
              uname: str, gname: str, mtime: float):
    """A member's header fields with its pax records applied, plus its xattrs.

    One place for the pax rules, shared with the C scanner's decoding
    (tarscan.py). ``link`` is the GNU long link name (None: none); an empty
    pax value leaves the header's field alone. Returns ``(name, link, size,
    uid, gid, uname, gname, mtime, xattrs)``.
    """
    xattrs: dict[str, bytes] = {}
    v = pax.get("path")
    if v:
        name = v
    v = pax.get("GNU.sparse.name")
    if v:
        name = v
    v = pax.get("linkpath")
    if v:
        link = v
    v = pax.get("size")
    if v:
        size = decimal(v, "size", hpos)
    v = pax.get("uid")
    if v:
        uid = decimal(v, "uid", hpos)
    v = pax.get("gid")
    if v:
        gid = decimal(v, "gid", hpos)
    v = pax.get("uname")
    if v:
        uname = bytes(v).decode("utf-8", "surrogateescape")
    v = pax.get("gname")
    if v:
        gname = bytes(v).decode("utf-8", "surrogateescape")
    v = pax.get("mtime")
    if v:
        mtime = decimal(v, "mtime", hpos, allow_float=True)
    held = 0
    for key, v in pax.items():
        if key.startswith(SCHILY_XATTR):
            k, raw = key[len(SCHILY_XATTR) :], bytes(v)
        elif key.startswith(LIBARCHIVE_XATTR):
            k, raw = libarchive_xattr(key, v, hpos)
        else:
            continue
        xattrs[k] = raw
        held += len(k) + len(raw)
        if len(xattrs) > MAX_XATTRS or held > MAX_XATTR_BYTES:
            raise BadInputError(f"pax header at offset {hpos} carries more than {MAX_XATTRS} extended attributes "
                                f"or {MAX_XATTR_BYTES} bytes of them")
    return name, link, size, uid, gid, uname, gname, mtime, xattrs or NO_XATTRS


def _pax_sparse_map(pax: dict, pairs: list | None, offset: int) -> list[tuple[int, int]] | None:
    """The sparse map of a GNU pax 0.0 / 0.1 member, ``_MAP_IN_DATA`` for 1.0, else None."""
    if "GNU.sparse.major" in pax or "GNU.sparse.minor" in pax:
        major = pax.get("GNU.sparse.major", b"").strip()
        minor = pax.get("GNU.sparse.minor", b"").strip()
        if major == b"1" and minor == b"0":
            return _MAP_IN_DATA
        if major not in (b"0", b"") or minor not in (b"0", b"1", b""):
            raise BadInputError(
                f"unsupported GNU sparse format {major.decode('latin-1')}.{minor.decode('latin-1')}"
                f" at offset {offset}"
            )
    if "GNU.sparse.map" in pax:  # 0.1
        raw = bytes(pax["GNU.sparse.map"]).strip()
        nums = raw.split(b",") if raw else []
        if len(nums) % 2:
            raise BadInputError(f"bad GNU.sparse.map (odd count) at offset {offset}")
        vals = [decimal(n, "GNU.sparse.map", offset) for n in nums]
        return list(zip(vals[0::2], vals[1::2]))
    if pairs is not None:  # 0.0
        return pairs
    return None


def _read_sparse_1_0(read, stored: int, offset: int, what: str):
    """Read the decimal sparse map at the head of a pax 1.0 sparse member's data.

    Returns (pairs, bytes of map area consumed).
    """
    chunks = []
    newlines = 0
    need = -1
    consumed = 0
    while True:
        if consumed + BLOCK_SIZE > stored:
            raise BadInputError(f"bad GNU sparse 1.0 map (runs past the data) at offset {offset}")
        blk = bytes(_read_exact(read, BLOCK_SIZE, what, offset + consumed))
        consumed += BLOCK_SIZE
        chunks.append(blk)
        newlines += blk.count(b"\n")
        if need < 0 and newlines:
            first = b"".join(chunks).split(b"\n", 1)[0]
            need = 1 + 2 * decimal(first, "GNU.sparse 1.0 map", offset)
        if need >= 0 and newlines >= need:
            break
    lines = b"".join(chunks).split(b"\n")[1:need]
    vals = [decimal(v, "GNU.sparse 1.0 map", offset) for v in lines]
    return list(zip(vals[0::2], vals[1::2])), consumed


def _hash_sparse(read, pairs, realsize: int, data_size: int, padded_tail: int, offset: int,
                 hashing: bool, what: str):
    """Expand a sparse member while hashing: holes are zeros.

    ``offset`` is where the stored content starts; ``padded_tail`` is the
    padding after it. Returns (digest, next header block).
    """
    if realsize < 0:
        raise BadInputError(f"negative sparse file size at offset {offset}")
    cur = 0
    total = 0
    for off, n in pairs:
        if off < cur or n < 0 or off + n > realsize:
            raise BadInputError(f"bad sparse map (entry {off},{n} of a {realsize}-byte file) at offset {offset}")
        cur = off + n
        total += n
    if total != data_size:
        raise BadInputError(
            f"bad sparse map: maps {total} bytes but the member stores {data_size} at offset {offset}"
        )
    if realsize > MAX_SPARSE_SIZE:
        raise BadInputError(f"sparse file expands to {realsize} bytes (limit {MAX_SPARSE_SIZE}) at offset {offset}")
    h = xxh3_128() if hashing else None
    cur = 0
    for off, n in pairs:
        if h is not None and off > cur:
            _hash_zeros(h, off - cur)
        cur = off + n
        while n:
            k = min(READ_SIZE, n)
            buf = _read_exact(read, k, what, offset)
            if h is not None:
                h.update(buf)
            n -= k
            offset += k
    if h is not None and realsize > cur:
        _hash_zeros(h, realsize - cur)
    buf = read(padded_tail + BLOCK_SIZE)
    if len(buf) < padded_tail:
        raise _truncated(what, offset + len(buf))
    return (h.digest() if h is not None else None), buf[padded_tail:]


def iter_entries(stream: Readable, *, hash_content: bool = True, notes: list[str] | None = None,
                 offset: int = 0) -> Iterator[Entry]:
    """Yield one :class:`Entry` per member of the tar read from ``stream``.

    ``stream.read(n)`` must return ``n`` bytes unless the stream ends (then
    fewer, ``b""`` at the end). Reading stops right after the end-of-archive
    marker. With ``hash_content=False`` content is read through but not
    hashed and ``digest`` is ``None``. Defects of the stream as a whole (not
    of one member) are appended to ``notes``. ``offset`` is the stream offset
    of the first byte ``stream`` gives: the C scanner (tarscan.py) hands the
    rest of an archive over at a header boundary.
    """
    read = stream.read
    unpack = HEADER.unpack_from
    kinds = _KINDS
    meta = _META
    zero_block = ZERO_BLOCK
    empty_digest = _EMPTY_DIGEST if hash_content else None
    id_cache: dict[bytes, tuple[int, int, int]] = {}  # mode+uid+gid fields: few distinct values
    owner_cache: dict[bytes, tuple[str, str]] = {}  # uname+gname fields

    pos = offset  # stream offset of `blk`
    blk = read(BLOCK_SIZE)
    start = -1  # offset of the first pre-header (pax / long name) of the pending member
    pax: dict[str, bytes] | None = None
    sparse_pairs: list[tuple[int, int]] | None = None  # GNU sparse 0.0 records, in order
    longname = longlink = None
    meta_bytes = 0  # size of the pending pre-headers' data: bounded by MAX_META_SIZE

    while True:
        if len(blk) != BLOCK_SIZE:
            if not blk:
                if start >= 0:
                    raise _truncated(f"extended header at offset {start} and no member after it", pos)
                # Every member is whole and the stream ends at a header boundary, with no
                # end-of-archive marker: Go's archive/tar (docker, containerd, dive) reads
                # that as the end, and `umoci insert` writes such layers; so do we, saying so.
                if notes is not None:
                    notes.append(f"{NO_END_MARKER}: the tar ends after its last member without the "
                                 "end-of-archive marker (read as Go's archive/tar reads it)")
                return
            raise _truncated("partial header block", pos)
        if blk == zero_block:
            nxt = read(BLOCK_SIZE)
            if len(nxt) == BLOCK_SIZE and nxt != zero_block:
                raise BadInputError(f"corrupt tar: lone zero block at offset {pos}")
            if 0 < len(nxt) < BLOCK_SIZE:
                raise _truncated("end-of-archive marker", pos + BLOCK_SIZE + len(nxt))
            if start >= 0:
                raise BadInputError(f"corrupt tar: extended header at offset {start} describes no member")
            return
        f_name, f_ids, sz, mt, c, t, f_link, f_magic, f_owner, f_major, f_minor, f_prefix = unpack(blk)
        # checksum: exact unsigned byte sum from adler32 over <=256-byte pieces
        # (cannot wrap mod 65521); the chksum field itself counts as 8 spaces.
        try:
            ok = (
                c[6:] == b"\x00 "
                and c[:6].isdigit()
                and int(c[:6], 8)  # ValueError on 8 or 9
                == (adler32(blk[:148], 0) & 0xFFFF)
                + (adler32(blk[156:356], 0) & 0xFFFF)
                + (adler32(blk[356:], 0) & 0xFFFF)
                + 256
            )
        except ValueError:
            ok = False
        if not ok and not checksum_ok(blk, c):  # other spellings, signed sums
            raise _bad_checksum(pos)
        if sz[11] == 0 and sz[:11].isdigit() and b"8" not in sz and b"9" not in sz:
            size = int(sz[:11], 8)
        elif sz[0] & 0x80:
            size = base256(sz)
            if size < 0:
                raise BadInputError(f"negative size in tar header at offset {pos}")
        else:
            size = number(sz, "size", pos)
        hoff = pos if start < 0 else start
        pos += BLOCK_SIZE
        padded = (size + 511) & ~511

        if t in meta:
            if t == b"M":
                raise BadInputError(f"multi-volume tar member at offset {hoff} is not supported")
            if t == b"g" or t == b"V":  # global pax header (ignored) / volume label
                blk = _skip(read, padded, pos, "global pax header data" if t == b"g" else "volume label data")
                pos += padded
                continue
            meta_bytes += size
            if meta_bytes > MAX_META_SIZE:
                raise BadInputError(f"extended header(s) of {meta_bytes} bytes at offset {hoff} are too large")
            buf = read(padded + BLOCK_SIZE)
            if len(buf) < padded:
                raise _truncated("extended header data", pos + len(buf))
            data = bytes(buf[:size])
            blk = buf[padded:]
            if t == b"x":
                if pax is None:
                    pax = {}
                for key, value in parse_records(data, pos):
                    if key == "GNU.sparse.offset":
                        if sparse_pairs is None:
                            sparse_pairs = []
                        sparse_pairs.append((decimal(value, key, pos), -1))
                    elif key == "GNU.sparse.numbytes":
                        if not sparse_pairs or sparse_pairs[-1][1] != -1:
                            raise BadInputError(f"GNU.sparse.numbytes without offset at offset {pos}")
                        sparse_pairs[-1] = (sparse_pairs[-1][0], decimal(value, key, pos))
                    else:
                        pax[key] = value
            elif t == b"L":
                longname = cstr(data)
            else:  # K
                longlink = cstr(data)
            if start < 0:
                start = hoff
            pos += padded
            continue

        # ---- a member ------------------------------------------------------
        hpos = pos - BLOCK_SIZE  # this member's own header block
        kind = kinds.get(t, FILE)  # unknown type flags are regular files (POSIX)
        if longname is not None:
            name = longname
        else:
            name = f_name
            i = name.find(0)
            if i >= 0:
                name = name[:i]
            if f_magic[:6] == USTAR and f_prefix[0]:
                name = prefixed(name, f_prefix, blk)

        ids = id_cache.get(f_ids)
        if ids is None:
            if len(id_cache) > 4096:
                id_cache.clear()
            ids = id_cache[f_ids] = (
                number(f_ids[:8], "mode", hpos) & 0o7777,
                number(f_ids[8:16], "uid", hpos),
                number(f_ids[16:], "gid", hpos),
            )
        mode, uid, gid = ids
        owner = owner_cache.get(f_owner)
        if owner is None:
            if len(owner_cache) > 4096:
                owner_cache.clear()
            owner = owner_cache[f_owner] = (
                cstr(f_owner[:32]).decode("utf-8", "surrogateescape"),
                cstr(f_owner[32:]).decode("utf-8", "surrogateescape"),
            )
        uname, gname = owner
        if mt[11] == 0 and mt[:11].isdigit() and b"8" not in mt and b"9" not in mt:
            mtime = float(int(mt[:11], 8))
        else:
            mtime = float(base256(mt) if mt[0] & 0x80 else number(mt, "mtime", hpos))
        xattrs: dict[str, bytes] = NO_XATTRS
        sparse = None
        realsize = 0

        if pax is not None:
            name, longlink, size, uid, gid, uname, gname, mtime, xattrs = apply_pax(
                pax, hpos, name, longlink, size, uid, gid, uname, gname, mtime)
            padded = (size + 511) & ~511
            if kind is FILE:
                sparse = _pax_sparse_map(pax, sparse_pairs, hpos)
                if sparse is not None:
                    rs = pax.get("GNU.sparse.realsize") or pax.get("GNU.sparse.size")
                    if not rs:
                        raise BadInputError(f"GNU sparse member without a real size at offset {hpos}")
                    realsize = decimal(rs, "GNU.sparse.realsize", hpos)
            pax = None
            sparse_pairs = None
        elif sparse_pairs is not None:
            sparse_pairs = None

        raw_name = name.decode("utf-8", "surrogateescape")
        path, defects = normalize_path(raw_name)
        if t == b"\x00" and raw_name[-1:] == "/":
            kind = DIR  # pre-POSIX tar marks directories with a trailing slash only
        start = -1
        link_over = longlink  # GNU 'K' or pax linkpath
        longname = longlink = None
        meta_bytes = 0

        if kind is FILE:
            if t == b"S":
                # old GNU sparse: map in the header, maybe continued in extension blocks
                hb = bytes(blk)
                realsize = number(hb[483:495], "realsize", hpos)
                sparse = _gnu_sparse_map(hb[386:482], 4, "sparse map", hpos)
                isext = hb[482]
                while isext:
                    ext = bytes(_read_exact(read, BLOCK_SIZE, "sparse extension header", pos))
                    sparse.extend(_gnu_sparse_map(ext[:504], 21, "sparse map", pos))
                    isext = ext[504]
                    pos += BLOCK_SIZE
            if sparse is None:
                if padded <= READ_SIZE:
                    buf = read(padded + BLOCK_SIZE)
                    if len(buf) < padded and len(buf) < size:  # the content itself is cut short
                        raise _truncated(f"content of {show(raw_name)}", pos + len(buf))
                    if not hash_content:
                        digest = None
                    elif size <= 4096:
                        # copying a small slice is cheaper than making a memoryview of it
                        digest = xxh3_128_digest(buf[:size]) if size else empty_digest
                    else:
                        digest = xxh3_128_digest(memoryview(buf)[:size])
                    blk = buf[padded:]
                else:
                    digest, blk = _hash_big(read, size, padded, pos, hash_content, f"content of {show(raw_name)}")
                yield Entry(path, FILE, size, mode, uid, gid, mtime, None, xattrs, 0, 0, uname, gname,
                            digest, hoff, pos, raw_name, defects, size)
                pos += padded
                continue
            # sparse member: `size` is what is stored, `realsize` what it expands to
            data_off = pos
            data_size = size
            if sparse is _MAP_IN_DATA:  # pax 1.0: the map heads the data area
                sparse, consumed = _read_sparse_1_0(read, size, pos, f"sparse map of {show(raw_name)}")
                data_off += consumed
                data_size -= consumed
            digest, blk = _hash_sparse(read, sparse, realsize, data_size, padded - size, data_off,
                                       hash_content, f"content of {show(raw_name)}")
            yield Entry(path, FILE, realsize, mode, uid, gid, mtime, None, xattrs, 0, 0, uname, gname,
                        digest, hoff, data_off, raw_name, defects, data_size)
            pos = data_off + data_size + (padded - size)
            continue

        # ---- not a regular file: no content -------------------------------
        data_off = pos
        if padded:
            blk = _skip(read, padded, pos, f"data of {show(raw_name)}")
            pos += padded
            if t != b"D":
                defects += (IGNORED_DATA,)
        else:
            blk = read(BLOCK_SIZE)
        if kind is HARDLINK or kind is SYMLINK:
            link_raw = link_over if link_over is not None else cstr(f_link)
        if kind is HARDLINK:
            link, link_defects = normalize_link(link_raw.decode("utf-8", "surrogateescape"))
            if link_defects:
                defects += link_defects
        elif kind is SYMLINK:
            link = link_raw.decode("utf-8", "surrogateescape")
        else:
            link = None
        if kind is CHAR or kind is _BLOCK_KIND:
            devmajor = number(f_major, "devmajor", hpos)
            devminor = number(f_minor, "devminor", hpos)
        else:
            devmajor = devminor = 0
        yield Entry(path, kind, 0, mode, uid, gid, mtime, link, xattrs, devmajor, devminor, uname, gname,
                    None, hoff, data_off, raw_name, defects, size)
