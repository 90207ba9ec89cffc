"""The chunk level of ``savings``: the k-way merge of the per-layer chunk tables
(analysis/savings.py ``chunk_combos``; in C, src_c/chunkmerge.c).

The C merge and the pure-Python walk (what an install without a compiler runs)
must both equal a plain oracle (a dict of digest -> tables holding it), on tables
that are empty, alone, of different lengths, overlapping at random, sharing a
digest across all of them, and with more combinations than the C hash starts
with; ``merge()`` must give the same per-image figures and matrix either way,
and those must equal counting every chunk one by one.
"""

from __future__ import annotations

import random
from array import array

import pytest

from layerscope import ccore
from layerscope.analysis import savings as S
from layerscope.analysis.layer_digests import DIGEST_SIZE, LayerDigests


@pytest.fixture
def c_merge():
    merge = ccore.function("ls_chunk_merge")
    if merge is None:
        pytest.skip("layerscope._native has no ls_chunk_merge (installed without a C compiler)")
    return merge


def size_of(digest: bytes) -> int:
    """A chunk's size follows from its digest (same bytes, same size), up to the uint32 maximum."""
    n = int.from_bytes(digest[:4], "big")
    return 0xFFFFFFFF if n % 7 == 0 else n % 300_000 + 1


def table(digests: set[bytes], rnd: random.Random) -> LayerDigests:
    """A layer's table; compressed sizes differ between layers (estimates for unsampled chunks)."""
    ds = sorted(digests)
    sizes = array("I", map(size_of, ds))
    csizes = array("I", (rnd.randrange(0, 1 << 32) for _ in ds))
    return LayerDigests(None, None, 0, {}, b"".join(ds), sizes, chunk_compressed=csizes)


def oracle(tables: list[LayerDigests]) -> list[S.Combo]:
    """Each digest's set of tables, its sizes from the lowest; summed per set."""
    holders: dict[bytes, list[int]] = {}
    record: dict[bytes, tuple[int, int]] = {}
    for t, tab in enumerate(tables):
        for digest, size, csize in tab.iter_chunks():
            holders.setdefault(digest, []).append(t)
            record.setdefault(digest, (size, csize))
    sums: dict[tuple[int, ...], list[int]] = {}
    for digest, ts in holders.items():
        acc = sums.setdefault(tuple(ts), [0, 0, 0])
        acc[0] += record[digest][0]
        acc[1] += record[digest][1]
        acc[2] += 1
    return sorted((k, *v) for k, v in sums.items())


def random_tables(seed: int, n_tables: int, pool: int, max_len: int) -> list[LayerDigests]:
    rnd = random.Random(seed)
    digests = [rnd.randbytes(DIGEST_SIZE) for _ in range(pool)]
    return [table(set(rnd.sample(digests, rnd.randrange(0, min(max_len, pool) + 1))), rnd) for _ in range(n_tables)]


def cases() -> dict[str, list[LayerDigests]]:
    rnd = random.Random(99)
    everywhere = rnd.randbytes(DIGEST_SIZE)
    low, high = b"\x00" * DIGEST_SIZE, b"\xff" * DIGEST_SIZE  # the ends of the digest order
    prefix = rnd.randbytes(8)  # digests equal in their first 8 bytes: the low word decides
    same_hi = {prefix + rnd.randbytes(8) for _ in range(50)}
    return {
        "no tables": [],
        "one table": [table({rnd.randbytes(16) for _ in range(500)}, rnd)],
        "only empty tables": [table(set(), rnd) for _ in range(3)],
        "one digest in every table": [table({everywhere, *(rnd.randbytes(16) for _ in range(k * 40))}, rnd)
                                      for k in range(6)],
        "empty among others": [table(set(), rnd), *random_tables(1, 4, 800, 600), table(set(), rnd)],
        "different lengths": [table({rnd.randbytes(16) for _ in range(n)} | {low, high}, rnd)
                              for n in (1, 10, 1000, 5000)],
        "equal high words": [table(set(rnd.sample(sorted(same_hi), 30)), rnd) for _ in range(4)],
        "random overlap": random_tables(2, 8, 3000, 2000),
        "many combinations": random_tables(3, 12, 20_000, 15_000),  # thousands of sets: the hash grows
        "many tables": random_tables(4, 300, 2000, 40),  # indices past 255, a deep heap
    }


CASES = cases()


@pytest.mark.parametrize("name", CASES)
def test_c_and_python_equal_the_oracle(name, c_merge):
    tables = CASES[name]
    want = oracle(tables)
    assert sorted(S._py_combos(tables)) == want
    got = S._c_combos(c_merge, tables)
    assert sorted(got) == want
    assert len({combo for combo, *_ in got}) == len(got)  # each set once
    assert all(count > 0 for *_, count in got)


