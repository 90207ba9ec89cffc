"""Can Python's zlib rebuild a tool-made gzip layer blob bit for bit from its uncompressed tar?

    python benchmarks/gzip_rebuild.py [OCI-ARCHIVE] [--max-bytes N]

For each gzip layer blob of OCI-ARCHIVE (default
/work/bench-real/app.oci-gzip.tar: umoci's blobs, copied as they are by
skopeo) up to --max-bytes: parse the gzip header (flags, mtime, XFL, OS),
count members, inflate, then deflate the tar again with zlib at every level
1-9 and, for the smaller blobs, every memLevel 1-9, window 9-15 and strategy
(default, filtered, huffman-only, RLE, fixed). A candidate is the original
header + raw deflate + CRC32/ISIZE trailer; the report gives, per blob, the
best candidate's first differing offset (the length of the common prefix)
and whether any candidate matched in full.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import tarfile
import zlib

STRATEGIES = {"default": zlib.Z_DEFAULT_STRATEGY, "filtered": zlib.Z_FILTERED, "huffman": zlib.Z_HUFFMAN_ONLY,
              "rle": zlib.Z_RLE, "fixed": zlib.Z_FIXED}


def gzip_header(blob: bytes) -> tuple[dict, int]:
    """The header's fields and its length (RFC 1952)."""
    if blob[:2] != b"\x1f\x8b":
        raise ValueError("not gzip")
    cm, flg, mtime, xfl, os_ = struct.unpack("<BBIBB", blob[2:10])
    pos = 10
    if flg & 4:
        (xlen,) = struct.unpack("<H", blob[pos:pos + 2])
        pos += 2 + xlen
    name = None
    if flg & 8:
        end = blob.index(b"\0", pos)
        name, pos = blob[pos:end], end + 1
    if flg & 16:
        pos = blob.index(b"\0", pos) + 1
    if flg & 2:
        pos += 2
    return {"cm": cm, "flags": flg, "mtime": mtime, "xfl": xfl, "os": os_, "name": name}, pos


def members(blob: bytes) -> tuple[int, bytes]:
    out, n, data = [], 0, blob
    while data:
        d = zlib.decompressobj(31)
        out.append(d.decompress(data))
        n += 1
        data = d.unused_data
    return n, b"".join(out)


def common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    lo, hi = 0, n  # binary search on equal prefixes: fast on large blobs
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def candidates(small: bool):
    for level in range(1, 10):
        for mem in (range(1, 10) if small else (8, 9)):
            for wbits in (range(9, 16) if small else (15,)):
                for sname, strategy in (STRATEGIES.items() if small else [("default", zlib.Z_DEFAULT_STRATEGY)]):
                    yield level, mem, wbits, sname, strategy


def try_blob(blob: bytes, small: bool) -> dict:
    header, hlen = gzip_header(blob)
    n, raw = members(blob)
    body = blob[hlen:]
    best = (-1, None)
    tried = 0
    full = False
    for level, mem, wbits, sname, strategy in candidates(small):
        c = zlib.compressobj(level, zlib.DEFLATED, -wbits, mem, strategy)
        deflated = c.compress(raw) + c.flush()
        cand = deflated + struct.pack("<II", zlib.crc32(raw), len(raw) & 0xFFFFFFFF)
        tried += 1
        p = common_prefix(body, cand)
        if p > best[0]:
            best = (p, (level, mem, wbits, sname))
        if cand == body:
            full = True
            break
    return {"blob_bytes": len(blob), "tar_bytes": len(raw), "members": n,
            "header": {k: (v.decode(errors="replace") if isinstance(v, bytes) else v) for k, v in header.items()},
            "candidates": tried, "full_match": full,
            "first_difference_at": None if full else hlen + best[0],
            "best": dict(zip(("level", "memLevel", "wbits", "strategy"), best[1]))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive", nargs="?", default="/work/bench-real/app.oci-gzip.tar")
    ap.add_argument("--max-bytes", type=int, default=20 << 20)
    ap.add_argument("--small", type=int, default=2 << 20, help="blobs up to this get the full grid")
    args = ap.parse_args(argv)
    with tarfile.open(args.archive) as tf:
        index = json.load(tf.extractfile("index.json"))
        manifest = json.load(tf.extractfile("blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]))
        for layer in manifest["layers"]:
            if "gzip" not in layer["mediaType"] or layer["size"] > args.max_bytes:
                continue
            blob = tf.extractfile("blobs/sha256/" + layer["digest"].split(":")[1]).read()
            res = try_blob(blob, layer["size"] <= args.small)
            print(json.dumps({"digest": layer["digest"], **res}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
