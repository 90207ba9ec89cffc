"""Two images from one base, with every difference ``compare`` reports made on purpose.

One OCI layout built with umoci (``test_compare.py``):

* ``base`` -- one ``umoci repack`` layer: files, a hardlinked pair, a symlink,
  a file with a ``user.*`` xattr, a dpkg status with three packages, a Python
  dist-info, an npm package; a config (env, cmd, a label) set by ``umoci
  config``;
* ``a`` -- base plus a layer of its own (``opt/a-only``) and a label;
* ``b`` -- base plus two layers: ``b1`` modifies (content, removal, chmod,
  chown, a symlink retargeted, a file replaced by a directory, an xattr
  changed, a directory's mode) and ``b2`` installs packages the way the real
  tools do: a ``.deb`` built with ``dpkg-deb --build`` and unpacked with
  ``dpkg -x`` plus its status stanza (another package upgraded, one
  removed), a wheel made with ``zipfile`` and installed by ``pip install
  --target``, npm ``package.json`` files (one upgraded, one added, one
  broken); then a config step (env, cmd, workdir, an exposed port).
* ``b-touch`` -- ``b`` plus a layer that only changes a file's mtime.

What was made is recorded (:data:`CONFIG_CHANGES`, :data:`HISTORY`,
:data:`PACKAGES`); the file-level oracle is the two ``umoci unpack`` trees
(:func:`rootfs_view`). Nothing here imports layerscope.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import images as I
import overlay_images as O
from overlay_images import _w, umoci, unpack

BASE_CONFIG = ["--config.env", "PATH=/usr/local/bin:/usr/bin:/bin", "--config.env", "FOO=1",
               "--config.cmd", "sh", "--config.label", "org.example.team=build"]
A_CONFIG = ["--config.label", "stage=a"]
B_CONFIG = ["--config.env", "FOO=2", "--config.env", "BAR=3", "--config.cmd", "/bin/app",
            "--config.cmd", "serve", "--config.workingdir", "/app", "--config.exposedports", "8080/tcp"]

#: (field, key, change, a, b): A's config against B's, by construction
CONFIG_CHANGES = [
    ("env", "BAR", "added", None, "3"),
    ("env", "FOO", "changed", "1", "2"),
    ("cmd", None, "changed", ["sh"], ["/bin/app", "serve"]),
    ("workdir", None, "added", None, "/app"),
    ("exposed_ports", "8080/tcp", "added", None, "8080/tcp"),
    ("labels", "stage", "removed", "a", None),
]

HISTORY = {
    "base": ["compare-test: base config", "compare-test: base rootfs"],
    "a": ["compare-test: a-only layer", "compare-test: a config"],
    "b": ["compare-test: b1 modifications", "compare-test: b2 packages", "compare-test: b config"],
}

DPKG_BASE = """\
Package: base-files
Status: install ok installed
Priority: required
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files

