#!/usr/bin/env python3
"""Generate a deterministic, realistic benchmark container image.

    python benchmarks/make_image.py OUTDIR [--size-mb 300] [--layers 7] [--seed 1]

Writes the same image twice:

* ``OUTDIR/bench-docker.tar``    legacy ``docker save`` layout: ``<id>/layer.tar``
  (uncompressed), ``<id>/json``, ``<id>/VERSION``, ``<config>.json``,
  ``manifest.json``, ``repositories``.  What ``dive --source docker-archive`` reads.
* ``OUTDIR/bench-oci-gzip.tar``  OCI image layout in a tar (oci-archive) with
  gzip (level 6) layer blobs, ``index.json`` carrying
  ``org.opencontainers.image.ref.name=latest``.  It also carries a
  ``manifest.json`` + ``repositories`` pointing at the blobs, exactly like the
  archives ``docker save`` writes since Docker 25; skopeo's ``oci-archive:``
  transport ignores those two files, and they are what lets dive (which only
  understands ``manifest.json``) read the archive.
* ``OUTDIR/bench-info.json``     parameters, digests, sizes, file counts.

Both archives hold the same config (same image ID, same diff_ids).  Everything
is a pure function of (size, layers, seed): the archives are bit-identical from
run to run.  The archives, manifests and configs are written by
``layerscope.testing.imagewriter``, the writer the tests' images share; the
layer tars and their contents are made here.

Content mix (for the default 300 MB): a distro-like base layer with thousands
of 1-50 KB files, symlinks, hardlinks, an xattr, a few long (PAX) names; a
layer of 0.1-5 MB shared libraries; an application layer with many small
sources, a 28 MB incompressible model and a pip cache; a layer that deletes
files and directories with whiteouts and adds a compressible database; a
layer with two opaque directories; a layer that overwrites and chmods/chowns
files; a data layer with two big files.  Text is Zipf-distributed pseudo
words (gzip ~3.8x), libraries mix random/zero/string pages, some files are
plain random: overall gzip ratio lands near 2.1x.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import shutil
import sys
import tarfile
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from layerscope.testing import imagewriter as W

MiB = 1 << 20
KiB = 1 << 10
REPO = "layerscope-bench"
TAG = "latest"
GZIP_LEVEL = 6
BASE_MTIME = W.MTIME  # 2023-11-14, fixed so the output is reproducible
GENERATOR_VERSION = 1  # bump when the output for given parameters changes

# --------------------------------------------------------------------------
# plan: what goes into each layer (names, kinds, sizes, content recipes)
# --------------------------------------------------------------------------


@dataclass
class Spec:
    path: str                 # no leading '/', no trailing '/'
    kind: str                 # file | dir | symlink | hardlink
    size: int = 0
    mode: int = 0o644
    content: str = "text"     # text | random | elf | db | gz | empty
    ver: int = 1              # bump -> different bytes for the same path
    link: str = ""
    uid: int = 0
    gid: int = 0
    xattrs: dict = field(default_factory=dict)


@dataclass
class LayerPlan:
    created_by: str
    entries: list


class Planner:
    """Builds the per-layer entry lists.  Only names and sizes, no bytes."""

    def __init__(self, size_mb: float, layers: int, seed: int):
        self.scale = size_mb / 300.0
        self.layers = layers
        self.seed = seed
        self.rng = random.Random(f"{seed}:plan")

    def n(self, count: float, minimum: int = 1) -> int:
        return max(minimum, round(count * self.scale))

    def sz(self, nbytes: float, minimum: int = 4 * KiB) -> int:
        return max(minimum, int(nbytes * self.scale))

    def name(self, lo=3, hi=9) -> str:
        syl = ["ba", "co", "de", "fu", "gi", "ha", "jo", "ka", "li", "mu", "ne", "po", "qu",
               "ra", "si", "tu", "vo", "wa", "xe", "yo", "za", "bz", "gl", "tr", "st", "pr"]
        out = "".join(self.rng.choice(syl) for _ in range(self.rng.randint(2, 4)))
        return out[: self.rng.randint(lo, hi)] if len(out) > hi else out

    def uniq_names(self, k: int, prefix: str = "") -> list[str]:
        seen, out = set(), []
        while len(out) < k:
            nm = prefix + self.name()
            if nm not in seen:
                seen.add(nm)
                out.append(nm)
        return out

    # ---- layer 1: distro-like base -------------------------------------
    def base(self) -> LayerPlan:
        r = self.rng
        E: list[Spec] = []
        f = lambda p, size, content="text", mode=0o644, **kw: E.append(Spec(p, "file", size, mode, content, **kw))
        for d, mode in [("etc", 0o755), ("usr", 0o755), ("usr/bin", 0o755), ("usr/sbin", 0o755),
                        ("usr/lib", 0o755), ("usr/lib64", 0o755), ("usr/lib/x86_64-linux-gnu", 0o755),
                        ("usr/share", 0o755), ("usr/share/doc", 0o755), ("usr/share/man/man1", 0o755),
                        ("var/lib/dpkg/info", 0o755), ("var/log", 0o755), ("var/cache", 0o755),
                        ("tmp", 0o1777), ("root", 0o700), ("home", 0o755), ("proc", 0o555),
                        ("sys", 0o555), ("dev", 0o755), ("run", 0o755), ("opt", 0o755)]:
            E.append(Spec(d, "dir", mode=mode))
        # merged /usr symlinks
        for a, b in [("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")]:
            E.append(Spec(a, "symlink", mode=0o777, link=b))
        E.append(Spec("usr/lib64/ld-linux-x86-64.so.2", "symlink", mode=0o777,
                      link="/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"))
        f("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 210 * KiB, "elf", 0o755)
        f("usr/lib/x86_64-linux-gnu/libc.so.6", 1900 * KiB, "elf", 0o755)
        self.base_files: list[str] = []
        self.base_bins: list[str] = []
        self.doc_dirs: list[str] = []
        langs = ["de", "fr", "es", "it", "ja", "pt_BR", "ru", "zh_CN", "nl", "pl", "sv", "cs"]
        pkgs = self.uniq_names(self.n(170, 8))
        for pkg in pkgs:
            doc = f"usr/share/doc/{pkg}"
            self.doc_dirs.append(doc)
            E.append(Spec(doc, "dir", mode=0o755))
            f(f"{doc}/copyright", r.randint(1, 12) * KiB)
            f(f"{doc}/changelog.Debian.gz", r.randint(1, 30) * KiB, "gz")
            if r.random() < 0.3:
                f(f"{doc}/README.md", r.randint(2, 20) * KiB)
            f(f"var/lib/dpkg/info/{pkg}.list", r.randint(1, 6) * KiB)
            f(f"var/lib/dpkg/info/{pkg}.md5sums", r.randint(1, 6) * KiB)
            for b in range(r.choice([0, 1, 1, 2, 3])):
                p = f"usr/bin/{pkg}{'' if b == 0 else '-' + self.name(2, 5)}"
                f(p, r.randint(10, 50) * KiB, "elf", 0o755)
                self.base_bins.append(p)
                f(f"usr/share/man/man1/{p.rsplit('/', 1)[1]}.1.gz", r.randint(1, 8) * KiB, "gz")
            for j in range(r.choice([0, 0, 1, 2])):
                maj = r.randint(0, 6)
                real = f"usr/lib/x86_64-linux-gnu/lib{pkg}{j or ''}.so.{maj}.{r.randint(0, 40)}.0"
                f(real, r.randint(20, 50) * KiB, "elf", 0o644)
                E.append(Spec(f"usr/lib/x86_64-linux-gnu/lib{pkg}{j or ''}.so.{maj}", "symlink",
                              mode=0o777, link=real.rsplit("/", 1)[1]))
            for lang in r.sample(langs, r.randint(0, 6)):
                f(f"usr/share/locale/{lang}/LC_MESSAGES/{pkg}.mo", r.randint(2, 40) * KiB)
        # zoneinfo: hundreds of tiny binary files
        for region in ["Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"]:
            for city in self.uniq_names(self.n(45, 3)):
                f(f"usr/share/zoneinfo/{region}/{city.capitalize()}", r.randint(1, 3) * KiB, "elf")
        # python stdlib-ish tree: many small text files
        for mod in self.uniq_names(self.n(60, 4)):
            base = f"usr/lib/python3.11/{mod}"
            for sub in self.uniq_names(r.randint(3, 22)):
                f(f"{base}/{sub}.py", r.randint(1, 50) * KiB)
                if r.random() < 0.5:
                    f(f"{base}/__pycache__/{sub}.cpython-311.pyc", r.randint(1, 30) * KiB, "elf")
        # etc
        for c in self.uniq_names(self.n(120, 10)):
            f(f"etc/{c}.conf", r.randint(1, 8) * KiB)
        f("etc/passwd", 2 * KiB)
        f("etc/group", 1 * KiB)
        f("etc/shadow", 1 * KiB, mode=0o640, gid=42)
        f("var/lib/dpkg/status", self.sz(400 * KiB))
        f("var/log/dpkg.log", self.sz(300 * KiB), uid=0, gid=4)
        f("etc/machine-id", 0, "empty")
        f("etc/hostname", 0, "empty")
        # alternatives: absolute symlinks, one chain, one dangling
        E.append(Spec("etc/alternatives", "dir", mode=0o755))
        for i, b in enumerate(self.base_bins[:15]):
            alt = f"alt{i}"
            E.append(Spec(f"etc/alternatives/{alt}", "symlink", mode=0o777, link="/" + b))
            E.append(Spec(f"usr/bin/{alt}", "symlink", mode=0o777, link=f"/etc/alternatives/{alt}"))
        E.append(Spec("etc/alternatives/dangling", "symlink", mode=0o777, link="/usr/bin/does-not-exist"))
        # hardlinks (perl/python style: one inode, several names)
        for b in self.base_bins[15:35]:
            E.append(Spec(b + "-hl", "hardlink", link=b, mode=0o755))
        # a file capability xattr (ping-like)
        cap = "\x01\x00\x00\x02\x00\x20\x00\x00" + "\x00" * 12
        f("usr/bin/ping", 70 * KiB, "elf", 0o755, xattrs={"security.capability": cap})
        # deep path > 100 chars (needs a PAX header)
        deep = "usr/share/doc/" + "/".join(self.uniq_names(9, "nested-directory-")) + "/some-rather-long-file-name.txt"
        f(deep, 3 * KiB)
        self.base_files = [e.path for e in E if e.kind == "file"]
        return LayerPlan("/bin/sh -c #(nop) ADD file:4f1d0e7b3c9a2b5e8d6f0a1c2e3b4d5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d in / ", E)

    # ---- layer 2: medium shared libraries -----------------------------
    def libs(self) -> LayerPlan:
        r = self.rng
        E: list[Spec] = []
        self.libs2: list[str] = []
        budget = self.sz(55 * MiB)
        used = 0
        while used < budget:
            nm = self.name()
            size = int(min(5 * MiB, max(100 * KiB, r.lognormvariate(13.9, 0.9))))
            size = min(size, max(budget - used, 100 * KiB))
            real = f"usr/lib/x86_64-linux-gnu/lib{nm}.so.{r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 9)}"
            E.append(Spec(real, "file", size, 0o644, "elf"))
            E.append(Spec(real.rsplit(".", 2)[0], "symlink", mode=0o777, link=real.rsplit("/", 1)[1]))
            E.append(Spec(f"usr/share/doc/lib{nm}/copyright", "file", r.randint(1, 12) * KiB))
            E.append(Spec(f"var/lib/dpkg/info/lib{nm}:amd64.list", "file", r.randint(1, 3) * KiB))
            self.libs2.append(real)
            used += size
        E.append(Spec("var/lib/dpkg/status", "file", self.sz(450 * KiB), ver=2))  # overwrites base
        E.append(Spec("var/cache/apt", "dir", mode=0o755))
        E.append(Spec("var/cache/apt/pkgcache.bin", "file", self.sz(6 * MiB), content="elf"))
        E.append(Spec("var/cache/apt/srcpkgcache.bin", "file", self.sz(6 * MiB), content="elf"))
        E.append(Spec("var/log/apt/history.log", "file", self.sz(60 * KiB)))
        return LayerPlan("RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends "
                         + " ".join(f"lib{p.rsplit('/', 1)[1][3:].split('.so')[0]}" for p in self.libs2[:8])
                         + " # buildkit", E)

    # ---- layer 3: application ----------------------------------------
    def app(self) -> LayerPlan:
        r = self.rng
        E: list[Spec] = []
        E.append(Spec("app", "dir", mode=0o755))
        self.app_py: list[str] = []
        for pkg in self.uniq_names(self.n(40, 4)):
            for mod in self.uniq_names(r.randint(5, 30)):
                p = f"app/src/{pkg}/{mod}.py"
                E.append(Spec(p, "file", r.randint(1, 40) * KiB))
                self.app_py.append(p)
            E.append(Spec(f"app/src/{pkg}/__init__.py", "file", 0, content="empty"))
        # site-packages with long node_modules-like paths and some extension modules
        for dist in self.uniq_names(self.n(25, 3)):
            sp = f"usr/local/lib/python3.11/site-packages/{dist}"
            for mod in self.uniq_names(r.randint(3, 20)):
                E.append(Spec(f"{sp}/{mod}.py", "file", r.randint(1, 30) * KiB))
            if r.random() < 0.4:
                E.append(Spec(f"{sp}/_speedups.cpython-311-x86_64-linux-gnu.so", "file",
                              r.randint(100, 2500) * KiB, 0o755, "elf"))
            E.append(Spec(f"{sp}-1.{r.randint(0, 9)}.{r.randint(0, 9)}.dist-info/RECORD", "file", r.randint(1, 8) * KiB))
        deep = "app/node_modules/" + "/node_modules/".join(self.uniq_names(6, "@scope-")) + "/dist/index.min.js"
        E.append(Spec(deep, "file", 40 * KiB))
        # static assets (replaced wholesale in layer 5)
        for a in self.uniq_names(self.n(200, 10)):
            ext = r.choice([".css", ".js", ".svg", ".png", ".woff2"])
            E.append(Spec(f"app/static/{a}{ext}", "file", r.randint(1, 60) * KiB,
                          content="random" if ext in (".png", ".woff2") else "text"))
        E.append(Spec("app/models/model.safetensors", "file", self.sz(22 * MiB), content="random"))
        E.append(Spec("root/.cache/pip/wheels/ab/cd/big_dep-2.1-cp311-linux_x86_64.whl", "file",
                      self.sz(6 * MiB), content="random"))
        E.append(Spec("root/.cache/pip/http/index.json", "file", self.sz(2 * MiB)))
        return LayerPlan("COPY . /app # buildkit", E)

    # ---- layer 4: deletions via whiteouts ----------------------------
    def cleanup(self) -> LayerPlan:
        r = self.rng
        E: list[Spec] = []
        # whole doc directories
        for d in r.sample(self.doc_dirs, max(1, len(self.doc_dirs) // 4)):
            parent, base = d.rsplit("/", 1)
            E.append(Spec(f"{parent}/.wh.{base}", "file", 0, 0o644, "empty"))
        # individual files (skip any under a removed doc dir / the deep path)
        candidates = [p for p in self.base_files if p.startswith(("usr/share/locale/", "usr/share/man/", "etc/"))]
        for p in r.sample(candidates, max(1, len(candidates) // 10)):
            parent, base = p.rsplit("/", 1)
            E.append(Spec(f"{parent}/.wh.{base}", "file", 0, 0o644, "empty"))
        # a lib from layer 2 and the pip cache from layer 3 (classic wasted space)
        victim = self.libs2[len(self.libs2) // 2]
        parent, base = victim.rsplit("/", 1)
        E.append(Spec(f"{parent}/.wh.{base}", "file", 0, 0o644, "empty"))
        E.append(Spec("root/.wh..cache", "file", 0, 0o644, "empty"))
        # the database the command initialises: big but compressible
        E.append(Spec("var/lib/app", "dir", mode=0o750, uid=1000, gid=1000))
        E.append(Spec("var/lib/app/app.db", "file", self.sz(25 * MiB), 0o640, "db", uid=1000, gid=1000))
        E.append(Spec("var/log/app-init.log", "file", self.sz(200 * KiB)))
        return LayerPlan("RUN /bin/sh -c rm -rf /usr/share/doc/* /root/.cache && python -m app.manage initdb # buildkit", E)

    # ---- layer 5: opaque directories ---------------------------------
    def opaque(self) -> LayerPlan:
        r = self.rng
        E: list[Spec] = [Spec("app/static", "dir", mode=0o755),
                         Spec("app/static/.wh..wh..opq", "file", 0, 0o644, "empty"),
                         Spec("var/cache/apt", "dir", mode=0o755),
                         Spec("var/cache/apt/.wh..wh..opq", "file", 0, 0o644, "empty")]
        for a in self.uniq_names(self.n(250, 10)):
            ext = r.choice([".css", ".js", ".map", ".png", ".webp"])
            E.append(Spec(f"app/static/{a}.{r.getrandbits(32):08x}{ext}", "file", r.randint(1, 60) * KiB,
                          content="random" if ext in (".png", ".webp") else "text"))
        return LayerPlan("RUN /bin/sh -c rm -rf /app/static /var/cache/apt && mkdir -p /app/static /var/cache/apt"
                         " && npm run build # buildkit", E)

    # ---- layer 6: overwrite, chmod, chown ----------------------------
    def modify(self) -> LayerPlan:
        r = self.rng
        E: list[Spec] = []
        confs = [p for p in self.base_files if p.startswith("etc/") and p.endswith(".conf")]
        for p in r.sample(confs, max(1, len(confs) // 5)):
            E.append(Spec(p, "file", r.randint(1, 8) * KiB, ver=2))            # new content
        for p in r.sample(self.libs2, max(1, len(self.libs2) // 8)):
            if p == self.libs2[len(self.libs2) // 2]:
                continue
            E.append(Spec(p, "file", self.sz(int(r.uniform(0.5, 4) * MiB), 100 * KiB), content="elf", ver=2))
        for p in r.sample(self.base_bins, max(1, len(self.base_bins) // 4)):
            size = self._size_of(p)
            E.append(Spec(p, "file", size, 0o700, "elf"))                          # chmod only: same bytes
        for p in r.sample(self.app_py, max(1, len(self.app_py) // 3)):
            E.append(Spec(p, "file", self._size_of(p), 0o640, "text", uid=1000, gid=1000))  # chown+chmod
        E.append(Spec("app", "dir", mode=0o750, uid=1000, gid=1000))
        E.append(Spec("etc/passwd", "file", 2 * KiB + 64, ver=2))
        return LayerPlan("RUN /bin/sh -c chown -R app:app /app && chmod -R o-rwx /app && chmod 700 /usr/bin/... "
                         "&& apt-get install -y --only-upgrade ... # buildkit", E)

    # ---- layer 7: big data files --------------------------------------
    def data(self) -> LayerPlan:
        E = [Spec("opt/data", "dir", mode=0o755),
             Spec("opt/data/embeddings.f32", "file", self.sz(22 * MiB), content="random"),
             Spec("opt/data/catalog.jsonl", "file", self.sz(30 * MiB), content="text"),
             Spec("opt/data/README", "file", 3 * KiB)]
        return LayerPlan("ADD data/ /opt/data # buildkit", E)

    def extra(self, i: int) -> LayerPlan:
        r = self.rng
        E = [Spec(f"opt/extra{i}/{nm}.bin", "file", r.randint(100, 1500) * KiB, 0o644,
                  r.choice(["elf", "text", "random"])) for nm in self.uniq_names(self.n(4, 2))]
        return LayerPlan(f"RUN /bin/sh -c ./install-extra.sh {i} # buildkit", E)

    def _size_of(self, path):
        return self._sizes[path]

    def plan(self) -> list[LayerPlan]:
        self._sizes = {}
        out = []
        steps = [self.base, self.libs, self.app, self.cleanup, self.opaque, self.modify, self.data]
        for i, step in enumerate(steps):
            lp = step()
            for e in lp.entries:
                if e.kind == "file":
                    self._sizes[e.path] = e.size
            out.append(lp)
        for i in range(len(steps), self.layers):
            out.append(self.extra(i + 1))
        return out


# --------------------------------------------------------------------------
# content: deterministic bytes for a Spec
# --------------------------------------------------------------------------

_POOL: bytes | None = None
_POOL_SEED = None


def text_pool(seed: int) -> bytes:
    """~5.9 MB of Zipf-distributed pseudo words (gzip -6 ratio ~3.8)."""
    global _POOL, _POOL_SEED
    if _POOL is not None and _POOL_SEED == seed:
        return _POOL
    rng = random.Random(f"{seed}:pool")
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    freq = [12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.2, 2.0, 2.0,
            1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.1, 0.07]
    vocab = ["".join(rng.choices(letters, freq, k=rng.randint(2, 10))) for _ in range(3000)]
    vocab[:12] = ["def", "return", "self", "import", "the", "if", "for", "in", "=", "None", "(", ")"]
    cw = list(itertools.accumulate(1 / (i + 1) ** 1.1 for i in range(len(vocab))))
    words = rng.choices(vocab, cum_weights=cw, k=700_000)
    lines, i = [], 0
    while i < len(words):
        k = rng.randint(4, 14)
        lines.append("    " * rng.randint(0, 3) + " ".join(words[i:i + k]))
        i += k
    _POOL = "\n".join(lines).encode()
    _POOL_SEED = seed
    return _POOL


def _chunks(spec: Spec, seed: int, chunk: int = 1 * MiB):
    """Yield the file's bytes in pieces (never the whole big file at once)."""
    size = spec.size
    if size == 0 or spec.content == "empty":
        return
    rng = random.Random(f"{seed}:{spec.path}:{spec.ver}")
    pool = text_pool(seed)
    if spec.content == "random":
        left = size
        while left:
            n = min(chunk, left)
            yield rng.randbytes(n)
            left -= n
    elif spec.content == "gz":
        head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"
        yield head[:size] + rng.randbytes(max(0, size - len(head)))
    elif spec.content == "text":
        left = size
        off = rng.randrange(len(pool))
        while left:
            piece = pool[off:off + min(left, chunk)]
            yield piece
            left -= len(piece)
            off = 0 if off + len(piece) >= len(pool) else off + len(piece)
    elif spec.content in ("elf", "db"):
        page = 4096
        zero = bytes(page)
        if spec.content == "elf":
            head = b"\x7fELF\x02\x01\x01\x00" + bytes(56)
            kinds, weights = ("random", "zero", "text"), (0.22, 0.33, 0.45)
        else:
            head = b"SQLite format 3\x00" + bytes(84)
            kinds, weights = ("sparse", "text", "random"), (0.6, 0.34, 0.06)
        buf = bytearray(head[:size])
        left = size - len(buf)
        while left > 0:
            n = min(page, left)
            k = rng.choices(kinds, weights)[0]
            if k == "random":
                buf += rng.randbytes(n)
            elif k == "zero":
                buf += zero[:n]
            elif k == "text":
                o = rng.randrange(len(pool) - page)
                buf += pool[o:o + n]
            else:  # sparse db page: a few rows, rest zero
                rows = min(n, rng.randint(64, 600))
                o = rng.randrange(len(pool) - rows)
                buf += pool[o:o + rows] + zero[: n - rows]
            left -= n
            if len(buf) >= chunk:
                yield bytes(buf)
                buf.clear()
        if buf:
            yield bytes(buf)
    else:
        raise ValueError(spec.content)


