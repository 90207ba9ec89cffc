#!/usr/bin/env python3
"""Benchmark images built from real content: Debian .debs and PyPI wheels.

    python benchmarks/make_real_images.py [--workdir /work/bench-real] [--cache /work/bench-cache]
                                          [--images base,runtime,app,nodemods,big,tiny,rebuilt] [--force]

Content comes from the package registries only:

* Debian packages: ``apt-get download`` into CACHE/debs (``apt-get update`` is
  run once if a package is unknown), unpacked with ``dpkg-deb -x``.  Each
  install layer also gets the dpkg database a real ``apt-get install`` leaves
  behind (``var/lib/dpkg/status`` rewritten, ``info/PKG.list``, ``.md5sums``,
  maintainer scripts from ``dpkg-deb -e``), and the tree is merged-/usr like
  ``debian:bookworm``.  The package set of a layer is what apt resolves for it
  from an empty dpkg status (``apt-get -s -o Dir::State::status=/dev/null``).
* Python wheels: ``pip download --only-binary=:all: --no-deps`` (cp311,
  manylinux x86_64) into CACHE/wheels, unzipped into
  ``/usr/local/lib/python3.11/dist-packages``.

Layers are made by **umoci** (one OCI layout, WORKDIR/oci, one tag per image):
``umoci init``/``new``/``config``, then ``umoci unpack --rootless`` into a
bundle, change the rootfs, ``umoci repack --refresh-bundle`` (one layer per
repack: additions, rewrites, metadata-only changes from ``chmod -R``, whiteouts
for deletions).  The one layer umoci 0.4.7 cannot make validly is an opaque
directory: ``umoci insert --opaque`` writes a layer tar without the final
padding and end-of-archive blocks (GNU tar: "Unexpected EOF in archive";
opencontainers/umoci#436), so that layer is written here with tarfile and
added with ``umoci raw add-layer``.

Every image is then exported by **skopeo** (1.9.3) into three forms:

* ``NAME.docker.tar``    ``skopeo copy oci:... docker-archive:...`` (uncompressed layers)
* ``NAME.oci-gzip.tar``  ``skopeo copy oci:... oci-archive:...`` (umoci's gzip blobs as they are)
* ``NAME.oci-zstd.tar``  ``skopeo copy --dest-compress-format zstd oci:... oci-archive:...``

plus, for dive only, ``NAME.oci-gzip.dive.tar`` / ``NAME.oci-zstd.dive.tar``:
the same archive with the ``manifest.json`` + ``repositories`` that
``docker save`` (Docker 25+) adds to an OCI archive.  dive 0.13 takes the layer
order from ``manifest.json`` only (see benchmarks/README.md).

Shapes: see IMAGES below and benchmarks/README.md.  Deterministic where
possible: mtimes newer than SOURCE_DATE_EPOCH (default 1790000000) are clamped
to it (``rebuilt``: its apt-get layer is stamped REBUILD_SDE, 30 days later,
instead), history/config ``created`` are fixed, wheels keep their zip timestamps;
the layer blobs, configs and manifests then depend only on the cached .debs and
wheels (skopeo's outer archive members still carry the build time).  The cache
makes re-runs use the same package versions.  Images whose forms and info.json
entry exist are skipped (``--force`` rebuilds).

Writes WORKDIR/info.json (schema layerscope.bench.real_images/1): per image the
shape, tag, forms (path, bytes), layers (created_by, diff_id, uncompressed
size, tar entries by kind, gzip and zstd blob sizes), totals, packages, wheels.

For benchmarks only: not part of the test suite.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import glob
import hashlib
import io
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

SCHEMA = "layerscope.bench.real_images/1"
BUILDER_VERSION = 1
MiB = 1 << 20
DEFAULT_WORKDIR = os.environ.get("LAYERSCOPE_REAL_DIR", "/work/bench-real")
DEFAULT_CACHE = os.environ.get("LAYERSCOPE_REAL_CACHE", "/work/bench-cache")
SDE = int(os.environ.get("SOURCE_DATE_EPOCH", "1790000000"))
REBUILD_SDE = SDE + 30 * 86400   # `rebuilt`: the same apt-get layer built a month later
FORMS = ("docker-archive", "oci-gzip", "oci-zstd")
FORM_FILE = {"docker-archive": "{}.docker.tar", "oci-gzip": "{}.oci-gzip.tar", "oci-zstd": "{}.oci-zstd.tar"}
DIVE_FILE = {"oci-gzip": "{}.oci-gzip.dive.tar", "oci-zstd": "{}.oci-zstd.dive.tar"}
SITE = "usr/local/lib/python3.11/dist-packages"

# what `debian:bookworm` has (essential + apt): ~90 packages after resolution
BASE_PKGS = ("base-files base-passwd bash bsdutils coreutils dash debconf debian-archive-keyring debianutils "
             "diffutils dpkg findutils gpgv grep gzip hostname init-system-helpers libc-bin login mawk mount "
             "ncurses-base ncurses-bin passwd perl-base sed sysvinit-utils tar tzdata util-linux apt").split()
# a typical first `RUN apt-get install` on top of it
EXTRA_PKGS = "ca-certificates openssl locales perl curl netbase procps less xz-utils bzip2 zstd".split()
RUNTIME_PKGS = "python3.11 python3-pip python3-venv".split()
RUNTIME_RUN = ("RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends "
               + " ".join(RUNTIME_PKGS) + " # buildkit")
WHEELS = ("numpy pandas scipy pyarrow python-dateutil pytz tzdata six requests urllib3 idna certifi "
          "charset-normalizer flask werkzeug jinja2 markupsafe click itsdangerous blinker sqlalchemy greenlet "
          "pydantic pydantic-core typing-extensions annotated-types gunicorn packaging").split()
# real big binaries for `big`: installed as a layer, and the source of the weight files
BIG_PKGS = ("libllvm15 openjdk-17-jre-headless libclang-cpp15 cpp-12 libicu72 libz3-4 libgl1-mesa-dri "
            "libclang1-15").split()
TINY_PKGS = "dash sed grep tar gzip".split()
N_NODE_FILES = 105_000

IMAGES = {
    "base": "distro base: debian:bookworm-like rootfs (essential + apt) and an apt-get install layer",
    "runtime": "base + python3.11 runtime layer (python3.11, libpython3.11-stdlib, pip, venv)",
    "app": "runtime + wheels (numpy, pandas, scipy, pyarrow, flask, ...) + chmod -R layer "
           "(metadata-only copies) + deletions layer (whiteouts) + opaque-directory layer",
    "nodemods": "base + one node_modules layer of 100k+ small files (real node-* package trees from Debian, "
                "nested like npm does)",
    "big": "base + real big binaries (LLVM, OpenJDK, clang, gcc, mesa) + a 'weights' layer of large files "
           "made of that content, reordered: 2 GB+",
    "tiny": "scratch + 1 layer of ~1 MB of real files (start-up measurement)",
    "rebuilt": "runtime rebuilt a month later (CI rebuild): base layers shared, the apt-get layer from the "
               "same .debs with every entry's mtime new: same files, new diff_id",
}
PARENT = {"base": None, "runtime": "base", "app": "runtime", "nodemods": "base", "big": "base", "tiny": None,
          "rebuilt": "base"}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("check", True)
    try:
        return subprocess.run(cmd, **kw)
    except subprocess.CalledProcessError as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise SystemExit(f"command failed ({e.returncode}): {' '.join(map(str, cmd))}\n{err[-2000:]}")


def iso(t: int) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------
# downloads (cached)
# --------------------------------------------------------------------------

class Debs:
    def __init__(self, cache: str):
        self.dir = os.path.join(cache, "debs")
        os.makedirs(self.dir, exist_ok=True)
        self.updated = False

    def resolve(self, pkgs: list[str]) -> list[str]:
        """Package names apt would install for PKGS on an empty system (no recommends)."""
        cmd = ["apt-get", "-s", "-o", "Dir::State::status=/dev/null", "-o", "Debug::NoLocking=1",
               "install", "--no-install-recommends", *pkgs]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0 and not self.updated:
            log("apt-get update ...")
            run(["apt-get", "update", "-qq"], capture_output=True)
            self.updated = True
            r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"apt cannot resolve {pkgs}:\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
        return sorted({line.split()[1] for line in r.stdout.splitlines() if line.startswith("Inst ")})

    def path(self, name: str) -> str | None:
        hits = sorted(glob.glob(os.path.join(self.dir, f"{glob.escape(name)}_*_amd64.deb")) +
                      glob.glob(os.path.join(self.dir, f"{glob.escape(name)}_*_all.deb")))
        return hits[-1] if hits else None

    def fetch(self, names: list[str]) -> list[str]:
        missing = [n for n in names if not self.path(n)]
        for i in range(0, len(missing), 200):
            chunk = missing[i:i + 200]
            log(f"apt-get download {len(chunk)} packages ...")
            r = subprocess.run(["apt-get", "download", *chunk], cwd=self.dir, capture_output=True, text=True)
            if r.returncode != 0 and not self.updated:
                run(["apt-get", "update", "-qq"], capture_output=True)
                self.updated = True
                r = subprocess.run(["apt-get", "download", *chunk], cwd=self.dir, capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"apt-get download failed:\n{r.stderr[-2000:]}")
        out = []
        for n in names:
            p = self.path(n)
            if not p:
                raise SystemExit(f"{n}: no .deb in {self.dir} after apt-get download")
            out.append(p)
        return out


def fetch_wheels(cache: str, names: list[str]) -> list[str]:
    d = os.path.join(cache, "wheels")
    os.makedirs(d, exist_ok=True)

    def have(n):
        norm = re.sub(r"[-_.]+", "_", n).lower()
        return sorted(p for p in glob.glob(os.path.join(d, "*.whl"))
                      if re.sub(r"[-_.]+", "_", os.path.basename(p).split("-")[0]).lower() == norm)

    missing = [n for n in names if not have(n)]
    if missing:
        log(f"pip download {len(missing)} wheels ...")
        run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps", "-d", d,
             "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
             "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
             "--platform", "manylinux2014_x86_64", *missing], capture_output=True)
    out = []
    for n in names:
        h = have(n)
        if not h:
            raise SystemExit(f"wheel {n}: not downloaded")
        out.append(h[-1])
    return out


# --------------------------------------------------------------------------
# rootfs helpers
# --------------------------------------------------------------------------

USRMERGE = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def usrmerge(root: str, make_links: bool):
    """Move /bin, /lib, ... into /usr (as debian:bookworm is merged-/usr)."""
    for d in USRMERGE:
        src = os.path.join(root, d)
        if os.path.isdir(src) and not os.path.islink(src):
            dst = os.path.join(root, "usr", d)
            os.makedirs(dst, exist_ok=True)
            for name in os.listdir(src):
                s, t = os.path.join(src, name), os.path.join(dst, name)
                if os.path.isdir(t) and not os.path.islink(t) and os.path.isdir(s) and not os.path.islink(s):
                    run(["cp", "-a", s + "/.", t])
                    shutil.rmtree(s)
                else:
                    if os.path.lexists(t):
                        if os.path.isdir(t) and not os.path.islink(t):
                            shutil.rmtree(t)
                        else:
                            os.unlink(t)
                    os.rename(s, t)
            os.rmdir(src)
        if make_links and not os.path.lexists(src) and os.path.isdir(os.path.join(root, "usr", d)):
            os.symlink(f"usr/{d}", src)


def clamp_mtimes(root: str, epoch: int = SDE):
    """SOURCE_DATE_EPOCH clamping: nothing in the tree is newer than EPOCH."""
    def fix(p):
        st = os.lstat(p)
        if st.st_mtime > epoch:
            os.utime(p, (epoch, epoch), follow_symlinks=False)
    for dp, dns, fns in os.walk(root):
        for n in fns + dns:
            fix(os.path.join(dp, n))
    fix(root)


def snapshot(root: str) -> dict[str, tuple]:
    """Per entry under ROOT what umoci's repack compares but the digest (type, mode, nlink, size, mtime)."""
    out = {}
    for dp, dns, fns in os.walk(root):
        for n in dns + fns:
            p = os.path.join(dp, n)
            st = os.lstat(p)
            out[p] = (st.st_mode, st.st_nlink, st.st_size, st.st_mtime_ns)
    return out


