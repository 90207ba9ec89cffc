"""The tar reader layerscope runs: the C header walk, or the reference reader.

:func:`iter_entries` reads a layer's tar stream with the C scanner
(``src_c/tarscan.c`` in ``layerscope._native``) when the package was built
with it, else with the pure-Python reference reader (:mod:`.tar`); both give
the same entries, stream notes and errors (tests/test_tarscan.py compares
them).  The header walk and XXH3 hashing were half of a scan's time; in C
they cost about a sixth of what the Python reader spends per member
(nodemods: ~2 us instead of ~12 us on top of decompressing and hashing).

How the work is split: Python reads the stream in ``SLICE``-sized pieces and
owns every policy; C walks the headers of a slice, hashes content (across
slices too) and fills a batch of fixed-size records and a byte arena.  Here
the records become :class:`Entry` objects column by column (strided views of
the record array, one ``map(Entry, ...)``), so the per-member Python work is
little more than ``Entry.__init__``; the rare members with pax records, odd
names or links get a second look.  What C does not take (sparse files,
base-256 numbers, damaged headers, truncation) it stops before, and the
reference reader goes on from that header to the end of the archive, so its
messages and offsets are the ones users see.

``LAYERSCOPE_TAR_BACKEND=python`` in the environment forces the reference
reader (tests run both; a suspected C bug can be ruled out with it).
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Iterator
from itertools import chain, compress, repeat

from ..errors import BadInputError
from ..tarheader import BLOCK_SIZE, cstr, parse_records, show
from .entry import BLOCK, CHAR, DIR, FIFO, FILE, HARDLINK, NO_XATTRS, SYMLINK, Entry
from .paths import normalize_link, normalize_path

TYPE_CHECKING = False  # not from typing: start-up time
if TYPE_CHECKING:
    from . import tar as reference
    from .chunksink import CChunkSink

__all__ = ["BACKEND", "NATIVE", "PYTHON", "SLICE", "TarBackend", "iter_entries", "iter_entry_batches"]


def _reference():
    """The reference reader (layer/tar.py), imported when first needed: by the
    pure-Python backend, a hand-over from C, a member with pax records; a run
    whose layers all come from the layer cache never loads it (start-up time)."""
    from . import tar

    return tar

SLICE = 1 << 20  # stream bytes handed to C per call
_MAX_RECORDS = 4096  # records per call: a 1 MiB slice holds at most 2048 members
_ARENA = 1 << 20  # initial arena; grows (once, for a huge long name) when a member needs more

# ls_tar_entry (tarscan.h), read as strided columns: field -> (format, byte offset).
_RECORD_SIZE = 104
_LAYOUT = {
    "header_offset": ("Q", 0), "data_offset": ("Q", 8), "data_size": ("Q", 16), "size": ("Q", 24),
    "mtime": ("d", 32), "mode": ("I", 40), "uid": ("I", 44), "gid": ("I", 48), "devmajor": ("I", 52),
    "devminor": ("I", 56), "link_off": ("I", 60), "link_len": ("I", 64), "pax_off": ("I", 68),
    "pax_len": ("I", 72), "owner": ("I", 76), "typeflag": ("B", 80), "kind": ("B", 81), "flags": ("B", 82),
    "ids": ("B", 83),
    "digest": ("16s", 88),
}
_KIND_NAMES = (FILE, DIR, SYMLINK, HARDLINK, CHAR, BLOCK, FIFO)  # LS_TAR_KIND_* order
# ls_tar_entry.flags (tarscan.h)
_PENDING, _PAX, _ODD_NAME, _LINK, _IGNORED_DATA, _DEVICE = 1, 2, 4, 8, 16, 32

_digest_slices: list[slice] = []  # record i's digest bytes, for the first records a batch held so far


def _digests_of(n: int) -> list[slice]:
    """The digest slices of records 0..n-1, made on first need: all 4096 cost ~1 ms,
    too much for start-up (a layer cache hit scans nothing; a small layer needs a few)."""
    global _digest_slices
    have = _digest_slices
    if len(have) < n:
        want = min(_MAX_RECORDS, max(n, 2 * len(have), 64))
        # a whole new list, never one grown in place: scans may run on several threads
        _digest_slices = have = [slice(o, o + 16) for o in range(88, want * _RECORD_SIZE, _RECORD_SIZE)]
    return have[:n]


class TarBackend:
    """Which tar reader runs; chosen once, at import (as the chunker's backend)."""

    __slots__ = ("name", "native", "ffi", "lib")

    def __init__(self, name: str, native: bool, ffi: object = None, lib: object = None) -> None:
        self.name = name
        self.native = native
        self.ffi = ffi
        self.lib = lib

    def __repr__(self) -> str:
        return f"TarBackend({self.name!r}, native={self.native})"


PYTHON = TarBackend("pure-Python tar reader", False)


def _native() -> TarBackend | None:
    try:
        from layerscope._native import ffi, lib

        lib.ls_tar_scan  # noqa: B018 -- a module built before the scanner existed lacks it
    except (ImportError, AttributeError):  # installed without a C compiler
        return None
    return TarBackend("C tar scanner", True, ffi, lib)


#: The C scanner, if this install has it (whether or not it is used).
NATIVE: TarBackend | None = _native()
#: The reader this process uses (tests swap it to run both).
BACKEND: TarBackend = NATIVE if NATIVE is not None and os.environ.get("LAYERSCOPE_TAR_BACKEND") != "python" else PYTHON


def iter_entries(stream: reference.Readable, *, hash_content: bool = True,
                 notes: list[str] | None = None) -> Iterator[Entry]:
    """Yield one :class:`Entry` per member of the tar read from ``stream``.

    As :func:`layerscope.layer.tar.iter_entries` (the reference), except
    that the C scanner reads ahead in ``SLICE`` pieces, so the stream may
    have been read past the end-of-archive marker when this returns: the
    caller drains the rest anyway (``LayerStream.finish``).
    """
    backend = BACKEND
    if not backend.native:
        return _reference().iter_entries(stream, hash_content=hash_content, notes=notes)
    return chain.from_iterable(_scan(backend, stream, hash_content, notes))


def iter_entry_batches(stream: reference.Readable, *, hash_content: bool = True,
                       notes: list[str] | None = None, wants: Callable[[Entry], bool] | None = None,
                       chunks: CChunkSink | None = None) -> Iterator[list[Entry]]:
    """:func:`iter_entries` a list at a time, for callers that keep or count
    them all (``scan``): no generator step per member. On an error, the
    entries before it come first, then the error.

    ``wants`` is for a caller that copies content out of the stream it passed
    (``capture.py``): the C reader asks it about a member whose content runs
    past the slice in hand, before reading on; the reference reader asks about
    every member, and ends a batch after one it wants, so the caller sees that
    member before the stream moves on.

    ``chunks`` (C reader only): the C scanner also cuts every file it walks
    over into content-defined chunks (:mod:`.chunksink`)."""
    backend = BACKEND
    if not backend.native:
        return _batched(_reference().iter_entries(stream, hash_content=hash_content, notes=notes), wants=wants)
    return _scan(backend, stream, hash_content, notes, wants, chunks)


def _batched(entries: Iterator[Entry], size: int = 1024,
             wants: Callable[[Entry], bool] | None = None) -> Iterator[list[Entry]]:
    batch: list[Entry] = []
    try:
        for e in entries:
            batch.append(e)
            if len(batch) == size or (wants is not None and wants(e)):
                yield batch
                batch = []
    except BadInputError:
        if batch:
            yield batch
        raise
    if batch:
        yield batch


class _Resume:
    """What the reference reader reads when C hands over: the bytes C left, then the stream."""

    def __init__(self, head, stream: reference.Readable) -> None:
        self._head = memoryview(bytes(head))
        self._pos = 0
        self._read = stream.read

    def read(self, n: int, /) -> bytes | memoryview:
        head, pos = self._head, self._pos
        if pos >= len(head):
            return self._read(n)
        end = pos + n
        self._pos = end
        if end <= len(head):
            return head[pos:end]
        return b"".join((head[pos:], self._read(end - len(head))))


def _scan(backend: TarBackend, stream: reference.Readable, hash_content: bool,
          notes: list[str] | None, wants: Callable[[Entry], bool] | None = None,
          chunks: CChunkSink | None = None) -> Iterator[list[Entry]]:
    ffi, lib = backend.ffi, backend.lib
    uninit = ffi.new_allocator(should_clear_after_alloc=False)
    st = ffi.new("ls_tar_state *")
    lib.ls_tar_init(st, hash_content)
    if chunks is not None:
        chunks.attach(st)
    batch = ffi.new("ls_tar_batch *")
    records = _MAX_RECORDS
    keep = [uninit("ls_tar_entry[]", records), uninit("uint32_t[]", records), uninit("uint32_t[]", records),
            uninit("uint8_t[]", _ARENA)]  # cdata the batch points into must stay alive
    batch.entries, batch.special, batch.slashed, batch.arena = keep
    batch.max_entries = records
    batch.arena_cap = _ARENA
    decoder = _Decoder(ffi, batch, hash_content)
    read = stream.read
    read1 = getattr(stream, "read1", None)  # what is at hand, uncopied (LayerStream, io objects)
    scan = lib.ls_tar_scan
    MORE, FULL, END, FALLBACK = lib.LS_TAR_MORE, lib.LS_TAR_FULL, lib.LS_TAR_END, lib.LS_TAR_FALLBACK

    pending: Entry | None = None  # handed out by C, content still being hashed
    need = 0
    tail = b""
    while True:
        if need:  # finish a member whose headers straddle two reads: a few bytes more, copied
            want = need - len(tail)
            more = read(want)
            final = len(more) < want
            buf = tail + bytes(more)
        elif read1 is not None:
            buf = read1(SLICE)
            final = not buf
        else:
            buf = read(SLICE)
            final = len(buf) < SLICE
        cbuf = ffi.from_buffer(buf)
        start = 0
        if chunks is not None:
            chunks.before(len(buf))
        try:
            while True:
                status = scan(st, batch, cbuf + start, len(buf) - start, final)
                if chunks is not None:
                    chunks.drain()
                if pending is not None and st.pending_done:
                    if hash_content:
                        pending.digest = bytes(ffi.buffer(st.digest, 16))
                    yield [pending]
                    pending = None
                if batch.count:
                    entries, error = decoder.decode()
                    if error is not None:  # a bad pax value: the members before it come out first
                        yield entries
                        raise error
                    if decoder.last_pending:
                        pending = entries.pop()
                        if wants is not None:
                            wants(pending)
                    yield entries
                if status != FULL:
                    break
                if not batch.count:  # one member needs a bigger arena (a very long name)
                    cap = max(batch.arena_need, 2 * batch.arena_cap)
                    keep[3] = uninit("uint8_t[]", cap)
                    batch.arena, batch.arena_cap = keep[3], cap
                start += batch.consumed
        finally:
            # let go of buf now: a memoryview still exported to cffi when an error's
            # traceback cycle is collected makes CPython's gc fail (BufferError, then worse)
            ffi.release(cbuf)
        if status == MORE:
            if final:
                raise AssertionError("tar scanner asked for more input after the end of the stream")
            need = batch.need
            tail = bytes(buf[start + batch.consumed:]) if need else b""
            continue
        if status == END:
            return
        if status == FALLBACK:
            if chunks is not None:
                chunks.fallback(st.pos)
            rest = _Resume(buf[start + batch.consumed:], stream)
            yield from _batched(_reference().iter_entries(rest, hash_content=hash_content, notes=notes, offset=st.pos),
                                wants=wants)
            return
        # LS_TAR_TRUNCATED: the stream ended inside the pending member's content
        assert pending is not None
        raise _reference()._truncated(f"content of {show(pending.raw_name)}", st.pos)


def _pick(seq, keys: list) -> tuple | list:
    """``[seq[k] for k in keys]`` in one C call (itemgetter: ~3x faster than a map)."""
    return operator.itemgetter(*keys)(seq) if len(keys) > 1 else [seq[k] for k in keys]


class _Decoder:
    """Records and arena of one batch -> Entry objects, a column at a time."""

    def __init__(self, ffi, batch, hash_content: bool) -> None:
        self._ffi = ffi
        self._batch = batch
        self._hash = hash_content
        self._owners: dict[bytes, tuple[str, str]] = {}  # raw uname+gname field -> names
        self._ids: dict[tuple[int, int, int], tuple[int, int, int]] = {}  # one int object per value
        self.last_pending = False

    def _owner_names(self, data: bytes, base: int) -> list[tuple[str, str]]:
        b = self._batch
        cache = self._owners
        out = []
        for k in range(b.n_owners):
            off = b.owner_off[k] - base
            field = data[off:off + 64]
            names = cache.get(field)
            if names is None:
                if len(cache) > 4096:
                    cache.clear()
                names = cache[field] = (cstr(field[:32]).decode("utf-8", "surrogateescape"),
                                        cstr(field[32:]).decode("utf-8", "surrogateescape"))
            out.append(names)
        return out

    def _id_columns(self, idx: list[int]):
        """mode, uid and gid columns from the batch's table of distinct triples."""
        b = self._batch
        cache = self._ids
        if len(cache) > 4096:
            cache.clear()
        table = []
        for k in range(b.n_ids):
            t = (b.id_mode[k], b.id_uid[k], b.id_gid[k])
            table.append(cache.setdefault(t, t))
        if len(table) == 1:
            return repeat(table[0][0]), repeat(table[0][1]), repeat(table[0][2])
        return (_pick([t[0] for t in table], idx), _pick([t[1] for t in table], idx),
                _pick([t[2] for t in table], idx))

    def decode(self) -> tuple[list[Entry], BadInputError | None]:
        """This batch's entries, and the error of the first bad one (the entries before it only)."""
        ffi, b = self._ffi, self._batch
        n = b.count
        raw = ffi.buffer(b.entries, n * _RECORD_SIZE)[:]
        mv = memoryview(raw)
        q, i4 = mv.cast("Q"), mv.cast("I")
        qs, i4s = _RECORD_SIZE // 8, _RECORD_SIZE // 4
        kind_codes = mv[81::_RECORD_SIZE].tolist()
        paths = ffi.buffer(b.arena, b.text_used)[:].decode("utf-8", "surrogateescape").split("\0")
        del paths[n:]
        raw_names = paths[:]
        for i in ffi.unpack(b.slashed, b.n_slashed):
            raw_names[i] = paths[i] + "/"
        data_sizes = q[2::qs].tolist()
        sizes = data_sizes[:]  # a file's size is its data_size: one int object, as in the reference
        nonfiles = list(compress(range(n), kind_codes))
        for i in nonfiles:
            sizes[i] = 0
        if self._hash:
            digests = list(_pick(raw, _digests_of(n)))
            for i in nonfiles:
                digests[i] = None
        else:
            digests = [None] * n
        data_base = b.arena_cap - b.data_used
        data = ffi.buffer(b.arena + data_base, b.data_used)[:]
        owners = self._owner_names(data, data_base)
        if len(owners) == 1:
            unames, gnames = repeat(owners[0][0]), repeat(owners[0][1])
        else:
            idx = i4[19::i4s].tolist()
            unames = _pick([o[0] for o in owners], idx)
            gnames = _pick([o[1] for o in owners], idx)
        idx = mv[83::_RECORD_SIZE].tolist()
        modes, uids, gids = self._id_columns(idx)
        entries = list(map(
            Entry,
            paths,
            _pick(_KIND_NAMES, kind_codes),
            sizes,
            modes,
            uids,
            gids,
            mv.cast("d")[4::qs].tolist(),  # mtime
            repeat(None),  # link
            repeat(NO_XATTRS),  # xattrs: pax members get their own below
            repeat(0),  # devmajor (devices: _special)
            repeat(0),  # devminor
            unames,
            gnames,
            digests,
            q[0::qs].tolist(),  # header_offset
            q[1::qs].tolist(),  # data_offset
            raw_names,
            repeat(()),  # defects
            data_sizes,
        ))
        self.last_pending = False
        if b.n_special:
            for idx in ffi.unpack(b.special, b.n_special):
                try:
                    self._special(entries[idx], mv[idx * _RECORD_SIZE:(idx + 1) * _RECORD_SIZE], data, data_base)
                except BadInputError as e:
                    return entries[:idx], e
            self.last_pending = bool(raw[(n - 1) * _RECORD_SIZE + 82] & _PENDING)
        return entries, None

    def _special(self, e: Entry, rec: memoryview, data: bytes, base: int) -> None:
        """What C left to Python: pax records, odd names, links, devices, ignored data."""
        r4 = rec.cast("I")
        flags = rec[82]
        if flags & _DEVICE:
            e.devmajor, e.devminor = r4[13], r4[14]
        link_raw = None
        if flags & _LINK:
            off = r4[15] - base
            link_raw = data[off:off + r4[16]]
        if flags & _PAX:  # C checked the records' form and their size
            off = r4[17] - base
            pax = dict(parse_records(data[off:off + r4[18]], 0))
            name, link_raw, _, e.uid, e.gid, e.uname, e.gname, e.mtime, e.xattrs = _reference().apply_pax(
                pax, e.data_offset - BLOCK_SIZE, e.raw_name.encode("utf-8", "surrogateescape"),
                link_raw, e.data_size, e.uid, e.gid, e.uname, e.gname, e.mtime)
            e.raw_name = name.decode("utf-8", "surrogateescape")
            e.path, e.defects = normalize_path(e.raw_name)
        elif flags & _ODD_NAME:  # the text holds the raw name
            e.path, e.defects = normalize_path(e.raw_name)
        if flags & _IGNORED_DATA:
            e.defects += (_reference().IGNORED_DATA,)
        if flags & _LINK:
            link = link_raw.decode("utf-8", "surrogateescape")
            if e.kind is HARDLINK:
                e.link, link_defects = normalize_link(link)
                if link_defects:
                    e.defects += link_defects
            else:
                e.link = link