class _Reader:
    """File-like view of a chunk generator, for tarfile.addfile's copy loop."""

    def __init__(self, gen):
        self.gen, self.buf, self.pos = gen, b"", 0

    def read(self, n=-1):
        avail = len(self.buf) - self.pos
        if n is None or n < 0 or avail < n:
            parts = [self.buf[self.pos:]]
            for chunk in self.gen:
                parts.append(chunk)
                avail += len(chunk)
                if n is not None and 0 <= n <= avail:
                    break
            self.buf, self.pos = b"".join(parts), 0
        if n is None or n < 0:
            n = len(self.buf)
        out = self.buf[self.pos:self.pos + n]
        self.pos += len(out)
        return out


# --------------------------------------------------------------------------
# layer writer: one pass -> layer.tar (+sha256) and layer.tar.gz (+sha256)
# --------------------------------------------------------------------------


class _TeeWriter:
    def __init__(self, raw_path, gz_path, level):
        self.raw = open(raw_path, "wb")  # noqa: SIM115  (closed in close())
        self.gz = open(gz_path, "wb")  # noqa: SIM115
        self.h_raw = hashlib.sha256()
        self.h_gz = hashlib.sha256()
        self.comp = zlib.compressobj(level, zlib.DEFLATED, 31, 9)  # gzip wrapper, mtime 0
        self.n_raw = self.n_gz = 0

    def write(self, b):
        self.raw.write(b)
        self.h_raw.update(b)
        self.n_raw += len(b)
        self._gz(self.comp.compress(b))
        return len(b)

    def _gz(self, c):
        if c:
            self.gz.write(c)
            self.h_gz.update(c)
            self.n_gz += len(c)

    def close(self):
        self._gz(self.comp.flush())
        self.raw.close()
        self.gz.close()


