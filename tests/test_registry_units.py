"""The registry's parts that need no registry: references, challenges, where credentials come
from (auth files, docker config, credential helpers), and the blob cache (verification,
eviction, one download at a time across processes)."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import stat
import time

import pytest

from layerscope.errors import BadInputError, UsageError
from layerscope.source.registry import auth as A
from layerscope.source.registry import client as C
from layerscope.source.registry.cache import BlobCache
from layerscope.source.registry.reference import DOCKER_HUB, is_loopback, parse_reference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, host, repo, tag, digest, short", [
    ("alpine", DOCKER_HUB, "library/alpine", "latest", None, "alpine:latest"),
    ("alpine:3.20", DOCKER_HUB, "library/alpine", "3.20", None, "alpine:3.20"),
    ("docker.io/library/alpine:3.20", DOCKER_HUB, "library/alpine", "3.20", None, "alpine:3.20"),
    ("index.docker.io/bitnami/redis", DOCKER_HUB, "bitnami/redis", "latest", None, "bitnami/redis:latest"),
    ("ghcr.io/org/app:1.2", "ghcr.io", "org/app", "1.2", None, "ghcr.io/org/app:1.2"),
    (f"localhost:5000/app@{D}", "localhost:5000", "app", None, D, f"localhost:5000/app@{D}"),
    (f"127.0.0.1:5000/x/y:t@{D}", "127.0.0.1:5000", "x/y", "t", D, f"127.0.0.1:5000/x/y:t@{D}"),
    ("[::1]:5000/a:b", "[::1]:5000", "a", "b", None, "[::1]:5000/a:b"),
])
def test_references(text, host, repo, tag, digest, short):
    r = parse_reference(text)
    assert (r.host, r.repository, r.tag, r.digest, r.short()) == (host, repo, tag, digest, short)
    assert r.ref == (digest or tag)


@pytest.mark.parametrize("text", ["Alpine", "a:b:c", "ghcr.io/", "a b", "x:" + "t" * 200, "bad_host:x/y"])
def test_bad_references(text):
    with pytest.raises((UsageError, BadInputError)):
        parse_reference(text)


def test_a_malformed_digest_never_becomes_a_path():
    with pytest.raises(BadInputError):
        parse_reference("x@sha256:../../etc/passwd")


def test_loopback_and_insecure(monkeypatch):
    assert is_loopback("localhost") and is_loopback("127.0.0.5") and is_loopback("::1")
    assert not is_loopback("10.0.0.1") and not is_loopback("registry.example")
    monkeypatch.setattr(C, "_insecure", set())
    monkeypatch.delenv("LAYERSCOPE_INSECURE_REGISTRIES", raising=False)
    assert not C._is_insecure("registry.example:5000", "registry.example")
    monkeypatch.setenv("LAYERSCOPE_INSECURE_REGISTRIES", "other:1, registry.example:5000")
    assert C._is_insecure("registry.example:5000", "registry.example")
    monkeypatch.delenv("LAYERSCOPE_INSECURE_REGISTRIES")
    C.allow_insecure(["registry.example"])
    assert C._is_insecure("registry.example:5000", "registry.example")


def test_challenges():
    scheme, p = A.parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                                  'scope="repository:library/alpine:pull"')
    assert scheme == "bearer" and p == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                                        "scope": "repository:library/alpine:pull"}
    assert A.parse_challenge('Basic realm="x, y"') == ("basic", {"realm": "x, y"})
    assert A.parse_challenge("") == ("", {})


# ---- credentials -------------------------------------------------------------------------

@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "docker").mkdir()
    return tmp_path


def _auths(entries: dict) -> str:
    return json.dumps({"auths": {k: {"auth": base64.b64encode(v.encode()).decode()} for k, v in entries.items()}})


def test_credentials_in_order(home, monkeypatch):
    assert A.find_credentials("r.example") is None
    (home / "docker" / "config.json").write_text(_auths({"r.example": "d:1", "https://index.docker.io/v1/": "hub:2"}))
    assert (A.find_credentials("r.example").user, A.find_credentials(DOCKER_HUB).user) == ("d", "hub")
    (home / "run" / "containers").mkdir(parents=True)
    (home / "run" / "containers" / "auth.json").write_text(_auths({"r.example": "xdg:3"}))
    assert A.find_credentials("r.example").user == "xdg"
    (home / "env.json").write_text(_auths({"r.example": "env:s3cret-env"}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(home / "env.json"))
    c = A.find_credentials("r.example")
    assert (c.user, c.secret, c.source) == ("env", "s3cret-env", str(home / "env.json"))
    assert "s3cret" not in repr(c) and "s3cret" not in str(c) and "hidden" in repr(c)


def test_identity_tokens_and_helpers(home, monkeypatch):
    (home / "docker" / "config.json").write_text(json.dumps(
        {"auths": {"t.example": {"auth": "", "identitytoken": "refresh-me"}}, "credHelpers": {"h.example": "fake"},
         "credsStore": "fake"}))
    t = A.find_credentials("t.example")
    assert t.identity_token and t.secret == "refresh-me"
    bindir = home / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-fake"
    helper.write_text('#!/bin/sh\nread s\nif [ "$s" = "h.example" ]; then '
                      'echo \'{"Username":"u","Secret":"p"}\'; else echo "credentials not found" >&2; exit 1; fi\n')
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    c = A.find_credentials("h.example")
    assert (c.user, c.secret, c.source) == ("u", "p", "docker-credential-fake")
    assert A.find_credentials("other.example") is None  # the store has nothing: anonymous
    helper.write_text("#!/bin/sh\necho not json\n")
    with pytest.raises(BadInputError, match="docker-credential-fake"):
        A.find_credentials("h.example")


@pytest.mark.parametrize("content", ["{not json", "[]", json.dumps({"auths": {"r.example": {"auth": "%%%"}}})])
def test_a_broken_auth_file_is_one_clear_error(home, content):
    (home / "docker" / "config.json").write_text(content)
    with pytest.raises(BadInputError) as e:
        A.find_credentials("r.example")
    assert "config.json" in str(e.value)


# ---- the blob cache ------------------------------------------------------------------------

def _digest(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_cache_keeps_what_fetch_wrote_and_drops_a_failed_fetch(tmp_path):
    cache = BlobCache(str(tmp_path), max_bytes=None)
    data = b"x" * 1000
    path = cache.ensure(_digest(data), lambda f: f.write(data))
    assert open(path, "rb").read() == data and cache.has(_digest(data))
    assert cache.ensure(_digest(data), lambda f: pytest.fail("fetched twice")) == path

    def broken(f):
        f.write(b"half")
        raise BadInputError("the registry went away")

    with pytest.raises(BadInputError):
        cache.ensure(_digest(b"other"), broken)
    assert not cache.has(_digest(b"other"))
    assert not [p for p in os.listdir(os.path.dirname(path)) if p.startswith(".partial")]


def test_eviction_takes_the_least_recently_used(tmp_path):
    cache = BlobCache(str(tmp_path), max_bytes=2500)
    blobs = [bytes([k]) * 1000 for k in range(3)]
    for k, b in enumerate(blobs[:2]):
        cache.ensure(_digest(b), lambda f, b=b: f.write(b))
        os.utime(cache.path(_digest(b)), (1000 + k, 1000 + k))
    cache.has(_digest(blobs[0]))  # a use: blob 1 is now the least recent
    cache.ensure(_digest(blobs[2]), lambda f: f.write(blobs[2]))
    assert [cache.has(_digest(b)) for b in blobs] == [True, False, True]


def _fetch_once(root: str, digest: str, data: bytes, log: str) -> None:
    def fetch(f):
        with open(log, "a") as out:
            out.write("fetch\n")
        time.sleep(0.5)
        f.write(data)

    BlobCache(root).ensure(digest, fetch)


def test_two_processes_download_a_blob_once(tmp_path):
    data = b"shared" * 1000
    log = str(tmp_path / "log")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_fetch_once, args=(str(tmp_path / "c"), _digest(data), data, log)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert open(log).read() == "fetch\n"
    assert BlobCache(str(tmp_path / "c")).has(_digest(data))
