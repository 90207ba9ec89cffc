"""Content-defined chunking: FastCDC 2020 in C, with a thin Python face.

Chunks are cut where the content says so (a gear-hash match), not at fixed
offsets, so an insertion only disturbs the chunks around it and identical
content in different layers and images yields identical chunks.  That is
what chunk-level dedup (``savings``, the blob store) builds on.

- :func:`cut_points` -- chunk end offsets of one in-memory buffer.
- :class:`Chunker` / :func:`iter_chunks` -- the same cut points over a stream
  that arrives in pieces.
- :func:`chunk_digests` / :func:`chunk_digest` -- XXH3-128 for analysis,
  SHA-256 where a digest keys stored data.
- :class:`ChunkParams` -- min/avg/max size and normalization level.
- :data:`BACKEND` -- which chunker runs: the C core, or (installed without a
  C compiler) its pure-Python stand-in; same cut points either way.

:mod:`layerscope.chunk.reference` is the same algorithm in plain Python; it
defines the cut points and the tests hold the C code to it.  See
docs/chunking.md.
"""
from layerscope.chunk.backend import BACKEND
from layerscope.chunk.fastcdc import (
    DIGESTS,
    Buffer,
    Chunker,
    chunk_digest,
    chunk_digests,
    cut_points,
    iter_chunks,
)
from layerscope.chunk.reference import DEFAULT_PARAMS, ChunkParams

__all__ = [
    "BACKEND",
    "DEFAULT_PARAMS",
    "DIGESTS",
    "Buffer",
    "ChunkParams",
    "Chunker",
    "chunk_digest",
    "chunk_digests",
    "cut_points",
    "iter_chunks",
]