def _order(entries: list[Spec], mtime: int) -> list[Spec]:
    """Add implied parent dirs, sort parent-before-child, fix hardlink order."""
    by_path = {}
    for e in entries:
        by_path[e.path] = e  # last one wins (a later spec for the same path)
    for p in list(by_path):
        parts = p.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in by_path:
                by_path[d] = Spec(d, "dir", mode=0o755)
    ordered = sorted(by_path.values(), key=lambda e: e.path.split("/"))
    # a hardlink must come after its target: swap roles if the link sorts first
    seen = set()
    for i, e in enumerate(ordered):
        if e.kind == "hardlink" and e.link not in seen:
            tgt = by_path[e.link]
            data = Spec(e.path, "file", tgt.size, tgt.mode, tgt.content, tgt.ver, "", tgt.uid, tgt.gid, tgt.xattrs)
            data._content_path = tgt.path  # same bytes as the target
            ordered[i] = data
            by_path[e.path] = data
            by_path[tgt.path] = Spec(tgt.path, "hardlink", mode=tgt.mode, link=e.path, uid=tgt.uid, gid=tgt.gid)
            j = ordered.index(tgt)
            ordered[j] = by_path[tgt.path]
        if ordered[i].kind == "file":
            seen.add(ordered[i].path)
    return ordered


