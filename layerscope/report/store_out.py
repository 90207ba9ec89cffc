"""``store stats`` rendered: the ``layerscope.store.stats/1`` document (docs/json.md) and its text.

The text reads the document, so every format shows the same figures.
"""

from __future__ import annotations

from typing import Any

from ..units import human_size
from .style import finish

STORE_STATS_SCHEMA = "layerscope.store.stats/1"


def stats_doc(st, path: str) -> dict[str, Any]:
    """The document of a :class:`~layerscope.store.api.Store`'s ``stats()`` for the store at ``path``."""
    return {
        "schema": STORE_STATS_SCHEMA,
        "store": path,
        "images": st.images,
        "layers": {"count": st.layers, "shared": st.shared_layers},
        "files": {"count": st.files, "shared": st.shared_files},
        "chunks": {"count": st.chunks, "shared": st.shared_chunks},
        "blobs": st.blobs,
        "packs": st.packs,
        "bytes": {"logical": st.logical_bytes, "unique": st.unique_bytes, "packs": st.pack_bytes,
                  "index": st.index_bytes, "stored": st.stored_bytes},
        "ratio": {"total": round(st.ratio, 4), "dedup": round(st.dedup_ratio, 4),
                  "compression": round(st.compression_ratio, 4)},
    }


def stats_text(doc: dict[str, Any]) -> str:
    b, r = doc["bytes"], doc["ratio"]
    return finish([
        f"images    {doc['images']}",
        f"layers    {doc['layers']['count']} ({doc['layers']['shared']} shared by several images)",
        f"files     {doc['files']['count']} ({doc['files']['shared']} shared by several layers)",
        f"chunks    {doc['chunks']['count']} ({doc['chunks']['shared']} shared by several layers)",
        f"logical   {human_size(b['logical'])}  (every image's layers and blobs)",
        f"unique    {human_size(b['unique'])}  (dedup {r['dedup']:.2f}x)",
        f"stored    {human_size(b['stored'])}  (zstd {r['compression']:.2f}x; in all {r['total']:.2f}x)",
    ])
