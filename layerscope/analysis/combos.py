"""Combos: each set of layers that exactly holds some units (chunks, files), with those units' sums.

What every sharing figure is made of. A unit held by layers {1, 4} counts
once toward the images of layers 1 and 4 (``savings``), and toward the pair's
common bytes (near misses), so the per-unit detail can go once the combos are
known: a few per layer, where there are millions of units. Made here from the
tables of one machine; the fleet run (``layerscope/fleet``) makes the same
list by a distributed group-by, and the figures follow from it alike.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Callable, Sequence

from .. import ccore
from .layer_digests import DIGEST_SIZE, LayerDigests

#: (indices of the tables holding some units, ascending; their bytes, compressed bytes, count).
Combo = tuple[tuple[int, ...], int, int, int]


def chunk_combos(tables: Sequence[LayerDigests]) -> list[Combo]:
    """Each set of tables that exactly holds some chunks, with those chunks' sums (each chunk
    once, its sizes those of the lowest-indexed table holding it), in no particular order.

    A k-way merge of the sorted tables: in C (``src_c/chunkmerge.c``) when this install has it,
    else the same walk with heapq.merge (same result, ~40x slower)."""
    merge = ccore.function("ls_chunk_merge")
    return _c_combos(merge, tables) if merge is not None else _py_combos(tables)


def _py_combos(tables: Sequence[LayerDigests]) -> list[Combo]:
    # each unique chunk is met as a run of equal digests, one per table holding it, in table order
    sums: dict[tuple[int, ...], list[int]] = {}
    run: list[int] = []
    run_digest: bytes | None = None
    run_size = run_csize = 0
    for digest, li, size, csize in heapq.merge(*(_tagged(t, li) for li, t in enumerate(tables))):
        if digest != run_digest:
            if run:
                _add(sums, tuple(run), run_size, run_csize)
            run_digest, run_size, run_csize, run = digest, size, csize, [li]
        else:
            run.append(li)
    if run:
        _add(sums, tuple(run), run_size, run_csize)
    return [(combo, b, c, n) for combo, (b, c, n) in sums.items()]


def _add(sums: dict[tuple[int, ...], list[int]], combo: tuple[int, ...], size: int, csize: int) -> None:
    acc = sums.get(combo)
    if acc is None:
        sums[combo] = [size, csize, 1]
    else:
        acc[0] += size
        acc[1] += csize
        acc[2] += 1


def _tagged(table: LayerDigests, li: int):
    # a function, not a generator expression: ``li`` must be bound now, not when iterated;
    # the index before the sizes: equal digests come out in table order, whatever their sizes
    for digest, size, csize in table.iter_chunks():
        yield digest, li, size, csize


_U32 = "I" if array("I").itemsize == 4 else "L"


def _u32(values: Sequence[int]) -> array:
    """``values`` as C uint32s: the table's own array (no copy) when it is one."""
    if isinstance(values, array) and values.typecode == _U32:
        return values
    return array(_U32, values)


def _c_combos(merge: Callable, tables: Sequence[LayerDigests]) -> list[Combo]:
    """:func:`chunk_combos` in C: the tables are lent to C in place (no copy, no object per chunk)."""
    from layerscope._native import ffi, lib

    n = len(tables)
    digests = ffi.new("const uint8_t *[]", n)
    sizes = ffi.new("const uint32_t *[]", n)
    csizes = ffi.new("const uint32_t *[]", n)
    counts = ffi.new("size_t[]", n)
    keep = []  # the buffers C reads must outlive the call
    for t, table in enumerate(tables):
        count = len(table.chunks) // DIGEST_SIZE
        columns = _u32(table.chunk_sizes), _u32(table.chunk_compressed)
        if len(table.chunks) % DIGEST_SIZE or any(len(c) != count for c in columns):
            raise ValueError(f"chunk table {t}: {len(table.chunks)} digest bytes, "
                             f"{len(columns[0])} sizes, {len(columns[1])} compressed sizes")
        if count:
            bufs = (ffi.from_buffer("uint8_t[]", table.chunks),
                    *(ffi.from_buffer("uint32_t[]", c) for c in columns))
            keep.append(bufs)
            digests[t], sizes[t], csizes[t] = bufs
        counts[t] = count
    out = ffi.new("ls_chunk_combos *")
    rc = merge(n, digests, sizes, csizes, counts, out)
    if rc == lib.LS_CHUNK_MERGE_NOMEM:
        raise MemoryError("merging the chunk tables")
    if rc != lib.LS_CHUNK_MERGE_OK:
        raise ValueError("a chunk table is not sorted and unique")
    try:
        m = out.n_combos
        offsets = ffi.unpack(out.offsets, m + 1)
        indices = ffi.unpack(out.tables, offsets[m])
        columns = [ffi.unpack(c, m) for c in (out.bytes, out.csize, out.count)]
    finally:
        lib.ls_chunk_combos_free(out)
    combos = (tuple(indices[offsets[k]:offsets[k + 1]]) for k in range(m))
    return list(zip(combos, *columns))




def file_combos(tables: Sequence[LayerDigests]) -> list[Combo]:
    """:func:`chunk_combos` for whole files (``files``: digest -> size, ``file_compressed``): each
    file content once, its sizes those of the lowest-indexed table holding it."""
    holders: dict[bytes, list[int]] = {}
    for li, t in enumerate(tables):
        for digest in t.files:
            h = holders.get(digest)
            if h is None:
                holders[digest] = [li]
            else:
                h.append(li)
    sums: dict[tuple[int, ...], list[int]] = {}
    for digest, lis in holders.items():
        first = tables[lis[0]]
        size = first.files[digest]
        _add(sums, tuple(lis), size, first.file_compressed.get(digest, size))
    return [(combo, b, c, n) for combo, (b, c, n) in sums.items()]