def write_layer(args) -> dict:
    index, entries, workdir, seed, level = args
    text_pool(seed)
    mtime = BASE_MTIME + index * 3600
    raw_path = os.path.join(workdir, f"layer{index}.tar")
    gz_path = raw_path + ".gz"
    tee = _TeeWriter(raw_path, gz_path, level)
    counts = {"file": 0, "dir": 0, "symlink": 0, "hardlink": 0, "whiteout": 0}
    with tarfile.open(fileobj=tee, mode="w|", format=tarfile.PAX_FORMAT, bufsize=256 * KiB) as tf:
        for e in _order(entries, mtime):
            ti = tarfile.TarInfo(e.path + ("/" if e.kind == "dir" else ""))
            ti.mtime = mtime
            ti.mode = e.mode
            ti.uid, ti.gid = e.uid, e.gid
            ti.uname = "root" if e.uid == 0 else ""
            ti.gname = "root" if e.gid == 0 else ""
            if e.xattrs:
                ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in e.xattrs.items()}
            fobj = None
            if e.kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif e.kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, e.link
            elif e.kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, e.link
            else:
                ti.type, ti.size = tarfile.REGTYPE, e.size
                src = e
                cp = getattr(e, "_content_path", None)
                if cp:
                    src = Spec(cp, "file", e.size, e.mode, e.content, e.ver)
                fobj = _Reader(_chunks(src, seed)) if e.size else None
            key = "whiteout" if e.path.rsplit("/", 1)[-1].startswith(".wh.") else e.kind
            counts[key] += 1
            tf.addfile(ti, fobj)
    tee.close()
    return {"index": index, "raw": raw_path, "gz": gz_path,
            "diff_id": "sha256:" + tee.h_raw.hexdigest(), "raw_size": tee.n_raw,
            "digest": "sha256:" + tee.h_gz.hexdigest(), "gz_size": tee.n_gz, "counts": counts}


