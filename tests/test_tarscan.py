"""The C tar scanner against the pure-Python reference reader, on the same bytes.

Both readers must give the same Entry list, the same stream notes and the
same error (type, message, offset, and the entries yielded before it) for
every input: generated archives in all of tarfile's formats, with every kind
of member, names and links of every length, pax xattrs and float mtimes,
content sizes around 512 and around the slice size; the same archives cut at
every interesting offset, with bytes flipped, read in slices of many sizes
(so members straddle slice boundaries everywhere) and with tiny record and
arena budgets (so batches fill up mid-slice).  Any divergence fails here.
"""

from __future__ import annotations

import io
import random
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerscope.layer import tar as tarmod
from layerscope.layer import tarscan

pytestmark = pytest.mark.skipif(tarscan.NATIVE is None, reason="the C tar scanner is not built")

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}
SLICES = [512, 700, 1536, 4096 + 7, 65536, tarscan.SLICE]


class Stream:
    """Exact reads over bytes, optionally as memoryviews (what LayerStream hands out)."""

    def __init__(self, data: bytes, as_memoryview: bool = False) -> None:
        self.data = memoryview(data) if as_memoryview else data
        self.pos = 0

    def read(self, n: int):
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk


class PieceStream(Stream):
    """Also ``read1``: whatever is at hand, here pieces of random sizes (LayerStream's decompressor chunks)."""

    def __init__(self, data: bytes, seed: int) -> None:
        super().__init__(data, as_memoryview=True)
        self.rnd = random.Random(seed)

    def read1(self, n: int):
        return self.read(min(n, self.rnd.choice([1, 7, 512, 513, 1000, 4096, 65536 + 3, 1 << 20])))


def outcome(backend, data: bytes, *, hash_content: bool = True, as_memoryview: bool = False,
            pieces: int | None = None):
    """(entries yielded, notes, error as (type, message) or None); ``pieces``: a PieceStream seed."""
    saved = tarscan.BACKEND
    tarscan.BACKEND = backend
    entries, notes = [], []
    stream = Stream(data, as_memoryview) if pieces is None else PieceStream(data, pieces)
    try:
        for e in tarscan.iter_entries(stream, hash_content=hash_content, notes=notes):
            entries.append(e)
    except Exception as e:  # noqa: BLE001 -- any divergence, crashes included, must show
        return entries, notes, (type(e).__name__, str(e))
    finally:
        tarscan.BACKEND = saved
    return entries, notes, None


def assert_same(data: bytes, **kw) -> tuple:
    want = outcome(tarscan.PYTHON, data, **kw)
    got = outcome(tarscan.NATIVE, data, **kw)
    if got != want:  # a readable first difference
        for i, (a, b) in enumerate(zip(want[0], got[0])):
            assert b == a, f"entry {i} differs"
        assert len(got[0]) == len(want[0]), "entry count"
        assert got[1:] == want[1:]
    return want


@pytest.fixture(params=SLICES, ids=lambda s: f"slice{s}")
def slice_size(request, monkeypatch) -> int:
    monkeypatch.setattr(tarscan, "SLICE", request.param)
    return request.param


# --------------------------------------------------------------------------
# generated archives
# --------------------------------------------------------------------------

NAME_PARTS = ["usr", "lib", "node_modules", "a" * 60, "b" * 99, "ü-é", "x y", ".hidden", "..", ".", ""]


def random_name(rnd: random.Random, fmt: int) -> str:
    n = rnd.choice([1, 1, 2, 3, 5, 8])
    name = "/".join(rnd.choice(NAME_PARTS) or "e" for _ in range(n))
    if rnd.random() < 0.1:
        name = "./" + name
    if rnd.random() < 0.05:
        name = "/" + name
    if rnd.random() < 0.05:
        name = name + "//x"
    if fmt == tarfile.USTAR_FORMAT:  # must fit name+prefix, ASCII
        name = name.encode("ascii", "replace").decode()[:100]
    elif rnd.random() < 0.05:
        name += "-\udcff"  # invalid UTF-8 byte, kept as is
    return name or "e"


