"""The streaming tar reader, checked against Python's tarfile and GNU tar.

Archives are built in memory with :mod:`tarfile` (USTAR, GNU, PAX), by hand
where a header needs to be odd, and with the real GNU ``tar`` for sparse
files. tarfile is the oracle for sizes, modes, ids, link targets and content.
Every test runs with both tar readers (the ``tar_backend`` fixture): the
pure-Python reference and the C scanner; tests/test_tarscan.py compares the
two on generated archives.
"""

from __future__ import annotations

import base64
import io
import os
import random
import shutil
import subprocess
import tarfile
import tracemalloc

import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerscope.errors import BadInputError
from layerscope.layer import Entry, iter_entries, normalize_path
from layerscope.layer import tar as tarmod
from layerscope.layer import tarscan

pytestmark = pytest.mark.usefixtures("tar_backend")

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


class Stream:
    """Non-seekable stream over bytes; records every read size."""

    def __init__(self, data: bytes, *, as_memoryview: bool = False) -> None:
        self.data = data
        self.pos = 0
        self.reads: list[int] = []
        self.as_memoryview = as_memoryview

    def read(self, n: int):
        self.reads.append(n)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return memoryview(chunk) if self.as_memoryview else chunk


def read_all(data: bytes, **kw) -> list[Entry]:
    return list(iter_entries(Stream(data), **kw))


def digest(data: bytes) -> bytes:
    return xxhash.xxh3_128_digest(data)


def build(members, fmt=tarfile.PAX_FORMAT, **open_kw) -> bytes:
    """members: iterable of (TarInfo, data-or-None)."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=fmt, **open_kw) as t:
        for ti, data in members:
            if data is not None:
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return bio.getvalue()


def ti(name, type=tarfile.REGTYPE, **kw) -> tarfile.TarInfo:
    t = tarfile.TarInfo(name)
    t.type = type
    t.mtime = kw.pop("mtime", 1_700_000_000)
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def fix_checksum(blk: bytes) -> bytes:
    blk = bytearray(blk)
    blk[148:156] = b" " * 8
    blk[148:156] = b"%06o\x00 " % sum(blk)
    return bytes(blk)


def raw_header(
    name=b"f",
    *,
    mode=b"0000644\x00",
    uid=b"0000000\x00",
    gid=b"0000000\x00",
    size=0,
    mtime=b"00000000000\x00",
    typeflag=b"0",
    linkname=b"",
    magic=b"ustar\x0000",
    uname=b"root",
    gname=b"root",
    devmajor=b"",
    devminor=b"",
    prefix=b"",
    tail=b"",
) -> bytes:
    """A hand-made header block with a valid checksum; fields are raw bytes."""

    def fld(v, n):
        v = v if isinstance(v, bytes) else b"%0*o\x00" % (n - 1, v)
        assert len(v) <= n, (v, n)
        return v.ljust(n, b"\x00")

    blk = (
        fld(name, 100) + fld(mode, 8) + fld(uid, 8) + fld(gid, 8) + fld(size, 12) + fld(mtime, 12)
        + b" " * 8 + typeflag + fld(linkname, 100) + fld(magic, 8) + fld(uname, 32) + fld(gname, 32)
        + fld(devmajor, 8) + fld(devminor, 8) + fld(prefix, 155)
    )
    blk = (blk + tail).ljust(512, b"\x00")
    return fix_checksum(blk)


def pad(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 512)


def member(hdr: bytes, data: bytes = b"") -> bytes:
    return hdr + pad(data)


END = b"\x00" * 1024


def pax_records(records: list[tuple[bytes, bytes]]) -> bytes:
    out = b""
    for k, v in records:
        body = b" " + k + b"=" + v + b"\n"
        n = len(body) + 1
        while len(b"%d" % n) + len(body) != n:
            n += 1
        out += b"%d" % n + body
    return out


def pax_member(records: list[tuple[bytes, bytes]], typeflag=b"x") -> bytes:
    data = pax_records(records)
    return member(raw_header(b"PaxHeaders/f", size=len(data), typeflag=typeflag), data)


def oracle(data: bytes) -> list[dict]:
    """What tarfile sees, in our vocabulary."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:", encoding="utf-8", errors="surrogateescape") as t:
        for m in t:
            kind = {
                tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file",
                tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink",
                tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo",
                tarfile.GNUTYPE_SPARSE: "file",
            }.get(m.type, "file")
            d = dict(path=normalize_path(m.name)[0], kind=kind, mode=m.mode & 0o7777, uid=m.uid, gid=m.gid,
                     uname=m.uname, gname=m.gname, mtime=float(m.mtime))
            if kind == "file":
                content = t.extractfile(m).read()
                d.update(size=len(content), digest=digest(content))
            else:
                d.update(size=0, digest=None)
            if kind == "hardlink":
                d["link"] = normalize_path(m.linkname)[0]
            elif kind == "symlink":
                d["link"] = m.linkname
            else:
                d["link"] = None
            if kind in ("char", "block"):
                d.update(devmajor=m.devmajor, devminor=m.devminor)
            out.append(d)
    return out


def ours(data: bytes, **kw) -> list[dict]:
    out = []
    for e in read_all(data, **kw):
        d = dict(path=e.path, kind=e.kind, mode=e.mode, uid=e.uid, gid=e.gid, uname=e.uname, gname=e.gname,
                 mtime=e.mtime, size=e.size, digest=e.digest, link=e.link)
        if e.kind in ("char", "block"):
            d.update(devmajor=e.devmajor, devminor=e.devminor)
        out.append(d)
    return out


