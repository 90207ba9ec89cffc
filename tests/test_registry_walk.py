"""Fleet inputs for ``savings`` (issue #16): a registry walked through its catalog and tag
lists (a real docker-registry on loopback, two pages a listing so pagination is exercised),
``--repos``/``--tags``, ``--from-file``; and against a small stand-in server, what a broken
or hostile registry does: a catalog that is off (401/404), a Link to another host, a paging
loop, a tag list that fails."""

from __future__ import annotations

import http.server
import json
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

import images as I
import registry_server as R
from layerscope.errors import BadInputError, UsageError
from layerscope.source.registry import catalog as W
from layerscope.source.registry.client import Client

# ---- the version-aware sort and the tag rules (no registry) ---------------------------------


def test_version_aware_sort():
    tags = ["1.10", "1.9", "1.2.1", "1.2", "v10", "v2", "2", "10", "latest", "1.2-rc1", "01"]
    assert sorted(tags, key=W.version_key) == ["01", "1.2", "1.2-rc1", "1.2.1", "1.9", "1.10", "2", "10",
                                               "latest", "v2", "v10"]
    assert sorted(["a10b", "a9b", "a9a"], key=W.version_key) == ["a9a", "a9b", "a10b"]


@pytest.mark.parametrize("rule, want", [
    ("all", ["1.9", "1.10", "2", "latest"]),
    ("latest", ["latest"]),
    (2, ["2", "latest"]),
    (9, ["1.9", "1.10", "2", "latest"]),
])
def test_pick_tags(rule, want):
    assert W.pick_tags(["latest", "2", "1.10", "1.9", "1.9"], rule) == want


def test_latest_without_a_latest_tag_is_the_highest_by_the_sort():
    assert W.pick_tags(["9", "10", "1.0"], "latest") == ["10"]
    assert W.pick_tags([], "latest") == [] and W.pick_tags([], 3) == []


@pytest.mark.parametrize("text", ["0", "-1", "newest", "", "1.5"])
def test_bad_tag_rules(text):
    with pytest.raises(UsageError):
        W.parse_tag_rule(text)


def test_parse_registry():
    assert W.parse_registry("docker://127.0.0.1:5000") == ("127.0.0.1:5000", "")
    assert W.parse_registry("docker://reg.example/team/") == ("reg.example", "team")
    assert W.parse_registry("docker://docker.io") == ("registry-1.docker.io", "")
    for bad in ("docker://", "docker://bad_host", "docker://h.example/UPPER"):
        with pytest.raises(UsageError):
            W.parse_registry(bad)


def test_spec_file(tmp_path):
    f = tmp_path / "fleet.txt"
    f.write_text("# the fleet\n\n  docker://r.example/a:1  \n#docker://r.example/b:1\nimg.tar:x:1\n")
    assert W.read_spec_file(str(f)) == ["docker://r.example/a:1", "img.tar:x:1"]
    with pytest.raises(UsageError):
        W.read_spec_file(str(tmp_path / "missing.txt"))


def test_page_size_from_the_environment(monkeypatch):
    from layerscope.source.registry import limits

    monkeypatch.setenv("LAYERSCOPE_REGISTRY_PAGE", "2")
    assert limits.page_size() == 2
    for bad in ("0", "x", "100001"):
        monkeypatch.setenv("LAYERSCOPE_REGISTRY_PAGE", bad)
        with pytest.raises(UsageError):
            limits.page_size()


# ---- a stand-in registry that answers the listings as a test says ----------------------------

class Fake:
    """HTTP on loopback: ``routes[path](query) -> (status, headers, body)``; counts requests."""

    def __init__(self) -> None:
        self.routes: dict = {}
        self.hits: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                u = urlsplit(self.path)
                fake.hits.append(self.path)
                if u.path == "/v2/":
                    status, headers, body = 200, {}, b"{}"
                elif u.path in fake.routes:
                    status, headers, body = fake.routes[u.path]({k: v[0] for k, v in parse_qs(u.query).items()})
                else:
                    status, headers, body = 404, {}, b'{"errors":[{"code":"NAME_UNKNOWN"}]}'
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.port = R.free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.handle_error = lambda *a: None  # a client that hangs up on a refused page
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def listing(self, path: str, key: str, names: list[str], *, name: str | None = None) -> None:
        """``path`` paginated as the spec says (lexical order, n, last, a relative Link to the next page)."""
        names = sorted(names)
        def answer(q):
            n = int(q.get("n", 100))
            rest = [x for x in names if "last" not in q or x > q["last"]]
            page, more = rest[:n], len(rest) > n
            headers = {"Link": f'<{path}?n={n}&last={page[-1]}>; rel="next"'} if more else {}
            doc = {key: page} if name is None else {"name": name, key: page}
            return 200, headers, doc
        self.routes[path] = answer

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake():
    f = Fake()
    yield f
    f.stop()


