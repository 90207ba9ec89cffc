"""Hand-made hostile images for tests/test_hostile.py and benchmarks/entry_memory.py.

Bombs are written streaming: a gzip (or zstd) of zeros compresses ~1000:1,
so a 10 GiB bomb is ~10 MB on disk and never exists uncompressed.
"""

from __future__ import annotations

import io
import tarfile
import zlib
from pathlib import Path

import images as I

ZEROS = bytes(1 << 20)
LAYER = "application/vnd.oci.image.layer.v1.tar"


def raw_tar(entries: list[tuple[str, str, object]]) -> bytes:
    """A layer tar written verbatim (no name cleaning): ``(kind, name, data/link)``,
    kind one of file, dir, sym, hard."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for kind, name, x in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = I.MTIME
            if kind == "file":
                ti.size = len(x)
                tf.addfile(ti, io.BytesIO(x))
                continue
            ti.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE}[kind]
            if kind == "dir":
                ti.mode = 0o755
            else:
                ti.linkname = x
            tf.addfile(ti)
    return buf.getvalue()


def layout(path: Path, raws: list[bytes], *, blobs: list[bytes] | None = None, media_type: str = LAYER,
           diff_ids: list[str] | None = None) -> Path:
    """An OCI layout with one image (ref ``latest``) of these layers (``blobs``: stored compressed)."""
    lay = I.OCILayout(path)
    descs = [lay.blob(b, media_type) for b in (blobs or raws)]
    lay.add_ref(lay.image(descs, I.make_config(diff_ids or [I.sha256(r) for r in raws])), "latest")
    lay.finish()
    return path


def _bomb_header(size: int) -> bytes:
    ti = tarfile.TarInfo("zeros")
    ti.size = size
    ti.mtime = I.MTIME
    return ti.tobuf(tarfile.PAX_FORMAT)  # PAX: a size past 8 GiB needs it


def gzip_bomb(path: Path, size: int) -> int:
    """A gzip layer blob whose tar holds one file of ``size`` zero bytes; returns the blob's size.

    Each MiB of zeros is deflated after a full flush, so its compressed form is
    the same every time: compressed once, written ``size >> 20`` times.
    """
    assert size % len(ZEROS) == 0
    header = _bomb_header(size)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(ZEROS) + c.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(header)
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + first)
        for _ in range(size // len(ZEROS)):
            f.write(block)
            crc = zlib.crc32(ZEROS, crc)
        tail = bytes(1024)  # the end-of-archive blocks (the data is 512-aligned already)
        f.write(c.compress(tail) + c.flush())
        crc = zlib.crc32(tail, crc)
        f.write((crc & 0xFFFFFFFF).to_bytes(4, "little") + ((len(header) + size + 1024) & 0xFFFFFFFF).to_bytes(4, "little"))
        return f.tell()


def zstd_bomb(size: int) -> bytes:
    """A zstd layer blob of one file of ``size`` zero bytes (zstd writes zeros as tiny RLE blocks)."""
    import zstandard

    out = io.BytesIO()
    with zstandard.ZstdCompressor(level=3).stream_writer(out, closefd=False) as w:
        w.write(_bomb_header(size))
        for _ in range(size // len(ZEROS)):
            w.write(ZEROS)
        w.write(bytes(1024))
    return out.getvalue()


def bomb_layout(path: Path, blob_file: Path, media_type: str) -> Path:
    """An OCI layout whose one layer is the (big) blob in ``blob_file``, moved in, not read into memory."""
    import hashlib

    h = hashlib.sha256()
    with open(blob_file, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    digest = "sha256:" + h.hexdigest()
    lay = I.OCILayout(path)
    blob_file.rename(path / "blobs" / "sha256" / h.hexdigest())
    desc = {"mediaType": media_type, "digest": digest, "size": (path / "blobs/sha256" / h.hexdigest()).stat().st_size}
    # the diff_id is not computed (that would mean hashing 10 GiB): the limit must stop the read first
    lay.add_ref(lay.image([desc], I.make_config(["sha256:" + "0" * 64])), "latest")
    lay.finish()
    return path


def many_empty_files(n: int) -> bytes:
    """A gzip layer of ``n`` empty files (ustar headers, 512 bytes each), spread over directories of 1,000."""
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    out, parts = [], []
    proto = tarfile.TarInfo("x")
    proto.mtime = I.MTIME
    for i in range(n):
        if i % 1000 == 0:
            d = tarfile.TarInfo(f"d{i // 1000:04d}")
            d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, I.MTIME
            parts.append(d.tobuf(tarfile.USTAR_FORMAT))
        proto.name = f"d{i // 1000:04d}/f{i % 1000:03d}"
        parts.append(proto.tobuf(tarfile.USTAR_FORMAT))
        if len(parts) >= 4096:
            out.append(c.compress(b"".join(parts)))
            parts = []
    parts.append(bytes(1024))
    out += [c.compress(b"".join(parts)), c.flush()]
    return b"".join(out)
