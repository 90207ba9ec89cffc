"""Golden cut points: the chunker's output, pinned as literals.

A chunker whose cut points change silently bloats every store built with
it (nothing dedups against the old chunks any more). So the cut points of a
fixed buffer under fixed parameters are written here, and every
implementation -- the C scan, its streaming and threaded paths, and the
plain-Python reference -- must reproduce them (a pure-Python backend for
``chunk/native.py`` too). If this test fails, the
algorithm changed: that needs a new chunker version, not a new literal.

The buffer comes from an xorshift64 generator written out below (not
``random``, whose output may change between Python versions): random data,
a zero run (forced ``max_size`` cuts), a short repeated pattern and a tail.
The literals were cross-checked against pyfastcdc 0.3.1 (fastcdc-rs v2020).
"""

from __future__ import annotations

import hashlib

import pytest

from layerscope.chunk import DEFAULT_PARAMS, ChunkParams, Chunker, chunk_digests, cut_points, iter_chunks
from layerscope.chunk import native, parallel
from layerscope.chunk import reference as ref

_U64 = (1 << 64) - 1


def xorshift64(n: int, seed: int) -> bytes:
    """``n`` bytes of Marsaglia's xorshift64 (13, 7, 17), 8 little-endian bytes per step."""
    x = seed
    out = bytearray()
    for _ in range((n + 7) // 8):
        x ^= (x << 13) & _U64
        x ^= x >> 7
        x ^= (x << 17) & _U64
        out += x.to_bytes(8, "little")
    return bytes(out[:n])


def golden_buffer() -> bytes:
    return (xorshift64(500_000, 0x9E3779B97F4A7C15) + bytes(300_000)
            + xorshift64(1000, 7) * 100 + xorshift64(9_999, 2024))


BUFFER_SHA256 = "d3cece6de3c266a9959abbe2579682ef97468699a6d573663ec6994c84f46500"

# params -> (cut points, sha256 of the concatenated sha256 digests of the chunks)
GOLDEN = {
    DEFAULT_PARAMS: (
        [44750, 264712, 364837, 393237, 484666, 746810, 909999],
        "c14a9920031d33d49d9a50c7c7c90911ca9757341cd823a22b000f78e574a7e6",
    ),
    # odd min/max (bounds round down to even), avg not a power of two, level 2
    ChunkParams(min_size=4095, avg_size=16000, max_size=65535, level=2): (
        [19314, 41100, 63710, 82541, 107456, 127422, 145616, 166916, 175684, 213106, 237400,
         256631, 275574, 310844, 328679, 349306, 364837, 381254, 385512, 393237, 397920, 417343,
         434350, 450371, 470272, 490118, 555653, 621188, 686723, 752258, 800736, 816736, 832736,
         848736, 864736, 880736, 896736, 909999],
        "747ab40da84b63ccacbf19be8341a1b6c6d63b70247c35bb6c9a04b1b606b3c5",
    ),
}
IDS = ["default", "odd-4095-16000-65535-l2"]


@pytest.fixture(scope="module")
def buf() -> bytes:
    data = golden_buffer()
    assert hashlib.sha256(data).hexdigest() == BUFFER_SHA256  # the generator itself is pinned
    return data


def _digest_of_digests(data: bytes, cuts: list[int]) -> str:
    return hashlib.sha256(b"".join(chunk_digests(data, cuts, "sha256"))).hexdigest()


@pytest.mark.parametrize("params", list(GOLDEN), ids=IDS)
def test_reference_cut_points_are_golden(buf, params):
    cuts, digest = GOLDEN[params]
    assert ref.cut_points(buf, params) == cuts
    assert _digest_of_digests(buf, cuts) == digest


@pytest.mark.parametrize("params", list(GOLDEN), ids=IDS)
def test_native_cut_points_are_golden(buf, params):
    cuts, digest = GOLDEN[params]
    assert cut_points(buf, params=params, threads=1) == cuts
    assert cut_points(buf, params=params) == cuts
    assert cut_points(memoryview(bytearray(buf)), params=params) == cuts
    assert _digest_of_digests(buf, cuts) == digest


@pytest.mark.parametrize("params", list(GOLDEN), ids=IDS)
@pytest.mark.parametrize("starts", [[0, 300_001, 650_000], [0, 500_000, 500_000, 700_003]],
                         ids=["3-segments", "4-segments-zero-run"])
def test_segmented_cut_points_are_golden(buf, params, starts):
    """The threads' speculative-segment path, with explicit segment starts
    (the buffer is below the size that turns it on by itself)."""
    src = native.from_buffer(buf)
    assert parallel.scan_segments(params, src, len(buf), True, starts) == GOLDEN[params][0]


@pytest.mark.parametrize("params", list(GOLDEN), ids=IDS)
@pytest.mark.parametrize("piece", [1000, 65536, 333_333])
def test_streamed_cut_points_are_golden(buf, params, piece):
    cuts, _ = GOLDEN[params]
    chunker = Chunker(params)
    lengths = []
    for at in range(0, len(buf), piece):
        lengths += [len(c) for c in chunker.feed(buf[at:at + piece])]
    lengths += [len(c) for c in chunker.finish()]
    assert lengths == [b - a for a, b in zip([0, *cuts], cuts)]

    class Reader:
        pos = 0

        def read(self, n: int) -> bytes:
            data = buf[self.pos:self.pos + min(n, piece)]
            self.pos += len(data)
            return data

    ends, total = [], 0
    for c in iter_chunks(Reader(), params):
        total += len(c)
        ends.append(total)
    assert ends == cuts


@pytest.mark.parametrize("params", list(GOLDEN), ids=IDS)
@pytest.mark.parametrize("backend", ["c", "python"])
def test_cut_points_inside_a_tar_scan_are_golden(buf, params, backend, monkeypatch):
    """The store keys file contents by the chunks the tar scan cuts (the C chunk sink inside
    the C scanner, src_c/chunksink.c; the Python chunker after a hand-over): a file holding
    the golden buffer is cut at the golden points, whatever the reader's slices."""
    import io
    import tarfile

    from layerscope.layer import tarscan
    from layerscope.store.decompose import decompose

    if backend == "c":
        if tarscan.NATIVE is None:
            pytest.skip("no C tar scanner in this install")
        monkeypatch.setattr(tarscan, "BACKEND", tarscan.NATIVE)
    else:
        monkeypatch.setattr(tarscan, "BACKEND", tarscan.PYTHON)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in ("small", "golden"):
            body = b"s" * 100 if name == "small" else buf
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    pieces: list[bytes] = []
    def keep(batch):
        first = len(pieces)
        pieces.extend(bytes(v) for v in batch)
        return list(range(first, len(pieces)))

    recipe = decompose(io.BytesIO(out.getvalue()), keep, params=params)
    content = [pieces[i] for i in recipe.content_ids]
    assert content[0] == b"s" * 100
    cuts, digest = GOLDEN[params]
    assert [len(c) for c in content[1:]] == [b - a for a, b in zip([0, *cuts], cuts)]
    assert hashlib.sha256(b"".join(hashlib.sha256(c).digest() for c in content[1:])).hexdigest() == digest
