"""A cache of layer scans on disk, so a layer seen before is not read again.

A scan is a pure function of a layer's bytes, so it can be cached under the
blob's digest. The digest is what makes a hit safe, not the cache: callers
re-hash the blob on a hit unless verification is off (or the cache's ``seen``
record says these unchanged file bytes hashed to it: analysis/layers.py
``verify_blob``), and only scans of *verified* blobs are ever written (an
unverified blob may not be what its name says, and would poison later
verified runs).

An entry is never trusted: a wrong magic, format version, key or checksum, a
body that does not decode to the expected columns, or any I/O error makes
it a miss (and the scan is rebuilt and rewritten). Writes go to a temporary
file in the same directory and are renamed into place, so concurrent runs
sharing a cache see whole entries or none. The cache is capped in size;
the least recently used entries go first (a hit refreshes an entry's mtime).

File layout (all integers little-endian)::

    magic "LSSCAN\\n\\0"  u32 format  u32 header length  header (JSON)
    u64 body length  body (marshal'ed columns, zstd-compressed unless small)
    XXH3-128 of all before

A body under ``RAW_BODY_MAX`` bytes is stored as it is (the header says
``"codec": "none"``): compressing it would save a few KB of disk and cost
every warm run of a small image the zstandard import (1-2 ms of start-up).
"""

from __future__ import annotations

import json
import marshal
import os
import struct
from collections.abc import Iterable
from operator import attrgetter

from xxhash import xxh3_128_digest, xxh3_128_hexdigest

from ..places import cache_dir, size_from_env
from .entry import KINDS, NO_XATTRS, Entry
from .scan import LayerScan

SCAN_FORMAT = 3  # bump whenever a scan's content or this encoding changes (2: captured package databases; 3: raw small bodies)
DEFAULT_MAX_BYTES = 2 << 30
_SEEN = "seen\0"  # key prefix of the records of blobs hashed in full (no digest starts so)
_SEEN_MAGIC = b"LSSEEN\n\0"
MAGIC = b"LSSCAN\n\0"
_HEAD = struct.Struct("<8sII")
_LEN = struct.Struct("<Q")
_SUM = 16
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}
# Entry fields stored as one list each, in this order (the kinds, as bytes, go second)
_LIST_FIELDS = ("path", "size", "mode", "uid", "gid", "mtime", "link", "uname", "gname", "digest",
                "header_offset", "data_offset", "data_size")
_MAX_BODY = 1 << 34  # a decoded body larger than this is not one of ours
RAW_BODY_MAX = 128 << 10  # marshal'ed bodies smaller than this (~1,000 entries) are not compressed


def default_dir() -> str | None:
    """``LAYERSCOPE_CACHE``, else the user's cache dir; None when disabled (``places.py``)."""
    return cache_dir()


def default_max_bytes() -> int:
    return size_from_env("LAYERSCOPE_CACHE_MAX", DEFAULT_MAX_BYTES)