def restamp(root: str, before: dict[str, tuple], t: int) -> int:
    """Set mtime T on every entry new or changed since BEFORE (the next layer's entries); how many."""
    changed = [p for p, v in snapshot(root).items() if before.get(p) != v]
    for p in changed:
        os.utime(p, (t, t), follow_symlinks=False)
    return len(changed)


class DpkgDB:
    """The dpkg database an apt-get install would leave: status + info/*."""

    def __init__(self):
        self.status: dict[str, str] = {}

    def install(self, debs: list[str], root: str, staging: str | None = None):
        """Unpack DEBS into root (through staging when root is an existing rootfs)."""
        target = staging or root
        info = os.path.join(root, "var/lib/dpkg/info")
        os.makedirs(info, exist_ok=True)
        for deb in debs:
            run(["dpkg-deb", "-x", deb, target])
            with tempfile.TemporaryDirectory() as ctl:
                run(["dpkg-deb", "-e", deb, ctl])
                with open(os.path.join(ctl, "control"), encoding="utf-8", errors="replace") as f:
                    control = f.read().strip("\n")
                fields = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", control, re.M))
                pkg = fields["Package"]
                key = f"{pkg}:{fields['Architecture']}" if fields.get("Multi-Arch") == "same" else pkg
                for n in sorted(os.listdir(ctl)):
                    if n != "control":
                        shutil.copy2(os.path.join(ctl, n), os.path.join(info, f"{key}.{n}"))
            listing = run(["dpkg-deb", "-c", deb], capture_output=True, text=True).stdout
            paths = []
            for line in listing.splitlines():
                p = line.split(None, 5)[-1].split(" -> ", 1)[0]
                p = p[1:] if p.startswith(".") else p
                paths.append(p.rstrip("/") or "/.")
            with open(os.path.join(info, f"{key}.list"), "w") as f:
                f.write("\n".join(paths) + "\n")
            lines = control.splitlines()
            lines.insert(1, "Status: install ok installed")
            self.status[pkg] = "\n".join(lines)
        if staging:
            usrmerge(staging, make_links=False)
            run(["cp", "-a", staging + "/.", root + "/"])
            shutil.rmtree(staging)
        self.write(root)

    def write(self, root: str):
        p = os.path.join(root, "var/lib/dpkg/status")
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write("\n\n".join(self.status[k] for k in sorted(self.status)) + "\n")
        for k in ("available", "lock", "lock-frontend"):
            q = os.path.join(root, "var/lib/dpkg", k)
            if not os.path.exists(q):
                open(q, "w").close()

    def load(self, root: str):
        p = os.path.join(root, "var/lib/dpkg/status")
        if os.path.exists(p):
            with open(p) as f:
                for para in f.read().strip().split("\n\n"):
                    m = re.match(r"Package: (\S+)", para)
                    if m:
                        self.status[m.group(1)] = para