def random_members(rnd: random.Random, fmt: int, count: int, sizes: list[int], odd: bool = False):
    """Members of every kind; ``odd`` adds what C hands over to Python (base-256 numbers)."""
    members = []
    names = []
    for i in range(count):
        name = random_name(rnd, fmt) + f"-{i}"
        t = tarfile.TarInfo(name)
        t.mtime = rnd.choice([0, 1_700_000_000, 2**33 - 1])
        t.mode = rnd.choice([0o644, 0o755, 0o4755, 0o1777, 0o7777])
        t.uid = rnd.choice([0, 1000, 65534, 2**21 - 1])
        t.gid = rnd.choice([0, 1000, 2**21 - 1])
        t.uname = rnd.choice(["", "root", "node", "ü" * 10])
        t.gname = rnd.choice(["", "root", "staff"])
        if fmt == tarfile.USTAR_FORMAT:
            t.uname = t.uname.encode("ascii", "replace").decode()
        if odd and rnd.random() < 0.1:
            t.uid = 10**9  # GNU: base-256 (C hands over to Python); pax: a pax record; ustar: cannot
        if fmt == tarfile.PAX_FORMAT and rnd.random() < 0.1:
            t.pax_headers = {"SCHILY.xattr.user.k": "v\x00w", "mtime": "1700000000.25"}
        data = None
        r = rnd.random()
        if r < 0.55 or not names:
            t.type = rnd.choice([tarfile.REGTYPE] * 8 + [tarfile.AREGTYPE, tarfile.CONTTYPE])
            data = rnd.randbytes(rnd.choice(sizes))
        elif r < 0.7:
            t.type = tarfile.DIRTYPE
        elif r < 0.8:
            t.type = tarfile.SYMTYPE
            t.linkname = rnd.choice(["../x", "/abs/" + "l" * rnd.choice([10, 99, 120, 300]), rnd.choice(names)])
        elif r < 0.88:
            t.type = tarfile.LNKTYPE
            t.linkname = rnd.choice(names + ["../../escape", "./" + rnd.choice(names)])
        elif r < 0.94:
            t.type = rnd.choice([tarfile.CHRTYPE, tarfile.BLKTYPE])
            t.devmajor, t.devminor = rnd.choice([(1, 3), (8, 0), (2**21 - 1, 7)])
        else:
            t.type = tarfile.FIFOTYPE
        if fmt == tarfile.USTAR_FORMAT and len(t.linkname) > 100:
            t.linkname = t.linkname[:100]
        names.append(name)
        members.append((t, data))
    return members


def build(members, fmt: int) -> bytes:
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape") as t:
        for ti, data in members:
            if data is not None:
                ti.size = len(data)
            try:
                t.addfile(ti, io.BytesIO(data) if data is not None else None)
            except ValueError:  # a name / link / number this format cannot hold
                continue
    return bio.getvalue()


SMALL_SIZES = [0, 1, 100, 511, 512, 513, 1023, 1024, 1025, 4096, 10_000]


def corpus(seed: int, fmt: str, count: int = 40, sizes=SMALL_SIZES, odd: bool = False) -> bytes:
    return build(random_members(random.Random(seed), FORMATS[fmt], count, sizes, odd), FORMATS[fmt])


@pytest.fixture
def handovers(monkeypatch) -> list[int]:
    """Offsets where the C scanner handed the archive over to the reference reader."""
    seen: list[int] = []
    reference = tarmod.iter_entries

    def spy(stream, **kw):
        if "offset" in kw:
            seen.append(kw["offset"])
        return reference(stream, **kw)

    monkeypatch.setattr(tarmod, "iter_entries", spy)
    return seen


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed", range(4))
def test_generated_archives(fmt, seed, slice_size, handovers):
    data = corpus(seed, fmt)
    entries, notes, error = assert_same(data)
    assert error is None and notes == [] and entries  # the corpus itself is good
    assert_same(data, hash_content=False)
    assert_same(data, as_memoryview=True)
    assert_same(data, pieces=seed)
    assert handovers == []  # C read all of it: this compared C with the reference


@pytest.mark.parametrize("fmt", ["gnu", "pax"])
@pytest.mark.parametrize("seed", range(4))
def test_generated_archives_with_handover(fmt, seed, handovers):
    data = corpus(seed, fmt, odd=True)
    assert_same(data)
    if fmt == "gnu":
        assert handovers  # base-256 uids: C reads up to the first, the reference the rest


