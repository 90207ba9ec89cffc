"""The outer-archive index (source/container.py): names -> offsets without tarfile.

tarfile is the reference for well-formed archives of every format it writes
(the index must be the one it gives); damage is an error naming the archive
and the offset, and EOF right after a whole member is the end (Go's
archive/tar, which ``docker load`` uses, reads it so).
"""

from __future__ import annotations

import io
import random
import sys
import tarfile

import pytest

from layerscope.errors import BadInputError, NotAnImageError
from layerscope.source.container import TarContainer

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}


def _write(path, members, fmt=tarfile.PAX_FORMAT):
    """members: (name, bytes) files, (name, "->", target) symlinks, (name, "=>", target) hardlinks, (name, None) dirs."""
    with tarfile.open(path, "w", format=fmt) as tf:
        for m in members:
            ti = tarfile.TarInfo(m[0])
            if m[1] is None:
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            elif m[1] in ("->", "=>"):
                ti.type, ti.linkname = (tarfile.SYMTYPE if m[1] == "->" else tarfile.LNKTYPE), m[2]
                tf.addfile(ti)
            else:
                ti.size = len(m[1])
                tf.addfile(ti, io.BytesIO(m[1]))
    return path


def _fix_checksum(raw: bytearray, hdr: int) -> None:
    raw[hdr + 148:hdr + 156] = b" " * 8
    raw[hdr + 148:hdr + 156] = b"%06o\0 " % sum(raw[hdr:hdr + 512])


def _tarfile_index(path):
    members, links = {}, {}
    with tarfile.open(path) as tf:
        for m in tf:
            name = m.name.lstrip("/")
            if m.isreg():
                members[name] = (m.offset_data, m.size)
            elif m.issym() or m.islnk():
                links[name] = m.linkname
    return members, links


def _sample(rnd: random.Random, fmt: int) -> list[tuple]:
    members = [("manifest.json", b"[]"), ("blobs", None)]
    for i in range(rnd.randint(2, 8)):
        depth = rnd.choice([0, 1, 3, 6])
        name = "/".join(["d" * rnd.choice([5, 40, 60])] * depth + [f"f{i}" + "x" * rnd.choice([0, 80, 98])])
        try:
            tarfile.TarInfo(name).tobuf(fmt)
        except ValueError:  # a name ustar cannot hold
            name = f"short/{i}"
        members.append((name, rnd.randbytes(rnd.choice([0, 1, 511, 512, 513, 5000]))))
    members.append(("links/to-manifest", "->", "../manifest.json"))
    members.append(("links/hard", "=>", "manifest.json"))
    if fmt != tarfile.USTAR_FORMAT:
        members.append(("links/long", "->", "t" * 150))
        members.append(("l" * 120, "=>", "manifest.json"))
    if fmt == tarfile.PAX_FORMAT:
        members.append(("ünïcödé/名前", b"utf-8 names come as pax path records"))
    return members


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed", range(4))
def test_index_is_tarfiles(fmt, seed, tmp_path):
    path = _write(tmp_path / "a.tar", _sample(random.Random(seed), FORMATS[fmt]), FORMATS[fmt])
    c = TarContainer(str(path))
    members, links = _tarfile_index(path)
    assert c._members == members
    assert set(c._links) == set(links)
    assert c.link_target("links/to-manifest") == c.link_target("links/hard") == "manifest.json"
    for name, (offset, size) in members.items():
        assert c.region(name).tobytes() == path.read_bytes()[offset:offset + size]


def test_trailing_bytes_after_the_end_marker_are_not_read(tmp_path):
    path = _write(tmp_path / "a.tar", [("manifest.json", b"[]")])
    with open(path, "ab") as f:
        f.write(b"\xff" * 3000)
    assert TarContainer(str(path)).names() == ["manifest.json"]


@pytest.mark.parametrize("cut", ["padding", "end-marker"])
def test_eof_right_after_a_whole_member_is_the_end(cut, tmp_path):
    path = _write(tmp_path / "a.tar", [("a", b"x" * 100), ("manifest.json", b"[]")])
    offset, size = TarContainer(str(path))._members["manifest.json"]
    end = offset + size if cut == "padding" else offset + 512
    path.write_bytes(path.read_bytes()[:end])
    assert TarContainer(str(path)).names() == ["a", "manifest.json"]


def test_global_pax_headers_are_ignored_and_pax_size_applies(tmp_path):
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "global"}) as tf:
        ti = tarfile.TarInfo("big")
        ti.size = 10
        ti.pax_headers = {"size": "10"}  # what a writer does for sizes octal cannot hold
        tf.addfile(ti, io.BytesIO(b"0123456789"))
    c = TarContainer(str(path))
    assert c.names() == ["big"] and c.region("big").tobytes() == b"0123456789"