class ScanCache:
    """Layer scans on disk under ``root``, keyed by blob digest."""

    def __init__(self, root: str, *, max_bytes: int | None = None) -> None:
        self.root = root
        self.dir = os.path.join(root, f"scans-v{SCAN_FORMAT}")
        self.max_bytes = default_max_bytes() if max_bytes is None else max_bytes
        self.hits = 0
        self.misses = 0
        self.rejected = 0  # entries present but not trusted (corrupt, foreign, stale)

    @classmethod
    def default(cls) -> ScanCache | None:
        root = default_dir()
        return cls(root) if root else None

    def path_for(self, key: str) -> str:
        # The key comes from an image (untrusted): hash it into the file name
        # rather than ever using it as a path.
        h = xxh3_128_hexdigest(key.encode("utf-8", "surrogateescape"))
        return os.path.join(self.dir, h[:2], h)

    # ---- read ---------------------------------------------------------------

    def get(self, key: str) -> LayerScan | None:
        path = self.path_for(key)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            self.misses += 1
            return None
        scan = _decode(data, key)
        if scan is None:
            self.misses += 1
            self.rejected += 1
            return None
        self.hits += 1
        _touch(path)
        return scan

    # ---- blobs hashed in full, by file identity (analysis/layers.py: verify_blob) ----

    def seen(self, stamp: str) -> bool:
        """Was ``stamp`` (a digest and the identity of the file bytes that hashed to it) recorded?"""
        path = self.path_for(_SEEN + stamp)
        try:
            with open(path, "rb") as f:
                ok = f.read(len(_SEEN_MAGIC) + len(stamp) * 4 + 1) == _SEEN_MAGIC + stamp.encode("utf-8", "surrogateescape")
        except OSError:
            return False
        if ok:
            _touch(path)
        return ok

    def mark(self, stamp: str) -> None:
        """Record ``stamp``: these file bytes were hashed in full and matched its digest."""
        self._write(self.path_for(_SEEN + stamp), _SEEN_MAGIC + stamp.encode("utf-8", "surrogateescape"))

    # ---- write --------------------------------------------------------------

    def put(self, key: str, scan: LayerScan) -> bool:
        """Store ``scan`` (with its entries) under ``key``; False if it could not be."""
        if scan.entries is None:
            return False
        data = _encode(key, scan)
        if len(data) > self.max_bytes:
            return False
        return self._write(self.path_for(key), data)

    def _write(self, path: str, data: bytes) -> bool:
        """Write a whole entry atomically (temporary file, rename), then prune."""
        d = os.path.dirname(path)
        try:
            os.makedirs(d, exist_ok=True)
            import tempfile  # only writers need it

            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            return False  # a read-only or full disk costs speed, never the run
        self.prune()
        return True

    def prune(self) -> int:
        """Delete least recently used entries until the cache fits; bytes freed."""
        files = []
        total = 0
        try:
            subdirs = os.scandir(self.dir)
        except OSError:
            return 0
        with subdirs:
            for sub in subdirs:
                if not sub.is_dir(follow_symlinks=False):
                    continue
                try:
                    with os.scandir(sub.path) as it:
                        for e in it:
                            try:
                                st = e.stat(follow_symlinks=False)
                            except OSError:
                                continue
                            files.append((st.st_mtime, st.st_size, e.path))
                            total += st.st_size
                except OSError:
                    continue
        freed = 0
        if total <= self.max_bytes:
            return 0
        for _mtime, size, path in sorted(files):
            if total - freed <= self.max_bytes:
                break
            try:
                os.unlink(path)
                freed += size
            except OSError:
                pass
        return freed


def _touch(path: str) -> None:
    """Mark an entry most recently used: evicted last."""
    try:
        os.utime(path)
    except OSError:
        pass


# ---- encoding -----------------------------------------------------------------

def _encode(key: str, scan: LayerScan) -> bytes:
    entries = scan.entries or []
    kind_code = _KIND_CODE
    xattrs, devs, defects, raw = [], [], [], []
    for i, e in enumerate(entries):
        if e.xattrs:
            xattrs.append((i, e.xattrs))
        if e.devmajor or e.devminor:
            devs.append((i, e.devmajor, e.devminor))
        if e.defects:
            defects.append((i, tuple(e.defects)))
        if e.raw_name != e.path:
            raw.append((i, e.raw_name))
    lists = [list(map(attrgetter(f), entries)) for f in _LIST_FIELDS]
    kinds = bytes(kind_code[e.kind] for e in entries)
    columns = (lists[0], kinds, *lists[1:], xattrs, devs, defects, raw, list(scan.captured.items()))
    raw_body = marshal.dumps(columns)
    if len(raw_body) < RAW_BODY_MAX:
        codec, body = "none", raw_body
    else:
        import zstandard

        codec, body = "zstd", zstandard.ZstdCompressor(level=3).compress(raw_body)
    header = json.dumps({
        "key": key,
        "size": scan.size,
        "compression": scan.compression,
        "entry_count": scan.entry_count,
        "blob_digest": scan.blob_digest,
        "diff_id": scan.diff_id,
        "defects": scan.defects,
        "entries": len(entries),
        "body_size": len(raw_body),
        "codec": codec,
    }, separators=(",", ":")).encode()
    out = b"".join((_HEAD.pack(MAGIC, SCAN_FORMAT, len(header)), header, _LEN.pack(len(body)), body))
    return out + xxh3_128_digest(out)


def _all(col: Iterable, types: tuple[type, ...]) -> bool:
    return set(map(type, col)) <= set(types)


