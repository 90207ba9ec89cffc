"""The dedup blob store (docs/store.md): many images in little space, given back bit for bit.

:class:`Repository` is the storage engine (chunks in zstd packs, an SQLite
index, transactions, gc, verify); it knows nothing of tar or image formats.
"""

from __future__ import annotations

from .repo import GcResult, ImageRow, LayerRow, Problem, Repository, Stats, Transaction

__all__ = ["GcResult", "ImageRow", "LayerRow", "Problem", "Repository", "Stats", "Transaction"]
