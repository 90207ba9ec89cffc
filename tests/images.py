"""Test-image builders and independent readers for layerscope's tests.

Two families:

* **Tool-built** (:func:`build_umoci_layout`, :func:`build_tool_variants`):
  real images made with umoci and converted with skopeo into every transport
  layerscope reads.  Expected values for these come from the tools themselves
  (``skopeo inspect --raw`` / ``--config --raw``) and from decompressing the
  stored blobs here, in plain Python.
* **Python-built** (``build_*`` functions returning :class:`ImageExpect`):
  formats no tool here writes (legacy docker-archives with symlinked layers,
  Docker 25+ archives, containerd-style compressed archives, multi-image and
  multi-platform images, odd compression framings, foreign layers).  Every
  expected value is computed from the bytes the builder wrote.

Nothing here uses layerscope's readers: the expectations must not depend
on them. Archives, layouts, manifests and configs are written by
``layerscope.testing.imagewriter``, stdlib-only code shared with the
benchmark image (benchmarks/make_image.py) that imports nothing from
layerscope.
Images are small (a few hundred KB each) and are built in temp dirs by
session-scoped fixtures in ``conftest.py``; nothing binary is committed.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import platform as _platform
import random
import shutil
import struct
import subprocess
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

from layerscope.testing import imagewriter as W
from layerscope.testing.imagewriter import (  # noqa: F401 - the test modules use them as images.X
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    add_member,
    hexof,
    sha256,
    v1_ids,
)

# --------------------------------------------------------------------------
# media types
# --------------------------------------------------------------------------

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = DOCKER_LAYER + ".gzip"
DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
INTOTO = "application/vnd.in-toto+json"

ANY = object()  # "do not assert this field"

TIMEOUT = 60  # seconds, for every subprocess


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def jbytes(obj: Any) -> bytes:
    return W.json_bytes(obj)


def rand_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def text_bytes(n: int, seed: int) -> bytes:
    r = random.Random(seed)
    words = ["layer", "scope", "image", "blob", "digest", "tar", "zstd", "gzip", "oci"]
    out = io.StringIO()
    while out.tell() < n:
        out.write(" ".join(r.choice(words) for _ in range(12)) + "\n")
    return out.getvalue().encode()[:n]


def host_platform() -> str:
    m = _platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "armv7l": "arm/v7", "armv6l": "arm/v6", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64", "i686": "386", "i386": "386"}.get(m, m)
    return f"linux/{arch}"


# --------------------------------------------------------------------------
# tar layers
# --------------------------------------------------------------------------

MTIME = W.MTIME


def _ti(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.mtime = MTIME
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def make_tar(entries: list[tuple], *, fmt: int = tarfile.PAX_FORMAT, pad: bool = True) -> bytes:
    """Build a layer tar from ``entries``.

    Entry forms: ``("file", name, data[, mode])``, ``("dir", name[, mode])``,
    ``("symlink", name, target)``, ``("hardlink", name, target)``,
    ``("whiteout", path)`` (a ``.wh.`` file), ``("opaque", dir)``.
    ``pad=False`` trims the record padding after the two end blocks (what Go's
    archive/tar writes); ``pad=True`` keeps Python's 10240-byte records.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for e in entries:
            kind = e[0]
            if kind == "file":
                data = e[2]
                ti = _ti(e[1], tarfile.REGTYPE, e[3] if len(e) > 3 else 0o644)
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            elif kind == "dir":
                tf.addfile(_ti(e[1], tarfile.DIRTYPE, e[2] if len(e) > 2 else 0o755))
            elif kind == "symlink":
                ti = _ti(e[1], tarfile.SYMTYPE, 0o777)
                ti.linkname = e[2]
                tf.addfile(ti)
            elif kind == "hardlink":
                ti = _ti(e[1], tarfile.LNKTYPE, 0o644)
                ti.linkname = e[2]
                tf.addfile(ti)
            elif kind == "whiteout":
                d, b = os.path.split(e[1])
                tf.addfile(_ti(os.path.join(d, ".wh." + b), tarfile.REGTYPE, 0o644))
            elif kind == "opaque":
                tf.addfile(_ti(os.path.join(e[1], ".wh..wh..opq"), tarfile.REGTYPE, 0o644))
            else:  # pragma: no cover - builder misuse
                raise ValueError(kind)
        end_of_members = tf.offset
    data = buf.getvalue()
    if not pad:
        data = data[: end_of_members + 1024]
    return data


def tar_member_count(raw: bytes) -> int:
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        return len(tf.getmembers())