def _decode(data: bytes, key: str) -> LayerScan | None:
    """The scan in ``data`` if it is whole, ours, current and for ``key``; else None."""
    try:
        if len(data) < _HEAD.size + _LEN.size + _SUM or xxh3_128_digest(memoryview(data)[:-_SUM]) != data[-_SUM:]:
            return None
        magic, version, hlen = _HEAD.unpack_from(data)
        if magic != MAGIC or version != SCAN_FORMAT:
            return None
        at = _HEAD.size
        header = json.loads(data[at:at + hlen])
        at += hlen
        (blen,) = _LEN.unpack_from(data, at)
        at += _LEN.size
        if at + blen != len(data) - _SUM or not isinstance(header, dict) or header.get("key") != key:
            return None
        n = header["entries"]
        body_size = header["body_size"]
        if not (isinstance(n, int) and isinstance(body_size, int) and 0 <= body_size <= _MAX_BODY):
            return None
        codec = header.get("codec")
        if codec == "none":
            raw_body = data[at:at + blen]
            if len(raw_body) != body_size:
                return None
        elif codec == "zstd":
            raw_body = _unzstd(data[at:at + blen], body_size)
            if raw_body is None:
                return None
        else:
            return None
        columns = marshal.loads(raw_body)
        return _rebuild(header, columns, n)
    except (ValueError, TypeError, KeyError, IndexError, EOFError, struct.error, UnicodeDecodeError,
            RecursionError, MemoryError, OverflowError, AttributeError):
        return None


def _unzstd(body: bytes, size: int) -> bytes | None:
    import zstandard  # a big layer's entry only: see RAW_BODY_MAX

    try:
        return zstandard.ZstdDecompressor().decompress(body, max_output_size=size)
    except zstandard.ZstdError:
        return None


def _rebuild(header: dict, columns, n: int) -> LayerScan | None:
    if not isinstance(columns, tuple) or len(columns) != 19:
        return None
    (paths, kinds, sizes, modes, uids, gids, mtimes, links, unames, gnames, digests,
     hoffs, doffs, dsizes, xattrs, devs, defects, raw, captured) = columns
    if not (isinstance(captured, list) and all(
            isinstance(t, tuple) and len(t) == 2 and type(t[0]) is bytes and type(t[1]) in (bytes, type(None))
            for t in captured)):
        return None
    cols = (paths, kinds, sizes, modes, uids, gids, mtimes, links, unames, gnames, digests, hoffs, doffs, dsizes)
    if any(len(c) != n for c in cols) or not isinstance(kinds, bytes):
        return None
    if not (_all(paths, (str,)) and _all(unames, (str,)) and _all(gnames, (str,))
            and _all(links, (str, type(None))) and _all(digests, (bytes, type(None)))
            and _all(mtimes, (float, int)) and all(_all(c, (int,)) for c in (sizes, modes, uids, gids, hoffs, doffs, dsizes))
            and (not kinds or max(kinds) < len(KINDS))):
        return None
    for sparse in (xattrs, devs, defects, raw):
        if not (isinstance(sparse, list) and all(isinstance(t, tuple) and t and type(t[0]) is int and 0 <= t[0] < n
                                                  for t in sparse)):
            return None
    kind_names = [KINDS[k] for k in kinds]
    entries = [
        Entry(p, k, s, m, u, g, t, ln, NO_XATTRS, 0, 0, un, gn, dg, ho, do, p, (), ds)
        for p, k, s, m, u, g, t, ln, un, gn, dg, ho, do, ds in zip(
            paths, kind_names, sizes, modes, uids, gids, mtimes, links, unames, gnames, digests, hoffs, doffs, dsizes)
    ]
    for i, xa in xattrs:
        if not (isinstance(xa, dict) and _all(xa.keys(), (str,)) and _all(xa.values(), (bytes,))):
            return None
        entries[i].xattrs = xa
    for i, major, minor in devs:
        if not (isinstance(major, int) and isinstance(minor, int)):
            return None
        entries[i].devmajor, entries[i].devminor = major, minor
    for i, d in defects:
        if not (isinstance(d, tuple) and _all(d, (str,))):
            return None
        entries[i].defects = d
    for i, r in raw:
        if not isinstance(r, str):
            return None
        entries[i].raw_name = r
    facts = (header["size"], header["compression"], header["entry_count"], header["blob_digest"],
             header["diff_id"], header["defects"])
    size, compression, count, blob_digest, diff_id, scan_defects = facts
    if not (isinstance(size, int) and isinstance(compression, str) and isinstance(count, int)
            and isinstance(blob_digest, (str, type(None))) and isinstance(diff_id, (str, type(None)))
            and isinstance(scan_defects, list) and _all(scan_defects, (str,))):
        return None
    return LayerScan(size=size, compression=compression, entry_count=count, blob_digest=blob_digest,
                     diff_id=diff_id, entries=entries, defects=scan_defects, captured=dict(captured))
