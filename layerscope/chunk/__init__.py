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

Modules, along the data flow: ``native`` (the FFI glue: a buffer in, C's
cut points out, on the backend ``backend`` picks: the C core or its
pure-Python stand-in ``pynative``),
``parallel`` (a thread pool and segment stitching for big buffers),
``cuts`` (:func:`cut_points`), ``stream`` (:class:`Chunker`,
:func:`iter_chunks`) and ``digest``.
"""
from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not from typing: start-up time
if TYPE_CHECKING:  # pragma: no cover
    from layerscope.chunk.backend import BACKEND
    from layerscope.chunk.cuts import cut_points
    from layerscope.chunk.digest import DIGESTS, chunk_digest, chunk_digests
    from layerscope.chunk.native import Buffer
    from layerscope.chunk.reference import DEFAULT_PARAMS, ChunkParams
    from layerscope.chunk.stream import Chunker, iter_chunks

# Loaded on first use: `layerscope --version` asks for BACKEND alone.
_LAZY = {
    "BACKEND": "backend",
    "cut_points": "cuts",
    "DIGESTS": "digest",
    "chunk_digest": "digest",
    "chunk_digests": "digest",
    "Buffer": "native",
    "DEFAULT_PARAMS": "reference",
    "ChunkParams": "reference",
    "Chunker": "stream",
    "iter_chunks": "stream",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
