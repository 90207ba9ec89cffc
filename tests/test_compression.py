"""LayerStream: compression by magic, every member/frame, bounded output, verification."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import mmap
import os
import random
import struct

import pytest
import zstandard

from layerscope.errors import BadInputError, DigestMismatchError
from layerscope.source import compression as comp
from layerscope.source.compression import LayerStream, detect
from layerscope.source.container import Region

RAW = random.Random(7).randbytes(300_000) + b"a" * 700_000


@pytest.fixture(autouse=True, params=["inline", "background"])
def hashing(request, monkeypatch):
    """Every test twice: digests hashed in the reading thread, and on their own threads."""
    if request.param == "background":
        monkeypatch.setattr(comp, "BACKGROUND_MIN", 0)
    return request.param


def _sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def _region(tmp_path, blob: bytes) -> Region:
    p = tmp_path / "blob"
    p.write_bytes(blob)
    with open(p, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if blob else None
    return Region(mm, 0, len(blob))


def _read_all(stream: LayerStream, sizes=(512, 1000, 70_000)) -> bytes:
    out = bytearray()
    rnd = random.Random(1)
    while True:
        b = stream.read(rnd.choice(sizes))
        if not b:
            return bytes(out)
        out += b


SKIP = struct.pack("<II", 0x184D2A5A, 4) + b"skip"
VARIANTS = {
    "none": (RAW, "none"),
    "gzip-members": (gzip.compress(RAW[:1000]) + gzip.compress(RAW[1000:500_000]) + gzip.compress(RAW[500_000:]), "gzip"),
    "zstd-frames-skippable": (
        SKIP + zstandard.ZstdCompressor().compress(RAW[:10]) + SKIP + zstandard.ZstdCompressor().compress(RAW[10:]) + SKIP,
        "zstd",
    ),
    "bzip2": (bz2.compress(RAW), "bzip2"),
    "xz-streams": (lzma.compress(RAW[:5]) + lzma.compress(RAW[5:]), "xz"),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_member_and_frame_is_read_and_verified(name, tmp_path):
    blob, kind = VARIANTS[name]
    s = LayerStream(_region(tmp_path, blob), where="w", blob_digest=_sha(blob), diff_id=_sha(RAW))
    assert s.compression == kind
    assert _read_all(s) == RAW
    s.finish()
    assert (s.size, s.blob_digest, s.diff_id) == (len(RAW), _sha(blob), _sha(RAW))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_read1_hands_out_what_is_at_hand_then_empty_at_the_end(name, tmp_path):
    """The tar scanner's way of reading: pieces of at most n bytes, b"" only at the end, mixed with read(n)."""
    blob, _ = VARIANTS[name]
    s = LayerStream(_region(tmp_path, blob), where="w", blob_digest=_sha(blob), diff_id=_sha(RAW))
    out = bytearray()
    rnd = random.Random(2)
    while True:
        n = rnd.choice((1, 512, 70_000, 1 << 20))
        b = s.read1(n) if rnd.random() < 0.7 else s.read(n)
        assert len(b) <= n
        if not b:
            break
        out += b
    assert out == RAW and s.read1(10) == b""
    s.finish()
    assert (s.size, s.blob_digest, s.diff_id) == (len(RAW), _sha(blob), _sha(RAW))


def test_detect_by_magic_not_name():
    assert detect(b"\x1f\x8b\x08") == "gzip"
    assert detect(b"\x28\xb5\x2f\xfd") == "zstd"
    assert detect(SKIP[:6]) == "zstd"
    assert detect(b"BZh91A") == "bzip2"
    assert detect(b"\xfd7zXZ\x00") == "xz"
    assert detect(b"usr/\x00\x00") == "none"
    assert detect(b"") == "none"


@pytest.mark.parametrize("compress,kind", [
    (lambda b: gzip.compress(b, mtime=0), "gzip"), (zstandard.ZstdCompressor().compress, "zstd"),
    (lambda b: SKIP + zstandard.ZstdCompressor().compress(b), "zstd"), (bz2.compress, "bzip2"),
    (lzma.compress, "xz"),
], ids=["gzip", "zstd", "zstd-skippable-first", "bzip2", "xz"])
def test_compressed_outer_archives_are_refused_by_the_same_magic(compress, kind, tmp_path):
    """Outer archives and layer blobs share one magic table (source/magic.py)."""
    from layerscope.errors import NotAnImageError
    from layerscope.source.container import open_container

    path = tmp_path / "image.tar.x"
    blob = compress(RAW[:4096])
    assert detect(blob) == kind
    path.write_bytes(blob)
    with pytest.raises(NotAnImageError, match=f"archive is {kind}-compressed"):
        open_container(str(path)).exists("manifest.json")


def test_bytes_after_end_are_part_of_diff_id(tmp_path):
    blob = gzip.compress(RAW)
    s = LayerStream(_region(tmp_path, blob), where="w", blob_digest=_sha(blob), diff_id=_sha(RAW))
    s.read(1000)  # a reader that stops early (at the tar end marker)
    s.finish()
    assert s.size == len(RAW) and s.diff_id == _sha(RAW)