@pytest.mark.parametrize("fmt", FORMATS)
def test_content_around_the_slice_size(fmt):
    s = tarscan.SLICE
    sizes = [s - 1024, s - 513, s - 512, s - 511, s - 1, s, s + 1, s + 511, s + 512, 2 * s + 3, 0, 1, 511]
    rnd = random.Random(5)
    members = []
    for i, n in enumerate(sizes):
        t = tarfile.TarInfo(f"f{i}")
        members.append((t, rnd.randbytes(n)))
        members.append((tarfile.TarInfo(f"small{i}"), rnd.randbytes(rnd.choice([0, 1, 600]))))
    data = build(members, FORMATS[fmt])
    for shift in (0, 1, 511, 512, 513, 1024 + 100):  # move every boundary against the slices
        pad = tarfile.TarInfo("pad")
        assert_same(build([(pad, bytes(shift))] + members, FORMATS[fmt]))
    assert_same(data)


def test_archive_bigger_than_the_record_and_arena_budgets(monkeypatch):
    data = corpus(11, "pax", count=300, sizes=[0, 1, 700])
    for records, arena in ((1, 1 << 20), (3, 64), (7, 1000), (4096, 300)):
        monkeypatch.setattr(tarscan, "_MAX_RECORDS", records)
        monkeypatch.setattr(tarscan, "_ARENA", arena)
        for s in (512, 4096, 1 << 20):
            monkeypatch.setattr(tarscan, "SLICE", s)
            assert_same(data)


def test_more_distinct_ids_and_owners_than_a_batch_holds(slice_size):
    """C keeps 64 distinct (mode, uid, gid) and uname+gname per batch: more start a new batch."""
    members = []
    for i in range(300):
        t = tarfile.TarInfo(f"f{i}")
        t.uid, t.gid, t.mode = i, i % 7, 0o600 + i % 3
        t.uname, t.gname = f"u{i % 150}", f"g{i % 90}"
        members.append((t, b"x" * (i % 3)))
    data = build(members, tarfile.USTAR_FORMAT)
    entries = assert_same(data)[0]
    assert [(e.uid, e.uname) for e in entries[:3]] == [(0, "u0"), (1, "u1"), (2, "u2")]


def test_equal_ids_share_int_objects():
    """As the reference's id cache: 150,000 entries must not hold 450,000 ints for a few values."""
    members = [(tarfile.TarInfo(f"f{i}"), b"x") for i in range(5000)]
    for t, _ in members:
        t.uid = t.gid = 1000
    data = build(members, tarfile.USTAR_FORMAT)
    for backend in (tarscan.PYTHON, tarscan.NATIVE):
        entries = outcome(backend, data)[0]
        assert len({id(e.mode) for e in entries}) == len({id(e.uid) for e in entries}) == 1


@pytest.mark.parametrize("length", [100, 101, 1000, 70_000, 2 << 20])
def test_long_names_and_links(length, slice_size):
    name = "d/" + "n" * length
    link = "t/" + "l" * length
    members = [(tarfile.TarInfo(name), b"x"), (tarfile.TarInfo("s"), None)]
    members[1][0].type, members[1][0].linkname = tarfile.SYMTYPE, link
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        assert_same(build(members, fmt))


# --------------------------------------------------------------------------
# damaged archives
# --------------------------------------------------------------------------


def interesting_cuts(data: bytes) -> list[int]:
    """Every header boundary and member edge, one byte either side, and the slice sizes."""
    entries = outcome(tarscan.PYTHON, data)[0]
    points = {0, len(data)}
    for e in entries:
        for p in (e.header_offset, e.data_offset - 512, e.data_offset, e.data_offset + e.data_size,
                  e.data_offset + ((e.data_size + 511) & ~511)):
            points.update((p - 1, p, p + 1, p + 511, p + 512, p + 513))
    for s in SLICES:
        points.update((s - 1, s, s + 1))
    return sorted(p for p in points if 0 <= p <= len(data))


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_at_every_interesting_offset(fmt, slice_size):
    data = corpus(21, fmt, count=25)
    for cut in interesting_cuts(data):
        assert_same(data[:cut])


