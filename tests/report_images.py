"""Two small images whose reports are snapshots (``test_reports.py``): built in
Python, every byte fixed (tar mtimes, config dates, seeded contents), so the
text and Markdown renderings are the same on every machine.

One OCI layout, tags ``app:1`` and ``app:2`` over one shared base layer:

* base -- files, a dpkg status with two packages, a copy of a binary
  (duplicate content), a file whose name holds ``|`` and a backtick (cells
  must escape them), a cache file;
* ``app:1`` -- a long ``RUN`` step that deletes the cache (wasted bytes),
  chmods the binary (a metadata-only copy) and adds the app;
* ``app:2`` -- a different step: the app changed, a file added, one package
  upgraded and one added.

Contents are random bytes (incompressible): the zstd figures of ``savings``
do not depend on the zstd version.
"""

from __future__ import annotations

from pathlib import Path

import images as I

TOOL = I.rand_bytes(120_000, 31)

DPKG = """\
Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4
Installed-Size: 340

Package: libfoo
Status: install ok installed
Architecture: amd64
Version: {libfoo}
Installed-Size: 120
{extra}"""

BASE = [
    ("dir", "etc"), ("file", "etc/os-release", b"ID=snapshot\nVERSION_ID=1\n"),
    ("dir", "usr"), ("dir", "usr/bin"), ("file", "usr/bin/tool", TOOL, 0o755),
    ("dir", "opt"), ("file", "opt/tool-copy", TOOL, 0o755),
    ("dir", "srv"), ("file", "srv/odd|name `x`.txt", b"pipes and backticks\n"),
    ("dir", "var"), ("dir", "var/cache"), ("file", "var/cache/big.bin", I.rand_bytes(60_000, 32)),
    ("dir", "var/lib"), ("dir", "var/lib/dpkg"),
    ("file", "var/lib/dpkg/status", DPKG.format(libfoo="1.0-1", extra="").encode()),
]

APP1 = [
    ("whiteout", "var/cache/big.bin"),
    ("dir", "usr"), ("dir", "usr/bin"), ("file", "usr/bin/tool", TOOL, 0o700),
    ("dir", "app"), ("file", "app/main.py", I.rand_bytes(30_000, 33)),
]

APP2 = [
    ("dir", "app"), ("file", "app/main.py", I.rand_bytes(45_000, 34)), ("file", "app/extra.bin", I.rand_bytes(20_000, 35)),
    ("dir", "var"), ("dir", "var/lib"), ("dir", "var/lib/dpkg"),
    ("file", "var/lib/dpkg/status", DPKG.format(
        libfoo="1.1-1", extra="\nPackage: libbar\nStatus: install ok installed\nArchitecture: amd64\n"
                              "Version: 2.0\nInstalled-Size: 64\n").encode()),
]

BASE_STEP = "/bin/sh -c #(nop) ADD file:base.tar in / "
APP1_STEP = ("/bin/sh -c apt-get update && apt-get install -y --no-install-recommends "
             + " ".join(f"package-number-{i}" for i in range(12)) + " && rm -rf /var/cache/big.bin && chmod 700 "
             "/usr/bin/tool # a | pipe and `ticks`")
APP2_STEP = "COPY app/ /app # buildkit"


def build(layout: Path) -> Path:
    """The layout at ``layout`` (tags ``app:1`` and ``app:2``)."""
    lay = I.OCILayout(layout)
    raws = {name: I.make_tar(entries) for name, entries in (("base", BASE), ("app1", APP1), ("app2", APP2))}
    descs = {name: lay.blob(raw, I.OCI_LAYER) for name, raw in raws.items()}
    for tag, top, step in (("app:1", "app1", APP1_STEP), ("app:2", "app2", APP2_STEP)):
        cfg = I.make_config([I.sha256(raws["base"]), I.sha256(raws[top])], created_by=[BASE_STEP, step])
        lay.add_ref(lay.image([descs["base"], descs[top]], cfg), tag)
    lay.finish()
    return layout