def base_files_setup(root: str):
    """What base-passwd's postinst and the image builder would leave."""
    for src, dst in (("usr/share/base-passwd/passwd.master", "etc/passwd"),
                     ("usr/share/base-passwd/group.master", "etc/group")):
        s = os.path.join(root, src)
        if os.path.exists(s) and not os.path.exists(os.path.join(root, dst)):
            shutil.copy2(s, os.path.join(root, dst))
    os.makedirs(os.path.join(root, "etc/apt/sources.list.d"), exist_ok=True)
    with open(os.path.join(root, "etc/apt/sources.list.d/debian.sources"), "w") as f:
        f.write("Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n"
                "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    for d in ("tmp", "root", "home", "proc", "sys", "dev", "run", "srv", "opt", "mnt", "media", "var/tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    os.chmod(os.path.join(root, "var/tmp"), 0o1777)
    os.chmod(os.path.join(root, "root"), 0o700)


def unzip_wheel(whl: str, dest: str):
    with zipfile.ZipFile(whl) as z:
        for zi in z.infolist():
            target = os.path.join(dest, zi.filename)
            if zi.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(zi) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            mode = (zi.external_attr >> 16) & 0o777
            os.chmod(target, 0o755 if mode & 0o111 else 0o644)
            t = time.mktime(zi.date_time + (0, 0, -1))
            t = min(t, SDE)
            os.utime(target, (t, t))


# --------------------------------------------------------------------------
# umoci
# --------------------------------------------------------------------------

class Layout:
    def __init__(self, workdir: str):
        self.path = os.path.join(workdir, "oci")
        self.bundles = os.path.join(workdir, "bundles")
        if not os.path.exists(os.path.join(self.path, "index.json")):
            run(["umoci", "init", "--layout", self.path])
        self.bundle_tag: dict[str, str] = {}   # bundle path -> tag it reflects

    def ref(self, tag: str) -> str:
        return f"{self.path}:{tag}"

    def tags(self) -> set[str]:
        with open(os.path.join(self.path, "index.json")) as f:
            idx = json.load(f)
        return {m.get("annotations", {}).get("org.opencontainers.image.ref.name") for m in idx.get("manifests") or []}

    def new(self, tag: str, cmd: str, env: list[str] | None = None):
        if tag in self.tags():
            run(["umoci", "rm", "--image", self.ref(tag)])
        run(["umoci", "new", "--image", self.ref(tag)])
        argv = ["umoci", "config", "--image", self.ref(tag), "--no-history", "--created", iso(SDE),
                "--author", "layerscope-bench", "--os", "linux", "--architecture", "amd64", "--config.cmd", cmd]
        for e in env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]:
            argv += ["--config.env", e]
        run(argv)

    def unpack(self, tag: str, name: str) -> str:
        b = os.path.join(self.bundles, name)
        if os.path.exists(b):
            shutil.rmtree(b)
        os.makedirs(self.bundles, exist_ok=True)
        run(["umoci", "unpack", "--rootless", "--image", self.ref(tag), b])
        return b

    def repack(self, bundle: str, tag: str, created_by: str, step: int, epoch: int = SDE):
        clamp_mtimes(os.path.join(bundle, "rootfs"), epoch)
        run(["umoci", "repack", "--refresh-bundle", "--image", self.ref(tag),
             "--history.created", iso(epoch + step), "--history.created_by", created_by,
             "--history.author", "layerscope-bench", bundle])

    def add_layer(self, tar_path: str, tag: str, created_by: str, step: int):
        run(["umoci", "raw", "add-layer", "--image", self.ref(tag), "--history.created", iso(SDE + step),
             "--history.created_by", created_by, "--history.author", "layerscope-bench", tar_path])

    def set_config(self, tag: str, **kv):
        argv = ["umoci", "config", "--image", self.ref(tag), "--no-history", "--created", iso(SDE)]
        for k, v in kv.items():
            for x in (v if isinstance(v, list) else [v]):
                argv += [f"--config.{k}", x]
        run(argv)

    def manifest(self, tag: str) -> dict:
        with open(os.path.join(self.path, "index.json")) as f:
            idx = json.load(f)
        for m in idx.get("manifests") or []:
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
                with open(os.path.join(self.path, "blobs", *m["digest"].split(":"))) as f:
                    man = json.load(f)
                man["_digest"] = m["digest"]
                return man
        raise KeyError(tag)