Package: libc6
Status: install ok installed
Installed-Size: 12986
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Version: 2.36-9
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: oldpkg
Status: install ok installed
Installed-Size: 12
Architecture: all
Version: 1.0
Description: goes away in b
"""

#: (change, type, name, version in A, version in B): by construction
PACKAGES = [
    ("added", "deb", "lsdemo", None, "1.0-1"),
    ("added", "npm", "@scope/thing", None, "2.0.0"),
    ("added", "pypi", "lsdemo_wheel", None, "0.3.1"),
    ("removed", "deb", "oldpkg", "1.0", None),
    ("changed", "deb", "libc6", "2.36-9", "2.36-9+deb12u4"),
    ("changed", "npm", "left-pad", "1.0.0", "1.3.0"),
]
BROKEN_PACKAGE_JSON = "app/node_modules/broken/package.json"


@dataclass
class CompareImages:
    layout: Path
    work: Path

    def arg(self, tag: str) -> str:
        return f"{self.layout}:{tag}"


def have_tools() -> bool:
    return O.have_umoci() and shutil.which("dpkg-deb") is not None and shutil.which("dpkg") is not None


def _base(r: Path) -> None:
    for rel, data in {
        "etc/keep": b"same in both\n", "etc/mod": b"version one\n", "etc/gone": I.rand_bytes(3000, 1),
        "etc/chmod": b"mode changes\n", "etc/chown": b"owner changes\n", "bin/tool": I.rand_bytes(5000, 2),
        "bin/tool2": I.rand_bytes(6000, 3), "data/swap": b"a file, then a directory\n",
        "srv/www/index.html": b"<html></html>\n", "etc/xattr": b"has an xattr\n",
        "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA":
            b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\nSummary: py2/3\n\nlong description\n",
        "usr/lib/python3/dist-packages/six.py": b"# six\n",
        "app/node_modules/left-pad/package.json": b'{"name": "left-pad", "version": "1.0.0"}\n',
        "app/node_modules/left-pad/index.js": b"module.exports = 1;\n",
        "app/node_modules/left-pad/lib/package.json": b'{"type": "commonjs"}\n',  # not a package's root
    }.items():
        _w(r, rel, data)
    _w(r, "var/lib/dpkg/status", DPKG_BASE.encode())
    os.link(r / "bin/tool", r / "bin/tool-hardlink")
    os.symlink("tool", r / "bin/t")
    os.setxattr(r / "etc/xattr", "user.k", b"v1")
    os.chmod(r / "srv", 0o755)


def _a_only(r: Path) -> None:
    _w(r, "opt/a-only/file", I.rand_bytes(7000, 4))


def _b1(r: Path) -> None:
    (r / "etc/mod").write_bytes(b"version two, longer\n")
    (r / "etc/gone").unlink()
    os.chmod(r / "etc/chmod", 0o600)
    os.chown(r / "etc/chown", 1000, 1000)
    (r / "bin/t").unlink()
    os.symlink("tool2", r / "bin/t")
    (r / "data/swap").unlink()
    _w(r, "data/swap/child", b"now a directory\n")
    _w(r, "etc/added", I.rand_bytes(2500, 5))
    os.setxattr(r / "etc/xattr", "user.k", b"v2")
    os.chmod(r / "srv", 0o700)


def build_deb(work: Path) -> Path:
    """A real .deb made by ``dpkg-deb --build``."""
    root = work / "lsdemo"
    _w(root, "DEBIAN/control", b"Package: lsdemo\nVersion: 1.0-1\nArchitecture: all\n"
       b"Maintainer: layerscope tests <tests@example.org>\nInstalled-Size: 8\n"
       b"Description: a package made by the compare tests\n")
    _w(root, "usr/bin/lsdemo", b"#!/bin/sh\necho lsdemo\n", 0o755)
    _w(root, "usr/share/doc/lsdemo/copyright", b"public domain\n")
    out = work / "lsdemo_1.0-1_all.deb"
    I.run_tool("dpkg-deb", "--root-owner-group", "--build", root, out)
    return out


def build_wheel(work: Path) -> Path:
    """A pure-Python wheel, written with zipfile (what a build backend writes)."""
    out = work / "lsdemo_wheel-0.3.1-py3-none-any.whl"
    files = {
        "lsdemo_wheel/__init__.py": b"VERSION = '0.3.1'\n",
        "lsdemo_wheel-0.3.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: lsdemo_wheel\nVersion: 0.3.1\n"
                                                 b"Summary: a wheel made by the compare tests\n",
        "lsdemo_wheel-0.3.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                                              b"Tag: py3-none-any\n",
    }
    import base64
    import hashlib
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("lsdemo_wheel-0.3.1.dist-info/RECORD,,")
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr("lsdemo_wheel-0.3.1.dist-info/RECORD", "\n".join(record) + "\n")
    return out


def _b2(work: Path):
    deb, wheel = build_deb(work), build_wheel(work)

    def change(r: Path) -> None:
        I.run_tool("dpkg", "-x", deb, r)
        fields = I.run_tool("dpkg-deb", "-f", deb)
        status = DPKG_BASE.replace("Version: 2.36-9\n", "Version: 2.36-9+deb12u4\n")
        status = status[:status.index("Package: oldpkg")]
        stanza = fields.replace("Package: lsdemo\n", "Package: lsdemo\nStatus: install ok installed\n")
        (r / "var/lib/dpkg/status").write_text(status + stanza.rstrip("\n") + "\n")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                        "--disable-pip-version-check", "--no-compile", "--target",
                        r / "usr/lib/python3/dist-packages", wheel], check=True, capture_output=True,
                       timeout=I.TIMEOUT)
        _w(r, "app/node_modules/left-pad/package.json", b'{"name": "left-pad", "version": "1.3.0"}\n')
        _w(r, "app/node_modules/@scope/thing/package.json", b'{"name": "@scope/thing", "version": "2.0.0"}\n')
        _w(r, BROKEN_PACKAGE_JSON, b'{"name": "broken", "version": ')
    return change


def _touch(r: Path) -> None:
    st = os.stat(r / "etc/keep")
    os.utime(r / "etc/keep", ns=(st.st_atime_ns, st.st_mtime_ns + 7_000_000_000))


def _repack(L: Path, work: Path, src: str, dst: str, fn, created_by: str) -> None:
    bundle = work / f"bundle-{dst}"
    fn(unpack(L, src, bundle))
    umoci("repack", "--image", f"{L}:{dst}", "--history.created_by", created_by, bundle)
    shutil.rmtree(bundle)


def build(work: Path) -> CompareImages:
    L = work / "layout"
    umoci("init", "--layout", L)
    umoci("new", "--image", f"{L}:empty")
    umoci("config", "--image", f"{L}:empty", "--tag", "base0", *BASE_CONFIG,
          "--history.created_by", HISTORY["base"][0])
    _repack(L, work, "base0", "base", _base, HISTORY["base"][1])
    _repack(L, work, "base", "a0", _a_only, HISTORY["a"][0])
    umoci("config", "--image", f"{L}:a0", "--tag", "a", *A_CONFIG, "--history.created_by", HISTORY["a"][1])
    _repack(L, work, "base", "b1", _b1, HISTORY["b"][0])
    _repack(L, work, "b1", "b2", _b2(work), HISTORY["b"][1])
    umoci("config", "--image", f"{L}:b2", "--tag", "b", *B_CONFIG, "--history.created_by", HISTORY["b"][2])
    _repack(L, work, "b", "b-touch", _touch, "compare-test: touch")
    return CompareImages(L, work)


# --------------------------------------------------------------------------
# the oracle: two unpacked trees, compared path by path
# --------------------------------------------------------------------------

def rootfs_view(img: CompareImages, tag: str) -> dict[str, tuple]:
    """path -> (type, size, mode, uid, gid, link, content hash, xattrs) of ``umoci unpack``'s rootfs."""
    root = unpack(img.layout, tag, img.work / f"unpack-{tag}")
    nodes, _inodes = O.walk_rootfs(root)
    out = {}
    for p, n in nodes.items():
        full = os.path.join(root, p)
        names = sorted(os.listxattr(full, follow_symlinks=False)) if n.type != "symlink" else []
        xattrs = tuple((k, os.getxattr(full, k, follow_symlinks=False)) for k in names)
        out[p] = (n.type, n.size, n.mode, n.uid, n.gid, n.link, n.digest, xattrs)
    return out