def _client(host: str) -> Client:
    return Client(host, "127.0.0.1", credentials=False)


def test_both_listings_are_paged(fake):
    fake.listing("/v2/_catalog", "repositories", ["a", "b/c", "b/d"])
    fake.listing("/v2/a/tags/list", "tags", ["1", "2", "10", "9", "x"], name="a")
    fake.listing("/v2/b/c/tags/list", "tags", ["latest", "3"], name="b/c")
    fake.listing("/v2/b/d/tags/list", "tags", ["0.1"], name="b/d")
    got = W.walk(f"docker://{fake.host}", tags_rule="all", page=2, client=_client(fake.host))
    h = fake.host
    assert got == [f"docker://{h}/a:{t}" for t in ("1", "2", "9", "10", "x")] + \
        [f"docker://{h}/b/c:3", f"docker://{h}/b/c:latest", f"docker://{h}/b/d:0.1"]
    assert sum(p.startswith("/v2/a/tags/list") for p in fake.hits) == 3  # 5 tags, 2 a page
    assert sum(p.startswith("/v2/_catalog") for p in fake.hits) == 2
    bars = []

    def bar(total, what):
        bars.append([what, total, 0])
        return (lambda n: bars[-1].__setitem__(2, bars[-1][2] + n)), lambda: bars[-1].append("closed")

    W.walk(f"docker://{fake.host}", page=2, client=_client(fake.host), bar=bar)
    assert bars == [["tag lists", 3, 3, "closed"]]
    assert W.walk(f"docker://{fake.host}/b", tags_rule="latest", page=2, client=_client(fake.host)) == \
        [f"docker://{h}/b/c:latest", f"docker://{h}/b/d:0.1"]


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_catalog_that_is_off_says_to_use_from_file(fake, ls, status):
    fake.routes["/v2/_catalog"] = lambda q: (status, {}, {"errors": [{"code": "UNAUTHORIZED"}]})
    with pytest.raises(BadInputError) as e:
        W.walk(f"docker://{fake.host}", client=_client(fake.host))
    assert "--from-file" in str(e.value) and fake.host in str(e.value)
    r = ls("savings", "--from-registry", f"docker://{fake.host}")
    assert r.rc == 2 and len(r.err_lines) == 1
    assert r.err.startswith(f"layerscope: error: docker://{fake.host}: cannot list the repositories")
    assert "--from-file" in r.err


def test_a_link_to_another_host_is_not_followed(fake):
    other = Fake()
    try:
        other.listing("/v2/_catalog", "repositories", ["evil"])
        fake.routes["/v2/_catalog"] = lambda q: (200, {"Link": f'<http://{other.host}/v2/_catalog?n=2&last=a>; '
                                                                 'rel="next"'}, {"repositories": ["a"]})
        with pytest.raises(BadInputError, match="another host"):
            W.repositories(_client(fake.host), page=2)
        # nor a page on this host outside the listing
        fake.routes["/v2/_catalog"] = lambda q: (200, {"Link": '</v2/a/manifests/x>; rel="next"'},
                                                 {"repositories": ["a"]})
        with pytest.raises(BadInputError, match="leaves the listing"):
            W.repositories(_client(fake.host), page=2)
        assert other.hits == []
    finally:
        other.stop()