def mixed_members():
    rnd = random.Random(7)
    files = [
        (ti("empty"), b""),
        (ti("one", mode=0o600, uid=1000, gid=1001, uname="alice", gname="staff"), b"x"),
        (ti("b511"), rnd.randbytes(511)),
        (ti("b512"), rnd.randbytes(512)),
        (ti("b513", mode=0o4755), rnd.randbytes(513)),
        (ti("dir/", tarfile.DIRTYPE, mode=0o1777), None),
        (ti("dir/big", mode=0o755), rnd.randbytes((1 << 20) + 1)),  # > one read slice
        (ti("dir/bigger"), rnd.randbytes(3 << 20) + b"tail"),
        (ti("dir/exact"), rnd.randbytes(1 << 20)),
        (ti("dir/justunder"), rnd.randbytes((1 << 20) - 512)),
        (ti("sym", tarfile.SYMTYPE, linkname="../x/./y"), None),
        (ti("hard", tarfile.LNKTYPE, linkname="./dir/big"), None),
        (ti("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666), None),
        (ti("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0, mode=0o660), None),
        (ti("run/fifo", tarfile.FIFOTYPE), None),
        (ti("contig", tarfile.CONTTYPE), b"contiguous"),
    ]
    return files


# --------------------------------------------------------------------------
# agreement with tarfile, per format
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_matches_tarfile(fmt):
    data = build(mixed_members(), FORMATS[fmt])
    assert ours(data) == oracle(data)
    kinds = [e.kind for e in read_all(data)]
    assert {"file", "dir", "symlink", "hardlink", "char", "block", "fifo"} <= set(kinds)


@pytest.mark.parametrize("as_memoryview", [False, True])
def test_stream_may_return_memoryview(as_memoryview):
    data = build(mixed_members())
    got = list(iter_entries(Stream(data, as_memoryview=as_memoryview)))
    assert got == read_all(data)


def test_offsets_and_raw_bytes():
    """header_offset includes pre-headers; data_offset is the first content byte."""
    long = "d/" + "n" * 150
    data = build([(ti("a"), b"hello"), (ti(long), b"world!"), (ti("s", tarfile.SYMTYPE, linkname="l" * 120), None)],
                 tarfile.PAX_FORMAT)
    a, b, s = read_all(data)
    assert (a.header_offset, a.data_offset) == (0, 512)
    assert data[a.data_offset : a.data_offset + a.size] == b"hello"
    # b: pax header block, its data block, then the ustar header
    assert b.header_offset == 1024
    assert data[b.header_offset + 156 : b.header_offset + 157] == b"x"
    assert b.data_offset == b.header_offset + 3 * 512
    assert data[b.data_offset : b.data_offset + b.size] == b"world!"
    assert b.raw_name == long
    assert s.header_offset == b.data_offset + 512
    assert s.data_offset == s.header_offset + 3 * 512 and s.data_size == 0
    assert s.link == "l" * 120


def test_every_file_digest_is_over_its_data_range():
    data = build(mixed_members(), tarfile.GNU_FORMAT)
    for e in read_all(data):
        if e.kind == "file":
            assert e.data_size == e.size
            assert digest(data[e.data_offset : e.data_offset + e.size]) == e.digest


def test_mtime_and_owner_names():
    data = build([(ti("f", mtime=1234567890, uname="user", gname="grp"), b"")], tarfile.USTAR_FORMAT)
    (e,) = read_all(data)
    assert e.mtime == 1234567890.0 and isinstance(e.mtime, float)
    assert (e.uname, e.gname) == ("user", "grp")


# --------------------------------------------------------------------------
# where reading stops
# --------------------------------------------------------------------------


def test_stops_right_after_end_marker():
    data = build([(ti("a"), b"abc")])  # tarfile pads to a 10240-byte record
    assert len(data) == 10240
    s = Stream(data + b"TRAILING BYTES THE CALLER DRAINS")
    list(iter_entries(s))
    if tarscan.BACKEND.native:  # reads ahead one slice; the caller drains the rest anyway
        assert s.reads == [tarscan.SLICE]
    else:
        assert s.pos == 512 + 512 + 1024


def test_one_zero_block_then_eof_is_accepted():
    data = member(raw_header(b"a", size=3), b"abc") + b"\x00" * 512
    s = Stream(data)
    (e,) = list(iter_entries(s))
    assert e.path == "a" and s.pos == len(data)


def test_lone_zero_block_then_a_header_is_an_error():
    data = member(raw_header(b"a")) + b"\x00" * 512 + member(raw_header(b"hidden")) + END
    with pytest.raises(BadInputError, match="lone zero block at offset 512"):
        read_all(data)


def test_partial_second_zero_block_is_truncation():
    with pytest.raises(BadInputError, match="truncated"):
        read_all(member(raw_header(b"a")) + b"\x00" * 700)


@pytest.mark.parametrize("data", [b"", member(raw_header(b"a")), member(raw_header(b"a", size=5), b"abcde")])
def test_eof_at_header_boundary_without_marker_ends_the_archive_with_a_note(data):
    """Go's archive/tar (docker, containerd, dive) reads such a tar, and `umoci insert` writes them."""
    notes: list[str] = []
    entries = list(iter_entries(Stream(data), notes=notes))
    assert len(entries) == (1 if data else 0)
    assert len(notes) == 1 and notes[0].startswith("no-end-marker: the tar ends after its last member")
    notes.clear()
    list(iter_entries(Stream(data + END), notes=notes))
    assert notes == []


@pytest.mark.parametrize("size", [1, 511, 1000, tarmod.READ_SIZE + 3])
def test_eof_in_the_padding_after_the_last_member_ends_the_archive(size):
    """What `umoci insert` (0.4.7) writes: the last file's content, then nothing, not even its padding."""
    body = os.urandom(size)
    data = member(raw_header(b"a", size=3), b"abc") + raw_header(b"last", size=size) + body
    for extra in (0, 1, (-size % 512) - 1):
        if extra < 0:
            continue
        notes: list[str] = []
        a, last = list(iter_entries(Stream(data + bytes(extra)), notes=notes))
        assert (last.path, last.size, last.digest) == ("last", size, digest(body))
        assert len(notes) == 1 and "no-end-marker" in notes[0]
    with pytest.raises(BadInputError, match="truncated tar: content of 'last'"):
        read_all(data[:-1])


def test_eof_after_an_extended_header_is_still_truncation():
    pax = member(raw_header(b"././@PaxHeader", typeflag=b"x", size=len(pax_records([(b"path", b"long")]))),
                 pax_records([(b"path", b"long")]))
    with pytest.raises(BadInputError, match=r"truncated tar: extended header at offset 0 and no member after it"):
        read_all(pax)


def test_empty_archive():
    assert read_all(END) == []
    assert read_all(build([])) == []


def test_reads_content_in_bounded_slices():
    size = 5 * (1 << 20) + 123
    data = build([(ti("big"), os.urandom(size))])
    s = Stream(data)
    (e,) = list(iter_entries(s))
    assert e.size == size
    if tarscan.BACKEND.native:
        assert max(s.reads) <= tarscan.SLICE
        assert len(s.reads) <= size // tarscan.SLICE + 2
    else:
        assert max(s.reads) <= tarmod.READ_SIZE + 512
        assert len(s.reads) <= size // tarmod.READ_SIZE + 3  # header, slices, tail + next header


def test_small_files_take_one_read_each():
    data = build([(ti(f"f{i}"), b"x" * i) for i in range(50)], tarfile.USTAR_FORMAT)
    s = Stream(data)
    assert len(list(iter_entries(s))) == 50
    if tarscan.BACKEND.native:  # one slice holds them all
        assert s.reads == [tarscan.SLICE]
    else:
        assert len(s.reads) == 1 + 50 + 1  # first header, (data + next header) per member, second zero block


def test_hash_content_false():
    data = build(mixed_members())
    s = Stream(data)
    entries = list(iter_entries(s, hash_content=False))
    assert all(e.digest is None for e in entries)
    s2 = Stream(data)
    hashed = list(iter_entries(s2))
    assert s.pos == s2.pos
    assert [e.size for e in entries] == [e.size for e in hashed]
    assert [e.path for e in entries] == [e.path for e in hashed]


# --------------------------------------------------------------------------
# header fields
# --------------------------------------------------------------------------


def test_bad_checksum_names_offset():
    data = bytearray(build([(ti("a"), b"abc"), (ti("b"), b"def")], tarfile.USTAR_FORMAT))
    data[1024 + 5] ^= 0x01
    with pytest.raises(BadInputError, match="bad header checksum at offset 1024"):
        read_all(bytes(data))


def test_signed_checksum_accepted():
    blk = bytearray(raw_header("é-name".encode() + b"\xff\xfe"))
    blk[148:156] = b" " * 8
    signed = sum(b - 256 if b > 127 else b for b in blk)
    assert signed != sum(blk)
    blk[148:156] = b"%06o\x00 " % signed
    (e,) = read_all(bytes(blk) + END)
    assert e.raw_name == "é-name\udcff\udcfe"


@pytest.mark.parametrize("spelling", [b"%06o\x00 ", b"%07o\x00", b" %06o ", b"%o\x00", b"%08o"])
def test_checksum_spellings(spelling):
    blk = bytearray(raw_header(b"a"))
    blk[148:156] = b" " * 8
    s = spelling % sum(blk)
    blk[148:156] = s.ljust(8, b"\x00")
    assert read_all(bytes(blk) + END)[0].path == "a"


def test_numeric_field_spellings():
    hdr = raw_header(b"a", mode=b"   644 \x00", uid=b"", gid=b"12 \x00junk", size=b"00000000003 ",
                     mtime=b"\x00" * 12)
    (e,) = read_all(member(hdr, b"abc") + END)
    assert (e.mode, e.uid, e.gid, e.size, e.mtime) == (0o644, 0, 10, 3, 0.0)


def test_mode_keeps_only_permission_bits():
    hdr = raw_header(b"a", mode=b"0104755\x00")  # S_IFREG | setuid | 755, as old tars wrote it
    (e,) = read_all(member(hdr) + END)
    assert e.mode == 0o4755


@pytest.mark.parametrize("field", ["mode", "uid", "size", "mtime"])
def test_bad_numeric_field(field):
    hdr = raw_header(b"a", **{field: b"12x4\x00"})
    with pytest.raises(BadInputError, match=f"bad {field} field"):
        read_all(member(hdr) + END)


def test_negative_octal_size_rejected():
    with pytest.raises(BadInputError):
        read_all(member(raw_header(b"a", size=b"-0000000001\x00")) + END)


def test_base256_numbers():
    data = build([(ti("a", uid=10**10, gid=2**40, mtime=-(10**11)), b"z")], tarfile.GNU_FORMAT)
    blk = data[:512]
    assert blk[108] & 0x80 and blk[136] == 0xFF  # really base-256, mtime negative
    assert ours(data) == oracle(data)
    (e,) = read_all(data)
    assert (e.uid, e.gid, e.mtime) == (10**10, 2**40, float(-(10**11)))


def test_base256_size():
    hdr = bytearray(raw_header(b"a"))
    hdr[124:136] = b"\x80" + (5).to_bytes(11, "big")
    (e,) = read_all(member(fix_checksum(hdr), b"12345") + END)
    assert e.size == 5 and e.digest == digest(b"12345")
    hdr[124:136] = b"\xff" * 12  # -1
    with pytest.raises(BadInputError, match="negative size"):
        read_all(member(fix_checksum(hdr)) + END)


def test_devices():
    data = build([(ti("c", tarfile.CHRTYPE, devmajor=136, devminor=2), None),
                  (ti("b", tarfile.BLKTYPE, devmajor=259, devminor=1), None)], tarfile.USTAR_FORMAT)
    c, b = read_all(data)
    assert (c.kind, c.devmajor, c.devminor, c.size, c.digest) == ("char", 136, 2, 0, None)
    assert (b.kind, b.devmajor, b.devminor) == ("block", 259, 1)


def test_uname_gname_non_utf8():
    data = build([(ti("a", uname="us\udce9r", gname="gr"), b"")], tarfile.GNU_FORMAT,
                 encoding="utf-8", errors="surrogateescape")
    (e,) = read_all(data)
    assert e.uname == "us\udce9r"


# --------------------------------------------------------------------------
# names: prefix, long names, non-UTF-8
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("length", [99, 100, 101, 254, 255, 256, 1000])
def test_long_names(fmt, length):
    name = ("sub/" * 60)[: length - 1].rstrip("/") + "x"
    name = name + "y" * (length - len(name))
    assert len(name) == length
    try:
        data = build([(ti(name), b"data"), (ti(name + "-dir/", tarfile.DIRTYPE), None)], FORMATS[fmt])
    except ValueError:
        pytest.skip("tarfile cannot write this name in this format")
    f, d = read_all(data)
    assert f.raw_name == name and f.path == name and f.size == 4
    assert d.path == name + "-dir" and d.kind == "dir"
    assert ours(data) == oracle(data)


def test_ustar_prefix_is_joined():
    name = "p/" * 70 + "leaf"  # 144 chars: tarfile USTAR splits it into prefix + name
    data = build([(ti(name), b"")], tarfile.USTAR_FORMAT)
    assert data[345] != 0  # the prefix field is used
    (e,) = read_all(data)
    assert e.raw_name == name


def test_prefix_ignored_for_old_gnu_magic():
    # old GNU keeps atime/ctime etc. where ustar has the prefix
    tail_like_atime = b"14712345670\x0014712345670\x00"
    hdr = raw_header(b"name", magic=b"ustar  \x00", prefix=tail_like_atime)
    (e,) = read_all(member(hdr) + END)
    assert e.raw_name == "name"
    hdr = raw_header(b"name", magic=b"ustar\x0000", prefix=b"pre/fix")
    (e,) = read_all(member(hdr) + END)
    assert e.raw_name == "pre/fix/name"
    hdr = raw_header(b"name", magic=b"\x00" * 8, prefix=b"pre/fix")  # v7: no prefix either
    (e,) = read_all(member(hdr) + END)
    assert e.raw_name == "name"


def test_star_prefix_is_131_bytes():
    hdr = bytearray(raw_header(b"name", prefix=b"p" * 131))  # a full prefix has no NUL
    hdr[476:488] = b"14712345670\x00"  # star's atime right after it
    hdr[508:512] = b"tar\x00"
    (e,) = read_all(member(fix_checksum(hdr)) + END)
    assert e.raw_name == "p" * 131 + "/name"


@pytest.mark.parametrize("fmt", FORMATS)
def test_long_link_names(fmt):
    target = "t/" * 80 + "target"
    try:
        data = build([(ti("s", tarfile.SYMTYPE, linkname=target), None),
                      (ti("h", tarfile.LNKTYPE, linkname="./" + target), None)], FORMATS[fmt])
    except ValueError:
        pytest.skip("USTAR has no long link names")
    s, h = read_all(data)
    assert s.link == target and h.link == target
    assert ours(data) == oracle(data)


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_utf8_names_round_trip(fmt):
    raw = b"caf\xe9/\xff\xfe-name"
    name = raw.decode("utf-8", "surrogateescape")
    data = build([(ti(name), b"x"), (ti("l", tarfile.SYMTYPE, linkname=name), None)], FORMATS[fmt],
                 encoding="utf-8", errors="surrogateescape")
    f, link = read_all(data)
    assert f.raw_name.encode("utf-8", "surrogateescape") == raw
    assert f.path == name
    assert link.link.encode("utf-8", "surrogateescape") == raw
    if fmt == "pax":
        assert b"hdrcharset=BINARY" in data


def test_utf8_names():
    data = build([(ti("répertoire/日本語"), b"x")], tarfile.PAX_FORMAT)
    (e,) = read_all(data)
    assert e.path == "répertoire/日本語"


def test_hostile_paths():
    names = ["../../etc/passwd", "/abs/path", "a/../../b", "./././x", "a//b/./c/"]
    data = build([(ti(n), b"") for n in names], tarfile.PAX_FORMAT)
    got = [(e.path, e.defects, e.raw_name) for e in read_all(data)]
    # tarfile itself strips a trailing slash from pax paths; the stored name is what we keep
    assert [g[:2] for g in got] == [
        ("etc/passwd", ("path-escape",)),
        ("abs/path", ()),
        ("b", ("path-escape",)),
        ("x", ()),
        ("a/b/c", ()),
    ]
    assert got[0][2] == "../../etc/passwd"


def test_root_directory_entry():
    data = build([(ti("./", tarfile.DIRTYPE), None), (ti("/", tarfile.DIRTYPE), None)], tarfile.USTAR_FORMAT)
    assert [(e.path, e.kind, e.defects) for e in read_all(data)] == [("", "dir", ()), ("", "dir", ())]


def test_empty_name():
    (e,) = read_all(member(raw_header(b"")) + END)
    assert e.path == "" and e.defects == ("empty-name",)


def test_hardlink_target_normalised_and_symlink_verbatim():
    data = build([
        (ti("h1", tarfile.LNKTYPE, linkname="./usr//bin/../bin/ls"), None),
        (ti("h2", tarfile.LNKTYPE, linkname="../../../etc/shadow"), None),
        (ti("s1", tarfile.SYMTYPE, linkname="../../../etc/shadow"), None),
        (ti("s2", tarfile.SYMTYPE, linkname="/abs//./x/"), None),
    ], tarfile.GNU_FORMAT)
    h1, h2, s1, s2 = read_all(data)
    assert (h1.link, h1.defects) == ("usr/bin/ls", ())
    assert (h2.link, h2.defects) == ("etc/shadow", ("link-escape",))
    assert (s1.link, s1.defects) == ("../../../etc/shadow", ())
    assert s2.link == "/abs//./x/"


def test_path_and_link_escape_together():
    data = build([(ti("../h", tarfile.LNKTYPE, linkname="../t"), None)], tarfile.GNU_FORMAT)
    (e,) = read_all(data)
    assert e.defects == ("path-escape", "link-escape")


# --------------------------------------------------------------------------
# type flags
# --------------------------------------------------------------------------


def test_unknown_type_flag_is_a_regular_file():
    hdr = raw_header(b"weird", typeflag=b"Z", size=5)
    (e,) = read_all(member(hdr, b"abcde") + member(raw_header(b"next")) + END)[:1]
    assert (e.kind, e.size, e.digest) == ("file", 5, digest(b"abcde"))
    assert [x.path for x in read_all(member(hdr, b"abcde") + member(raw_header(b"next")) + END)] == ["weird", "next"]


def test_gnu_dumpdir_is_a_directory_and_its_data_skipped():
    data = member(raw_header(b"d/", typeflag=b"D", size=600), b"Yfile\x00" * 100) + member(raw_header(b"n")) + END
    d, n = read_all(data)
    assert (d.kind, d.path, d.size, d.defects) == ("dir", "d", 0, ())
    assert n.path == "n" and n.header_offset == 512 + 1024


def test_volume_label_skipped():
    data = member(raw_header(b"MY VOLUME", typeflag=b"V")) + member(raw_header(b"a")) + END
    assert [e.path for e in read_all(data)] == ["a"]


def test_multivolume_is_an_error():
    data = member(raw_header(b"a", typeflag=b"M", size=3), b"abc") + END
    with pytest.raises(BadInputError, match="multi-volume.*offset 0"):
        read_all(data)


@pytest.mark.parametrize("typeflag, kind", [(b"5", "dir"), (b"2", "symlink"), (b"1", "hardlink"),
                                            (b"3", "char"), (b"6", "fifo")])
def test_non_file_with_data_is_consumed(typeflag, kind):
    # the data looks like a header: a reader that did not consume it would see "hidden"
    hidden = member(raw_header(b"hidden", size=0))
    data = member(raw_header(b"x", typeflag=typeflag, size=len(hidden), linkname=b"t"), hidden)
    data += member(raw_header(b"after")) + END
    x, after = read_all(data)
    assert (x.kind, x.size, x.digest, x.data_size) == (kind, 0, None, 512)
    assert x.defects == ("ignored-data",)
    assert after.path == "after"


def test_old_style_regular_with_trailing_slash_is_a_dir():
    (e,) = read_all(member(raw_header(b"olddir/", typeflag=b"\x00")) + END)
    assert (e.kind, e.path) == ("dir", "olddir")
    (e,) = read_all(member(raw_header(b"file", typeflag=b"\x00", size=1), b"x") + END)
    assert (e.kind, e.size) == ("file", 1)


# --------------------------------------------------------------------------
# pax
# --------------------------------------------------------------------------


def test_pax_xattrs_binary_values():
    records = [
        (b"SCHILY.xattr.user.bin", b"\x00\xff\xfe\n=bin"),
        (b"SCHILY.xattr.security.capability", b"\x01\x00\x00\x02\x00\x20\x00\x00"),
        (b"SCHILY.xattr.user.empty", b""),
        (b"SCHILY.xattr.user.caf\xc3\xa9", b"v"),
    ]
    data = pax_member(records) + member(raw_header(b"f", size=1), b"x") + END
    (e,) = read_all(data)
    assert e.xattrs == {
        "user.bin": b"\x00\xff\xfe\n=bin",
        "security.capability": b"\x01\x00\x00\x02\x00\x20\x00\x00",
        "user.empty": b"",
        "user.café": b"v",
    }
    assert all(type(v) is bytes for v in e.xattrs.values())


def test_pax_xattrs_written_by_tarfile():
    t = ti("f")
    t.pax_headers = {"SCHILY.xattr.user.k": b"\x00\x80val\xff".decode("utf-8", "surrogateescape")}
    data = build([(t, b"c")], tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")
    (e,) = read_all(data)
    assert e.xattrs == {"user.k": b"\x00\x80val\xff"}


def test_libarchive_xattrs():
    value = b"\x00\x01binary\xff"
    enc = base64.b64encode(value).rstrip(b"=")  # libarchive writes no padding
    data = pax_member([(b"LIBARCHIVE.xattr.user.a%3Db%20c", enc)]) + member(raw_header(b"f")) + END
    (e,) = read_all(data)
    assert e.xattrs == {"user.a=b c": value}
    bad = pax_member([(b"LIBARCHIVE.xattr.user.x", b"!!!notbase64")]) + member(raw_header(b"f")) + END
    with pytest.raises(BadInputError, match="base64"):
        read_all(bad)


def test_pax_overrides():
    records = [
        (b"path", "pax/é/name".encode()),
        (b"linkpath", b"pax-target"),
        (b"uid", b"4294967295"),
        (b"gid", b"99999999"),
        (b"uname", b"paxuser"),
        (b"gname", b"paxgroup"),
        (b"mtime", b"1700000000.123456789"),
        (b"atime", b"1"),
        (b"comment", b"ignored"),
    ]
    data = pax_member(records) + member(raw_header(b"hdrname", typeflag=b"2", linkname=b"hdrlink")) + END
    (e,) = read_all(data)
    assert (e.path, e.link, e.uid, e.gid, e.uname, e.gname) == (
        "pax/é/name", "pax-target", 4294967295, 99999999, "paxuser", "paxgroup")
    assert e.mtime == pytest.approx(1700000000.123456789)


def test_pax_size_overrides_header_size():
    content = b"y" * 700
    data = pax_member([(b"size", b"700")]) + member(raw_header(b"f", size=0), content) + member(raw_header(b"n")) + END
    f, n = read_all(data)
    assert (f.size, f.digest) == (700, digest(content))
    assert n.path == "n"


def test_pax_big_size_from_tarfile():
    # tarfile writes a pax "size" for files of 8 GiB and more; fake the number, keep the data small
    records = [(b"size", b"3")]
    data = pax_member(records) + member(raw_header(b"f", size=b"77777777777\x00"[:12]), b"abc") + END
    (e,) = read_all(data)
    assert e.size == 3


def test_pax_empty_value_falls_back_to_header():
    data = pax_member([(b"path", b""), (b"uid", b"")]) + member(raw_header(b"hdr", uid=7)) + END
    (e,) = read_all(data)
    assert (e.path, e.uid) == ("hdr", 7)


def test_pax_length_is_in_bytes():
    # multi-byte UTF-8 plus "=" and "\n" inside a value: only a byte-length parser gets it right
    value = "é=\n日本".encode()
    data = pax_member([(b"path", value), (b"uname", b"u")]) + member(raw_header(b"f")) + END
    (e,) = read_all(data)
    assert e.raw_name == value.decode() and e.uname == "u"


def test_pax_non_utf8_path():
    data = pax_member([(b"hdrcharset", b"BINARY"), (b"path", b"\xff\xfeb")]) + member(raw_header(b"f")) + END
    (e,) = read_all(data)
    assert e.raw_name.encode("utf-8", "surrogateescape") == b"\xff\xfeb"


def test_pax_applies_to_next_member_only_and_merges():
    data = (pax_member([(b"uid", b"5")]) + pax_member([(b"gid", b"6")]) + member(raw_header(b"a"))
            + member(raw_header(b"b")) + END)
    a, b = read_all(data)
    assert (a.uid, a.gid, b.uid, b.gid) == (5, 6, 0, 0)
    assert a.header_offset == 0 and a.data_offset == 5 * 512
    assert b.header_offset == 5 * 512


def test_pax_path_wins_over_gnu_long_name():
    long = b"L" * 200
    data = (member(raw_header(b"././@LongLink", typeflag=b"L", size=len(long) + 1), long + b"\x00")
            + pax_member([(b"path", b"from-pax")]) + member(raw_header(b"short")) + END)
    (e,) = read_all(data)
    assert e.path == "from-pax"


def test_global_pax_header_ignored():
    data = build([(ti("a"), b"1"), (ti("b"), b"22")], tarfile.PAX_FORMAT,
                 pax_headers={"comment": "c" * 2000, "path": "should-not-apply"})
    assert data[156:157] == b"g"
    # (tarfile applies a global "path" to every member; Go's archive/tar, which
    # unpacks layers in docker and containerd, does not, and neither do we)
    assert [(e.path, e.size) for e in read_all(data)] == [("a", 1), ("b", 2)]
    gsize = int(data[124:136].rstrip(b"\x00"), 8)
    assert read_all(data)[0].header_offset == 512 + gsize + (-gsize % 512)  # not a pre-header of "a"


@pytest.mark.parametrize(
    "records",
    [
        b"abc path=x\n",  # non-numeric length
        b"99 path=x\n",  # length past the data
        b"10 path=x\x00",  # no newline at the end
        b"8 pathx\n",  # no '='
        b"6 =xx\n",  # empty keyword
        b" 9 path=\n",  # leading space
        b"3 \n",  # too short
        b"11 path=ab\n5 ab\n",  # second record broken
        b"-9 path=x\n",
    ],
)
def test_bad_pax_records(records):
    data = member(raw_header(b"PaxHeaders/f", size=len(records), typeflag=b"x"), records) + member(raw_header(b"f")) + END
    with pytest.raises(BadInputError, match="pax record"):
        read_all(data)


@pytest.mark.parametrize("key, value", [(b"size", b"12x"), (b"uid", b"-1"), (b"mtime", b"nan"), (b"gid", b"")])
def test_bad_pax_numbers(key, value):
    data = pax_member([(key, value)]) + member(raw_header(b"f")) + END
    if value == b"":
        assert read_all(data)[0].gid == 0
        return
    with pytest.raises(BadInputError, match="pax"):
        read_all(data)


def test_pax_trailing_nul_padding_tolerated():
    recs = pax_records([(b"path", b"p")]) + b"\x00" * 10
    data = member(raw_header(b"PaxHeaders/f", size=len(recs), typeflag=b"x"), recs) + member(raw_header(b"f")) + END
    assert read_all(data)[0].path == "p"


def test_extended_header_without_member():
    with pytest.raises(BadInputError, match="describes no member"):
        read_all(pax_member([(b"path", b"x")]) + END)


def test_oversized_extended_header():
    hdr = raw_header(b"PaxHeaders/f", size=64 << 20, typeflag=b"x")
    with pytest.raises(BadInputError, match="too large"):
        read_all(hdr + b"\x00" * 4096)


def test_many_extended_headers_are_bounded_together(monkeypatch):
    monkeypatch.setattr(tarmod, "MAX_META_SIZE", 10_000)
    one = pax_member([(b"comment", b"c" * 3000)])
    read_all(one * 3 + member(raw_header(b"f")) + END)
    with pytest.raises(BadInputError, match="too large"):
        read_all(one * 4 + member(raw_header(b"f")) + END)
    # the budget is per member
    read_all((one * 3 + member(raw_header(b"f"))) * 3 + END)


def test_gnu_long_name_and_link_headers():
    name, link = b"n" * 300, b"l" * 300
    data = (member(raw_header(b"././@LongLink", typeflag=b"L", size=301), name + b"\x00")
            + member(raw_header(b"././@LongLink", typeflag=b"K", size=301), link + b"\x00")
            + member(raw_header(b"n" * 99, typeflag=b"2", linkname=b"l" * 99)) + END)
    (e,) = read_all(data)
    assert (e.path, e.link, e.header_offset, e.data_offset) == (name.decode(), link.decode(), 0, 5 * 512)


# --------------------------------------------------------------------------
# sparse files (GNU tar writes them)
# --------------------------------------------------------------------------


def _gnu_tar() -> str | None:
    exe = shutil.which("tar")
    if not exe:
        return None
    out = subprocess.run([exe, "--version"], check=False, capture_output=True, text=True).stdout
    return exe if "GNU tar" in out else None


GNU_TAR = _gnu_tar()
needs_gnu_tar = pytest.mark.skipif(GNU_TAR is None, reason="GNU tar not installed")

SPARSE_VARIANTS = {
    "gnu": ["--format=gnu"],  # old GNU 'S' headers
    "pax-0.0": ["--format=pax", "--sparse-version=0.0"],
    "pax-0.1": ["--format=pax", "--sparse-version=0.1"],
    "pax-1.0": ["--format=pax", "--sparse-version=1.0"],
    "posix": ["--format=posix"],  # the default pax sparse version (1.0)
}


@pytest.fixture(scope="module")
def sparse_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sparse") / "d"
    d.mkdir()
    rnd = random.Random(3)

    def make(name, size, islands):
        with open(d / name, "wb") as fh:
            fh.truncate(size)
            for off, data in islands:
                fh.seek(off)
                fh.write(data)

    make("islands", 10 << 20, [(4096, b"hello"), (5_000_000, b"world"), ((10 << 20) - 3, b"end")])
    make("allhole", 1 << 20, [])
    make("many", 4 << 20, [(i * 65536, rnd.randbytes(100 + i)) for i in range(40)])  # > 4 + 21 map entries
    make("head", 1 << 20, [(0, rnd.randbytes(9000))])
    with open(d / "dense", "wb") as fh:
        fh.write(rnd.randbytes(20000))
    return d


def _tar_sparse(src, variant, tmp_path) -> bytes:
    out = tmp_path / f"{variant}.tar"
    subprocess.run([GNU_TAR, "--sparse", *SPARSE_VARIANTS[variant], "-cf", str(out), "-C", str(src), "."],
                   check=True, capture_output=True)
    return out.read_bytes()


@needs_gnu_tar
@pytest.mark.parametrize("variant", SPARSE_VARIANTS)
def test_sparse_expanded(sparse_dir, variant, tmp_path):
    data = _tar_sparse(sparse_dir, variant, tmp_path)
    entries = {e.path: e for e in read_all(data)}
    for name in ("islands", "allhole", "many", "head", "dense"):
        content = (sparse_dir / name).read_bytes()
        e = entries[name]
        assert (e.kind, e.size, e.digest) == ("file", len(content), digest(content)), name
    # agrees with tarfile's expansion too
    assert sorted(ours(data), key=lambda d: d["path"]) == sorted(oracle(data), key=lambda d: d["path"])
    # the stored runs are smaller than the expanded file
    assert entries["islands"].data_size < 64 << 10
    assert entries["allhole"].data_size == 0


@needs_gnu_tar
def test_old_gnu_sparse_uses_type_s_and_extension_blocks(sparse_dir, tmp_path):
    data = _tar_sparse(sparse_dir, "gnu", tmp_path)
    e = {e.path: e for e in read_all(data)}["many"]
    assert data[e.header_offset + 156 : e.header_offset + 157] == b"S"
    assert data[e.header_offset + 482] == 1  # isextended
    assert e.data_offset - e.header_offset >= 3 * 512  # header + extension blocks


@needs_gnu_tar
def test_pax_1_0_data_offset_is_after_the_map(sparse_dir, tmp_path):
    data = _tar_sparse(sparse_dir, "pax-1.0", tmp_path)
    e = {e.path: e for e in read_all(data)}["head"]
    content = (sparse_dir / "head").read_bytes()
    assert data[e.data_offset : e.data_offset + 9000] == content[:9000]
    assert e.raw_name == "./head"  # GNU.sparse.name, not the GNUSparseFile.NNN header name


@needs_gnu_tar
@pytest.mark.parametrize("variant", ["gnu", "pax-1.0"])
def test_sparse_truncated_everywhere(sparse_dir, variant, tmp_path):
    data = _tar_sparse(sparse_dir, variant, tmp_path)
    end = _end_of_archive(data)
    whole = _member_boundaries(data)
    for cut in range(0, end, 97):
        if cut in whole:  # whole members and no marker: Go's reading
            read_all(data[:cut], hash_content=False)
            continue
        with pytest.raises(BadInputError):
            read_all(data[:cut], hash_content=False)


def test_sparse_zero_runs_hashed_without_big_buffers():
    # old-GNU 'S' member: 256 MiB of holes around 5 stored bytes
    real = 256 << 20
    hdr = bytearray(raw_header(b"huge", typeflag=b"S", size=5, magic=b"ustar  \x00"))
    hdr[386:410] = b"%011o\x00%011o\x00" % (real // 2, 5)
    hdr[483:495] = b"%011o\x00" % real
    data = member(fix_checksum(hdr), b"hello") + END
    h = xxhash.xxh3_128()
    zeros = bytes(1 << 20)
    for _ in range(128):
        h.update(zeros)
    h.update(b"hello")
    for _ in range(127):
        h.update(zeros)
    h.update(bytes((1 << 20) - 5))
    tracemalloc.start()
    try:
        (e,) = read_all(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (e.size, e.digest, e.data_size) == (real, h.digest(), 5)
    assert peak < 8 << 20


def _sparse_member(pairs, real, stored: bytes) -> bytes:
    hdr = bytearray(raw_header(b"sp", typeflag=b"S", size=len(stored), magic=b"ustar  \x00"))
    for i, (off, n) in enumerate(pairs):
        hdr[386 + 24 * i : 410 + 24 * i] = b"%011o\x00%011o\x00" % (off, n)
    hdr[483:495] = b"\x80" + real.to_bytes(11, "big")  # base-256: any size
    return member(fix_checksum(hdr), stored) + END


def test_sparse_map_checked():
    assert read_all(_sparse_member([(0, 2), (10, 3)], 20, b"abcde"))[0].size == 20
    with pytest.raises(BadInputError, match="sparse map"):  # overlapping
        read_all(_sparse_member([(0, 4), (2, 1)], 20, b"abcde"))
    with pytest.raises(BadInputError, match="sparse map"):  # past the real size
        read_all(_sparse_member([(0, 2), (18, 3)], 20, b"abcde"))
    with pytest.raises(BadInputError, match="sparse map"):  # maps fewer bytes than stored
        read_all(_sparse_member([(0, 2)], 20, b"abcde"))


def test_sparse_too_large():
    with pytest.raises(BadInputError, match="limit"):
        read_all(_sparse_member([(0, 1)], 1 << 50, b"a"))


def test_pax_sparse_0_1_by_hand_and_bad_versions():
    stored = b"abcdef"
    recs = [(b"GNU.sparse.size", b"100"), (b"GNU.sparse.map", b"10,3,50,3"), (b"GNU.sparse.name", b"real")]
    data = pax_member(recs) + member(raw_header(b"GNUSparseFile.1/real", size=6), stored) + END
    (e,) = read_all(data)
    assert (e.path, e.size) == ("real", 100)
    assert e.digest == digest(bytes(10) + b"abc" + bytes(37) + b"def" + bytes(47))
    bad = pax_member([(b"GNU.sparse.major", b"2"), (b"GNU.sparse.minor", b"0"), (b"GNU.sparse.realsize", b"9")])
    with pytest.raises(BadInputError, match="unsupported GNU sparse"):
        read_all(bad + member(raw_header(b"x", size=6), stored) + END)
    odd = pax_member([(b"GNU.sparse.size", b"100"), (b"GNU.sparse.map", b"10,3,50")])
    with pytest.raises(BadInputError, match="odd"):
        read_all(odd + member(raw_header(b"x", size=6), stored) + END)


def test_pax_sparse_1_0_bad_map():
    recs = [(b"GNU.sparse.major", b"1"), (b"GNU.sparse.minor", b"0"), (b"GNU.sparse.realsize", b"100")]
    for mapdata in (b"2\n0\n3\n", b"x\n", b"1\n5\nzz\n"):
        data = pax_member(recs) + member(raw_header(b"x", size=512 + 3), pad(mapdata) + b"abc") + END
        with pytest.raises(BadInputError):
            read_all(data)
    good = pax_member(recs) + member(raw_header(b"x", size=512 + 3), pad(b"1\n5\n3\n") + b"abc") + END
    assert read_all(good)[0].digest == digest(bytes(5) + b"abc" + bytes(92))


# --------------------------------------------------------------------------
# bad input: truncation, garbage, flipped bytes
# --------------------------------------------------------------------------


def _end_of_archive(data: bytes) -> int:
    s = Stream(data)
    list(tarmod.iter_entries(s, hash_content=False))  # the reference reader stops right there
    return s.pos


def _member_boundaries(data: bytes) -> dict[int, int]:
    """Cuts Go's archive/tar reads as a complete archive: at a member's first header block, or
    anywhere in the padding after a member's content (its data whole) -> how many members are whole."""
    entries = read_all(data)
    starts = [e.header_offset for e in entries] + [_end_of_archive(data) - 1024]
    out = {starts[0]: 0}
    for i, e in enumerate(entries):
        for cut in range(e.data_offset + e.data_size, starts[i + 1] + 1):
            out[cut] = i + 1
    return out


def _truncation_corpus() -> bytes:
    t = ti("x")
    t.pax_headers = {"SCHILY.xattr.user.a": "v", "path": "p/" + "q" * 150}
    return build([(t, b"content" * 100), (ti("l" * 120, tarfile.SYMTYPE, linkname="k" * 130), None),
                  (ti("g"), b"z" * 1500)], tarfile.PAX_FORMAT)


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_at_every_offset(fmt):
    if fmt == "pax":
        data = _truncation_corpus()
    else:
        data = build([(ti("a" * 120 if fmt == "gnu" else "a"), b"content" * 100),
                      (ti("s", tarfile.SYMTYPE, linkname="t"), None), (ti("g"), b"z" * 1500)], FORMATS[fmt])
    end = _end_of_archive(data)
    assert read_all(data[: end - 512])  # one zero block then EOF: a complete archive
    whole = _member_boundaries(data)
    for cut in range(end):
        if cut == end - 512:
            continue
        if cut in whole:  # every member before the cut is whole: read as Go reads it, with a note
            notes: list[str] = []
            assert len(list(iter_entries(Stream(data[:cut]), notes=notes))) == whole[cut]
            assert len(notes) == 1 and "no-end-marker" in notes[0]
            continue
        with pytest.raises(BadInputError) as exc:
            read_all(data[:cut])
        msg = str(exc.value)
        assert msg.startswith("truncated tar: ") and "\n" not in msg, msg
        assert int(msg.rsplit(" ", 1)[1]) <= cut


def test_truncated_inside_big_file():
    data = build([(ti("big"), os.urandom(3 << 20))])
    for cut in (600, (1 << 20) + 512, (2 << 20) + 100, (3 << 20) + 511):
        with pytest.raises(BadInputError, match=rf"truncated tar: content of 'big' at offset {cut}"):
            read_all(data[:cut])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=len(_truncation_corpus()) - 1))
def test_truncation_hypothesis(cut):
    data = _truncation_corpus()
    end = _end_of_archive(data)
    if cut >= end or cut == end - 512 or cut in _member_boundaries(data):
        read_all(data[:cut])  # record padding / one zero block then EOF / whole members, no marker
        return
    with pytest.raises(BadInputError):
        read_all(data[:cut])


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x1f\x8b\x08\x00" + bytes(1020),  # a gzip header
        b"hello world\n" * 100,
        bytes(range(256)) * 4,
        b"\xff" * 2048,
        b"x",
        b"{\"schemaVersion\": 2}",
    ],
)
def test_garbage_is_bad_input(garbage):
    with pytest.raises(BadInputError):
        read_all(garbage)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=3000))
def test_random_bytes_never_crash(data):
    try:
        read_all(data)
    except BadInputError:
        pass


def _flip_corpus() -> bytes:
    t = ti("x")
    t.pax_headers = {"SCHILY.xattr.user.a": "v\x00w", "path": "p/" + "q" * 150, "mtime": "1.5"}
    members = [
        (t, b"content" * 30),
        (ti("l" * 120, tarfile.SYMTYPE, linkname="k" * 130), None),
        (ti("d/", tarfile.DIRTYPE), None),
        (ti("dev", tarfile.CHRTYPE, devmajor=1, devminor=2), None),
        (ti("h", tarfile.LNKTYPE, linkname="x"), None),
        (ti("g", uid=10**9), b"z" * 700),
    ]
    return build(members, tarfile.PAX_FORMAT) + build(members[1:], tarfile.GNU_FORMAT)


def _flip_and_read(data: bytes, flips, **kw):
    buf = bytearray(data)
    for pos, bit in flips:
        buf[pos % len(buf)] ^= 1 << bit
    try:
        read_all(bytes(buf), **kw)
    except BadInputError:
        pass


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 1 << 30), st.integers(0, 7)), min_size=1, max_size=4))
def test_byte_flips_only_raise_bad_input(flips):
    _flip_and_read(_flip_corpus(), flips)