# --------------------------------------------------------------------------
# archives
# --------------------------------------------------------------------------


def _jbytes(obj) -> bytes:
    return W.json_bytes(obj, sort_keys=True)


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def make_config(plans: list[LayerPlan], layers: list[dict]) -> dict:
    empties = {1: ['CMD ["bash"]'], 2: ["ENV LANG=C.UTF-8", "WORKDIR /app"], 3: ["ENV PYTHONUNBUFFERED=1"],
               len(plans): ["EXPOSE map[8080/tcp:{}]", "LABEL org.opencontainers.image.title=layerscope-bench",
                            'CMD ["python" "-m" "app"]']}
    history = []
    for i, lp in enumerate(plans):
        history.append({"created": _iso(BASE_MTIME + i * 3600), "created_by": lp.created_by,
                        **({"comment": "buildkit.dockerfile.v0"} if i else {})})
        for cb in empties.get(i + 1, []):
            history.append({"created": _iso(BASE_MTIME + i * 3600 + 1),
                            "created_by": cb if cb.startswith("/bin") else f"{cb} # buildkit",
                            "comment": "buildkit.dockerfile.v0", "empty_layer": True})
    return W.image_config(
        [l["diff_id"] for l in layers],
        created=_iso(BASE_MTIME + len(plans) * 3600),
        config={
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
                    "PYTHONUNBUFFERED=1"],
            "Cmd": ["python", "-m", "app"],
            "WorkingDir": "/app",
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": {"org.opencontainers.image.title": "layerscope-bench"},
        },
        history=history,
    )