def test_wrong_diff_id_and_blob_digest(tmp_path):
    blob = gzip.compress(RAW)
    s = LayerStream(_region(tmp_path, blob), where="L1", blob_digest=_sha(blob), diff_id=_sha(b"other"))
    _read_all(s)
    with pytest.raises(DigestMismatchError, match="diff_id mismatch"):
        s.finish()
    s = LayerStream(_region(tmp_path, blob), where="L1", blob_digest=_sha(b"other"), diff_id=_sha(RAW))
    with pytest.raises(DigestMismatchError, match="blob digest mismatch"):
        _read_all(s)
        s.finish()


def test_no_verify_hashes_nothing(tmp_path):
    blob = gzip.compress(RAW)
    s = LayerStream(_region(tmp_path, blob), where="w", blob_digest=_sha(b"x"), diff_id=_sha(b"y"), verify=False)
    _read_all(s)
    s.finish()
    assert s.blob_digest is None and s.diff_id is None and s.size == len(RAW)


def test_corrupt_stream_reported_as_digest_mismatch_when_provable(tmp_path):
    blob = bytearray(gzip.compress(RAW))
    blob[len(blob) // 2] ^= 0xFF
    good = _sha(gzip.compress(RAW))
    s = LayerStream(_region(tmp_path, bytes(blob)), where="L0", blob_digest=good, diff_id=_sha(RAW))
    with pytest.raises(DigestMismatchError, match="L0: blob digest mismatch"):
        _read_all(s)
        s.finish()


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz"])
def test_truncated_compressed_stream(kind, tmp_path):
    blob = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}[kind](RAW)
    s = LayerStream(_region(tmp_path, blob[: len(blob) - 7]), where="w", verify=False)
    with pytest.raises(BadInputError, match=f"truncated {kind}"):
        _read_all(s)
        s.finish()


def test_trailing_garbage_after_gzip(tmp_path):
    blob = gzip.compress(RAW) + b"garbage!"
    s = LayerStream(_region(tmp_path, blob), where="w", verify=False)
    with pytest.raises(BadInputError, match="corrupt gzip"):
        _read_all(s)
        s.finish()


def test_decompression_bomb_output_is_bounded(tmp_path, monkeypatch):
    """Every chunk the inflater hands over is at most OUT_CHUNK, however small the input."""
    zeros = bytes(64 << 20)
    for blob in (gzip.compress(zeros, 9), zstandard.ZstdCompressor(level=19).compress(zeros)):
        s = LayerStream(_region(tmp_path, blob), where="w", verify=False)
        biggest = 0
        while s._next():
            biggest = max(biggest, len(s._buf))
        assert s.size == len(zeros)
        assert biggest <= comp.OUT_CHUNK


def test_reads_are_exact_and_zero_copy_within_a_window(tmp_path):
    s = LayerStream(_region(tmp_path, RAW), where="w", verify=False)
    first = s.read(512)
    assert isinstance(first, memoryview) and bytes(first) == RAW[:512]
    assert len(s.read(len(RAW))) == len(RAW) - 512
    assert s.read(10) == b""


def test_windows_drop_pages_behind_the_reader(tmp_path):
    """Pages already read leave RSS: the mapped file's resident size stays near two windows."""
    size = 64 << 20
    p = tmp_path / "big"
    with open(p, "wb") as f:
        f.write(os.urandom(size))
    with open(p, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    window = 2 << 20
    peak = 0
    for w in Region(mm, 0, size).windows(window):
        hashlib.sha256(w).digest()
        peak = max(peak, _mapped_rss_kb(str(p)))
    assert peak * 1024 <= 4 * window, f"{peak} kB of the file resident"


def _mapped_rss_kb(path: str) -> int:
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            if not line[0].isupper() or ":" not in line.split()[0]:
                inside = line.rstrip().endswith(path)
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


def test_background_hashing_is_used_and_stops_on_abandon(tmp_path, hashing):
    """A stream given up half-way (a corrupt tar) leaves no hashing or inflating thread behind."""
    import gc
    import threading
    gc.collect()  # streams other tests dropped stop their threads when collected
    blob = gzip.compress(RAW)
    s = LayerStream(_region(tmp_path, blob), where="w", blob_digest=_sha(blob), diff_id=_sha(RAW))
    s.read(1000)
    s.close()
    assert not [t for t in threading.enumerate() if t.name.startswith(("layerscope-hash", "layerscope-inflate"))]
    s3 = LayerStream(_region(tmp_path, blob), where="w", blob_digest=_sha(blob), diff_id=_sha(RAW))
    s3.read(1000)
    del s3
    gc.collect()
    import time
    deadline = time.monotonic() + 10
    while [t for t in threading.enumerate() if t.name.startswith(("layerscope-hash", "layerscope-inflate"))] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not [t for t in threading.enumerate() if t.name.startswith(("layerscope-hash", "layerscope-inflate"))]
    s2 = LayerStream(_region(tmp_path, blob), where="w", blob_digest=_sha(blob), diff_id=_sha(RAW))
    assert (s2._blob_job is not None) == (hashing == "background")
    assert (s2._inflate_job is not None) == (hashing == "background")  # decompressed ahead, on its own thread
    _read_all(s2)
    s2.finish()
    assert (s2.blob_digest, s2.diff_id) == (_sha(blob), _sha(RAW))
    assert not [t for t in threading.enumerate() if t.name.startswith(("layerscope-hash", "layerscope-inflate"))]