@needs_gnu_tar
def test_byte_flips_in_sparse_archives(sparse_dir, tmp_path):
    rnd = random.Random(11)
    for variant in ("gnu", "pax-0.0", "pax-0.1", "pax-1.0"):
        data = _tar_sparse(sparse_dir, variant, tmp_path)
        end = _end_of_archive(data)
        for _ in range(150):
            flips = [(rnd.randrange(end), rnd.randrange(8)) for _ in range(rnd.randint(1, 3))]
            # hashing off: a flipped realsize may legitimately ask for gigabytes of zeros
            _flip_and_read(data[:end], flips, hash_content=False)


def test_every_single_byte_flip_in_headers():
    data = build([(ti("a"), b"abc"), (ti("b" * 130, tarfile.SYMTYPE, linkname="c"), None)], tarfile.GNU_FORMAT)
    end = _end_of_archive(data)
    for pos in range(end):
        for bit in range(8):
            _flip_and_read(data[:end], [(pos, bit)])


@pytest.mark.parametrize("digit", [b"8", b"9", b"-", b"+", b"_", b"x", b" ", b"\x00", b"\x80", b"\xff"])
def test_every_header_byte_replaced(digit):
    """Each header byte of each kind of member set to a hostile value: BadInputError or a result."""
    data = build([(ti("a"), b"abc"), (ti("b", tarfile.SYMTYPE, linkname="c"), None),
                  (ti("c", tarfile.CHRTYPE, devmajor=1, devminor=1), None)], tarfile.GNU_FORMAT)
    end = _end_of_archive(data)
    for blk_start in (0, 1024, 1536):
        for i in range(512):
            buf = bytearray(data[:end])
            buf[blk_start + i] = digit[0]
            if not 148 <= i < 156:
                buf[blk_start : blk_start + 512] = fix_checksum(bytes(buf[blk_start : blk_start + 512]))
            try:
                read_all(bytes(buf))
            except BadInputError:
                pass