def _write_members(out: str, members: dict[str, tuple]) -> None:
    """Write ``name -> member`` (as :func:`imagewriter.write_tar` takes them) in
    sorted name order (as ``docker save`` tars a directory), through a temporary
    file so a half-written archive never stays."""
    W.write_tar(out, [(name, *members[name]) for name in sorted(members)], atomic=True)


def write_docker_archive(out: str, config_bytes: bytes, layers: list[dict]):
    """Legacy `docker save` layout (Docker < 25): <v1id>/layer.tar etc."""
    cfg_hex = W.hexof(W.sha256(config_bytes))
    v1s = W.v1_ids([l["diff_id"] for l in layers])
    members: dict[str, tuple] = {}
    for v1, par, l in zip(v1s, [""] + v1s, layers):
        members[f"{v1}/"] = (None,)
        members[f"{v1}/VERSION"] = (b"1.0",)
        j = {"id": v1, "created": _iso(BASE_MTIME), "os": "linux",
             "container_config": {"Hostname": "", "Env": None, "Cmd": None, "Image": ""}}
        if par:
            j["parent"] = par
        members[f"{v1}/json"] = (_jbytes(j),)
        members[f"{v1}/layer.tar"] = (None, {"file": l["raw"]})
    members[f"{cfg_hex}.json"] = (config_bytes,)
    members["manifest.json"] = (_jbytes(W.docker_manifest(f"{cfg_hex}.json", [f"{REPO}:{TAG}"],
                                                          [f"{v1}/layer.tar" for v1 in v1s])),)
    members["repositories"] = (_jbytes({REPO: {TAG: v1s[-1]}}),)
    _write_members(out, members)
    return "sha256:" + cfg_hex