# --------------------------------------------------------------------------
# the shapes
# --------------------------------------------------------------------------

def build_base(L: Layout, debs: Debs, tag="base") -> dict:
    names1 = debs.resolve(BASE_PKGS)
    names2 = [n for n in debs.resolve(BASE_PKGS + EXTRA_PKGS) if n not in set(names1)]
    files1, files2 = debs.fetch(names1), debs.fetch(names2)
    L.new(tag, "bash", ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"])
    b = L.unpack(tag, "base")
    root = os.path.join(b, "rootfs")
    db = DpkgDB()
    db.install(files1, root)
    usrmerge(root, make_links=True)
    base_files_setup(root)
    L.repack(b, tag, "/bin/sh -c #(nop) ADD file:debian-bookworm-rootfs.tar.xz in / ", 0)
    db.install(files2, root, staging=os.path.join(b, "staging"))
    with open(os.path.join(root, "etc/locale.gen"), "a") as f:
        f.write("en_US.UTF-8 UTF-8\n")
    L.repack(b, tag, "RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends "
             + " ".join(EXTRA_PKGS) + " # buildkit", 1)
    L.bundle_tag[b] = tag
    return {"packages": [os.path.basename(p) for p in files1 + files2]}


def bundle_for(L: Layout, parent: str, name: str) -> str:
    for b, t in L.bundle_tag.items():
        if t == parent and os.path.exists(b):
            return b
    b = L.unpack(parent, name)
    L.bundle_tag[b] = parent
    return b


def runtime_debs(debs: Debs) -> list[str]:
    """The .debs of runtime's apt-get layer: RUNTIME_PKGS and what they pull in beyond base."""
    have = set(debs.resolve(BASE_PKGS + EXTRA_PKGS))
    return debs.fetch([n for n in debs.resolve(BASE_PKGS + EXTRA_PKGS + RUNTIME_PKGS) if n not in have])


def install_runtime(b: str, files: list[str]):
    """runtime's apt-get install on the base rootfs in bundle B."""
    root = os.path.join(b, "rootfs")
    db = DpkgDB()
    db.load(root)
    db.install(files, root, staging=os.path.join(b, "staging"))


def build_runtime(L: Layout, debs: Debs, tag="runtime") -> dict:
    files = runtime_debs(debs)
    b = bundle_for(L, "base", "base")
    install_runtime(b, files)
    L.repack(b, tag, RUNTIME_RUN, 2)
    L.set_config(tag, cmd="python3")
    L.bundle_tag[b] = tag
    return {"packages": [os.path.basename(p) for p in files]}


def build_rebuilt(L: Layout, debs: Debs, tag="rebuilt") -> dict:
    """runtime's apt-get layer again from the same .debs, every entry stamped REBUILD_SDE."""
    files = runtime_debs(debs)
    b = L.unpack("base", "rebuilt")
    root = os.path.join(b, "rootfs")
    before = snapshot(root)
    install_runtime(b, files)
    clamp_mtimes(root)   # the tree runtime's repack saw; what changed from base is its layer
    n = restamp(root, before, REBUILD_SDE)
    L.repack(b, tag, RUNTIME_RUN, 2, epoch=REBUILD_SDE)
    L.set_config(tag, cmd="python3")
    shutil.rmtree(b)
    return {"packages": [os.path.basename(p) for p in files], "mtime": REBUILD_SDE, "restamped": n}


def build_app(L: Layout, cache: str, tag="app") -> dict:
    wheels = fetch_wheels(cache, WHEELS)
    b = bundle_for(L, "runtime", "base")
    root = os.path.join(b, "rootfs")
    site = os.path.join(root, SITE)
    for w in wheels:
        unzip_wheel(w, site)
    L.repack(b, tag, "RUN /bin/sh -c pip install --no-cache-dir -r requirements.txt # buildkit", 3)
    L.bundle_tag[b] = tag
    # metadata-only copies: same bytes, new mode
    run(["chmod", "-R", "g+w", os.path.join(site, "pandas"), os.path.join(site, "flask")])
    L.repack(b, tag, f"RUN /bin/sh -c chmod -R g+w /{SITE}/pandas /{SITE}/flask # buildkit", 4)
    # deletions: whole test trees, docs, single files
    gone = []
    for pat in ("pandas/tests", "numpy/*/tests", "numpy/tests", "scipy/*/tests", "scipy/*/*/tests",
                "pyarrow/tests", "pyarrow/include", "*.dist-info/RECORD"):
        gone += sorted(glob.glob(os.path.join(site, pat)))
    gone += sorted(glob.glob(os.path.join(root, "usr/share/doc/*")))
    gone += [os.path.join(root, p) for p in ("usr/share/man", "var/cache/debconf/templates.dat-old",
                                             "var/log/dpkg.log", "usr/bin/perl5.36.0")]
    for p in gone:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        elif os.path.lexists(p):
            os.unlink(p)
    L.repack(b, tag, "RUN /bin/sh -c rm -rf /usr/share/doc/* /usr/share/man */tests pyarrow/include "
             "# buildkit", 5)
    # opaque dir: replace /usr/share/zoneinfo by a few zones (and /etc/apt/sources.list.d)
    zi = os.path.join(root, "usr/share/zoneinfo")
    keep = ["UTC", "Etc/UTC", "Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo", "zone1970.tab",
            "tzdata.zi"]
    tar_path = os.path.join(b, "opaque.tar")
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tf:
        def add_dir(name, mode=0o755):
            ti = tarfile.TarInfo(name + "/")
            ti.type, ti.mode, ti.mtime, ti.uname, ti.gname = tarfile.DIRTYPE, mode, SDE, "root", "root"
            tf.addfile(ti)
        add_dir("usr/share/zoneinfo")
        wh = tarfile.TarInfo("usr/share/zoneinfo/.wh..wh..opq")
        wh.mtime, wh.mode = SDE, 0o644
        tf.addfile(wh)
        for d in sorted({os.path.dirname(k) for k in keep if "/" in k}):
            add_dir(f"usr/share/zoneinfo/{d}")
        for k in keep:
            p = os.path.realpath(os.path.join(zi, k))
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    data = f.read()
                ti = tarfile.TarInfo(f"usr/share/zoneinfo/{k}")
                ti.size, ti.mode, ti.mtime, ti.uname, ti.gname = len(data), 0o644, SDE, "root", "root"
                tf.addfile(ti, io.BytesIO(data))
        add_dir("etc/apt/sources.list.d")
        wh = tarfile.TarInfo("etc/apt/sources.list.d/.wh..wh..opq")
        wh.mtime, wh.mode = SDE, 0o644
        tf.addfile(wh)
        data = b"deb http://deb.debian.org/debian bookworm main\n"
        ti = tarfile.TarInfo("etc/apt/sources.list.d/bookworm.list")
        ti.size, ti.mode, ti.mtime, ti.uname, ti.gname = len(data), 0o644, SDE, "root", "root"
        tf.addfile(ti, io.BytesIO(data))
    L.add_layer(tar_path, tag, "RUN /bin/sh -c rm -rf /usr/share/zoneinfo && tar -C / -xf zones.tar # buildkit", 6)
    L.set_config(tag, cmd=["gunicorn", "app:app"], workingdir="/app")
    L.bundle_tag.pop(b, None)   # raw add-layer: the bundle no longer reflects the image
    shutil.rmtree(b)
    return {"wheels": [os.path.basename(w) for w in wheels]}


def node_packages(limit=420) -> list[str]:
    """Deterministic pick of small arch-all node-* packages (spread over the alphabet)."""
    r = run(["apt-cache", "search", "--names-only", "^node-"], capture_output=True, text=True).stdout
    names = sorted({l.split()[0] for l in r.splitlines() if l.startswith("node-")})
    show = run(["apt-cache", "show", "--no-all-versions", *names], capture_output=True, text=True).stdout
    size, arch = {}, {}
    for para in show.split("\n\n"):
        m = re.search(r"^Package: (\S+)", para, re.M)
        if not m:
            continue
        s = re.search(r"^Installed-Size: (\d+)", para, re.M)
        a = re.search(r"^Architecture: (\S+)", para, re.M)
        size[m.group(1)] = int(s.group(1)) if s else 0
        arch[m.group(1)] = a.group(1) if a else ""
    ok = [n for n in names if arch.get(n) == "all" and 0 < size.get(n, 0) <= 1500]
    step = max(1, len(ok) // limit)
    return ok[::step][:limit]


def build_nodemods(L: Layout, debs: Debs, tag="nodemods") -> dict:
    names = node_packages()
    files = debs.fetch(names)
    b = L.unpack("base", "nodemods")
    root = os.path.join(b, "rootfs")
    stage = os.path.join(b, "node-stage")
    os.makedirs(stage)
    for deb in files:
        run(["dpkg-deb", "-x", deb, stage])
    # modules: every dir directly under usr/share/nodejs (scoped: @scope/name), usr/lib/nodejs
    mods = []
    for base in ("usr/share/nodejs", "usr/lib/nodejs"):
        top = os.path.join(stage, base)
        if not os.path.isdir(top):
            continue
        for n in sorted(os.listdir(top)):
            p = os.path.join(top, n)
            if n.startswith("@") and os.path.isdir(p):
                mods += [(f"{n}/{m}", os.path.join(p, m)) for m in sorted(os.listdir(p))
                         if os.path.isdir(os.path.join(p, m))]
            elif os.path.isdir(p) and not os.path.islink(p):
                mods.append((n, p))
    seen, uniq = set(), []
    for n, p in mods:
        if n not in seen:
            seen.add(n)
            uniq.append((n, p))
    mods = uniq
    count = {n: sum(len(fs) + len(ds) for _, ds, fs in os.walk(p)) for n, p in mods}
    per_copy = sum(count.values())
    copies = -(-N_NODE_FILES // per_copy)
    nm = os.path.join(root, "app/node_modules")
    os.makedirs(nm)
    rng = random.Random(8)
    total = 0
    for k in range(copies):
        for i, (n, p) in enumerate(mods):
            if k == 0:
                dst = os.path.join(nm, n)
            else:   # nested copies as npm makes them: node_modules/<parent>/node_modules/<name>
                chain = [mods[rng.randrange(len(mods))][0] for _ in range(1 + k % 3)]
                dst = os.path.join(nm, *(x for c in chain for x in (c, "node_modules")), n)
                if os.path.exists(dst):
                    continue
            shutil.copytree(p, dst, symlinks=True)
            total += count[n]
        if total >= N_NODE_FILES:
            break
    with open(os.path.join(root, "app/package.json"), "w") as f:
        json.dump({"name": "app", "version": "1.0.0", "private": True,
                   "dependencies": {n: "*" for n, _ in mods}}, f, indent=2, sort_keys=True)
    shutil.rmtree(stage)
    L.repack(b, tag, "COPY node_modules package.json /app/ # buildkit", 3)
    L.set_config(tag, cmd=["node", "/app/index.js"], workingdir="/app")
    shutil.rmtree(b)
    return {"packages": [os.path.basename(p) for p in files], "node_modules": len(mods), "copies": copies}


def build_big(L: Layout, debs: Debs, tag="big", n_files=7, file_mb=290) -> dict:
    files = debs.fetch(BIG_PKGS)
    b = L.unpack("base", "big")
    root = os.path.join(b, "rootfs")
    db = DpkgDB()
    db.load(root)
    db.install(files, root, staging=os.path.join(b, "staging"))
    L.repack(b, tag, "RUN /bin/sh -c apt-get install -y " + " ".join(BIG_PKGS) + " # buildkit", 2)
    # weight files: real big binaries and the .debs, each file a different order and start
    pool = []
    for dp, _, fns in os.walk(root):
        for n in fns:
            p = os.path.join(dp, n)
            if not os.path.islink(p) and os.path.getsize(p) >= 1 * MiB:
                pool.append(p)
    pool = sorted(pool) + sorted(files)
    wdir = os.path.join(root, "opt/model/weights")
    os.makedirs(wdir)
    rng = random.Random(2)
    for i in range(n_files):
        order = pool[:]
        rng.shuffle(order)
        want = file_mb * MiB + rng.randrange(16 * MiB)
        with open(os.path.join(wdir, f"shard-{i + 1:05d}-of-{n_files:05d}.safetensors"), "wb") as out:
            first = True
            while want > 0:
                for p in order:
                    with open(p, "rb") as f:
                        if first:
                            f.seek(rng.randrange(os.path.getsize(p)))
                            first = False
                        while want > 0:
                            chunk = f.read(min(want, 4 * MiB))
                            if not chunk:
                                break
                            out.write(chunk)
                            want -= len(chunk)
                    if want <= 0:
                        break
    L.repack(b, tag, "COPY weights/ /opt/model/weights/ # buildkit", 3)
    L.set_config(tag, cmd=["java", "-jar", "/opt/model/serve.jar"])
    shutil.rmtree(b)
    return {"packages": [os.path.basename(p) for p in files], "weight_files": n_files}


def build_tiny(L: Layout, debs: Debs, tag="tiny") -> dict:
    files = debs.fetch(TINY_PKGS)
    L.new(tag, "sh")
    b = L.unpack(tag, "tiny")
    root = os.path.join(b, "rootfs")
    stage = os.path.join(b, "stage")
    for deb in files:
        run(["dpkg-deb", "-x", deb, stage])
    usrmerge(stage, make_links=False)
    for d in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"):
        shutil.rmtree(os.path.join(stage, d), ignore_errors=True)
    run(["cp", "-a", stage + "/.", root + "/"])
    shutil.rmtree(stage)
    L.repack(b, tag, "COPY rootfs / # buildkit", 0)
    shutil.rmtree(b)
    return {"packages": [os.path.basename(p) for p in files]}


# --------------------------------------------------------------------------
# export and describe
# --------------------------------------------------------------------------

def export(L: Layout, tag: str, workdir: str) -> dict:
    out = {}
    for form in FORMS:
        path = os.path.join(workdir, FORM_FILE[form].format(tag))
        tmp = path + ".tmp"
        if os.path.exists(tmp):
            os.unlink(tmp)
        if form == "docker-archive":
            dest = f"docker-archive:{tmp}:layerscope-bench/{tag}:latest"
            extra = []
        else:
            dest = f"oci-archive:{tmp}:{tag}"
            extra = ["--dest-compress-format", "zstd"] if form == "oci-zstd" else []
        run(["skopeo", "copy", "-q", *extra, f"oci:{L.path}:{tag}", dest], capture_output=True)
        os.replace(tmp, path)
        out[form] = {"path": path, "bytes": os.path.getsize(path)}
        if form in DIVE_FILE:
            dpath = os.path.join(workdir, DIVE_FILE[form].format(tag))
            docker25_copy(path, dpath, tag)
            out[form]["dive_path"] = dpath
    return out


def _oci_manifest(tf: tarfile.TarFile) -> tuple[dict, str]:
    idx = json.load(tf.extractfile("index.json"))
    mdesc = idx["manifests"][0]
    man = json.load(tf.extractfile("blobs/sha256/" + mdesc["digest"].split(":", 1)[1]))
    return man, mdesc["digest"]


def docker25_copy(src: str, dst: str, tag: str):
    """SRC plus the manifest.json/repositories Docker 25+ `docker save` adds (what dive reads)."""
    tmp = dst + ".tmp"
    shutil.copyfile(src, tmp)
    with tarfile.open(src) as tf:
        man, _ = _oci_manifest(tf)
    blob = lambda d: "blobs/sha256/" + d.split(":", 1)[1]
    repo = f"layerscope-bench/{tag}"
    members = {
        "manifest.json": json.dumps([{"Config": blob(man["config"]["digest"]), "RepoTags": [f"{repo}:latest"],
                                      "Layers": [blob(l["digest"]) for l in man["layers"]]}]).encode(),
        "repositories": json.dumps({repo: {"latest": man["config"]["digest"].split(":", 1)[1]}}).encode(),
    }
    with tarfile.open(tmp, "a") as tf:
        for n, data in members.items():
            ti = tarfile.TarInfo(n)
            ti.size, ti.mtime, ti.mode = len(data), SDE, 0o644
            tf.addfile(ti, io.BytesIO(data))
    os.replace(tmp, dst)


def count_layer(fobj) -> dict:
    c = {"file": 0, "dir": 0, "symlink": 0, "hardlink": 0, "whiteout": 0, "opaque": 0, "other": 0}
    with tarfile.open(fileobj=fobj, mode="r|") as tf:
        for ti in tf:
            base = ti.name.rstrip("/").rsplit("/", 1)[-1]
            if base == ".wh..wh..opq":
                c["opaque"] += 1
            elif base.startswith(".wh."):
                c["whiteout"] += 1
            elif ti.isreg():
                c["file"] += 1
            elif ti.isdir():
                c["dir"] += 1
            elif ti.issym():
                c["symlink"] += 1
            elif ti.islnk():
                c["hardlink"] += 1
            else:
                c["other"] += 1
    c["total"] = sum(c.values())
    return c


def describe(L: Layout, tag: str, forms: dict, extra: dict, seconds: float) -> dict:
    man = L.manifest(tag)
    with open(os.path.join(L.path, "blobs", *man["config"]["digest"].split(":"))) as f:
        cfg = json.load(f)
    hist = [h for h in cfg.get("history", []) if not h.get("empty_layer")]
    layers = []
    with tarfile.open(forms["docker-archive"]["path"]) as tf:
        dm = json.load(tf.extractfile("manifest.json"))[0]
        for i, (member, desc) in enumerate(zip(dm["Layers"], man["layers"])):
            ti = tf.getmember(member)
            while ti.issym() or ti.islnk():
                ti = tf.getmember(os.path.normpath(os.path.join(os.path.dirname(ti.name), ti.linkname))
                                  if ti.issym() else ti.linkname)
            counts = count_layer(tf.extractfile(ti))
            layers.append({"index": i, "created_by": hist[i].get("created_by", "") if i < len(hist) else "",
                           "diff_id": cfg["rootfs"]["diff_ids"][i], "size": ti.size, "entries": counts,
                           "gzip_digest": desc["digest"], "gzip_size": desc["size"]})
    with tarfile.open(forms["oci-zstd"]["path"]) as tf:
        zman, _ = _oci_manifest(tf)
    for l, d in zip(layers, zman["layers"]):
        l["zstd_size"] = d["size"]
        l["zstd_media_type"] = d["mediaType"]
    return {
        "shape": tag, "description": IMAGES[tag], "tag": tag, "parent": PARENT[tag],
        "manifest_digest": man["_digest"], "config_digest": man["config"]["digest"],
        "config_size": man["config"]["size"],
        "forms": forms,
        "layer_count": len(layers),
        "layers": layers,
        "entries": sum(l["entries"]["total"] for l in layers),
        "uncompressed_bytes": sum(l["size"] for l in layers),
        "gzip_bytes": sum(l["gzip_size"] for l in layers),
        "zstd_bytes": sum(l["zstd_size"] for l in layers),
        "build_seconds": round(seconds, 1),
        **extra,
    }


def print_image(name: str, d: dict):
    f = d["forms"]
    log(f"{name:9} {d['layer_count']} layers, {d['entries']:>7,} tar entries, "
        f"{d['uncompressed_bytes'] / MiB:8.1f} MiB uncompressed | docker-archive {f['docker-archive']['bytes'] / MiB:8.1f}"
        f" MiB, oci-gzip {f['oci-gzip']['bytes'] / MiB:7.1f} MiB, oci-zstd {f['oci-zstd']['bytes'] / MiB:7.1f} MiB"
        f" ({d['build_seconds']} s)")


def load_info(workdir: str) -> dict:
    try:
        with open(os.path.join(workdir, "info.json")) as f:
            info = json.load(f)
        if info.get("schema") == SCHEMA:
            return info
    except (OSError, ValueError):
        pass
    return {"schema": SCHEMA, "images": {}}


def is_built(info: dict, name: str) -> bool:
    d = info["images"].get(name)
    if not d or d.get("builder_version") != BUILDER_VERSION:
        return False
    return all(os.path.exists(v["path"]) and os.path.getsize(v["path"]) == v["bytes"] for v in d["forms"].values())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", default=DEFAULT_WORKDIR, help=f"images and OCI layout (default {DEFAULT_WORKDIR})")
    ap.add_argument("--cache", default=DEFAULT_CACHE, help=f"downloaded .debs and wheels (default {DEFAULT_CACHE})")
    ap.add_argument("--images", default=",".join(IMAGES), help="comma list of: " + ",".join(IMAGES))
    ap.add_argument("--force", action="store_true", help="rebuild the listed images even if present")
    a = ap.parse_args(argv)
    wanted = [x.strip() for x in a.images.split(",") if x.strip()]
    for w in wanted:
        if w not in IMAGES:
            ap.error(f"unknown image {w!r}")
    for tool in ("umoci", "skopeo", "dpkg-deb", "apt-get"):
        if not shutil.which(tool):
            log(f"make_real_images: {tool} not found")
            return 2
    os.makedirs(a.workdir, exist_ok=True)
    os.makedirs(a.cache, exist_ok=True)
    info = load_info(a.workdir)
    info.update(source_date_epoch=SDE, workdir=a.workdir, cache=a.cache,
                tools={"umoci": run(["umoci", "--version"], capture_output=True, text=True).stdout.strip(),
                       "skopeo": run(["skopeo", "--version"], capture_output=True, text=True).stdout.strip()})
    L = Layout(a.workdir)
    debs = Debs(a.cache)
    builders = {"base": lambda: build_base(L, debs), "runtime": lambda: build_runtime(L, debs),
                "app": lambda: build_app(L, a.cache), "nodemods": lambda: build_nodemods(L, debs),
                "big": lambda: build_big(L, debs), "tiny": lambda: build_tiny(L, debs),
                "rebuilt": lambda: build_rebuilt(L, debs)}
    # parents first; a parent only needs its tag in the layout, not its exported forms
    needed = set(wanted)
    for w in wanted:
        p = PARENT[w]
        while p:
            needed.add(p)
            p = PARENT[p]
    order = [n for n in IMAGES if n in needed]
    t_all = time.perf_counter()
    for name in order:
        have_tag = name in L.tags()
        need_tag = not have_tag or (a.force and name in wanted)
        need_export = name in wanted and (need_tag or not is_built(info, name))
        if not need_tag and not need_export:
            if name in wanted:
                print_image(name, info["images"][name])
            continue
        t0 = time.perf_counter()
        extra = info["images"].get(name, {}).get("content", {})
        if need_tag:
            log(f"building {name} ...")
            extra = builders[name]()
        if name in wanted:
            log(f"exporting {name} ...")
            forms = export(L, name, a.workdir)
            d = describe(L, name, forms, {}, time.perf_counter() - t0)
            d["content"] = extra
            d["builder_version"] = BUILDER_VERSION
            info["images"][name] = d
            with open(os.path.join(a.workdir, "info.json.tmp"), "w") as f:
                json.dump(info, f, indent=2)
            os.replace(os.path.join(a.workdir, "info.json.tmp"), os.path.join(a.workdir, "info.json"))
            print_image(name, d)
    shutil.rmtree(L.bundles, ignore_errors=True)
    log(f"done in {time.perf_counter() - t_all:.0f} s; {os.path.join(a.workdir, 'info.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
