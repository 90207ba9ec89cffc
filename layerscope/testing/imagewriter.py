"""Image archives written byte for byte: what the tests and the benchmark build.

``benchmarks/make_image.py`` (the benchmark image, bit-identical run to run)
and ``tests/images.py`` (hand-built formats no tool here writes) share this
writer: the outer tar (member by member, in the order given), the legacy
``docker save`` layout, the OCI layout documents (descriptor, manifest,
index, ``oci-layout``) and image configs.

It lives in the package, not under ``tests/``, so both import it without
touching ``sys.path`` (the benchmark runs as a script and in worker
processes). It uses the standard library only and imports nothing from
layerscope (tests/test_layout.py checks), because the tests compute their
expected values from the bytes written here: they must not depend on the
code they test.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "MTIME", "OCI_CONFIG", "OCI_INDEX", "OCI_LAYER", "OCI_LAYER_GZIP", "OCI_LAYER_ZSTD", "OCI_LAYOUT",
    "OCI_MANIFEST", "add_member", "blob_name", "descriptor", "docker_manifest", "hexof", "image_config",
    "json_bytes", "oci_index", "oci_manifest", "sha256", "v1_ids", "write_tar",
]

MTIME = 1_700_000_000  # 2023-11-14: every member's mtime, so the bytes are reproducible

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = OCI_LAYER + "+gzip"
OCI_LAYER_ZSTD = OCI_LAYER + "+zstd"
OCI_LAYOUT = {"imageLayoutVersion": "1.0.0"}  # the oci-layout file


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def hexof(digest: str) -> str:
    return digest.split(":", 1)[1]


def blob_name(digest: str) -> str:
    """Where an OCI layout keeps a blob."""
    return "blobs/sha256/" + hexof(digest)


def json_bytes(obj: Any, *, sort_keys: bool = False) -> bytes:
    """Compact JSON, as registries and ``docker save`` write it (keys in
    insertion order unless ``sort_keys``)."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=sort_keys).encode()


# ---- documents -------------------------------------------------------------


def descriptor(media_type: str, data: bytes | None = None, *, digest: str | None = None,
               size: int | None = None, **extra: Any) -> dict[str, Any]:
    """An OCI descriptor of ``data`` (or of a blob known by digest and size)."""
    if data is not None:
        digest, size = sha256(data), len(data)
    desc: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": size}
    desc.update(extra)
    return desc


def oci_manifest(config: dict[str, Any], layers: list[dict[str, Any]], *,
                 media_type: str = OCI_MANIFEST) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": media_type, "config": config, "layers": layers}


def oci_index(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}


def docker_manifest(config: str, repotags: list[str], layers: list[str]) -> list[dict[str, Any]]:
    """``manifest.json`` of a docker-archive: member names of the config and layers."""
    return [{"Config": config, "RepoTags": repotags, "Layers": layers}]


def v1_ids(diff_ids: Sequence[str]) -> list[str]:
    """Legacy v1 layer ids: a chain hash over the diff_ids, as docker and skopeo make them."""
    ids, parent = [], ""
    for d in diff_ids:
        parent = hashlib.sha256(f"{parent} {d}".encode()).hexdigest()
        ids.append(parent)
    return ids


def image_config(diff_ids: Sequence[str], *, history: list[dict[str, Any]], config: dict[str, Any],
                 created: str, arch: str = "amd64", os_: str = "linux",
                 variant: str | None = None) -> dict[str, Any]:
    cfg: dict[str, Any] = {"architecture": arch, "os": os_}
    if variant:
        cfg["variant"] = variant
    cfg.update({"created": created, "config": config,
                "rootfs": {"type": "layers", "diff_ids": list(diff_ids)}, "history": history})
    return cfg


# ---- the outer tar ---------------------------------------------------------


def add_member(tf: tarfile.TarFile, name: str, data: bytes | None = None, *, file: str | None = None,
               symlink: str | None = None, hardlink: str | None = None, mode: int = 0o644,
               mtime: int = MTIME) -> None:
    """One member: ``data`` (bytes), ``file`` (copied from a path, streamed),
    a ``symlink`` or ``hardlink`` to a member name, or else a directory."""
    ti = tarfile.TarInfo(name)
    ti.mtime = mtime
    ti.mode = mode
    if symlink is not None:
        ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, symlink, 0o777
        tf.addfile(ti)
    elif hardlink is not None:
        ti.type, ti.linkname = tarfile.LNKTYPE, hardlink
        tf.addfile(ti)
    elif file is not None:
        ti.size = os.path.getsize(file)
        with open(file, "rb") as f:
            tf.addfile(ti, f)
    elif data is None:
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(ti)
    else:
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))


def write_tar(out: str | os.PathLike, members: Iterable[tuple], *, atomic: bool = False) -> None:
    """Write an outer archive (PAX), members in the order given: ``(name, data)``
    or ``(name, None, {"file": path} / {"symlink": target} / {"hardlink": name})``;
    ``(name, None)`` is a directory. ``atomic``: through a temporary file, so a
    half-written archive never stays."""
    path = os.fspath(out)
    tmp = path + ".tmp" if atomic else path
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tf:
        for m in members:
            add_member(tf, m[0], m[1], **(m[2] if len(m) > 2 else {}))
    if atomic:
        os.replace(tmp, path)