def sample_layer(seed: int, *, big: int = 40_000, fmt: int = tarfile.PAX_FORMAT, pad: bool = True,
                 prefix: str = "") -> bytes:
    """A small but varied layer: file, random data, dir, symlink, hardlink,
    long path (> 100 chars), whiteout, odd mode."""
    p = prefix
    long_dir = p + "opt/" + "/".join([f"dir{seed}" + "x" * 26] * 4)
    return make_tar([
        ("dir", p + "etc"),
        ("file", p + f"etc/file{seed}.txt", f"hello from layer {seed}\n".encode()),
        ("file", p + f"data/rand{seed}.bin", rand_bytes(big, seed)),
        ("file", p + f"data/text{seed}.txt", text_bytes(big // 2, seed), 0o600),
        ("symlink", p + f"etc/link{seed}", f"file{seed}.txt"),
        ("hardlink", p + f"etc/hard{seed}", p + f"etc/file{seed}.txt"),
        ("file", long_dir + f"/a-file-with-a-rather-long-name-{seed}.txt", b"long\n", 0o755),
        ("whiteout", p + f"etc/gone{seed}"),
    ], fmt=fmt, pad=pad)


# --------------------------------------------------------------------------
# compression framings
# --------------------------------------------------------------------------

def gzip_bytes(raw: bytes) -> bytes:
    return gzip.compress(raw, compresslevel=6, mtime=0)


def zstd_bytes(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(raw)


def zstd_skippable(payload: bytes, n: int = 0) -> bytes:
    return struct.pack("<II", 0x184D2A50 + n, len(payload)) + payload


def zstd_multi_frame(raw: bytes, cuts: list[int]) -> bytes:
    """Skippable frame, zstd frames split at ``cuts`` with skippable frames
    between them, one without a content size, and a skippable frame at the end
    (as zstd:chunked places its TOC)."""
    bounds = [0, *cuts, len(raw)]
    out = [zstd_skippable(b"layerscope-test-leading-skippable", 0)]
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        cctx = zstandard.ZstdCompressor(level=3, write_content_size=(i % 2 == 0))
        if i % 2 == 0:
            out.append(cctx.compress(raw[a:b]))
        else:  # streamed frame: no content size in the header
            sink = io.BytesIO()
            with cctx.stream_writer(sink, closefd=False) as w:
                w.write(raw[a:b])
            out.append(sink.getvalue())
        if i == 0:
            out.append(zstd_skippable(b"\x00" * 37, 7))
    out.append(zstd_skippable(jbytes({"toc": "not really"}), 15))
    return b"".join(out)


def gzip_multi_member(raw: bytes, cuts: list[int]) -> bytes:
    bounds = [0, *cuts, len(raw)]
    return b"".join(gzip_bytes(raw[a:b]) for a, b in zip(bounds, bounds[1:]))


def _gzip_member_with_extra(data: bytes, extra: bytes) -> bytes:
    co = zlib.compressobj(0, zlib.DEFLATED, -15)  # stored block, as eStargz's footer
    body = co.compress(data) + co.flush()
    hdr = b"\x1f\x8b\x08\x04" + struct.pack("<I", 0) + b"\x00\xff" + struct.pack("<H", len(extra)) + extra
    return hdr + body + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)


def estargz_like(files: list[tuple[str, bytes]]) -> tuple[bytes, bytes, bytes]:
    """An eStargz-shaped blob: one gzip member per tar entry, a TOC entry
    ``stargz.index.json`` (with the tar end blocks) in its own member, then the
    51-byte eStargz footer (an empty gzip member whose extra field holds the
    TOC offset).  Returns ``(blob, raw_tar, toc_json)``."""
    members: list[bytes] = []
    raw_parts: list[bytes] = []
    toc_entries = []
    offset = 0
    for name, data in files:
        ti = _ti(name, tarfile.REGTYPE, 0o644)
        ti.size = len(data)
        part = ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + data
        part += b"\0" * (-len(part) % 512)
        toc_entries.append({"name": name, "type": "reg", "size": len(data), "offset": offset,
                            "digest": sha256(data)})
        m = gzip_bytes(part)
        members.append(m)
        raw_parts.append(part)
        offset += len(m)
    toc = jbytes({"version": 1, "entries": toc_entries})
    ti = _ti("stargz.index.json", tarfile.REGTYPE, 0o644)
    ti.size = len(toc)
    part = ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + toc
    part += b"\0" * (-len(part) % 512) + b"\0" * 1024
    toc_offset = offset
    members.append(gzip_bytes(part))
    raw_parts.append(part)
    extra = b"SG" + struct.pack("<H", 22) + b"%016xSTARGZ" % toc_offset
    footer = _gzip_member_with_extra(b"", extra)
    assert len(footer) == 51, len(footer)
    members.append(footer)
    return b"".join(members), b"".join(raw_parts), toc


def compression_of(blob: bytes) -> str:
    if blob[:2] == b"\x1f\x8b":
        return "gzip"
    magic = int.from_bytes(blob[:4], "little") if len(blob) >= 4 else 0
    if magic == 0xFD2FB528 or 0x184D2A50 <= magic <= 0x184D2A5F:
        return "zstd"
    return "none"


def decompress(blob: bytes) -> bytes:
    """Independent decompression (Python stdlib gzip / python-zstandard)."""
    c = compression_of(blob)
    if c == "gzip":
        return gzip.decompress(blob)
    if c == "zstd":
        r = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True)
        return r.read()
    return blob


# --------------------------------------------------------------------------
# expectations
# --------------------------------------------------------------------------

@dataclass
class LayerExpect:
    digest: Any
    diff_id: Any
    compression: Any
    size: Any
    compressed_size: Any
    entries: Any
    media_type: Any = ANY
    created_by: Any = ANY

    @classmethod
    def from_blob(cls, blob: bytes, raw: bytes | None = None, **kw: Any) -> "LayerExpect":
        raw = decompress(blob) if raw is None else raw
        d = dict(digest=sha256(blob), diff_id=sha256(raw), compression=compression_of(blob),
                 size=len(raw), compressed_size=len(blob), entries=tar_member_count(raw))
        d.update(kw)
        return cls(**d)


@dataclass
class ImageExpect:
    path: Path                     # file or directory on disk
    arg: str                       # what to pass to `layerscope inspect`
    config_digest: Any
    layers: list[LayerExpect]
    manifest_digest: Any = ANY
    platform: Any = "linux/amd64"
    extra_args: tuple[str, ...] = ()
    notes: dict[str, Any] = field(default_factory=dict)


def check_inspect(doc: dict, exp: ImageExpect) -> None:
    """Compare a parsed ``inspect --json`` document against an expectation."""
    assert doc.get("schema") == "layerscope.inspect/2", doc.get("schema")
    img = doc["image"]
    if exp.manifest_digest is not ANY:
        assert img["manifest_digest"] == exp.manifest_digest
    if exp.config_digest is not ANY:
        assert img["config_digest"] == exp.config_digest
    if exp.platform is not ANY:
        assert img["platform"] == exp.platform
    layers = doc["layers"]
    assert len(layers) == len(exp.layers), [l.get("digest") for l in layers]
    for i, (got, want) in enumerate(zip(layers, exp.layers)):
        assert got["index"] == i
        for key in ("digest", "diff_id", "compression", "size", "compressed_size", "entries",
                    "media_type", "created_by"):
            w = getattr(want, key)
            if w is ANY:
                continue
            assert got.get(key) == w, f"layer {i} {key}: got {got.get(key)!r}, want {w!r}"
    sizes = [l.size for l in exp.layers]
    if all(isinstance(s, int) for s in sizes):
        assert img["size"] == sum(sizes)
    csizes = [l.compressed_size for l in exp.layers]
    if all(isinstance(s, int) for s in csizes):
        assert img["compressed_size"] == sum(csizes)


def assert_bad(res, *names: str) -> str:
    """Exit 2, exactly one non-empty stderr line, no traceback, and the line
    names at least one of ``names`` (file, object, digest...)."""
    assert res.rc == 2, f"rc={res.rc} for {res.argv}\nstdout: {res.out[:300]}\nstderr: {res.err.strip()}"
    lines = res.err_lines
    assert len(lines) == 1, f"want one stderr line, got {len(lines)}: {res.err!r}"
    line = lines[0]
    if names:
        assert any(n and n in line for n in names), f"stderr names none of {names!r}: {line!r}"
    return line


# --------------------------------------------------------------------------
# configs and writers
# --------------------------------------------------------------------------

def make_config(diff_ids: list[str], *, arch: str = "amd64", os_: str = "linux",
                variant: str | None = None, created_by: list[str] | None = None,
                empty_after: dict[int, str] | None = None) -> bytes:
    """An image config; ``created_by[i]`` is layer i's history, and
    ``empty_after[i]`` inserts an ``empty_layer`` entry after layer i."""
    hist = []
    for i in range(len(diff_ids)):
        if created_by is not None:
            hist.append({"created": "2024-01-01T00:00:00Z", "created_by": created_by[i]})
        if empty_after and i in empty_after:
            hist.append({"created": "2024-01-01T00:00:00Z", "created_by": empty_after[i],
                         "empty_layer": True})
    return jbytes(W.image_config(diff_ids, history=hist, config={"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
                                 created="2024-01-01T00:00:00Z", arch=arch, os_=os_, variant=variant))


class OCILayout:
    """Write an OCI image layout directory blob by blob."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.index: list[dict] = []

    def blob(self, data: bytes, media_type: str, *, write: bool = True, **extra: Any) -> dict:
        desc = W.descriptor(media_type, data, **extra)
        if write:
            (self.path / W.blob_name(desc["digest"])).write_bytes(data)
        return desc

    def image(self, layer_descs: list[dict], config: bytes, *, manifest_type: str = OCI_MANIFEST,
              config_type: str = OCI_CONFIG, write: bool = True) -> dict:
        cdesc = self.blob(config, config_type)
        m = W.oci_manifest(cdesc, layer_descs, media_type=manifest_type)
        return self.blob(jbytes(m), manifest_type, write=write)

    def add_ref(self, desc: dict, ref: str | None = None, **annotations: str) -> None:
        d = dict(desc)
        ann = dict(annotations)
        if ref is not None:
            ann["org.opencontainers.image.ref.name"] = ref
        if ann:
            d["annotations"] = ann
        self.index.append(d)

    def finish(self) -> None:
        (self.path / "index.json").write_bytes(jbytes(W.oci_index(self.index)))


def tar_members(path: Path, members: list[tuple]) -> None:
    """Write an outer archive: members are ``(name, data)`` or
    ``(name, None, {"symlink": ...})`` / ``{"hardlink": ...}``."""
    W.write_tar(path, members)


# --------------------------------------------------------------------------
# Python-built images (test_formats.py, test_bad_input.py)
# --------------------------------------------------------------------------

def three_layers(seed: int = 0, big: int = 40_000) -> list[bytes]:
    return [sample_layer(seed + 1, big=big),
            sample_layer(seed + 2, big=big // 2, fmt=tarfile.GNU_FORMAT),
            make_tar([("dir", "srv"), ("opaque", "srv"), ("file", "srv/x", b"x" * 700)], pad=False)]


CREATED_BY = ["ADD rootfs.tar /", "RUN make data", "COPY srv /srv"]


def build_legacy_docker_archive(path: Path, style: str, *, repotag: str = "legacy/app:1") -> ImageExpect:
    """Legacy ``docker save`` archives, uncompressed layers, in four styles:

    * ``"docker"``    -- ``<id>/layer.tar`` regular files; Layers -> ``<id>/layer.tar``
    * ``"symlink"``   -- ``<diffid>.tar`` files; ``<id>/layer.tar -> ../<diffid>.tar``
                         symlinks; Layers -> the symlinks (older skopeo/podman)
    * ``"skopeo"``    -- exactly what skopeo 1.9 writes: as "symlink" but
                         Layers -> ``<diffid>.tar``, config ``<hex>.json``
    * ``"hardlink"``  -- ``<id>/layer.tar`` is a tar hardlink to ``<diffid>.tar``
    """
    raws = three_layers(10)
    diff_ids = [sha256(r) for r in raws]
    cfg = make_config(diff_ids, created_by=CREATED_BY, empty_after={1: 'ENV A=b'})
    ids = v1_ids(diff_ids)
    members: list[tuple] = []
    layer_paths = []
    for i, (raw, d, lid) in enumerate(zip(raws, diff_ids, ids)):
        members.append((lid, None))
        members.append((f"{lid}/VERSION", b"1.0"))
        v1 = {"id": lid, **({"parent": ids[i - 1]} if i else {})}
        members.append((f"{lid}/json", jbytes(v1)))
        if style == "docker":
            members.append((f"{lid}/layer.tar", raw))
            layer_paths.append(f"{lid}/layer.tar")
        else:
            members.append((f"{hexof(d)}.tar", raw))
            if style == "hardlink":
                members.append((f"{lid}/layer.tar", None, {"hardlink": f"{hexof(d)}.tar"}))
            else:
                members.append((f"{lid}/layer.tar", None, {"symlink": f"../{hexof(d)}.tar"}))
            layer_paths.append(f"{hexof(d)}.tar" if style == "skopeo" else f"{lid}/layer.tar")
    cfg_name = f"{hexof(sha256(cfg))}.json"
    members.append((cfg_name, cfg))
    name, tag = repotag.rsplit(":", 1)
    members.append(("manifest.json", jbytes(W.docker_manifest(cfg_name, [repotag], layer_paths))))
    members.append(("repositories", jbytes({name: {tag: ids[-1]}})))
    tar_members(path, members)
    layers = [LayerExpect.from_blob(r, media_type=ANY, created_by=c) for r, c in zip(raws, CREATED_BY)]
    for l in layers:
        assert l.digest == l.diff_id
    return ImageExpect(path, str(path), sha256(cfg), layers)


def build_docker25_archive(path: Path) -> ImageExpect:
    """``docker save`` from Docker 25+: an OCI layout (uncompressed layers,
    ``application/vnd.oci.image.layer.v1.tar``) plus a ``manifest.json`` whose
    Layers point into ``blobs/sha256/``."""
    raws = three_layers(20)
    diff_ids = [sha256(r) for r in raws]
    cfg = make_config(diff_ids, created_by=CREATED_BY)
    ldescs = [W.descriptor(OCI_LAYER, r) for r in raws]
    cdesc = W.descriptor(OCI_CONFIG, cfg)
    man = jbytes(W.oci_manifest(cdesc, ldescs))
    mdesc = W.descriptor(OCI_MANIFEST, man,
                         annotations={"io.containerd.image.name": "docker.io/library/d25:latest",
                                      "org.opencontainers.image.ref.name": "latest"})
    index = jbytes(W.oci_index([mdesc]))
    members: list[tuple] = [("blobs", None), ("blobs/sha256", None)]
    for r, d in zip(raws, diff_ids):
        members.append((W.blob_name(d), r))
    members.append((W.blob_name(sha256(cfg)), cfg))
    members.append((W.blob_name(sha256(man)), man))
    members.append(("index.json", index))
    manifest = W.docker_manifest(W.blob_name(sha256(cfg)), ["d25:latest"], [W.blob_name(d) for d in diff_ids])
    members.append(("manifest.json", jbytes(manifest)))
    members.append(("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'))
    members.append(("repositories", jbytes({"d25": {"latest": hexof(diff_ids[-1])}})))
    tar_members(path, members)
    layers = [LayerExpect.from_blob(r, media_type=OCI_LAYER, created_by=c) for r, c in zip(raws, CREATED_BY)]
    return ImageExpect(path, str(path), sha256(cfg), layers, manifest_digest=sha256(man))


def build_compressed_docker_archive(path: Path, *, with_index: bool) -> ImageExpect:
    """A docker-archive whose layers are stored gzip/zstd-compressed under
    ``blobs/sha256/<hex of the compressed blob>`` (containerd image store).
    ``with_index=False`` drops ``index.json``/``oci-layout`` so only
    ``manifest.json`` describes the image: compression must be found by magic."""
    raws = three_layers(30)
    blobs = [gzip_bytes(raws[0]), zstd_bytes(raws[1]), raws[2]]
    mtypes = [OCI_LAYER_GZIP, OCI_LAYER_ZSTD, OCI_LAYER]
    diff_ids = [sha256(r) for r in raws]
    cfg = make_config(diff_ids, created_by=CREATED_BY)
    members: list[tuple] = [("blobs", None), ("blobs/sha256", None)]
    for b in blobs:
        members.append((W.blob_name(sha256(b)), b))
    members.append((W.blob_name(sha256(cfg)), cfg))
    manifest_digest: Any = ANY
    if with_index:
        ldescs = [W.descriptor(m, b) for m, b in zip(mtypes, blobs)]
        man = jbytes(W.oci_manifest(W.descriptor(OCI_CONFIG, cfg), ldescs))
        manifest_digest = sha256(man)
        members.append((W.blob_name(manifest_digest), man))
        mdesc = W.descriptor(OCI_MANIFEST, man,
                             annotations={"io.containerd.image.name": "docker.io/library/ctd:latest",
                                          "org.opencontainers.image.ref.name": "latest"})
        members.append(("index.json", jbytes(W.oci_index([mdesc]))))
        members.append(("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'))
    manifest = W.docker_manifest(W.blob_name(sha256(cfg)), ["ctd:latest"], [W.blob_name(sha256(b)) for b in blobs])
    members.append(("manifest.json", jbytes(manifest)))
    tar_members(path, members)
    layers = []
    for b, r, c, m in zip(blobs, raws, CREATED_BY, mtypes):
        layers.append(LayerExpect.from_blob(b, r, created_by=c, media_type=m if with_index else ANY))
    return ImageExpect(path, str(path), sha256(cfg), layers, manifest_digest=manifest_digest)


@dataclass
class V1Archive:
    path: Path
    images: dict[str, ImageExpect]   # repotag -> expectation (arg is the bare archive)
    ids: list[str]                   # v1 ids, root first
    raws: list[bytes]                # layer.tar of each, root first


V1_CMDS = [["/bin/sh", "-c", "#(nop) ADD file:rootfs.tar in /"], ["/bin/sh", "-c", "make data"],
           ["/bin/sh", "-c", "#(nop) COPY dir:srv in /srv"], ["/bin/sh", "-c", '#(nop) CMD ["/bin/sh"]']]


def v1_image_json(image_id: str, parent: str | None, cmd: list[str], size: int) -> dict:
    """A v1 image JSON as ``docker save`` before 1.10 wrote it."""
    doc: dict[str, Any] = {"id": image_id}
    if parent:
        doc["parent"] = parent
    doc.update({
        "created": "2015-11-20T00:00:00.000000000Z", "container": "c" * 64,
        "container_config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": cmd},
        "docker_version": "1.9.1",
        "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
        "architecture": "amd64", "os": "linux", "Size": size,
    })
    return doc


def build_pre110_archive(path: Path, *, json_of=None, drop: frozenset = frozenset(),
                         repositories: Any = None) -> V1Archive:
    """A pre-1.10 ``docker save``: ``repositories``, ``<id>/{VERSION,json,layer.tar}``,
    a parent chain, no ``manifest.json``. Four layers: three with files and
    the empty tar a metadata-only step (CMD) left. ``legacy/v1:1.0`` names the
    top, ``legacy/v1:base`` the root. ``json_of(i, doc)`` may rewrite (or
    replace with bytes) image i's JSON; ``drop`` leaves members out."""
    raws = three_layers(50) + [b"\0" * 1024]
    ids = [hexof(sha256(f"random v1 id {i}".encode())) for i in range(len(raws))]  # random: no content hash
    members: list[tuple] = []
    for i in reversed(range(len(raws))):  # top first: the reader must follow links, not member order
        doc: Any = v1_image_json(ids[i], ids[i - 1] if i else None, V1_CMDS[i], len(raws[i]))
        if json_of is not None:
            doc = json_of(i, doc)
        for name, data in ((ids[i], None), (f"{ids[i]}/VERSION", b"1.0"),
                           (f"{ids[i]}/json", doc if isinstance(doc, bytes) else jbytes(doc)),
                           (f"{ids[i]}/layer.tar", raws[i])):
            if name not in drop:
                members.append((name, data))
    repos = {"legacy/v1": {"1.0": ids[-1], "base": ids[0]}} if repositories is None else repositories
    if "repositories" not in drop:
        members.append(("repositories", repos if isinstance(repos, bytes) else jbytes(repos)))
    tar_members(path, members)
    layers = [LayerExpect.from_blob(r, media_type=DOCKER_LAYER, created_by=" ".join(c))
              for r, c in zip(raws, V1_CMDS)]
    images = {"legacy/v1:1.0": ImageExpect(path, f"{path}:legacy/v1:1.0", None, layers, manifest_digest=None),
              "legacy/v1:base": ImageExpect(path, f"{path}:legacy/v1:base", None, layers[:1], manifest_digest=None)}
    return V1Archive(path, images, ids, raws)


@dataclass
class MultiImage:
    path: Path
    images: dict[str, ImageExpect]   # repotag -> expectation (arg is the bare archive)
    order: list[str]                 # repotags in manifest.json order


def build_multi_image_archive(path: Path) -> MultiImage:
    """Two images in one docker-archive sharing their base layer."""
    base = sample_layer(40)
    a = make_tar([("file", "app/a.txt", b"alpha" * 100)])
    b = make_tar([("file", "app/b.txt", b"beta" * 100), ("dir", "app/sub")])
    images = {}
    members: list[tuple] = [(f"{hexof(sha256(r))}.tar", r) for r in (base, a, b)]
    manifest = []
    for tag, raws, arch in (("alpha:1.0", [base, a], "amd64"), ("beta:2.0", [base, b], "amd64")):
        dids = [sha256(r) for r in raws]
        cfg = make_config(dids, arch=arch, created_by=["ADD base", f"ADD {tag}"])
        cname = f"{hexof(sha256(cfg))}.json"
        members.append((cname, cfg))
        manifest += W.docker_manifest(cname, [tag], [f"{hexof(d)}.tar" for d in dids])
        layers = [LayerExpect.from_blob(r, created_by=c) for r, c in zip(raws, ["ADD base", f"ADD {tag}"])]
        images[tag] = ImageExpect(path, str(path), sha256(cfg), layers)
    members.append(("manifest.json", jbytes(manifest)))
    members.append(("repositories", jbytes({"alpha": {"1.0": "x"}, "beta": {"2.0": "y"}})))
    tar_members(path, members)
    return MultiImage(path, images, ["alpha:1.0", "beta:2.0"])


@dataclass
class MultiPlatform:
    path: Path
    ref: str
    platforms: dict[str, ImageExpect]   # "linux/arm64" -> expectation
    absent: dict[str, str]              # platform -> digest of its absent manifest
    attestation_digest: str
    index_digest: str


def _platform_image(lay: OCILayout, plat: str, seed: int) -> tuple[dict, ImageExpect]:
    os_, arch, *var = plat.split("/")
    raws = [sample_layer(seed, big=4_000), make_tar([("file", f"arch/{arch}", plat.encode())])]
    blobs = [gzip_bytes(r) for r in raws]
    dids = [sha256(r) for r in raws]
    cfg = make_config(dids, arch=arch, os_=os_, variant=var[0] if var else None,
                      created_by=["ADD base", f"RUN echo {plat}"])
    ldescs = [lay.blob(b, OCI_LAYER_GZIP) for b in blobs]
    mdesc = lay.image(ldescs, cfg)
    pdesc = dict(mdesc)
    pdesc["platform"] = {"os": os_, "architecture": arch, **({"variant": var[0]} if var else {})}
    layers = [LayerExpect.from_blob(b, r, media_type=OCI_LAYER_GZIP, created_by=c)
              for b, r, c in zip(blobs, raws, ["ADD base", f"RUN echo {plat}"])]
    return pdesc, ImageExpect(lay.path, f"{lay.path}", sha256(cfg), layers,
                              manifest_digest=mdesc["digest"], platform=plat)


def build_multi_platform_layout(path: Path, *, nested: bool = True) -> MultiPlatform:
    """index.json -> (nested image index ->) manifests for linux/amd64,
    linux/arm64, linux/arm/v7, an attestation manifest (unknown/unknown), and
    linux/ppc64le whose manifest and blobs are absent."""
    lay = OCILayout(path)
    descs, exps = [], {}
    for i, plat in enumerate(["linux/amd64", "linux/arm64", "linux/arm/v7"]):
        d, e = _platform_image(lay, plat, 50 + i)
        descs.append(d)
        exps[plat] = e
    # a platform whose blobs were never exported (docker save --platform ...)
    scratch = OCILayout(path.parent / (path.name + "-scratch"))
    d_absent, _ = _platform_image(scratch, "linux/ppc64le", 60)
    shutil.rmtree(scratch.path)
    descs.append(d_absent)
    # buildx-style attestation manifest
    stmt = jbytes({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://spdx.dev/Document"})
    att_layer = lay.blob(stmt, INTOTO, annotations={"in-toto.io/predicate-type": "https://spdx.dev/Document"})
    att_cfg = jbytes({"architecture": "unknown", "os": "unknown", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": [sha256(stmt)]}})
    att = lay.image([att_layer], att_cfg)
    att["platform"] = {"architecture": "unknown", "os": "unknown"}
    att["annotations"] = {"vnd.docker.reference.type": "attestation-manifest",
                          "vnd.docker.reference.digest": descs[0]["digest"]}
    descs.append(att)
    if nested:
        inner = lay.blob(jbytes(W.oci_index(descs)), OCI_INDEX)
        lay.add_ref(inner, "multi")
        index_digest = inner["digest"]
    else:
        lay.index.extend(descs)  # flat: platform manifests straight in index.json, no ref names
        index_digest = ANY
    lay.finish()
    for e in exps.values():
        e.arg = str(path)
    return MultiPlatform(path, "multi", exps, {"linux/ppc64le": d_absent["digest"]},
                         att["digest"], index_digest)


def build_odd_compression_layout(path: Path, kind: str) -> ImageExpect:
    """One-image OCI layouts whose second layer has an unusual framing:
    ``zstd-frames`` (several frames, skippable frames before/between/after,
    a frame without content size), ``gzip-members`` (multi-member gzip cut
    inside tar headers) or ``estargz`` (eStargz-shaped gzip with TOC + footer)."""
    lay = OCILayout(path)
    first = sample_layer(70, big=8_000)
    raws = [first]
    blobs = [gzip_bytes(first)]
    mtypes = [OCI_LAYER_GZIP, None]
    extra: dict[str, Any] = {}
    if kind == "zstd-frames":
        raw = sample_layer(71, big=60_000)
        blob = zstd_multi_frame(raw, [700, 20_000, 20_001, len(raw) - 300])
        mtypes[1] = OCI_LAYER_ZSTD
    elif kind == "gzip-members":
        raw = sample_layer(72, big=60_000)
        blob = gzip_multi_member(raw, [100, 513, 30_000, len(raw) - 1030])
        mtypes[1] = OCI_LAYER_GZIP
    elif kind == "estargz":
        files = [(f"usr/lib/f{i}.bin", rand_bytes(3_000 * (i + 1), 73 + i)) for i in range(4)]
        files.append(("usr/share/doc/readme", text_bytes(5_000, 79)))
        blob, raw, toc = estargz_like(files)
        mtypes[1] = OCI_LAYER_GZIP
        extra = {"annotations": {"containerd.io/snapshot/stargz/toc.digest": sha256(toc),
                                 "io.containers.estargz.uncompressed-size": str(len(raw))}}
    else:  # pragma: no cover
        raise ValueError(kind)
    assert decompress(blob) == raw, kind
    raws.append(raw)
    blobs.append(blob)
    dids = [sha256(r) for r in raws]
    cfg = make_config(dids, created_by=["ADD base", f"ADD {kind}"])
    ldescs = [lay.blob(blobs[0], mtypes[0]), lay.blob(blobs[1], mtypes[1], **extra)]
    mdesc = lay.image(ldescs, cfg)
    lay.add_ref(mdesc, kind)
    lay.finish()
    layers = [LayerExpect.from_blob(b, r, media_type=m, created_by=c)
              for b, r, m, c in zip(blobs, raws, mtypes, ["ADD base", f"ADD {kind}"])]
    return ImageExpect(path, str(path), sha256(cfg), layers, manifest_digest=mdesc["digest"])


def build_foreign_layer_layout(path: Path) -> ImageExpect:
    """A Docker v2s2 manifest (in an OCI layout) whose first layer is foreign:
    ``application/vnd.docker.image.rootfs.foreign.diff.tar.gzip`` with
    ``urls`` and no blob present.  It must be listed, never fetched."""
    lay = OCILayout(path)
    foreign_raw = sample_layer(80, big=5_000)
    foreign_blob = gzip_bytes(foreign_raw)
    fdesc = {"mediaType": DOCKER_FOREIGN, "digest": sha256(foreign_blob), "size": len(foreign_blob),
             "urls": ["https://mcr.microsoft.invalid/v2/windows/blobs/" + sha256(foreign_blob)]}
    raw = sample_layer(81, big=5_000)
    blob = gzip_bytes(raw)
    ldesc = lay.blob(blob, DOCKER_LAYER_GZIP)
    dids = [sha256(foreign_raw), sha256(raw)]
    cfg = make_config(dids, created_by=["Apply image 10.0.17763.1", "RUN setup.exe"])
    mdesc = lay.image([fdesc, ldesc], cfg, manifest_type=DOCKER_MANIFEST, config_type=DOCKER_CONFIG)
    lay.add_ref(mdesc, "foreign")
    lay.finish()
    assert not (path / "blobs/sha256" / hexof(fdesc["digest"])).exists()
    layers = [
        LayerExpect(digest=fdesc["digest"], diff_id=dids[0], compression=ANY, size=ANY,
                    compressed_size=len(foreign_blob), entries=ANY, media_type=DOCKER_FOREIGN,
                    created_by="Apply image 10.0.17763.1"),
        LayerExpect.from_blob(blob, raw, media_type=DOCKER_LAYER_GZIP, created_by="RUN setup.exe"),
    ]
    return ImageExpect(path, str(path), sha256(cfg), layers, manifest_digest=mdesc["digest"],
                       notes={"foreign": fdesc})


def build_simple_oci_layout(path: Path, *, compress: str = "gzip", seed: int = 90,
                            ref: str = "latest") -> ImageExpect:
    """A plain single-image OCI layout (for the bad-input tests to corrupt)."""
    lay = OCILayout(path)
    raws = three_layers(seed, big=30_000)
    comp = {"gzip": (gzip_bytes, OCI_LAYER_GZIP), "zstd": (zstd_bytes, OCI_LAYER_ZSTD),
            "none": (lambda b: b, OCI_LAYER)}[compress]
    blobs = [comp[0](r) for r in raws]
    dids = [sha256(r) for r in raws]
    cfg = make_config(dids, created_by=CREATED_BY)
    ldescs = [lay.blob(b, comp[1]) for b in blobs]
    mdesc = lay.image(ldescs, cfg)
    lay.add_ref(mdesc, ref)
    lay.finish()
    layers = [LayerExpect.from_blob(b, r, media_type=comp[1], created_by=c)
              for b, r, c in zip(blobs, raws, CREATED_BY)]
    return ImageExpect(path, str(path), sha256(cfg), layers, manifest_digest=mdesc["digest"])


def pack_oci_archive(layout: Path, out: Path) -> Path:
    """Tar an OCI layout directory into an oci-archive."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        for name in ("oci-layout", "index.json"):
            tf.add(layout / name, arcname=name)
        tf.add(layout / "blobs", arcname="blobs")
    return out


# --------------------------------------------------------------------------
# tool-built images (umoci + skopeo)
# --------------------------------------------------------------------------

def have_tools() -> bool:
    return bool(shutil.which("skopeo") and shutil.which("umoci"))


def run_tool(*argv: str | os.PathLike, cwd: Path | None = None) -> str:
    p = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True,
                       timeout=TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


def skopeo(*argv: str | os.PathLike) -> str:
    return run_tool("skopeo", "--insecure-policy", *argv)


def skopeo_raw(*argv: str | os.PathLike) -> bytes:
    p = subprocess.run(["skopeo", "--insecure-policy", *map(str, argv)], capture_output=True,
                       timeout=TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError(f"skopeo {' '.join(map(str, argv))}: {p.stderr.decode().strip()}")
    return p.stdout


def skopeo_version() -> tuple[int, ...]:
    out = run_tool("skopeo", "--version")  # "skopeo version 1.9.3"
    ver = out.split()[-1].split("-")[0]
    return tuple(int(x) for x in ver.split(".") if x.isdigit())


LONG_DIR = "opt/" + "/".join(["d" * 30] * 4)  # > 100 chars with the file name


@dataclass
class UmociImage:
    layout: Path
    tags: dict[str, str]           # tag -> description
    created_by: dict[str, list[str]]  # tag -> created_by of each non-empty layer


def build_umoci_layout(work: Path) -> UmociImage:
    """Build a layout with umoci: ``base`` (no layers), ``core`` (3 layers from
    umoci repack, an empty_layer history entry in the middle) and ``v1``
    (core + a hand-made layer added with ``umoci raw add-layer``; Python's
    tarfile pads it to a 10240-byte record)."""
    L = work / "layout"
    umoci = lambda *a: run_tool("umoci", *a)  # noqa: E731
    umoci("init", "--layout", L)
    umoci("new", "--image", f"{L}:base")

    def step(src: str, dst: str, created_by: str, change) -> None:
        bundle = work / f"bundle-{dst}-{len(list(work.iterdir()))}"
        umoci("unpack", "--rootless", "--image", f"{L}:{src}", bundle)
        change(bundle / "rootfs")
        umoci("repack", "--image", f"{L}:{dst}", "--history.created_by", created_by, bundle)
        shutil.rmtree(bundle)

    def layer1(r: Path) -> None:
        (r / "etc").mkdir()
        (r / "etc/hello.txt").write_text("hello\n")
        (r / "etc/todelete").write_text("bye\n")
        (r / "usr/share/data").mkdir(parents=True)
        (r / "usr/share/data/rand.bin").write_bytes(rand_bytes(200_000, 1))
        (r / "usr/share/data/words.txt").write_bytes(text_bytes(60_000, 2))
        os.symlink("hello.txt", r / "etc/link")
        os.link(r / "etc/hello.txt", r / "etc/hard")
        (r / "opt/emptydir").mkdir(parents=True)
        (r / LONG_DIR).mkdir(parents=True)
        (r / LONG_DIR / "file-with-a-long-path.txt").write_text("long\n")
        (r / "bin").mkdir()
        (r / "bin/tool.sh").write_text("#!/bin/sh\necho hi\n")
        (r / "bin/tool.sh").chmod(0o755)

    def layer2(r: Path) -> None:
        (r / "etc/todelete").unlink()
        (r / "opt/emptydir").rmdir()
        (r / "etc/hello.txt").chmod(0o600)
        (r / "usr/share/data/rand2.bin").write_bytes(rand_bytes(100_000, 3))

    def layer3(r: Path) -> None:
        (r / "etc/hello.txt").write_text("hello again\n")
        (r / "etc/link").unlink()
        os.symlink("/usr/share/data/words.txt", r / "etc/link")
        (r / "var/log").mkdir(parents=True)
        (r / "var/log/app.log").write_bytes(text_bytes(5_000, 4))

    step("base", "core", "RUN step1", layer1)
    step("core", "core", "RUN step2", layer2)
    umoci("config", "--image", f"{L}:core", "--config.cmd", "/bin/sh",
          "--config.env", "LS_TEST=1", "--history.created_by", 'CMD ["/bin/sh"]')
    step("core", "core", "RUN step3", layer3)
    raw = work / "raw-layer.tar"
    raw.write_bytes(make_tar([("dir", "srv"), ("file", "srv/raw.txt", b"raw layer\n"),
                              ("symlink", "srv/latest", "raw.txt")]))
    umoci("raw", "add-layer", "--image", f"{L}:core", "--tag", "v1",
          "--history.created_by", "ADD raw-layer.tar /", raw)
    return UmociImage(L, {"base": "no layers", "core": "3 layers", "v1": "4 layers"},
                      {"core": ["RUN step1", "RUN step2", "RUN step3"],
                       "v1": ["RUN step1", "RUN step2", "RUN step3", "ADD raw-layer.tar /"]})


@dataclass
class ToolVariant:
    name: str
    arg: str                 # layerscope argument
    skopeo_ref: str          # skopeo transport:reference for the same image
    kind: str                # "oci", "oci-archive", "docker-archive"
    path: Path
    created_by: list[str]
    expect_fail: str | None = None   # why layerscope should refuse it (broken by the tool)


def build_tool_variants(work: Path, um: UmociImage) -> dict[str, ToolVariant]:
    """Convert the umoci image into every transport with skopeo."""
    L = um.layout
    v: dict[str, ToolVariant] = {}
    cb = um.created_by["v1"]

    def add(name: str, kind: str, path: Path, skref: str, created_by=cb, arg=None, **kw) -> None:
        v[name] = ToolVariant(name, arg or str(path), skref, kind, path, created_by, **kw)

    oci_gzip = work / "oci-gzip"
    skopeo("copy", "-q", f"oci:{L}:v1", f"oci:{oci_gzip}:v1")
    add("oci-gzip", "oci", oci_gzip, f"oci:{oci_gzip}:v1")

    da = work / "docker-archive.tar"
    skopeo("copy", "-q", f"oci:{L}:v1", f"docker-archive:{da}:demo/app:v1")
    add("docker-archive", "docker-archive", da, f"docker-archive:{da}")

    oa = work / "oci-archive-gzip.tar"
    skopeo("copy", "-q", f"oci:{L}:v1", f"oci-archive:{oa}:v1")
    add("oci-archive-gzip", "oci-archive", oa, f"oci-archive:{oa}")

    oz = work / "oci-zstd"
    skopeo("copy", "-q", "--dest-compress-format", "zstd", f"oci:{L}:v1", f"oci:{oz}:v1")
    add("oci-zstd", "oci", oz, f"oci:{oz}:v1")

    oaz = work / "oci-archive-zstd.tar"
    skopeo("copy", "-q", "--dest-compress-format", "zstd", f"oci:{L}:v1", f"oci-archive:{oaz}:v1")
    add("oci-archive-zstd", "oci-archive", oaz, f"oci-archive:{oaz}")

    # uncompressed OCI: dir: with --dest-decompress, then oci: accepting
    # uncompressed layers (gives application/vnd.oci.image.layer.v1.tar)
    d = work / "dir-plain"
    skopeo("copy", "-q", "--dest-decompress", f"oci:{L}:v1", f"dir:{d}")
    ou = work / "oci-plain"
    skopeo("copy", "-q", "--dest-oci-accept-uncompressed-layers", f"dir:{d}", f"oci:{ou}:v1")
    add("oci-plain", "oci", ou, f"oci:{ou}:v1")

    try:
        zc = work / "oci-zstd-chunked"
        skopeo("copy", "-q", "--dest-compress-format", "zstd:chunked", f"oci:{L}:core", f"oci:{zc}:core")
        add("oci-zstd-chunked", "oci", zc, f"oci:{zc}:core", created_by=um.created_by["core"])
        # skopeo 1.9 re-serialises the tar for zstd:chunked and drops the
        # record padding of the raw layer without updating rootfs.diff_ids.
        zcp = work / "oci-zstd-chunked-padded"
        skopeo("copy", "-q", "--dest-compress-format", "zstd:chunked", f"oci:{L}:v1", f"oci:{zcp}:v1")
        add("oci-zstd-chunked-padded", "oci", zcp, f"oci:{zcp}:v1")
    except RuntimeError as e:  # older skopeo: no zstd:chunked
        if "zstd:chunked" not in str(e) and "unsupported" not in str(e).lower():
            raise
    # docker-archive -> oci with uncompressed layers: skopeo 1.9 labels the
    # uncompressed layers "+gzip" (media type lies; content is plain tar)
    ml = work / "oci-mislabelled"
    skopeo("copy", "-q", "--dest-oci-accept-uncompressed-layers", f"docker-archive:{da}", f"oci:{ml}:v1")
    add("oci-mislabelled", "oci", ml, f"oci:{ml}:v1")
    return v


# --------------------------------------------------------------------------
# independent blob access for tool-built images
# --------------------------------------------------------------------------

def _tar_read(tf: tarfile.TarFile, name: str, depth: int = 0) -> bytes:
    """Read ``name`` from an outer archive, following symlinks / hardlinks
    inside the archive namespace only."""
    if depth > 8:
        raise RuntimeError("link loop")
    name = os.path.normpath(name).lstrip("/")
    ti = tf.getmember(name)
    if ti.issym():
        return _tar_read(tf, os.path.join(os.path.dirname(name), ti.linkname), depth + 1)
    if ti.islnk():
        return _tar_read(tf, ti.linkname, depth + 1)
    f = tf.extractfile(ti)
    assert f is not None
    return f.read()


def layer_blobs(kind: str, path: Path, manifest: dict) -> list[bytes]:
    """The stored bytes of each layer, in manifest order (no layerscope)."""
    if kind == "oci":
        return [(path / "blobs/sha256" / hexof(l["digest"])).read_bytes() for l in manifest["layers"]]
    with tarfile.open(path) as tf:
        if kind == "oci-archive":
            return [_tar_read(tf, f"blobs/sha256/{hexof(l['digest'])}") for l in manifest["layers"]]
        mj = json.loads(_tar_read(tf, "manifest.json"))
        assert len(mj) == 1
        return [_tar_read(tf, p) for p in mj[0]["Layers"]]


# --------------------------------------------------------------------------
# corrupting images (test_bad_input.py)
# --------------------------------------------------------------------------

def read_outer(path: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """All members of an outer archive, in order, with their data."""
    out = []
    with tarfile.open(path) as tf:
        for ti in tf.getmembers():
            f = tf.extractfile(ti) if ti.isreg() else None
            out.append((ti, f.read() if f else None))
    return out


def write_outer(path: Path, items: list[tuple[tarfile.TarInfo, bytes | None]]) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in items:
            if data is not None:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)


def retar(src: Path, dst: Path, *, replace: dict[str, bytes] | None = None,
          drop: set[str] | frozenset = frozenset(), first: str | None = None,
          extra: list[tuple] | None = None, links: dict[str, str] | None = None) -> Path:
    """Rewrite an outer archive: replace member data, drop members, move one
    member to the front, turn members into symlinks (``links``), and append
    ``extra`` members (as for :func:`tar_members`)."""
    replace = replace or {}
    links = links or {}
    items = []
    for ti, data in read_outer(src):
        if ti.name in drop:
            continue
        if ti.name in links:
            ti.type, ti.linkname, ti.size, data = tarfile.SYMTYPE, links[ti.name], 0, None
        elif ti.name in replace:
            data = replace[ti.name]
        items.append((ti, data))
    if first is not None:
        items.sort(key=lambda it: it[0].name != first)
    write_outer(dst, items)
    if extra:
        with tarfile.open(dst, "a", format=tarfile.PAX_FORMAT) as tf:
            for m in extra:
                add_member(tf, m[0], m[1], **(m[2] if len(m) > 2 else {}))
    return dst


def member_offsets(path: Path) -> dict[str, tuple[int, int, int]]:
    """name -> (header offset, data offset, size) in an outer archive."""
    with tarfile.open(path) as tf:
        return {ti.name: (ti.offset, ti.offset_data, ti.size) for ti in tf.getmembers()}


def inner_data_offset(raw_tar: bytes, suffix: str) -> tuple[int, int]:
    """(data offset, size) of the first member whose name ends with suffix."""
    with tarfile.open(fileobj=io.BytesIO(raw_tar)) as tf:
        for ti in tf.getmembers():
            if ti.name.endswith(suffix) and ti.size:
                return ti.offset_data, ti.size
    raise KeyError(suffix)


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x5A]))


def truncate(path: Path, length: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(length)


def oci_load(layout: Path, n: int = 0) -> tuple[dict, dict, dict, bytes]:
    """(index, manifest descriptor, manifest, config bytes) of entry ``n``."""
    index = json.loads((layout / "index.json").read_bytes())
    mdesc = index["manifests"][n]
    manifest = json.loads((layout / "blobs/sha256" / hexof(mdesc["digest"])).read_bytes())
    config = (layout / "blobs/sha256" / hexof(manifest["config"]["digest"])).read_bytes()
    return index, mdesc, manifest, config


def oci_rewrite(layout: Path, *, config: bytes | None = None, manifest_raw: bytes | None = None,
                n: int = 0) -> dict:
    """Store a new config and/or manifest (content-addressed, so every digest
    above it is updated and stays valid).  Returns the new manifest descriptor."""
    index, mdesc, manifest, _ = oci_load(layout, n)
    blobs = layout / "blobs/sha256"
    if config is not None:
        (blobs / hexof(sha256(config))).write_bytes(config)
        manifest["config"]["digest"] = sha256(config)
        manifest["config"]["size"] = len(config)
    raw = manifest_raw if manifest_raw is not None else jbytes(manifest)
    (blobs / hexof(sha256(raw))).write_bytes(raw)
    mdesc["digest"], mdesc["size"] = sha256(raw), len(raw)
    (layout / "index.json").write_bytes(jbytes(index))
    return mdesc


def tree_snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def layouts_sharing_a_base(tmp: Path, n: int = 3, *, text: int, binary: int, top: int) -> list[str]:
    """``n`` OCI layouts sharing a base layer (a text file and a binary of these sizes), each with
    a top layer of its own (``top`` random bytes, one more each); specs ``DIR:vN``."""
    base_tar = make_tar([("file", "etc/base", text_bytes(text, 1)), ("file", "bin/tool", rand_bytes(binary, 2))])
    out = []
    for k in range(n):
        top_tar = make_tar([("file", f"srv/app{k}", rand_bytes(top + k, 10 + k))])
        lay = OCILayout(tmp / f"img{k}")
        d0, d1 = lay.blob(base_tar, OCI_LAYER), lay.blob(top_tar, OCI_LAYER)
        lay.add_ref(lay.image([d0, d1], make_config([sha256(base_tar), sha256(top_tar)])), f"v{k}")
        lay.finish()
        out.append(f"{tmp / f'img{k}'}:v{k}")
    return out
