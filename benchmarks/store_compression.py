"""How the store should compress chunks: measured on the regular files of real layers.

Each regular file of each layer tar is a chunk (files over 64 KiB are split
at 64 KiB, roughly what FastCDC's average gives), kept once by sha256 as the
store keeps it (app is built on base). Chunks under ``--small`` bytes
(the ones FastCDC never makes from a big file: whole small files and tails)
are the ones whose packing is in question; the big ones are shown too.

Compared, for zstd level 1 and 3: each chunk a frame of its own; bundles of
64 KiB / 256 KiB / 1 MiB (chunks concatenated, one frame); each chunk alone
with a dictionary trained (``zstandard.train_dictionary``, 112 KiB) on a
sample of 1 in 8 small chunks. Figures: stored bytes / raw bytes, compress
MB/s, and the decompress MB/s of reading every chunk once in order
(bundles: each frame decompressed once).

    python benchmarks/store_compression.py --cap 200000000 base.docker.tar app.docker.tar
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tarfile
import time

import zstandard

SPLIT = 64 << 10


def chunks_of(archive: str, cap: int, seen: set[bytes]) -> list[bytes]:
    """The archive's chunks the store does not hold yet (``seen``: their sha256s), up to ``cap`` bytes."""
    out: list[bytes] = []
    total = 0
    with tarfile.open(archive) as outer:  # a docker-archive
        for m in outer:
            if not (m.isfile() and m.name.endswith(".tar") and "/" not in m.name):
                continue  # <hex>.tar layers; <id>/layer.tar are links to them
            data = outer.extractfile(m).read()
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                for f in layer:
                    if not f.isfile() or f.size == 0:
                        continue
                    body = layer.extractfile(f).read()
                    for i in range(0, len(body), SPLIT):
                        piece = body[i:i + SPLIT]
                        key = hashlib.sha256(piece).digest()
                        if key not in seen:
                            seen.add(key)
                            out.append(piece)
                            total += len(piece)
                    if total >= cap:
                        return out
    return out


def bundles(chunks: list[bytes], size: int) -> list[bytes]:
    out, cur, n = [], [], 0
    for c in chunks:
        cur.append(c)
        n += len(c)
        if n >= size:
            out.append(b"".join(cur))
            cur, n = [], 0
    if cur:
        out.append(b"".join(cur))
    return out


def measure(name: str, frames: list[bytes], level: int, dict_data=None) -> tuple:
    raw = sum(map(len, frames))
    params = {"level": level}
    if dict_data is not None:
        params["dict_data"] = dict_data
    cctx = zstandard.ZstdCompressor(**params)
    t = time.perf_counter()
    comp = [cctx.compress(f) for f in frames]
    tc = time.perf_counter() - t
    dctx = zstandard.ZstdDecompressor(dict_data=dict_data) if dict_data is not None else zstandard.ZstdDecompressor()
    t = time.perf_counter()
    for c in comp:
        dctx.decompress(c)
    td = time.perf_counter() - t
    stored = sum(map(len, comp)) + (len(dict_data.as_bytes()) if dict_data is not None else 0)
    return name, level, len(frames), raw, stored, raw / tc / 1e6, raw / td / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("archives", nargs="+")
    ap.add_argument("--cap", type=int, default=160 << 20, help="raw bytes taken per archive")
    ap.add_argument("--small", type=int, default=16 << 10)
    args = ap.parse_args()
    chunks: list[bytes] = []
    seen: set[bytes] = set()
    for a in args.archives:
        got = chunks_of(a, args.cap, seen)
        print(f"{a}: {len(got)} chunks, {sum(map(len, got)) / 1e6:.1f} MB", flush=True)
        chunks += got
    small = [c for c in chunks if len(c) < args.small]
    big = [c for c in chunks if len(c) >= args.small]
    print(f"small (< {args.small}): {len(small)} chunks {sum(map(len, small)) / 1e6:.1f} MB; "
          f"big: {len(big)} chunks {sum(map(len, big)) / 1e6:.1f} MB", flush=True)
    rows = []
    sample = small[::8]
    t = time.perf_counter()
    dict_data = zstandard.train_dictionary(112640, sample)
    print(f"dictionary trained on {len(sample)} chunks in {time.perf_counter() - t:.1f} s", flush=True)
    for level in (1, 3):
        rows.append(("small",) + measure("each alone", small, level))
        rows.append(("small",) + measure("each alone + dictionary", small, level, dict_data))
        for size in (64 << 10, 256 << 10, 1 << 20):
            rows.append(("small",) + measure(f"bundles of {size >> 10} KiB", bundles(small, size), level))
        rows.append(("big",) + measure("each alone", big, level))
        rows.append(("big",) + measure("bundles of 1024 KiB", bundles(big, 1 << 20), level))
        alone = [c for c in chunks if len(c) >= args.small]
        rows.append(("all",) + measure("small in 256 KiB bundles, big alone", bundles(small, 256 << 10) + alone, level))
        rows.append(("all",) + measure("all in 1024 KiB bundles", bundles(chunks, 1 << 20), level))
    print()
    print("| chunks | packing | level | frames | raw MB | stored MB | ratio | compress MB/s | decompress MB/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, name, level, n, raw, stored, cs, ds in rows:
        print(f"| {kind} | {name} | {level} | {n} | {raw / 1e6:.1f} | {stored / 1e6:.1f} | "
              f"{stored / raw:.3f} | {cs:.0f} | {ds:.0f} |")


if __name__ == "__main__":
    main()