def test_truncated_at_every_offset_of_a_small_archive(slice_size):
    t = tarfile.TarInfo("x")
    t.pax_headers = {"SCHILY.xattr.user.a": "v", "path": "p/" + "q" * 150}
    data = build([(t, b"content" * 100), (tarfile.TarInfo("e"), b""),
                  (tarfile.TarInfo("g"), b"z" * 1500)], tarfile.PAX_FORMAT)
    for cut in range(len(data) + 1):
        assert_same(data[:cut])
        assert_same(data[:cut], pieces=cut)


def test_entry_batches_are_the_entries():
    data = corpus(3, "pax", count=60)
    for backend in (tarscan.PYTHON, tarscan.NATIVE):
        tarscan.BACKEND, saved = backend, tarscan.BACKEND
        try:
            batches = list(tarscan.iter_entry_batches(Stream(data)))
        finally:
            tarscan.BACKEND = saved
        assert [e for b in batches for e in b] == outcome(tarscan.PYTHON, data)[0]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), flips=st.lists(st.tuples(st.integers(0, 1 << 30), st.integers(0, 255)),
                                                  min_size=1, max_size=4),
       fix=st.booleans(), slice_size=st.sampled_from(SLICES[:4]))
def test_damaged_headers(seed, flips, fix, slice_size, monkeypatch):
    """Bytes replaced (with the header checksum fixed or not), read in slices of several sizes."""
    monkeypatch.setattr(tarscan, "SLICE", slice_size)
    data = bytearray(corpus(seed % 7, ["ustar", "gnu", "pax"][seed % 3], count=6, sizes=[0, 5, 600]))
    end = len(data)
    for pos, value in flips:
        pos %= end
        data[pos] = value
        if fix:
            blk = pos - pos % 512
            hdr = bytearray(data[blk:blk + 512])
            hdr[148:156] = b" " * 8
            hdr[148:156] = b"%06o\x00 " % sum(hdr)
            data[blk:blk + 512] = hdr
    assert_same(bytes(data), hash_content=bool(seed % 2))


def _hdr(name=b"f", size=0, typeflag=b"0", **fields) -> bytes:
    blk = bytearray(512)
    blk[0:len(name)] = name
    blk[100:108] = fields.get("mode", b"0000644\x00")
    blk[108:116] = fields.get("uid", b"0000000\x00")
    blk[116:124] = fields.get("gid", b"0000000\x00")
    blk[124:136] = size if isinstance(size, bytes) else b"%011o\x00" % size
    blk[136:148] = fields.get("mtime", b"00000000000\x00")
    blk[156:157] = typeflag
    blk[257:265] = fields.get("magic", b"ustar\x0000")
    blk[329:337] = fields.get("devmajor", bytes(8))
    blk[337:345] = fields.get("devminor", bytes(8))
    blk[148:156] = b" " * 8
    blk[148:156] = fields.get("chksum", b"%06o\x00 " % sum(blk))
    return bytes(blk)


def _pad(b: bytes) -> bytes:
    return b + bytes(-len(b) % 512)


def _pax(records: bytes, typeflag=b"x") -> bytes:
    return _hdr(b"PaxHeaders/f", len(records), typeflag) + _pad(records)


END = bytes(1024)

