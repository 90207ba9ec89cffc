"""Sample images with a story: what the HTML report tests, its benchmark and the README
screenshots draw.

``demo`` writes an OCI layout with two tags of a small app image (a base, a
package install whose cache is then deleted, the app, a ``chmod -R``
re-send; ``app-1.1`` changes the app and upgrades a package), so every
report has something to show: waste of every common kind, duplicates,
layers shared and not, config and package changes. ``hostile`` puts a
given string into a path, a ``created_by`` line and a label. ``many_files``
is one layer of ``n`` files in deep directories (the size bound's test and
benchmark). Everything is a pure function of the arguments (bytes and
digests repeat run to run); standard library only, like ``imagewriter``.
"""

from __future__ import annotations

import io
import os
import random
import tarfile
from pathlib import Path

from . import imagewriter as W


def layer(entries: list[tuple]) -> bytes:
    """A layer tar: ``("file", name, data[, mode])``, ``("dir", name)``, ``("symlink", name, target)``,
    ``("hardlink", name, target)``, ``("whiteout", path)``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            kind, name = e[0], e[1]
            if kind == "file":
                W.add_member(tf, name, e[2], mode=e[3] if len(e) > 3 else 0o644)
            elif kind == "dir":
                W.add_member(tf, name)
            elif kind == "symlink":
                W.add_member(tf, name, symlink=e[2])
            elif kind == "hardlink":
                W.add_member(tf, name, hardlink=e[2])
            elif kind == "whiteout":
                d, b = os.path.split(name)
                W.add_member(tf, os.path.join(d, ".wh." + b), b"")
            else:
                raise ValueError(kind)
    return buf.getvalue()


def oci_layout(path: str | os.PathLike, images: dict[str, tuple[list[tuple[bytes, str]], dict]]) -> Path:
    """An OCI layout: tag -> ([(layer tar, created_by)], container config); each blob once."""
    root = Path(path)
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def blob(data: bytes, media_type: str) -> dict:
        desc = W.descriptor(media_type, data)
        (root / W.blob_name(desc["digest"])).write_bytes(data)
        return desc

    manifests = []
    for tag, (layers, config) in images.items():
        descs = [blob(raw, W.OCI_LAYER) for raw, _ in layers]
        history = [{"created": "2024-01-01T00:00:00Z", "created_by": by} for _, by in layers]
        cfg = W.image_config([d["digest"] for d in descs], history=history, config=config,
                             created="2024-01-01T00:00:00Z")
        m = blob(W.json_bytes(W.oci_manifest(blob(W.json_bytes(cfg), W.OCI_CONFIG), descs)), W.OCI_MANIFEST)
        manifests.append({**m, "annotations": {"org.opencontainers.image.ref.name": tag}})
    (root / "index.json").write_bytes(W.json_bytes(W.oci_index(manifests)))
    return root


def _bytes(rng: random.Random, n: int, text: bool = False) -> bytes:
    if text:
        words = [b"alpha", b"beta", b"gamma", b"delta", b"config", b"value", b"\n", b"path", b"lib"]
        out = bytearray()
        while len(out) < n:
            out += rng.choice(words) + b" "
        return bytes(out[:n])
    return rng.randbytes(n)


def _status(packages: dict[str, str]) -> bytes:
    return "".join(f"Package: {p}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {v}\n"
                   f"Installed-Size: {40 + 7 * len(p)}\n\n" for p, v in sorted(packages.items())).encode()


def demo(path: str | os.PathLike, *, hostile: str | None = None) -> Path:
    """Tags ``app-1.0`` and ``app-1.1`` of one small app image (~2 MB of files)."""
    rng = random.Random(7)
    base = [("dir", "bin"), ("dir", "etc"), ("dir", "lib"), ("dir", "usr"), ("dir", "usr/bin"), ("dir", "usr/lib"),
            ("dir", "usr/share"), ("dir", "usr/share/doc"), ("dir", "var"), ("dir", "var/lib"),
            ("dir", "var/lib/dpkg")]
    base += [("file", f"bin/{n}", _bytes(rng, s), 0o755) for n, s in
             (("sh", 120_000), ("ls", 140_000), ("cat", 40_000), ("tar", 180_000))]
    base += [("file", f"lib/libc.so.{i}", _bytes(rng, 60_000 + 20_000 * i)) for i in range(3)]
    base += [("file", f"usr/share/doc/pkg{i}/copyright", _bytes(rng, 1500 + 100 * i, text=True)) for i in range(30)]
    base += [("file", "etc/os-release", b"ID=demo\nVERSION_ID=1\n"), ("symlink", "usr/bin/sh", "/bin/sh"),
             ("file", "var/lib/dpkg/status", _status({"libc6": "2.36-9", "openssl": "3.0.11-1", "zlib1g": "1.2.13"}))]
    pyfiles = [(f"usr/lib/python3/mod{i}.py", _bytes(rng, 8_000 + 900 * i, text=True)) for i in range(20)]
    cache = [("file", f"var/cache/apt/archives/python3_{i}.deb", _bytes(rng, 90_000)) for i in range(3)]
    install = [("dir", "usr/lib/python3"), ("dir", "var/cache"), ("dir", "var/cache/apt"),
               ("dir", "var/cache/apt/archives")] + [("file", p, d) for p, d in pyfiles] + cache + [
        ("file", "usr/bin/python3", _bytes(rng, 260_000), 0o755),
        ("hardlink", "usr/bin/python3.11", "usr/bin/python3"),
        ("file", "var/lib/dpkg/status", _status({"libc6": "2.36-9", "openssl": "3.0.11-1", "zlib1g": "1.2.13",
                                                 "python3": "3.11.2-1"}))]
    clean = [("whiteout", "var/cache/apt/archives")]
    logo = _bytes(rng, 70_000)
    app1 = [("dir", "app"), ("dir", "app/static"), ("file", "app/main.py", _bytes(rng, 12_000, text=True)),
            ("file", "app/model.bin", _bytes(rng, 300_000)), ("file", "app/static/logo.png", logo),
            ("file", "app/static/logo-copy.png", logo)]
    app2 = app1[:2] + [("file", "app/main.py", _bytes(rng, 13_500, text=True)), app1[3], app1[4], app1[5],
                       ("file", "app/extra.py", _bytes(rng, 5_000, text=True))]
    if hostile is not None:
        app1.append(("file", f"app/static/{hostile}", b"<b>not markup</b>"))
        app2.append(("file", f"app/static/{hostile}", b"<b>still not markup</b>"))
    chmod1 = [(e[0], e[1], e[2], 0o755) for e in app1 if e[0] == "file"]
    upgrade = [("file", "var/lib/dpkg/status", _status({"libc6": "2.36-9", "openssl": "3.0.13-1", "zlib1g": "1.2.13",
                                                        "python3": "3.11.2-1", "python3-requests": "2.28.1"})),
               ("dir", "usr/lib/python3/requests")]
    upgrade += [("file", f"usr/lib/python3/requests/m{i}.py", _bytes(rng, 16_000, text=True)) for i in range(6)]
    upgrade += [("whiteout", f"usr/share/doc/pkg{i}") for i in range(8)] + [("file", "bin/tar", _bytes(rng, 150_000), 0o755)]
    bad = f" # {hostile}" if hostile else ""
    common = [(layer(base), "ADD rootfs.tar.xz / # buildkit"),
              (layer(install), "RUN apt-get update && apt-get install -y python3"),
              (layer(clean), "RUN rm -rf /var/cache/apt/archives")]
    cfg1 = {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3", "/app/main.py"], "Labels": {"version": "1.0"}}
    cfg2 = {"Env": ["PATH=/usr/bin:/bin", "MODE=prod"], "Cmd": ["python3", "/app/main.py"],
            "Labels": {"version": "1.1", **({"note": hostile} if hostile else {})}, "ExposedPorts": {"8080/tcp": {}}}
    return oci_layout(path, {
        "app-1.0": (common + [(layer(app1), f"COPY app /app{bad}"), (layer(chmod1), "RUN chmod -R 755 /app")], cfg1),
        "app-1.1": (common + [(layer(app2), f"COPY app /app{bad}"), (layer(upgrade), "RUN apt-get upgrade -y openssl && apt-get install -y python3-requests")],
                    cfg2),
    })


def many_files(n: int, *, size: int = 200, per_dir: int = 10, seed: int = 1) -> bytes:
    """One layer of ``n`` files of 1..``2*size`` bytes, ``per_dir`` to a directory, five levels
    deep (``usr/share/dA/eB/pkgJ/``; ``per_dir=1``: a directory per file, the aggregate's worst case)."""
    rng = random.Random(seed)
    pool = rng.randbytes(4 * size)
    entries: list[tuple] = [("dir", "usr"), ("dir", "usr/share")]
    seen: set[str] = set()
    for i in range(n):
        j = i // per_dir
        parts = ("usr", "share", f"d{j % 7}", f"e{j % 31}", f"pkg{j}")
        for k in range(3, 6):
            d = "/".join(parts[:k])
            if d not in seen:
                seen.add(d)
                entries.append(("dir", d))
        k = rng.randrange(1, 2 * size)
        entries.append(("file", f"{'/'.join(parts)}/file{i}.dat", pool[i % size: i % size + k]))
    return layer(entries)