def test_long_link_applies_to_next_member_only():
    link = b"l" * 300
    data = (member(raw_header(b"././@LongLink", typeflag=b"K", size=301), link + b"\x00")
            + member(raw_header(b"f", size=1), b"x")
            + member(raw_header(b"s", typeflag=b"2", linkname=b"short")) + END)
    f, s = read_all(data)
    assert (f.kind, f.link, s.link) == ("file", None, "short")
    data = pax_member([(b"linkpath", b"from-pax")]) + member(raw_header(b"d", typeflag=b"5"))
    data += member(raw_header(b"s", typeflag=b"2", linkname=b"short")) + END
    d, s = read_all(data)
    assert (d.link, s.link) == (None, "short")


def test_libarchive_xattr_with_non_utf8_name():
    data = pax_member([(b"LIBARCHIVE.xattr.user.\xff%41", base64.b64encode(b"v"))]) + member(raw_header(b"f")) + END
    (e,) = read_all(data)
    assert e.xattrs == {"user.\udcffA": b"v"}


def test_negative_sparse_size():
    hdr = bytearray(raw_header(b"sp", typeflag=b"S", size=0, magic=b"ustar  \x00"))
    hdr[483:495] = b"\xff" * 12
    with pytest.raises(BadInputError, match="negative sparse"):
        read_all(member(fix_checksum(hdr)) + END)