def write_oci_archive(out: str, config_bytes: bytes, layers: list[dict], docker_compat: bool = True):
    """OCI image layout tar with gzip layers (+ Docker-25 manifest.json)."""
    cfg_digest = W.sha256(config_bytes)
    manifest = W.oci_manifest(W.descriptor(W.OCI_CONFIG, config_bytes),
                              [W.descriptor(W.OCI_LAYER_GZIP, digest=l["digest"], size=l["gz_size"]) for l in layers])
    mbytes = _jbytes(manifest)
    m_digest = W.sha256(mbytes)
    index = W.oci_index([W.descriptor(W.OCI_MANIFEST, mbytes,
                                      annotations={"io.containerd.image.name": f"docker.io/library/{REPO}:{TAG}",
                                                   "org.opencontainers.image.ref.name": TAG})])
    blob = W.blob_name
    members: dict[str, tuple] = {
        "blobs/": (None,), "blobs/sha256/": (None,),
        blob(cfg_digest): (config_bytes,), blob(m_digest): (mbytes,),
        "oci-layout": (_jbytes(W.OCI_LAYOUT),),
        "index.json": (_jbytes(index),)}
    for l in layers:
        members[blob(l["digest"])] = (None, {"file": l["gz"]})
    if docker_compat:
        members["manifest.json"] = (_jbytes(W.docker_manifest(blob(cfg_digest), [f"{REPO}:{TAG}"],
                                                              [blob(l["digest"]) for l in layers])),)
        members["repositories"] = (_jbytes({REPO: {TAG: W.hexof(cfg_digest)}}),)
    _write_members(out, members)
    return m_digest


