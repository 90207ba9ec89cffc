"""Per-chunk digests: XXH3-128 for analysis, SHA-256 wherever a digest keys stored data."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import xxhash

from layerscope.chunk.native import Buffer, byte_view
from layerscope.errors import UsageError

__all__ = ["DIGESTS", "chunk_digest", "chunk_digests"]

#: Per-chunk digest functions.  ``xxh3_128`` is the fast content identity used
#: for analysis; ``sha256`` is for anything that keys stored data (the store),
#: which must never trust a non-cryptographic hash.
DIGESTS: dict[str, Callable[[Buffer], bytes]] = {
    "xxh3_128": xxhash.xxh3_128_digest,
    "sha256": lambda data: hashlib.sha256(data).digest(),
}


def chunk_digest(chunk: Buffer, algo: str = "xxh3_128") -> bytes:
    """Digest of one chunk: ``xxh3_128`` (16 bytes) or ``sha256`` (32 bytes)."""
    try:
        digest = DIGESTS[algo]
    except KeyError:
        raise UsageError(f"unknown chunk digest {algo!r}; known: {', '.join(DIGESTS)}") from None
    return digest(chunk)


def chunk_digests(buf: Buffer, cuts: Sequence[int], algo: str = "xxh3_128") -> list[bytes]:
    """Digests of the chunks ``buf[prev:cut]`` for each end offset in ``cuts``.

    ``cuts`` is what :func:`cut_points` returns.  Chunks are hashed in place.
    Use ``sha256`` wherever a digest keys stored data.
    """
    try:
        digest = DIGESTS[algo]
    except KeyError:
        raise UsageError(f"unknown chunk digest {algo!r}; known: {', '.join(DIGESTS)}") from None
    view = byte_view(buf)
    size = len(view)
    out: list[bytes] = []
    start = 0
    for end in cuts:
        if not start < end <= size:
            raise UsageError(
                f"cut point {end} is not after {start} and within the buffer ({size} bytes)"
            )
        out.append(digest(view[start:end]))
        start = end
    return out