def test_sizes_add_past_32_bits(c_merge):
    rnd = random.Random(5)
    big = {d for d in (rnd.randbytes(16) for _ in range(5000)) if size_of(d) == 0xFFFFFFFF}
    assert len(big) > 2
    (combo, size, _, count), = S._c_combos(c_merge, [table(big, rnd)])
    assert combo == (0,) and count == len(big) and size == len(big) * 0xFFFFFFFF


@pytest.mark.parametrize("bad", ["unsorted", "repeated"])
def test_c_refuses_a_table_out_of_order(bad, c_merge):
    rnd = random.Random(6)
    good = table({rnd.randbytes(16) for _ in range(100)}, rnd)
    ds = [good.chunks[k:k + DIGEST_SIZE] for k in range(0, len(good.chunks), DIGEST_SIZE)]
    ds = ds[::-1] if bad == "unsorted" else ds[:50] + [ds[49]] + ds[51:]
    broken = LayerDigests(None, None, 0, {}, b"".join(ds), good.chunk_sizes)
    with pytest.raises(ValueError, match="not sorted"):
        S._c_combos(c_merge, [good, broken])


def test_c_refuses_columns_of_other_lengths(c_merge):
    rnd = random.Random(7)
    good = table({rnd.randbytes(16) for _ in range(10)}, rnd)
    short = LayerDigests(None, None, 0, {}, good.chunks, good.chunk_sizes[:-1])
    with pytest.raises(ValueError, match="chunk table 1"):
        S._c_combos(c_merge, [good, short])


def images_of(seed: int) -> list[S.ImageLayers]:
    """Images made of random layers: some layers in several images, one twice in one image."""
    tables = random_tables(seed, 9, 4000, 2500)
    rnd = random.Random(seed)
    images = []
    for i in range(6):
        picked = rnd.sample(range(len(tables)), rnd.randrange(1, 5))
        if i == 0:
            picked.append(picked[0])
        images.append(S.ImageLayers(f"im{i}", [(f"layer{k}", tables[k]) for k in picked]))
    return images


def chunk_by_chunk(images: list[S.ImageLayers]) -> tuple[list[tuple[int, int]], list[list[int]], int]:
    """Per image (bytes, shared) and the matrix, counting every chunk on its own."""
    owners: dict[bytes, set[int]] = {}
    size: dict[bytes, int] = {}
    for i, im in enumerate(images):
        for _, tab in im.layers:
            for digest, n, _ in tab.iter_chunks():
                owners.setdefault(digest, set()).add(i)
                size[digest] = n
    per = [[0, 0] for _ in images]
    matrix = [[0] * len(images) for _ in images]
    for digest, own in owners.items():
        for i in own:
            per[i][0] += size[digest]
            per[i][1] += size[digest] if len(own) > 1 else 0
            for j in own:
                matrix[i][j] += size[digest]
    return [tuple(p) for p in per], matrix, sum(size.values())


def figures(report: S.SavingsReport) -> tuple:
    return ([(im.levels["chunk"].bytes, im.levels["chunk"].shared) for im in report.per_image],
            report.matrix["chunk"], report.totals["chunk"], report.compressed["chunk"])


def without_c(monkeypatch) -> None:
    """As an install without a compiler: the lookup finds no C merge (and C must not be called)."""
    real = ccore.function
    monkeypatch.setattr(ccore, "function", lambda name: None if name == "ls_chunk_merge" else real(name))
    monkeypatch.setattr(S, "_c_combos", lambda *a: pytest.fail("the C merge ran"))


@pytest.mark.parametrize("seed", range(3))
def test_merge_is_the_same_with_and_without_c(seed, c_merge, monkeypatch):
    images = images_of(seed)
    with_c = figures(S.merge(images))
    without_c(monkeypatch)
    assert figures(S.merge(images)) == with_c


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("path", ["C", "python"])
def test_merge_counts_as_chunk_by_chunk(seed, path, monkeypatch):
    if path == "C" and ccore.function("ls_chunk_merge") is None:
        pytest.skip("no C merge in this install")
    if path == "python":
        without_c(monkeypatch)
    images = images_of(seed)
    per, matrix, total = chunk_by_chunk(images)
    got_per, got_matrix, got_total, _ = figures(S.merge(images))
    assert got_per == per
    assert got_matrix == matrix
    assert got_total == total
    assert any(shared for _, shared in per) and any(b > s for b, s in per)  # both kinds of chunk occur