ODD_ARCHIVES = {
    "two-pax-headers": _pax(b"13 path=abcd\n") + _pax(b"12 uid=1234\n") + _hdr(b"f") + END,
    "pax-size": _pax(b"11 size=10\n") + _hdr(b"f", 3) + _pad(b"0123456789") + END,
    "pax-size-empty": _pax(b"11 size=10\n8 size=\n") + _hdr(b"f", 3) + _pad(b"abc") + END,
    "pax-size-spaces": _pax(b"12 size= 10\n") + _hdr(b"f", 3) + _pad(b"0123456789") + END,
    "pax-bad-uid": _hdr(b"a", 1) + _pad(b"x") + _pax(b"10 uid=-1\n") + _hdr(b"f") + END,
    "pax-bad-mtime": _pax(b"14 mtime=1e999\n") + _hdr(b"f") + END,
    "pax-bad-record": _pax(b"99 path=x\n") + _hdr(b"f") + END,
    "pax-nul-padding": _pax(b"11 path=xy\n\x00\x00\x00") + _hdr(b"f") + END,
    "pax-nul-then-garbage": _pax(b"11 path=xy\n\x00\x00x") + _hdr(b"f") + END,
    "pax-gnu-sparse": _pax(b"27 GNU.sparse.name=sparse\n") + _hdr(b"f") + END,
    "pax-path-to-dir-on-nul-type": _pax(b"11 path=d/\n") + _hdr(b"f", 5, b"\x00") + _pad(b"abcde") + END,
    "pax-linkpath-on-file": _pax(b"16 linkpath=abc\n") + _hdr(b"f") + END,
    "pax-libarchive-xattr": _pax(b"30 LIBARCHIVE.xattr.user.k=dg\n") + _hdr(b"f") + END,
    "pax-libarchive-bad": _pax(b"30 LIBARCHIVE.xattr.user.k=d!\n") + _hdr(b"f") + END,
    "global-header": _pax(b"13 comment=x\n", b"g") + _hdr(b"f", 1) + _pad(b"x") + END,
    "global-in-chain": _pax(b"11 path=xy\n") + _pax(b"13 comment=x\n", b"g") + _hdr(b"f") + END,
    "volume-label": _hdr(b"label", 0, b"V") + _hdr(b"f") + END,
    "multi-volume": _hdr(b"f", 0, b"M") + END,
    "long-name-L": _hdr(b"././@LongLink", 5, b"L") + _pad(b"long\x00") + _hdr(b"f") + END,
    "long-name-L-no-nul": _hdr(b"././@LongLink", 4, b"L") + _pad(b"long") + _hdr(b"f") + END,
    "long-link-K-empty": _hdr(b"././@LongLink", 0, b"K") + _hdr(b"s", 0, b"2") + END,
    "meta-then-eof": _pax(b"11 path=xy\n"),
    "meta-then-end": _pax(b"11 path=xy\n") + END,
    "lone-zero-block": _hdr(b"a") + bytes(512) + _hdr(b"b") + END,
    "one-zero-block": _hdr(b"a") + bytes(512),
    "zero-and-a-half": _hdr(b"a") + bytes(700),
    "no-end": _hdr(b"a", 3) + _pad(b"abc"),
    "no-end-no-padding": _hdr(b"a", 3) + b"abc",
    "bad-checksum": _hdr(b"a") + _hdr(b"b", chksum=b"0000000\x00") + END,
    "empty-checksum": _hdr(b"a", chksum=bytes(8)) + END,
    "signed-checksum": _hdr(b"\xff\xfe", chksum=b"%06o\x00 " % (sum(b - 256 if b > 127 else b for b in
                                                                     _hdr(b"\xff\xfe")[:148]) + 256 + 0o644)),
    "base256-uid": _hdr(b"a", uid=b"\x80" + bytes(6) + b"\x01") + END,
    "base256-size": _hdr(b"a", size=b"\x80" + bytes(10) + b"\x03") + _pad(b"abc") + END,
    "octal-8": _hdr(b"a", mode=b"0000648\x00") + END,
    "octal-spaces": _hdr(b"a", b"   3       ", mode=b" 644   \x00") + _pad(b"abc") + END,
    "bad-devmajor-on-file": _hdr(b"a", devmajor=b"zzzzzzz\x00") + END,
    "bad-devmajor-on-char": _hdr(b"a", 0, b"3", devmajor=b"zzzzzzz\x00") + END,
    "dir-with-data": _hdr(b"d/", 600, b"5") + _pad(bytes(600)) + END,
    "dumpdir-with-data": _hdr(b"d", 10, b"D") + _pad(b"Yfile\x00\x00") + END,
    "dir-with-data-cut": _hdr(b"d/", 600, b"5") + bytes(600),
    "nul-type-trailing-slash": _hdr(b"d/", 0, b"\x00") + END,
    "nul-type-dir-with-data": _hdr(b"d/", 700, b"\x00") + _pad(bytes(700)) + _hdr(b"f", 1) + _pad(b"x") + END,
    "nul-type-pax-dir-with-data": _pax(b"11 path=d/\n") + _hdr(b"f", 700, b"\x00") + _pad(bytes(700)) + END,
    "nul-type-pax-empty-path": _pax(b"11 path=d/\n9 path=\n") + _hdr(b"f/", 3, b"\x00") + _pad(b"abc") + END,
    "nul-type-pax-file": _pax(b"11 path=dd\n") + _hdr(b"f/", 3, b"\x00") + _pad(b"abc") + END,
    "unknown-type": _hdr(b"u", 3, b"Z") + _pad(b"abc") + END,
    "sparse-type": _hdr(b"s", 0, b"S", magic=b"ustar  \x00") + END,
    "old-gnu-prefix-ignored": _hdr(b"n", magic=b"ustar  \x00")[:345] + b"pre" + bytes(164) + END,
    "v7": _hdr(b"v7", 2, magic=bytes(8)) + _pad(b"ab") + END,
    "empty-name": _hdr(b"") + END,
    # a batch's names are decoded in one piece: a cut UTF-8 sequence must not join the next name
    "utf8-split": _hdr(b"a\xc3") + _hdr(b"\xa9b/") + _hdr(b"c\xe2\x82") + _hdr(b"\xacd", 0, b"5") + END,
    "utf8-split-long": (_hdr(b"././@LongLink", 3, b"L") + _pad(b"x\xf0\x9f") + _hdr(b"f")
                        + _hdr(b"\x98\x80") + END),
    "root-name": _hdr(b"./") + _hdr(b"/") + END,
    "garbage": b"hello world\n" * 100,
    "empty": b"",
}


