"""The package-database readers (layerscope/packages), one file at a time.

Real databases where the tools are here: an rpmdb.sqlite written by ``rpm -i``
of a package built with ``rpmbuild``; a dpkg status written by ``dpkg
--root`` is not possible without installing into a root, so dpkg's stanza
rules are checked on text in dpkg's own format (the interop test in
test_compare.py covers a real ``dpkg -x`` + status). Garbage gives a
warning, never an exception.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from layerscope.packages import Package, read

STATUS = b"""\
Package: bash
Essential: yes
Status: install ok installed
Installed-Size: 7164
Architecture: amd64
Version: 5.2.15-2+b7
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.
 .
 Version: not-a-field

Package: removed-but-configured
Status: deinstall ok config-files
Architecture: all
Version: 1.0

Package: never-there
Status: purge ok not-installed
Architecture: all
Version: 1.0

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9
Multi-Arch: same

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9
Installed-Size: 12986
"""


def test_dpkg_status():
    pkgs, warnings = read("var/lib/dpkg/status", STATUS)
    assert warnings == []
    assert [(p.name, p.version, p.arch, p.size, p.key) for p in pkgs] == [
        ("bash", "5.2.15-2+b7", "amd64", 7164 * 1024, "bash:amd64"),
        ("libc6", "2.36-9", "i386", None, "libc6:i386"),
        ("libc6", "2.36-9", "amd64", 12986 * 1024, "libc6:amd64"),
    ]
    assert {p.type for p in pkgs} == {"deb"}


def test_distroless_status_d():
    """distroless writes one stanza per file, without Status; .md5sums files are not databases."""
    stanza = b"Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\nInstalled-Size: 3\n"
    pkgs, _ = read("var/lib/dpkg/status.d/tzdata", stanza)
    assert pkgs == [Package("deb", "tzdata", "2024a-0+deb12u1", "tzdata:all", "var/lib/dpkg/status.d/tzdata", "all",
                            3072)]
    assert read("var/lib/dpkg/status.d/tzdata.md5sums", b"abc  usr/share/x\n") == ([], [])
    # a status file without Status fields lists nothing installed
    assert read("var/lib/dpkg/status", stanza) == ([], [])


APK = b"""\
C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
S:383152
I:622592
T:the musl c library
o:musl

C:Q1def=
P:busybox
V:1.36.1-r5
A:x86_64
I:946176

