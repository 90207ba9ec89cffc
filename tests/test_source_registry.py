"""``docker://`` sources against a real registry on loopback (Debian's docker-registry):
images pushed with skopeo read the same as the archives and layouts they came from
(single-platform, a multi-platform index, gzip and zstd layers); auth (htpasswd basic,
token, credential helpers, auth files) with no secret in any output; the blob cache;
faults (a registry gone mid-blob, a blob with wrong bytes, a dropped connection resumed)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

import images as I
import registry_server as R

pytestmark = pytest.mark.skipif(not R.have_registry(), reason="needs docker-registry and skopeo")

SOURCE_FIELDS = ("path", "format", "ref", "name")  # where an image came from: allowed to differ


def _same_result(a: dict, b: dict) -> None:
    """Two --json documents of one image read from two sources: equal but for the source fields."""
    a, b = json.loads(json.dumps(a)), json.loads(json.dumps(b))
    for doc in (a, b):
        for key in ("image", "a", "b"):
            if isinstance(doc.get(key), dict):
                for f in SOURCE_FIELDS:
                    doc[key].pop(f, None)
        if isinstance(doc.get("images"), list):
            for im in doc["images"]:
                for f in SOURCE_FIELDS:
                    im.pop(f, None)
    assert a == b


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    r = R.Registry(tmp_path_factory.mktemp("registry")).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def pushed(reg, tmp_path_factory) -> dict[str, tuple[str, str]]:
    """name -> (docker:// reference, the local spec it was pushed from)."""
    tmp = tmp_path_factory.mktemp("reg-src")
    out = {}
    for comp in ("gzip", "zstd"):
        lay = tmp / f"simple-{comp}"
        I.build_simple_oci_layout(lay, compress=comp, seed=91)
        out[comp] = (reg.push(f"oci:{lay}:latest", f"simple:{comp}"), f"{lay}:latest")
    multi = tmp / "multi"
    lay = I.OCILayout(multi)
    descs = [I._platform_image(lay, plat, 70 + k)[0] for k, plat in enumerate(["linux/amd64", "linux/arm64"])]
    index = lay.blob(I.jbytes(I.W.oci_index(descs)), I.OCI_INDEX)
    lay.add_ref(index, "multi")
    lay.finish()
    out["multi"] = (reg.push(f"oci:{multi}:multi", "multi:1", "--all"), f"{multi}:multi")
    archive = tmp / "simple.docker.tar"
    I.build_simple_oci_layout(tmp / "for-docker", compress="gzip", seed=92)
    import subprocess

    subprocess.run(["skopeo", "copy", "--quiet", f"oci:{tmp / 'for-docker'}:latest", f"docker-archive:{archive}:x/y:1"],
                   check=True, capture_output=True)
    out["schema2"] = (reg.push(f"docker-archive:{archive}", "schema2:1", "--format", "v2s2"), str(archive))
    return out


@pytest.fixture
def cache_env(ls, tmp_path, monkeypatch):
    """The CLI with a blob and scan cache of this test's own."""
    monkeypatch.setitem(ls.env, "LAYERSCOPE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("name", ["gzip", "zstd", "schema2"])
def test_inspect_from_the_registry_equals_the_source(ls, pushed, cache_env, name):
    ref, local = pushed[name]
    remote = ls("inspect", "--json", ref).json()
    assert remote["image"]["format"] == "registry" and remote["image"]["path"].startswith("docker://")
    if name != "schema2":  # skopeo kept the blobs as they were: same digests, same manifest
        _same_result(remote, ls("inspect", "--json", local).json())
    else:  # the docker-archive's layers were compressed on the way in: the same layers by diff_id
        mine = ls("inspect", "--json", local).json()
        assert [l["diff_id"] for l in remote["layers"]] == [l["diff_id"] for l in mine["layers"]]
        assert remote["image"]["config_digest"] == mine["image"]["config_digest"]
        assert remote["efficiency"] == mine["efficiency"]
    if name != "schema2":
        for cmd in (["changes", "--json"], ["ls", "--json"]):
            _same_result(ls(*cmd, ref).json(), ls(*cmd, local).json())


@pytest.mark.parametrize("plat", ["linux/amd64", "linux/arm64"])
def test_a_multi_platform_index(ls, pushed, cache_env, plat):
    ref, local = pushed["multi"]
    remote = ls("inspect", "--json", "--platform", plat, ref).json()
    assert remote["image"]["platform"] == plat
    _same_result(remote, ls("inspect", "--json", "--platform", plat, local).json())
    res = ls("inspect", "--json", "--platform", "linux/s390x", ref)
    assert res.rc == 2 and len(res.err_lines) == 1 and "linux/s390x" in res.err


def test_compare_and_savings_over_the_registry(ls, pushed, cache_env):
    (ga, gl), (za, zl) = pushed["gzip"], pushed["zstd"]
    remote = ls("compare", "--json", ga, za).json()
    local = ls("compare", "--json", gl, zl).json()
    _same_result(remote, local)
    s_remote = ls("savings", "--json", ga, za, "--compress-sample", "1").json()
    s_local = ls("savings", "--json", gl, zl, "--compress-sample", "1").json()
    _same_result(s_remote, s_local)


def test_the_second_run_downloads_no_blob(ls, reg, pushed, cache_env):
    ref, _ = pushed["gzip"]
    before = reg.blob_gets("simple")
    first = ls("inspect", "--json", ref).json()
    fetched = reg.blob_gets("simple") - before
    assert fetched >= 4  # config and three layers
    second = ls("inspect", "--json", ref).json()
    assert reg.blob_gets("simple") - before == fetched, "the warm run downloaded blobs"
    assert first == second
    blobs = list((cache_env / "blobs" / "sha256").iterdir())
    assert len(blobs) >= 5 and not [b for b in blobs if b.name.startswith(".partial")]
    # --no-cache: downloaded again, into a temporary directory that is gone afterwards
    ls("inspect", "--json", "--no-cache", ref).json()
    assert reg.blob_gets("simple") - before > fetched
    assert sorted(p.name for p in (cache_env / "blobs" / "sha256").iterdir()) == sorted(b.name for b in blobs)


def test_store_add_from_the_registry(ls, pushed, cache_env, tmp_path):
    ref, local = pushed["gzip"]
    store = tmp_path / "store"
    ls("store", "init", "--store", store)
    res = ls("store", "add", "--store", store, ref)
    assert res.rc == 0, res.err
    out = tmp_path / "back.tar"
    assert ls("store", "export", "--store", store, "127.0.0.1", "-o", out).rc != 0  # no such name
    name = ls("store", "ls", "--store", store, "--json").json()["images"][0]["name"]
    assert ls("store", "export", "--store", store, name, "-o", out).rc == 0
    back = ls("inspect", "--json", out).json()
    assert [l["diff_id"] for l in back["layers"]] == [l["diff_id"] for l in ls("inspect", "--json", local).json()["layers"]]


def test_errors_are_one_line(ls, reg, pushed, cache_env):
    for ref, words in [(f"docker://{reg.host}/nope:1", "not found"),
                       (f"docker://{reg.host}/simple:nope", "not found"),
                       ("docker://127.0.0.1:1/x:1", "cannot reach"),
                       ("docker://Bad_Name", "not a valid repository"),
                       (f"docker://{reg.host}/simple@sha256:{'0' * 64}", "not found")]:
        res = ls("inspect", ref)
        assert res.rc == 2 and len(res.err_lines) == 1 and words in res.err, (ref, res.err)


# ---- faults --------------------------------------------------------------------------

@pytest.fixture
def big(reg, tmp_path) -> tuple[str, str]:
    """An image with a 6 MB incompressible layer (a blob worth cutting in the middle)."""
    lay = tmp_path / "big"
    o = I.OCILayout(lay)
    # a blob of its own per test: the registry keeps blobs by digest across repositories, and
    # one test here damages its copy
    raw = I.make_tar([("file", "big.bin", I.rand_bytes(6_000_000, int.from_bytes(os.urandom(4), "little")))])
    blob = I.gzip_bytes(raw)
    d = o.blob(blob, I.OCI_LAYER_GZIP)
    m = o.image([d], I.make_config([I.sha256(raw)]))
    o.add_ref(m, "latest")
    o.finish()
    name = f"big{os.urandom(3).hex()}"
    return reg.push(f"oci:{lay}:latest", f"{name}:1"), d["digest"]


def test_a_dropped_connection_is_resumed(ls, reg, big, cache_env):
    ref, digest = big
    proxy = R.CuttingProxy(reg.port, cut_after=3_000_000, then_refuse=False)
    try:
        res = ls("inspect", "--json", ref.replace(reg.host, proxy.host))
    finally:
        proxy.close()
    assert proxy.cuts == 1 and proxy.ranges >= 1  # cut once, then asked for the rest
    assert res.rc == 0, res.err
    assert res.json()["layers"][0]["digest"] == digest


def test_the_registry_gone_mid_blob(ls, reg, big, cache_env):
    ref, digest = big
    proxy = R.CuttingProxy(reg.port, cut_after=3_000_000, then_refuse=True)
    try:
        res = ls("inspect", ref.replace(reg.host, proxy.host))
    finally:
        proxy.close()
    assert res.rc == 2 and len(res.err_lines) == 1 and digest in res.err, res.err
    assert not (cache_env / "blobs" / "sha256" / digest.split(":")[1]).exists()
    assert not list((cache_env / "blobs" / "sha256").glob(".partial-*"))


def test_a_blob_with_wrong_bytes(ls, reg, big, cache_env):
    ref, digest = big
    f = reg.blob_file(digest)
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 1
    f.write_bytes(bytes(data))
    res = ls("inspect", ref)
    # the reader (which reads the blob as it arrives) or the download says it first
    assert res.rc == 2 and len(res.err_lines) == 1 and digest in res.err, res.err
    assert "blob digest mismatch" in res.err or "do not match the digest" in res.err, res.err
    assert not (cache_env / "blobs" / "sha256" / digest.split(":")[1]).exists()


# ---- auth ----------------------------------------------------------------------------

USER, PASSWORD = "alice", "s3cret-Pa55word"


@pytest.fixture(scope="module")
def basic_reg(tmp_path_factory, pushed):
    root = tmp_path_factory.mktemp("basic-registry")
    (root / "htpasswd").write_text(R.bcrypt_htpasswd(USER, PASSWORD))
    r = R.Registry(root, auth={"htpasswd": {"realm": "layerscope-test", "path": root / "htpasswd"}}).start()
    _, local = pushed["gzip"]
    ref = r.push(f"oci:{local}", "private:1", creds=f"{USER}:{PASSWORD}")
    yield r, ref
    r.stop()


@pytest.fixture(scope="module")
def token_reg(tmp_path_factory, pushed):
    root = tmp_path_factory.mktemp("token-registry")
    tokens = R.TokenServer(root / "tokens", {USER: PASSWORD})
    r = R.Registry(root, auth=tokens.registry_auth()).start()
    _, local = pushed["gzip"]
    ref = r.push(f"oci:{local}", "private:1", creds=f"{USER}:{PASSWORD}")
    yield r, ref, tokens
    r.stop()
    tokens.stop()


def _auth_file(tmp_path: Path, host: str, password: str = PASSWORD) -> Path:
    p = tmp_path / "auth.json"
    p.write_text(json.dumps({"auths": {host: {"auth": base64.b64encode(f'{USER}:{password}'.encode()).decode()}}}))
    return p


def _no_secret(res, *secrets: str) -> None:
    for s in secrets:
        assert s not in res.out and s not in res.err, "a secret was printed"


@pytest.fixture
def clean_auth(ls, tmp_path, monkeypatch, cache_env):
    """No credentials but the ones a test sets: HOME, DOCKER_CONFIG and XDG_RUNTIME_DIR of its own."""
    for k in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR"):
        monkeypatch.delitem(ls.env, k, raising=False)
    monkeypatch.setitem(ls.env, "HOME", str(tmp_path / "home"))
    monkeypatch.setitem(ls.env, "DOCKER_CONFIG", str(tmp_path / "docker"))
    return ls


@pytest.mark.parametrize("kind", ["basic", "token"])
def test_auth_from_an_auth_file(clean_auth, basic_reg, token_reg, tmp_path, monkeypatch, kind):
    ls = clean_auth
    r, ref = basic_reg if kind == "basic" else token_reg[:2]
    anonymous = ls("inspect", ref)
    assert anonymous.rc == 2 and len(anonymous.err_lines) == 1, anonymous.err
    monkeypatch.setitem(ls.env, "REGISTRY_AUTH_FILE", str(_auth_file(tmp_path, r.host, "wrong-password")))
    wrong = ls("inspect", ref)
    assert wrong.rc == 2 and len(wrong.err_lines) == 1 and USER in wrong.err, wrong.err
    _no_secret(wrong, "wrong-password")
    monkeypatch.setitem(ls.env, "REGISTRY_AUTH_FILE", str(_auth_file(tmp_path, r.host)))
    good = ls("inspect", "--json", ref)
    assert good.rc == 0, good.err
    _no_secret(good, PASSWORD)
    if kind == "token":
        assert token_reg[2].issued >= 1


def test_a_credential_helper(clean_auth, basic_reg, tmp_path, monkeypatch):
    ls = clean_auth
    r, ref = basic_reg
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-test"
    calls = tmp_path / "calls"
    helper.write_text("#!/bin/sh\n"
                      f"read server; echo \"$1 $server\" >> {calls}\n"
                      f"printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps({"credHelpers": {r.host: "test"}}))
    monkeypatch.setitem(ls.env, "PATH", f"{bindir}{os.pathsep}{ls.env['PATH']}")
    res = ls("inspect", "--json", ref)
    assert res.rc == 0, res.err
    assert calls.read_text().split() == ["get", r.host]
    _no_secret(res, PASSWORD)
    # credsStore, and a helper that is not installed
    (tmp_path / "docker" / "config.json").write_text(json.dumps({"credsStore": "absent"}))
    res = ls("inspect", ref)
    assert res.rc == 2 and "docker-credential-absent" in res.err and len(res.err_lines) == 1


# ---- retries, redirects, digests, TLS policy ---------------------------------------------

def test_retried_after_503_and_redirected(ls, reg, pushed, cache_env):
    """A front that answers 503 twice, then sends every request on to the registry with a 307:
    retried with backoff, redirects followed, the same image."""
    ref, local = pushed["gzip"]
    front = R.FlakyFront(reg.host, fail=2)
    try:
        res = ls("inspect", "--json", ref.replace(reg.host, front.host))
    finally:
        front.stop()
    assert res.rc == 0, res.err
    assert front.failed == 2 and front.redirected >= 5  # the probe, the manifest, config and layers
    _same_result(res.json(), ls("inspect", "--json", local).json())


def test_by_digest(ls, reg, pushed, cache_env):
    ref, local = pushed["multi"]
    index = ls("inspect", "--json", "--platform", "linux/arm64", ref).json()
    by_digest = ref.rsplit(":", 1)[0] + "@" + I.sha256(
        (Path(local.rsplit(":", 1)[0]) / "blobs" / "sha256" / json.loads(
            (Path(local.rsplit(":", 1)[0]) / "index.json").read_text())["manifests"][0]["digest"].split(":")[1]
         ).read_bytes())
    again = ls("inspect", "--json", "--platform", "linux/arm64", by_digest).json()
    _same_result(index, again)


def test_a_pinned_digest_with_a_warm_cache_needs_no_registry(ls, reg, pushed, cache_env, tmp_path, monkeypatch):
    """A digest names the same bytes for ever: once cached, ``docker://HOST/REPO@sha256:...``
    is read without a request (the registry may be gone), and no credential is looked up."""
    ref, local = pushed["gzip"]
    first = ls("inspect", "--json", ref).json()
    digest = first["image"]["manifest_digest"]
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        gone = f"127.0.0.1:{s.getsockname()[1]}"
    pinned = f"docker://{gone}/simple@{digest}"
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps({"credsStore": "absent"}))
    monkeypatch.setitem(ls.env, "DOCKER_CONFIG", str(tmp_path / "docker"))  # a lookup would fail
    res = ls("inspect", "--json", pinned)
    assert res.rc == 0, res.err
    _same_result(res.json(), first)
    # a damaged cached manifest is not trusted: asked for again (here: of a registry that is gone)
    cached = cache_env / "blobs" / "sha256" / digest.split(":")[1]
    cached.write_bytes(cached.read_bytes().replace(b"{", b"{ ", 1))
    res = ls("inspect", pinned)
    assert res.rc == 2 and len(res.err_lines) == 1 and gone in res.err
    # and from the registry it comes back checked
    monkeypatch.delitem(ls.env, "DOCKER_CONFIG")
    _same_result(ls("inspect", "--json", f"{ref.rsplit(':', 1)[0]}@{digest}").json(), first)
    assert I.sha256(cached.read_bytes()) == digest


@pytest.mark.skipif(R.outward_ip() is None, reason="no address but loopback")
def test_plain_http_only_to_hosts_named_insecure(ls, tmp_path_factory, pushed, cache_env, monkeypatch):
    """A registry on a routable address is spoken to over HTTPS; plain HTTP only with
    --insecure-registry (or LAYERSCOPE_INSECURE_REGISTRIES); HTTP(S)_PROXY and NO_PROXY apply."""
    r = R.Registry(tmp_path_factory.mktemp("outward"), listen="0.0.0.0").start()
    try:
        _, local = pushed["gzip"]
        r.push(f"oci:{local}", "simple:1")
        ref = f"docker://{R.outward_ip()}:{r.port}/simple:1"
        refused = ls("inspect", ref)
        assert refused.rc == 2 and len(refused.err_lines) == 1, refused.err
        assert ls("inspect", "--insecure-registry", f"{R.outward_ip()}:{r.port}", ref).rc == 0
        # through the proxy the environment names (and around it, for a host in NO_PROXY)
        proxy = R.ForwardProxy()
        try:
            monkeypatch.setitem(ls.env, "HTTP_PROXY", proxy.url)
            monkeypatch.setitem(ls.env, "LAYERSCOPE_INSECURE_REGISTRIES", f"{R.outward_ip()}:{r.port}")
            monkeypatch.setitem(ls.env, "LAYERSCOPE_CACHE", str(cache_env) + "-proxied")
            assert ls("inspect", ref).rc == 0
            assert any("/v2/simple/blobs/" in c for c in proxy.carried), proxy.carried
            before = len(proxy.carried)
            monkeypatch.setitem(ls.env, "NO_PROXY", R.outward_ip())
            monkeypatch.setitem(ls.env, "LAYERSCOPE_CACHE", str(cache_env) + "-direct")
            assert ls("inspect", ref).rc == 0 and len(proxy.carried) == before
        finally:
            proxy.stop()
    finally:
        r.stop()


def test_a_layer_is_read_while_it_downloads(reg, big, cache_env, monkeypatch):
    """The reader does not wait for the whole blob: it follows the download through a map of
    the file being written, and what it reads is the blob (checked against its digest)."""
    from layerscope.source import open_image
    from layerscope.source.registry.image import GrowingRegion

    ref, digest = big
    monkeypatch.setenv("LAYERSCOPE_CACHE", str(cache_env))
    proxy = R.CuttingProxy(reg.port, cut_after=1 << 40, then_refuse=False, delay=0.01)
    try:
        image = open_image(ref.replace(reg.host, proxy.host))
        layer = image.layers[0]
        region = layer.container.region(layer.name)
        assert isinstance(region, GrowingRegion) and region.stream.got < region.length
        stream = layer.open(where="test")
        while stream.read(1 << 20):
            pass
        stream.finish()  # the blob digest and the diff_id, from what was read as it came
        assert stream.blob_digest == digest
        layer.container._pending[layer.name].result(timeout=30)  # the download's own check and rename
    finally:
        proxy.close()
    assert (cache_env / "blobs" / "sha256" / digest.split(":")[1]).exists()