def _star_prefix() -> bytes:
    blk = bytearray(_hdr(b"name"))
    blk[345:345 + 3] = b"pre"
    blk[476:490] = b"12345670123\x00\x00\x00"  # atime / ctime after a 131-byte prefix
    blk[508:512] = b"tar\x00"
    blk[148:156] = b" " * 8
    blk[148:156] = b"%06o\x00 " % sum(blk)
    return bytes(blk)


ODD_ARCHIVES["star-prefix"] = _star_prefix() + END
_ustar_prefix = bytearray(_hdr(b"name"))
_ustar_prefix[345:348] = b"a/b"
_ustar_prefix[148:156] = b" " * 8
_ustar_prefix[148:156] = b"%06o\x00 " % sum(_ustar_prefix)
ODD_ARCHIVES["ustar-prefix"] = bytes(_ustar_prefix) + END


@pytest.mark.parametrize("name", ODD_ARCHIVES)
def test_odd_archives(name, slice_size):
    data = ODD_ARCHIVES[name]
    for cut in sorted({len(data), len(data) - 1, len(data) - 512, len(data) - 513, 512, 513}):
        if 0 <= cut <= len(data):
            assert_same(data[:cut])
            assert_same(data[:cut], pieces=cut)


def test_c_layout_matches_the_decoder():
    ffi = tarscan.NATIVE.ffi
    assert ffi.sizeof("ls_tar_entry") == tarscan._RECORD_SIZE
    for field, (_, offset) in tarscan._LAYOUT.items():
        assert ffi.offsetof("ls_tar_entry", field) == offset, field
    assert tarscan.NATIVE.lib.LS_TAR_MAX_META == tarmod.MAX_META_SIZE


def test_huge_pax_header_is_bounded():
    """Over MAX_META_SIZE: C hands over before buffering it, and the reference refuses it."""
    body = b" path=" + b"p" * (tarmod.MAX_META_SIZE + 10) + b"\n"
    n = len(body) + 1
    while len(b"%d" % n) + len(body) != n:
        n += 1
    data = _pax(b"%d" % n + body) + _hdr(b"f") + END
    entries, notes, error = assert_same(data)
    assert error is not None and "too large" in error[1]


def test_entries_without_xattrs_share_one_empty_mapping_that_refuses_changes():
    """~64 bytes an entry saved; the shared mapping cannot be changed through one entry."""
    from layerscope.layer.entry import NO_XATTRS, Entry

    data = corpus(11, "pax", count=30)
    entries, _, _ = outcome(tarscan.NATIVE, data)
    plain = [e for e in entries if not e.xattrs]
    assert plain and all(e.xattrs is NO_XATTRS for e in plain)
    assert Entry("a", "file", 0, 0o644, 0, 0, 0).xattrs is NO_XATTRS and NO_XATTRS == {}
    with pytest.raises(TypeError):
        plain[0].xattrs["user.x"] = b"1"
    with pytest.raises(TypeError):
        NO_XATTRS.update({"user.x": b"1"})
    assert NO_XATTRS == {}