def test_a_paging_loop_stops(fake):
    # back to the same page: stopped as soon as it is seen again
    fake.routes["/v2/_catalog"] = lambda q: (200, {"Link": '</v2/_catalog?n=2>; rel="next"'}, {"repositories": ["a"]})
    with pytest.raises(BadInputError, match="paging loop"):
        W.repositories(_client(fake.host), page=2)
    assert len([p for p in fake.hits if p.startswith("/v2/_catalog")]) == 1
    # a new link every time (the same names): stopped at the cap
    fake.hits.clear()
    count = iter(range(10**6))
    fake.routes["/v2/_catalog"] = lambda q: (200, {"Link": f'</v2/_catalog?n=2&last=a{next(count)}>; rel="next"'},
                                             {"repositories": ["a", "b"]})
    with pytest.raises(BadInputError, match="more than 5 pages"):
        W.repositories(_client(fake.host), page=2, max_pages=5)
    assert len([p for p in fake.hits if p.startswith("/v2/_catalog")]) == 5


def test_a_page_too_large_is_refused(fake, monkeypatch):
    from layerscope.source.registry import limits

    monkeypatch.setattr(limits, "MAX_PAGE_BYTES", 1000)
    fake.routes["/v2/_catalog"] = lambda q: (200, {}, {"repositories": ["a" * 50] * 100})
    with pytest.raises(BadInputError, match="larger than 1000 bytes"):
        W.repositories(_client(fake.host))


def test_a_failing_tag_list_is_a_warning_and_the_walk_goes_on(fake):
    fake.listing("/v2/_catalog", "repositories", ["bad", "gone", "good", "loop", "Not_A_Name"])
    fake.routes["/v2/bad/tags/list"] = lambda q: (403, {}, {"errors": []})
    fake.listing("/v2/good/tags/list", "tags", ["1", "bad tag!"], name="good")
    fake.routes["/v2/loop/tags/list"] = lambda q: (200, {"Link": '</v2/loop/tags/list?n=2>; rel="next"'},
                                                   {"name": "loop", "tags": ["1"]})
    warned = []
    got = W.walk(f"docker://{fake.host}", page=2, client=_client(fake.host), warn=lambda w, m: warned.append((w, m)))
    assert got == [f"docker://{fake.host}/good:1"]
    where = {w for w, _ in warned}
    assert {f"docker://{fake.host}/{n}" for n in ("bad", "gone", "loop", "good")} <= where
    assert any("access denied (403)" in m and m.endswith("repository skipped") for _, m in warned)
    assert any("not a repository name" in m for _, m in warned)


def test_nothing_found_is_a_usage_error(fake, ls, tmp_path):
    fake.listing("/v2/_catalog", "repositories", ["a"])
    fake.listing("/v2/a/tags/list", "tags", ["1"], name="a")
    r = ls("savings", "--from-registry", f"docker://{fake.host}", "--repos", "nomatch/*")
    assert r.rc == 2 and "no images found in" in r.err and "nomatch/*" in r.err
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n")
    r = ls("savings", "--from-file", empty)
    assert r.rc == 2 and f"no images found in {empty}" in r.err
    r = ls("savings")
    assert r.rc == 2 and "--from-registry" in r.err
    r = ls("savings", "--from-registry", f"docker://{fake.host}", "--tags", "newest")
    assert r.rc == 2 and "--tags" in r.err


# ---- a real registry -------------------------------------------------------------------------

needs_registry = pytest.mark.skipif(not R.have_registry(), reason="needs docker-registry and skopeo")

