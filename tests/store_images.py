"""Synthetic images for the store's engine tests, and a worker process to kill.

An image is a list of layers; a layer is a list of chunks drawn from a
shared pool (so images and layers share chunks) plus chunks of its own.
Everything derives from integers, so a parent and a killed child agree on
what image N is without talking.

As a script (the crash and concurrency tests run it)::

    python tests/store_images.py add ROOT FIRST COUNT [PREFIX]   # add images FIRST.., "committed NAME" after each
    python tests/store_images.py churn ROOT ROUNDS                # add, remove, gc in a loop, saying which
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import struct
import sys
import time

POOL = 48  # shared chunks


@functools.lru_cache(maxsize=4096)
def chunk_bytes(key: str, size: int) -> bytes:
    """Deterministic bytes that compress somewhat (text-like), like layer files do."""
    rnd = random.Random(key)
    words = [rnd.randbytes(rnd.randint(2, 9)).hex().encode() for _ in range(64)]
    return b" ".join(rnd.choices(words, k=size // 6 + 1))[:size]


def pool_chunk(i: int) -> bytes:
    return chunk_bytes(f"pool-{i}", 1000 + (i * 7919) % 90000)


def image_spec(n: int, prefix: str = "img") -> tuple[str, list[list[bytes]]]:
    """Image ``n``: 2-3 layers; layer 0 is shared by every image with the same n % 3."""
    rnd = random.Random(f"{prefix}-{n}")
    layers = [[pool_chunk(i) for i in range(n % 3, POOL, 3)][:12]]
    for j in range(rnd.randint(1, 2)):
        chunks = [pool_chunk(rnd.randrange(POOL)) for _ in range(rnd.randint(2, 6))]
        chunks += [chunk_bytes(f"{prefix}-{n}-{j}-{k}", rnd.choice((300, 5000, 40000, 150000)))
                   for k in range(rnd.randint(3, 12))]
        rnd.shuffle(chunks)
        layers.append(chunks)
    return f"{prefix}{n}", layers


def diff_id(chunks: list[bytes]) -> str:
    return "sha256:" + hashlib.sha256(b"".join(chunks)).hexdigest()


def config(name: str, layers: list[list[bytes]]) -> bytes:
    return json.dumps({"name": name, "rootfs": [diff_id(c) for c in layers]}).encode()


def add_image(repo, name: str, layers: list[list[bytes]]) -> None:
    cfg = config(name, layers)
    cfg_digest = "sha256:" + hashlib.sha256(cfg).hexdigest()
    with repo.transaction() as tx:
        for chunks in layers:
            d = diff_id(chunks)
            if tx.has_layer(d):
                continue
            ids = [tx.chunk(c) for c in chunks]
            cut = len(ids) // 3
            pairs = struct.pack(f"<{len(chunks)}Q", *map(len, chunks))
            tx.layer(d, sum(map(len, chunks)), pairs, ids[:cut], ids[cut:])
        tx.blob(cfg_digest, cfg)
        tx.image(name, {"config": cfg_digest, "n": len(layers)}, [diff_id(c) for c in layers], [cfg_digest])


def check_image(repo, name: str, layers: list[list[bytes]]) -> None:
    """The image reads back bit for bit (AssertionError saying what differs)."""
    row = repo.image(name)
    assert row is not None, f"image {name} is gone"
    assert row.layers == [diff_id(c) for c in layers], name
    assert repo.blob(row.blobs[0]) == config(name, layers), name
    for chunks in layers:
        layer = repo.layer(diff_id(chunks))
        assert layer is not None, f"{name}: layer missing"
        got = b"".join(bytes(b) for b in repo.read(list(layer.structure_ids) + list(layer.content_ids)))
        assert got == b"".join(chunks), f"{name}: layer {layer.diff_id} reads back different bytes"
        assert layer.size == len(got)


def _small_packs() -> None:
    """Many packs and frames from little data, so a kill lands between them."""
    from layerscope.store import packs

    packs.BUNDLE_TARGET = 64 << 10
    packs.PACK_TARGET = 256 << 10


def main(argv: list[str]) -> None:
    from layerscope.store import Repository

    _small_packs()
    mode, root = argv[0], argv[1]
    repo = Repository.open(root)
    if mode == "add":
        first, count = int(argv[2]), int(argv[3])
        prefix = argv[4] if len(argv) > 4 else "img"
        for n in range(first, first + count):
            name, layers = image_spec(n, prefix)
            add_image(repo, name, layers)
            print("committed", name, flush=True)
    elif mode == "churn":
        for r in range(int(argv[2])):
            name, layers = image_spec(r, "churn")
            add_image(repo, name, layers)
            print("committed", name, flush=True)
            if r >= 2:
                old = f"churn{r - 2}"
                print("removing", old, flush=True)
                repo.remove(old)
                print("removed", old, flush=True)
            print("gc", r, flush=True)
            repo.gc(progress=lambda done, total: time.sleep(0.002))
            print("gc done", r, flush=True)
    repo.close()


if __name__ == "__main__":
    main(sys.argv[1:])