def params(size_mb: float, layers: int, seed: int) -> dict:
    return {"size_mb": size_mb, "layers": layers, "seed": seed, "generator": GENERATOR_VERSION,
            "gzip_level": GZIP_LEVEL}


def is_current(outdir: str, size_mb: float = 300, layers: int = 7, seed: int = 1) -> bool:
    """True when OUTDIR already holds the images for these parameters."""
    try:
        with open(os.path.join(outdir, "bench-info.json")) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return False
    return (info.get("params") == params(size_mb, layers, seed)
            and all(os.path.exists(os.path.join(outdir, info[k]["file"])) for k in ("docker", "oci_gzip")))


def generate(outdir: str, size_mb: float = 300, layers: int = 7, seed: int = 1, jobs: int | None = None,
             quiet: bool = False) -> dict:
    if layers < 7:
        raise ValueError("--layers must be >= 7 (each of the first 7 layers carries one case)")
    t0 = time.perf_counter()
    os.makedirs(outdir, exist_ok=True)
    work = os.path.join(outdir, ".build")
    os.makedirs(work, exist_ok=True)
    plans = Planner(size_mb, layers, seed).plan()
    jobs = jobs or min(2, os.cpu_count() or 1)
    tasks = [(i, lp.entries, work, seed, GZIP_LEVEL) for i, lp in enumerate(plans)]
    # biggest layers first so two workers stay busy
    tasks.sort(key=lambda t: -sum(e.size for e in t[1]))
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as ex:
            results = list(ex.map(write_layer, tasks))
    else:
        results = [write_layer(t) for t in tasks]
    results.sort(key=lambda r: r["index"])
    config = make_config(plans, results)
    cfg_bytes = _jbytes(config)
    docker_path = os.path.join(outdir, "bench-docker.tar")
    oci_path = os.path.join(outdir, "bench-oci-gzip.tar")
    image_id = write_docker_archive(docker_path, cfg_bytes, results)
    m_digest = write_oci_archive(oci_path, cfg_bytes, results)
    shutil.rmtree(work)
    raw = sum(r["raw_size"] for r in results)
    gz = sum(r["gz_size"] for r in results)
    info = {
        "params": params(size_mb, layers, seed),
        "image_id": image_id,
        "docker": {"file": "bench-docker.tar", "bytes": os.path.getsize(docker_path)},
        "oci_gzip": {"file": "bench-oci-gzip.tar", "bytes": os.path.getsize(oci_path), "manifest_digest": m_digest},
        "layers": [{k: r[k] for k in ("diff_id", "raw_size", "digest", "gz_size", "counts")} for r in results],
        "entries": sum(sum(r["counts"].values()) for r in results),
        "uncompressed_bytes": raw,
        "gzip_bytes": gz,
        "gzip_ratio": round(raw / gz, 3),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    with open(os.path.join(outdir, "bench-info.json"), "w") as f:
        json.dump(info, f, indent=2)
    if not quiet:
        print(f"{docker_path}: {info['docker']['bytes'] / MiB:.1f} MiB, {oci_path}: "
              f"{info['oci_gzip']['bytes'] / MiB:.1f} MiB, {info['entries']} tar entries in {layers} layers, "
              f"gzip ratio {info['gzip_ratio']}, {info['seconds']} s", file=sys.stderr)
        for i, r in enumerate(info["layers"]):
            print(f"  layer {i + 1}: {r['raw_size'] / MiB:7.1f} MiB raw {r['gz_size'] / MiB:7.1f} MiB gz  {r['counts']}",
                  file=sys.stderr)
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--size-mb", type=float, default=300, help="approximate uncompressed image size (default 300)")
    ap.add_argument("--layers", type=int, default=7, help="number of layers, >= 7 (default 7)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default min(2, cpus))")
    ap.add_argument("--force", action="store_true", help="regenerate even if OUTDIR is current")
    a = ap.parse_args(argv)
    if a.layers < 7:
        ap.error("--layers must be >= 7")
    if not a.force and is_current(a.outdir, a.size_mb, a.layers, a.seed):
        print(f"{a.outdir}: images are current (use --force to rebuild)", file=sys.stderr)
        return 0
    generate(a.outdir, a.size_mb, a.layers, a.seed, a.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