# repository -> tags; three images (by seed) spread over them
FLEET = {
    "team/api": ["1.0", "1.2", "1.10", "latest"],
    "team/web": ["9", "10", "2"],
    "team/worker": ["v1"],
    "ops/db": ["1.0", "2.0", "latest"],
    "ops/cache": ["a", "b"],
    "ops/proxy": ["0.9"],
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    if not R.have_registry():
        pytest.skip("needs docker-registry and skopeo")
    reg = R.Registry(tmp_path_factory.mktemp("fleet-registry")).start()
    src = tmp_path_factory.mktemp("fleet-src")
    layouts = []
    for seed in (101, 102, 103):
        I.build_simple_oci_layout(src / f"s{seed}", compress="gzip", seed=seed)
        layouts.append(f"oci:{src / f's{seed}'}:latest")
    k = 0
    for repo, tags in FLEET.items():
        for tag in tags:
            reg.push(layouts[k % len(layouts)], f"{repo}:{tag}")
            k += 1
    yield reg
    reg.stop()


def _specs(reg, picks: dict[str, list[str]]) -> list[str]:
    return [f"docker://{reg.host}/{repo}:{t}" for repo in sorted(picks) for t in picks[repo]]


LATEST = {"team/api": ["latest"], "team/web": ["10"], "team/worker": ["v1"], "ops/db": ["latest"],
          "ops/cache": ["b"], "ops/proxy": ["0.9"]}


@needs_registry
@pytest.mark.parametrize("repos, rule, want", [
    ((), "latest", LATEST),
    ((), "all", {r: sorted(t, key=W.version_key) for r, t in FLEET.items()}),
    (("team/*",), 2, {"team/api": ["1.10", "latest"], "team/web": ["9", "10"], "team/worker": ["v1"]}),
    (("ops/d*", "team/web"), "latest", {"ops/db": ["latest"], "team/web": ["10"]}),
])
def test_walk_a_real_registry(fleet, repos, rule, want, monkeypatch):
    monkeypatch.setenv("LAYERSCOPE_REGISTRY_PAGE", "2")  # 6 repositories: 3 catalog pages
    got = W.walk(f"docker://{fleet.host}", repos=repos, tags_rule=rule)
    assert got == _specs(fleet, want)


@needs_registry
def test_a_prefix_and_the_catalog_pages(fleet, monkeypatch):
    monkeypatch.setenv("LAYERSCOPE_REGISTRY_PAGE", "2")
    log_before = fleet.log.read_text(errors="replace").count("GET /v2/_catalog")
    assert W.walk(f"docker://{fleet.host}/ops") == _specs(fleet, {k: v for k, v in LATEST.items() if k.startswith("ops/")})
    assert fleet.log.read_text(errors="replace").count("GET /v2/_catalog") - log_before >= 3


@needs_registry
def test_savings_from_registry_equals_the_same_specs_given(fleet, ls, tmp_path):
    ls.env["LAYERSCOPE_REGISTRY_PAGE"] = "2"
    ls.env["LAYERSCOPE_CACHE"] = str(tmp_path / "cache")
    r = ls("savings", "--json", "--progress", "--from-registry", f"docker://{fleet.host}", "--repos", "team/*",
           "--tags", "2")
    walked = r.json()
    assert "tag lists" in r.err and "images" in r.err  # the bars, on stderr
    specs = _specs(fleet, {"team/api": ["1.10", "latest"], "team/web": ["9", "10"], "team/worker": ["v1"]})
    assert _names(walked) == specs
    given = ls("savings", "--json", "--no-progress", *specs).json()
    assert walked == given
    # --from-file: the same list, with a comment and a blank line, and a spec given twice
    listed = tmp_path / "fleet.txt"
    listed.write_text("# team images\n\n" + "\n".join(specs) + "\n")
    assert ls("savings", "--json", "--no-progress", "--from-file", listed).json() == given
    assert ls("savings", "--json", "--no-progress", specs[0], "--from-file", listed).json() == given


def _names(doc: dict) -> list[str]:
    return [im["name"] if isinstance(im, dict) else im for im in doc["images"]]


@needs_registry
def test_wrong_credentials_on_the_catalog(tmp_path, ls):
    """An htpasswd registry asked with the wrong password: 401, one line, --from-file suggested,
    no secret in the output."""
    (tmp_path / "htpasswd").write_text(R.bcrypt_htpasswd("alice", "right-pass"))
    reg = R.Registry(tmp_path / "reg", auth={"htpasswd": {"realm": "test", "path": tmp_path / "htpasswd"}}).start()
    try:
        auth = tmp_path / "auth.json"
        import base64

        auth.write_text(json.dumps({"auths": {reg.host: {"auth": base64.b64encode(b"alice:wrong-pass").decode()}}}))
        ls.env["REGISTRY_AUTH_FILE"] = str(auth)
        r = ls("savings", "--from-registry", f"docker://{reg.host}")
        assert r.rc == 2 and len(r.err_lines) == 1, r.err
        assert f"docker://{reg.host}: cannot list the repositories" in r.err and "401" in r.err
        assert "--from-file" in r.err and "wrong-pass" not in r.err + r.out
    finally:
        reg.stop()
