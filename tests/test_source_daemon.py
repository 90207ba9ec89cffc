"""``docker-daemon:`` against a real podman API service, and ``-`` (an archive on stdin).

A podman ``system service`` with its own storage under this module's temp dir stands in
for the Docker daemon: it serves Docker's compat API, export endpoint included. Images
go in with ``podman load`` from docker-archives skopeo made of umoci images, and the
same archives are the reference: what layerscope reads through the daemon or stdin
must equal what it reads from the file. Every run gets its own ``TMPDIR``, which
must be empty afterwards (the spooled export is removed at exit).

The tests that need no podman (stdin, errors from sockets that are no daemon) run
without it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import images as I
from conftest import Layerscope, Result

PODMAN = shutil.which("podman")
pytestmark = pytest.mark.skipif(not (shutil.which("skopeo") and shutil.which("umoci")),
                                reason="skopeo and umoci are needed to build the test images")

# the fields that name where an image came from, not what it is
SOURCE_FIELDS = ("path",)


# --------------------------------------------------------------------------
# images: docker-archives made by skopeo, loaded into podman
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def archives(umoci_image, simg, tmp_path_factory) -> dict[str, Path]:
    """name:tag -> docker-archive: ``demo/app:v1`` (4 layers, whiteouts), ``x/one:1`` and
    ``x/two:latest`` (the savings images sharing two layers); ``oci`` is v1 as an oci-archive."""
    w = tmp_path_factory.mktemp("daemon-archives")
    out = {}
    for ref, src in [("demo/app:v1", f"oci:{umoci_image.layout}:v1"), ("x/one:1", f"oci:{simg.layout}:one"),
                     ("x/two:latest", f"oci:{simg.layout}:two")]:
        path = w / (ref.replace("/", "_").replace(":", "_") + ".tar")
        I.skopeo("copy", "-q", src, f"docker-archive:{path}:{ref}")
        out[ref] = path
    out["oci"] = w / "v1.oci.tar"
    I.skopeo("copy", "-q", f"oci:{umoci_image.layout}:v1", f"oci-archive:{out['oci']}:v1")
    return out


@pytest.fixture(scope="module")
def daemon(archives, tmp_path_factory):
    """``unix://SOCKET`` of a podman API service holding the archives' images."""
    if PODMAN is None:
        pytest.skip("podman is not installed: no daemon to export images from")
    work = tmp_path_factory.mktemp("podman")
    sockdir = Path(tempfile.mkdtemp(prefix="ls-podman-", dir="/tmp"))  # unix socket paths: < 108 bytes
    sock = sockdir / "podman.sock"
    opts = [PODMAN, "--root", work / "root", "--runroot", work / "run", "--tmpdir", work / "libpod",
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    opts = [str(o) for o in opts]
    env = dict(os.environ, TMPDIR=str(work))  # podman's own temp files (the export is one)
    log = open(work / "service.log", "wb")
    proc = subprocess.Popen(opts + ["system", "service", "--time=0", f"unix://{sock}"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not _answers(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"podman system service did not start: {(work / 'service.log').read_text()[-2000:]}")
            time.sleep(0.05)
        for ref, path in archives.items():
            if ref != "oci":
                p = subprocess.run(opts + ["load", "-q", "-i", str(path)], env=env, capture_output=True, text=True,
                                   timeout=I.TIMEOUT)
                assert p.returncode == 0, f"podman load {path}: {p.stderr}"
        yield f"unix://{sock}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
        log.close()
        shutil.rmtree(sockdir, ignore_errors=True)


def _answers(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(sock))
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.")
    except OSError:
        return False


# --------------------------------------------------------------------------
# running layerscope with DOCKER_HOST, stdin and its own TMPDIR
# --------------------------------------------------------------------------

@pytest.fixture
def run(ls: Layerscope, tmp_path):
    """``run(*args, host=, pipe=)``: the CLI with TMPDIR a fresh dir asserted empty afterwards."""
    n = [0]

    def _run(*args, host: str | None = None, pipe: Path | None = None) -> Result:
        n[0] += 1
        tmp = tmp_path / f"tmpdir{n[0]}"
        tmp.mkdir()
        env = dict(ls.env, TMPDIR=str(tmp))
        env.pop("DOCKER_HOST", None)
        if host is not None:
            env["DOCKER_HOST"] = host
        argv = [str(a) for a in args]
        # stdin: a pipe with `cat PIPE` at the other end (a stream, not a file), else nothing
        cat = subprocess.Popen(["cat", str(pipe)], stdout=subprocess.PIPE) if pipe else None
        try:
            p = subprocess.run(ls.cmd + argv, capture_output=True, text=True, timeout=I.TIMEOUT, env=env,
                               stdin=cat.stdout if cat else subprocess.DEVNULL)
        finally:
            if cat:
                cat.stdout.close()
                cat.wait()
        assert "Traceback" not in p.stderr, p.stderr
        assert list(tmp.iterdir()) == [], f"layerscope {' '.join(argv)} left {list(tmp.rglob('*'))}"
        return Result(p.returncode, p.stdout, p.stderr, argv)
    return _run


def _without_source(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    for f in SOURCE_FIELDS:
        doc["image"].pop(f, None)
    return doc


def _one_line_error(res: Result, *words: str) -> str:
    assert res.rc == 2, f"rc={res.rc} stdout={res.out[:300]!r} stderr={res.err!r}"
    assert len(res.err_lines) == 1, res.err
    line = res.err_lines[0]
    assert line.startswith("layerscope: error: "), line
    for w in words:
        assert w in line, f"{w!r} not in {line!r}"
    return line


# --------------------------------------------------------------------------
# docker-daemon: equals the archive
# --------------------------------------------------------------------------

@pytest.mark.parametrize("ref", ["demo/app:v1", "x/one:1"])
def test_inspect_through_the_daemon_equals_the_archive(daemon, archives, run, ref):
    got = run("inspect", f"docker-daemon:{ref}", "--json", host=daemon).json()
    want = run("inspect", archives[ref], "--json").json()
    assert got["image"]["path"] == f"docker-daemon:{ref}"
    assert _without_source(got) == _without_source(want)
    # the parts that say it is the same image, spelt out
    assert got["image"]["config_digest"] == want["image"]["config_digest"]
    assert [l["diff_id"] for l in got["layers"]] == [l["diff_id"] for l in want["layers"]]
    assert got["efficiency"] == want["efficiency"]
    if ref == "demo/app:v1":  # several layers, whiteouts, waste: not a trivial equality
        assert len(want["layers"]) == 4 and want["efficiency"]["wasted_bytes"] > 0


def test_the_whiteout_image_really_has_whiteouts(daemon, run):
    doc = run("changes", "docker-daemon:demo/app:v1", "--json", host=daemon).json()
    assert "etc/todelete" in json.dumps(doc)


def test_changes_and_ls_through_the_daemon_equal_the_archive(daemon, archives, run):
    for cmd in (["changes", "--json"], ["ls", "-R", "--json"]):
        got = run(*cmd[:1], "docker-daemon:demo/app:v1", *cmd[1:], host=daemon)
        want = run(*cmd[:1], archives["demo/app:v1"], *cmd[1:])
        assert got.rc == want.rc == 0, (got.err, want.err)
        a, b = json.loads(got.out), json.loads(want.out)
        a.get("image", {}).pop("path", None)
        b.get("image", {}).pop("path", None)
        assert a == b, cmd


def test_no_tag_means_latest_and_ids_work(daemon, archives, run):
    want = _without_source(run("inspect", archives["x/two:latest"], "--json").json())
    by_name = run("inspect", "docker-daemon:x/two", "--json", host=daemon).json()
    assert _without_source(by_name) == want
    config_digest = want["image"]["config_digest"]
    for spelt in (config_digest, config_digest.split(":")[1][:12]):
        doc = _without_source(run("inspect", f"docker-daemon:{spelt}", "--json", host=daemon).json())
        assert doc["image"].pop("ref") is None  # exported by ID: the archive names no tag
        assert doc == dict(want, image={k: v for k, v in want["image"].items() if k != "ref"}), spelt


def test_a_proxy_in_the_environment_does_not_capture_the_socket(daemon, monkeypatch):
    from layerscope.source.daemon import export_from_daemon

    monkeypatch.setenv("DOCKER_HOST", daemon)
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # nobody there
    path = export_from_daemon("x/one:1")
    assert os.path.getsize(path) > 4 << 20  # the 4 MiB file and the rest
    os.unlink(path)


def test_compare_daemon_against_archive_finds_no_difference(daemon, archives, run):
    res = run("compare", "docker-daemon:demo/app:v1", archives["demo/app:v1"], "--exit-code", host=daemon)
    assert res.rc == 0, res.out + res.err
    res = run("compare", "docker-daemon:demo/app:v1", "docker-daemon:x/one:1", "--exit-code", host=daemon)
    assert res.rc == 1, res.err


def test_savings_across_daemon_images_equals_the_archives(daemon, archives, run):
    got = run("savings", "docker-daemon:x/one:1", "docker-daemon:x/two", "--json", host=daemon).json()
    want = run("savings", archives["x/one:1"], archives["x/two:latest"], "--json").json()
    # a daemon's image is named by the spec it was asked by; everything else (bytes saved by
    # layer, file, chunk) is equal
    assert [i["name"] for i in got["images"]] == ["docker-daemon:x/one:1", "docker-daemon:x/two"]
    for doc in (got, want):
        for i in doc["images"]:
            i.pop("name")
    assert got == want
    assert want["totals"]["layer"]["bytes"] < want["totals"]["naive"]["bytes"]  # they do share layers


# --------------------------------------------------------------------------
# the daemon's errors: one line, exit 2
# --------------------------------------------------------------------------

def test_no_daemon_at_docker_host(run, tmp_path):
    host = f"unix://{tmp_path}/no-such.sock"
    line = _one_line_error(run("inspect", "docker-daemon:demo/app:v1", host=host), host, "DOCKER_HOST",
                           "is it running?")
    assert "no Docker daemon" in line


def test_a_socket_nobody_listens_on(run):
    sockdir = Path(tempfile.mkdtemp(prefix="ls-dead-", dir="/tmp"))
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(str(sockdir / "dead.sock"))  # bound, never listening: connection refused
            _one_line_error(run("inspect", "docker-daemon:a:1", host=f"unix://{sockdir}/dead.sock"),
                            "no Docker daemon", "DOCKER_HOST")
    finally:
        shutil.rmtree(sockdir)


def test_unknown_image_is_named(daemon, run):
    _one_line_error(run("inspect", "docker-daemon:no/such:image", host=daemon), "no/such:image", "has no image",
                    daemon)


def test_the_daemons_own_message_for_other_refusals(daemon, run):
    line = _one_line_error(run("inspect", "docker-daemon:Bad//Name:x", host=daemon), "HTTP 500", "Bad//Name:x")
    assert "invalid reference format" in line  # podman's words, from the JSON message field


def test_bad_docker_host(run):
    _one_line_error(run("inspect", "docker-daemon:a:1", host="ssh://somewhere"), "DOCKER_HOST", "ssh://somewhere")


class _FakeDaemon:
    """A unix socket that answers every request with ``reply`` and then hangs up (or, with
    ``reply=None``, says nothing): what a daemon that dies mid-export looks like."""

    def __init__(self, reply: bytes | None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ls-fake-", dir="/tmp"))
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(self.dir / "d.sock"))
        self.sock.listen(4)
        self.reply = reply
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    host = property(lambda self: f"unix://{self.dir}/d.sock")

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                if self.reply is None:
                    self.stop.wait(30)
                else:
                    conn.sendall(self.reply)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        shutil.rmtree(self.dir)


def _chunked(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n" + \
        b"%x\r\n" % len(body) + body + b"\r\n"


def test_a_connection_dropped_mid_export(run, archives):
    head = archives["demo/app:v1"].read_bytes()[:100_000]
    fake = _FakeDaemon(_chunked(head))  # no terminating 0-chunk: the export was cut
    try:
        _one_line_error(run("inspect", "docker-daemon:demo/app:v1", host=fake.host), "truncated export",
                        "demo/app:v1", fake.host)
    finally:
        fake.close()


def test_an_export_that_is_no_tar_is_caught_by_the_archive_reader(run):
    fake = _FakeDaemon(b"HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nthis is not a tar archive\n")
    try:
        _one_line_error(run("inspect", "docker-daemon:a:1", host=fake.host), "docker-daemon:a:1: not an image")
    finally:
        fake.close()


def test_a_daemon_that_never_answers_times_out(monkeypatch, tmp_path):
    from layerscope.errors import BadInputError
    from layerscope.source import daemon as D

    fake = _FakeDaemon(None)
    try:
        monkeypatch.setenv("DOCKER_HOST", fake.host)
        monkeypatch.setattr(D, "READ_TIMEOUT", 0.3)
        with pytest.raises(BadInputError, match=r"sent nothing for 0.3 s while exporting a:latest"):
            D.export_from_daemon("a")
    finally:
        fake.close()


def test_names_the_daemon_is_asked_for():
    from layerscope.source.daemon import daemon_name

    assert daemon_name("alpine") == "alpine:latest"
    assert daemon_name("docker.io/library/alpine:3.20") == "docker.io/library/alpine:3.20"
    assert daemon_name("localhost:5000/app") == "localhost:5000/app:latest"
    assert daemon_name("app@sha256:" + "a" * 64) == "app@sha256:" + "a" * 64
    assert daemon_name("sha256:" + "b" * 64) == "sha256:" + "b" * 64
    assert daemon_name("e155f1840135") == "e155f1840135"


# --------------------------------------------------------------------------
# '-': an archive on standard input
# --------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["demo/app:v1", "oci"])
def test_stdin_equals_the_archive(archives, run, which):
    got = run("inspect", "-", "--json", pipe=archives[which]).json()
    want = run("inspect", archives[which], "--json").json()
    assert got["image"]["path"] == "-"
    assert _without_source(got) == _without_source(want)
    assert got["image"]["format"] == want["image"]["format"]


def test_empty_stdin_is_one_line(run):
    _one_line_error(run("inspect", "-", "--json"), "standard input is empty")


def test_stdin_that_is_no_archive(run, tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00" * 10 + b"junk" * 1000)
    _one_line_error(run("inspect", "-", pipe=junk), "layerscope: error: -: not an image")  # not the temp file


def test_the_spooled_archive_lives_in_tmpdir_until_exit(ls, archives, tmp_path):
    """The readers reopen the spooled file by path: it is there while the process runs, under
    TMPDIR, and gone when it exits (what makes the TMPDIR checks above mean something)."""
    code = ("import layerscope, os; img = layerscope.open_image('-'); "
            "p = img.layers[0].container.path; print(p, os.path.getsize(p))")
    with open(archives["demo/app:v1"], "rb") as f:
        p = subprocess.run([ls.cmd[0], "-c", code], env=dict(ls.env, TMPDIR=str(tmp_path)), stdin=f,
                           capture_output=True, text=True, timeout=I.TIMEOUT)
    assert p.returncode == 0, p.stderr
    path, size = p.stdout.split()
    assert Path(path).parent.parent == tmp_path and int(size) == archives["demo/app:v1"].stat().st_size
    assert not Path(path).exists() and list(tmp_path.iterdir()) == []