def expected_files(va: dict[str, tuple], vb: dict[str, tuple]) -> dict:
    """What comparing two rootfs views says, in compare's vocabulary and path form."""
    added = sorted((f"/{p}", vb[p][0], vb[p][1]) for p in vb.keys() - va.keys())
    removed = sorted((f"/{p}", va[p][0], va[p][1]) for p in va.keys() - vb.keys())
    modified = []
    for p in sorted(va.keys() & vb.keys()):
        (ta, sa, ma, ua, ga, la, da, xa), (tb, sb, mb, ub, gb, lb, db, xb) = va[p], vb[p]
        changes = []
        if ta != tb:
            changes.append("type")
        elif ta == "file" and (sa, da) != (sb, db):
            changes.append("content")
        elif ta == "symlink" and la != lb:
            changes.append("link")
        changes += [name for name, x, y in (("mode", ma, mb), ("uid", ua, ub), ("gid", ga, gb), ("xattrs", xa, xb))
                    if x != y]
        if changes:
            modified.append((f"/{p}", tuple(changes), sa, sb))
    return {"added": added, "removed": removed, "modified": modified}


def files_of(doc: dict) -> dict:
    f = doc["files"]
    return {
        "added": sorted((e["path"], e["type"], e["size"]) for e in f["added"]),
        "removed": sorted((e["path"], e["type"], e["size"]) for e in f["removed"]),
        "modified": sorted((e["path"], tuple(e["changes"]), e["size_a"], e["size_b"]) for e in f["modified"]),
    }
