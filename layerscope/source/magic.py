"""Compression by magic bytes: the one table, for layer blobs and outer archives.

Media types and file names lie (zstd layers labelled gzip, gzip layers in
"uncompressed" docker-archives), so only a blob's first bytes decide. Kept
apart from ``compression.py`` so that ``container.py``, which it imports,
can refuse a compressed outer archive by the same rule without loading the
decompressors.
"""

from __future__ import annotations

NONE, GZIP, ZSTD, BZIP2, XZ = "none", "gzip", "zstd", "bzip2", "xz"

GZIP_MAGIC = b"\x1f\x8b"  # every gzip member starts with it (RFC 1952)
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # a zstd frame (RFC 8878)
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"


def _skippable_zstd(head: bytes) -> bool:
    """A zstd skippable frame (magic 0x184D2A50..5F): zstd:chunked may start with one."""
    return len(head) >= 4 and 0x50 <= head[0] <= 0x5F and head[1:4] == b"\x2a\x4d\x18"


def detect(head: bytes | memoryview) -> str:
    """Name the compression of a blob from its first bytes (six suffice)."""
    head = bytes(head[:6])
    if head.startswith(GZIP_MAGIC):
        return GZIP
    if head.startswith(ZSTD_MAGIC) or _skippable_zstd(head):
        return ZSTD
    if head.startswith(BZIP2_MAGIC):
        return BZIP2
    if head.startswith(XZ_MAGIC):
        return XZ
    return NONE