P:no-version
A:x86_64
"""


def test_apk_installed():
    pkgs, warnings = read("lib/apk/db/installed", APK)
    assert warnings == []
    assert [(p.name, p.version, p.arch, p.size) for p in pkgs] == [
        ("musl", "1.2.4-r2", "x86_64", 622592), ("busybox", "1.36.1-r5", "x86_64", 946176)]


@pytest.mark.parametrize("path", ["usr/lib/python3.11/site-packages/Foo_Bar-2.0.dist-info/METADATA",
                                  "usr/lib/python3/dist-packages/Foo_Bar-2.0.egg-info/PKG-INFO",
                                  "usr/lib/python3/dist-packages/Foo_Bar-2.0.egg-info"])
def test_python_metadata(path):
    data = b"Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 2.0\nSummary: x\n\nName: not a header\n"
    (p,), warnings = read(path, data)
    assert warnings == [] and (p.type, p.name, p.version) == ("pypi", "Foo_Bar", "2.0")
    site = path.split("/Foo_Bar")[0]
    assert p.key == f"foo-bar@/{site}"  # normalised name, and where it is installed
    pkgs, warnings = read(path, b"\xff\xfe garbage \x00")
    assert pkgs == [] and len(warnings) == 1 and warnings[0].startswith(f"/{path}: no Name or Version")


def test_npm_package_json():
    (p,), _ = read("app/node_modules/@scope/x/package.json", b'{"name": "@scope/x", "version": "1.0.0"}')
    assert (p.type, p.name, p.version, p.key) == ("npm", "@scope/x", "1.0.0", "/app/node_modules/@scope/x")
    (p,), _ = read("app/node_modules/nameless/package.json", b'{"version": "0.1.0"}')
    assert p.name == "nameless"
    for bad, why in ((b"{", "not valid JSON"), (b"[1, 2]", "not a JSON object"), (b"\xff\xfe", "not valid JSON"),
                     (b'{"name": "x"}', "no version")):
        pkgs, warnings = read("app/node_modules/x/package.json", bad)
        assert pkgs == [] and len(warnings) == 1 and why in warnings[0], (bad, warnings)


def test_not_a_database_reads_nothing():
    assert read("etc/passwd", b"root:x:0:0\n") == ([], [])


# ---- rpm ------------------------------------------------------------------------------

SPEC = """\
Name: {name}
Version: {version}
Release: {release}
{epoch}
Summary: test package
License: MIT
BuildArch: noarch
%description
test
%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {name} > %{{buildroot}}/usr/share/{name}/file.txt
%files
/usr/share/{name}/file.txt
"""


@pytest.fixture(scope="module")
def rpmdb(tmp_path_factory) -> Path:
    """An rpmdb.sqlite written by rpm itself, with two packages built by rpmbuild."""
    if not (shutil.which("rpmbuild") and shutil.which("rpm")):
        pytest.skip("rpm and rpmbuild are needed (apt-get install rpm)")
    w = tmp_path_factory.mktemp("rpm")
    rpms = []
    for name, version, release, epoch in (("hello-ls", "1.2", "3", "Epoch: 2"), ("other-ls", "0.9", "1.el9", "")):
        top = w / name
        (top / "SPECS").mkdir(parents=True)
        spec = top / "SPECS" / f"{name}.spec"
        spec.write_text(SPEC.format(name=name, version=version, release=release, epoch=epoch))
        subprocess.run(["rpmbuild", "--define", f"_topdir {top}", "-bb", spec], check=True, capture_output=True)
        rpms += list((top / "RPMS" / "noarch").glob("*.rpm"))
    root = w / "root"
    root.mkdir()
    base = ["rpm", "--root", root, "--dbpath", "/var/lib/rpm"]
    subprocess.run(base + ["--initdb"], check=True, capture_output=True)
    subprocess.run(base + ["-i", "--nodeps", "--noscripts", *rpms], check=True, capture_output=True)
    db = root / "var/lib/rpm/rpmdb.sqlite"
    assert db.exists()
    return db


def test_rpmdb_written_by_rpm(rpmdb):
    pkgs, warnings = read("var/lib/rpm/rpmdb.sqlite", rpmdb.read_bytes())
    assert warnings == []
    assert sorted((p.name, p.version, p.arch, p.key) for p in pkgs) == [
        ("hello-ls", "2:1.2-3", "noarch", "hello-ls.noarch"), ("other-ls", "0.9-1.el9", "noarch", "other-ls.noarch")]
    assert all(p.type == "rpm" and isinstance(p.size, int) and p.size > 0 for p in pkgs)
    # the Fedora 36+ location reads the same
    assert read("usr/lib/sysimage/rpm/rpmdb.sqlite", rpmdb.read_bytes())[0][0].name in ("hello-ls", "other-ls")


def test_rpmdb_damage_is_a_warning(rpmdb, tmp_path):
    data = rpmdb.read_bytes()
    for bad in (b"", b"not sqlite" * 100, data[: len(data) // 3]):
        pkgs, warnings = read("var/lib/rpm/rpmdb.sqlite", bad)
        assert pkgs == [] and len(warnings) == 1 and "rpm sqlite database" in warnings[0]
    # a sqlite file whose header blobs are garbage: the packages that read are kept, the rest counted
    db = tmp_path / "rpmdb.sqlite"
    db.write_bytes(data)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=DELETE")
    hnum = con.execute("SELECT hnum FROM Packages LIMIT 1").fetchone()[0]
    con.execute("UPDATE Packages SET blob = ? WHERE hnum = ?", (b"\x00\x00\xff\xff" * 3, hnum))
    con.commit()
    con.close()
    pkgs, warnings = read("var/lib/rpm/rpmdb.sqlite", db.read_bytes())
    assert len(pkgs) == 1 and warnings == ["/var/lib/rpm/rpmdb.sqlite: 1 package header(s) could not be read; "
                                           "those packages are not compared"]


def test_python_metadata_headers_end_at_the_first_blank_line():
    """Only the header block counts (a description may hold 'Name:' lines); CRLF, folding, case."""
    from layerscope.packages.python import read_metadata

    data = (b"Metadata-Version: 2.1\r\nname:  Foo.Bar \r\nVERSION: 1.0\r\nSummary: one\r\n  two\r\n"
            b"Version: 9.9\r\n\r\nName: not-me\nVersion: 0\n" + b"x" * 100_000)
    (pkg,), notes = read_metadata("usr/lib/python3/dist-packages/Foo.Bar-1.0.dist-info/METADATA", data)
    assert (pkg.name, pkg.version, pkg.key, notes) == ("Foo.Bar", "1.0", "foo-bar@/usr/lib/python3/dist-packages", [])
    assert read_metadata("x.dist-info/METADATA", b"Summary: s\n\nName: a\nVersion: 1\n")[0] == []