def test_sparse_members_are_not_listed(tmp_path):
    """Their stored bytes are not the file: they cannot be read in place."""
    path = _write(tmp_path / "a.tar", [("manifest.json", b"[]"), ("sparse", b"s" * 600)], tarfile.GNU_FORMAT)
    raw = bytearray(path.read_bytes())
    hdr = TarContainer(str(path))._members["sparse"][0] - 512
    raw[hdr + 156:hdr + 157] = b"S"  # old GNU sparse
    _fix_checksum(raw, hdr)
    path.write_bytes(bytes(raw))
    assert TarContainer(str(path)).names() == ["manifest.json"]


@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_gnu_tar_sparse_files_are_skipped_whole(fmt, tmp_path):
    """GNU tar's sparse members (old GNU with map extension blocks, pax 1.0):
    not listed, and the members after them found (tarfile refused these)."""
    import shutil
    import subprocess

    tar = shutil.which("tar")
    if not tar or "GNU tar" not in subprocess.run([tar, "--version"], capture_output=True, text=True).stdout:
        pytest.skip("needs GNU tar")
    src = tmp_path / "src"
    src.mkdir()
    (src / "manifest.json").write_bytes(b"[]")
    with open(src / "sparse", "wb") as f:  # 40 data runs: more than an old GNU header's 4
        for i in range(40):
            f.seek(i * 100_000)
            f.write(b"run %d" % i)
    (src / "after").write_bytes(b"after\n")
    out = tmp_path / "sparse.tar"
    subprocess.run([tar, f"--format={fmt}", "--sparse", "-cf", out, "-C", src, "manifest.json", "sparse", "after"],
                   check=True)
    c = TarContainer(str(out))
    assert c.names() == ["after", "manifest.json"] and c.region("after").tobytes() == b"after\n"


def _damage(tmp_path, how):
    path = _write(tmp_path / "d.tar", [("a", b"x" * 1000), ("p" * 150, b"y"), ("manifest.json", b"[]")])
    raw = bytearray(path.read_bytes())
    members = TarContainer(str(path))._members
    second = members["p" * 150][0] - 512  # the member's own header, right after its pax header's data
    last = members["manifest.json"][0] - 512
    if how == "bad-checksum":
        raw[last + 10] ^= 0x5A
    elif how == "header-cut":
        raw = raw[:last + 100]
    elif how == "data-cut":
        raw = raw[:members["a"][0] + 500]
    elif how == "extended-header-alone":
        raw = raw[:second]  # the pax header and its data, no member after them
    elif how == "bad-pax-record":
        pax = raw.index(b" path=")
        raw[pax - 3:pax] = b"zzz"
    elif how == "bad-size-field":
        raw[last + 124:last + 136] = b"12345678901x"
        _fix_checksum(raw, last)
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("how, message", [
    ("bad-checksum", r"d\.tar: corrupt archive: bad tar header checksum at offset \d+$"),
    ("header-cut", r"d\.tar: truncated archive: header at offset \d+ is cut short$"),
    ("data-cut", r"d\.tar: truncated archive: member 'a' ends past the end of the file$"),
    ("extended-header-alone", r"d\.tar: truncated archive: extended header at offset \d+ and no member after it$"),
    ("bad-pax-record", r"d\.tar: corrupt archive: bad pax record length at offset \d+$"),
    ("bad-size-field", r"d\.tar: corrupt archive: bad size field b'12345678901x' in tar header at offset \d+$"),
])
def test_damage_is_one_clear_line(how, message, tmp_path):
    with pytest.raises(BadInputError, match=message) as e:
        TarContainer(str(_damage(tmp_path, how)))
    assert "\n" not in str(e.value)


def test_not_a_tar(tmp_path):
    path = tmp_path / "random.bin"
    path.write_bytes(random.Random(1).randbytes(4096))
    with pytest.raises(NotAnImageError, match=r"random\.bin: not an image archive \(not a tar: bad header checksum\)$"):
        TarContainer(str(path))


def test_tarfile_is_not_imported(tmp_path):
    """The index exists so that start-up does not pay for tarfile (~7 ms with shutil, bz2, lzma...)."""
    import subprocess

    path = _write(tmp_path / "a.tar", [("manifest.json", b"[]")])
    code = (f"import sys; from layerscope.source.container import TarContainer; TarContainer({str(path)!r}); "
            "print('tarfile' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
