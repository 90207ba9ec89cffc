"""Every image of a registry, for fleet-wide figures (issue #16): the catalog, then each
repository's tag list, both paginated by ``Link: <...>; rel="next"`` (OCI distribution spec).

``docker://HOST[:PORT][/PREFIX]`` names the registry (and, with PREFIX, the repositories
named PREFIX or under ``PREFIX/``). Which tags of a repository are taken:

* ``latest`` (the default): the tag named ``latest`` when there is one, else the highest
  tag by :func:`version_key`. A registry keeps no usable date for a tag (and does
  not order its list by one), so "newest" can only be read from the names.
* ``N``: the N highest tags by :func:`version_key` (``latest`` is a name like any other).
* ``all``: every tag.

A listing is bounded (``limits.py``: ``MAX_PAGES`` pages of ``MAX_PAGE_BYTES``), a
``Link`` is followed only to the same listing on the same registry (a relative link,
or an absolute one to the same scheme, host and port), and a link back to a page
already read ends the walk as an error: a hostile registry can make neither a
request elsewhere nor an endless walk. Names and tags are checked against the
reference grammar before they go into a URL or a spec.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlencode, urljoin, urlsplit

from ...errors import BadInputError, LayerscopeError, UsageError, os_error
from . import limits
from .reference import _COMPONENT, _HOST, _HUB_ALIASES, _TAG, DOCKER_HUB, Reference

TagRule = str | int  # "all", "latest" or a count
Warn = Callable[[str, str], None]  # (where, message)
Ticker = Callable[[int], None]
# (total, what) -> (tick or None, done): a progress bar, as analysis.layers.progress_bar makes them
BarFactory = Callable[[int, str], "tuple[Ticker | None, Callable[[], None]]"]
MAX_SPEC_FILE = 64 << 20  # a --from-file list: a million specs fit
THREADS = 8  # tag lists asked at once: requests are round trips, not work
_RUNS = re.compile(r"(\d+)|(\D+)")
_LINK = re.compile(r"<([^>]*)>\s*((?:;[^,;]*)*)")
_REL_NEXT = re.compile(r';\s*rel\s*=\s*"?([^";]*)"?', re.I)


def parse_registry(text: str) -> tuple[str, str]:
    """``docker://HOST[:PORT][/PREFIX]`` -> (host, prefix); UsageError naming what is wrong."""
    rest = text.removeprefix("docker://").rstrip("/")
    host, _, prefix = rest.partition("/")
    if not host or not _HOST.match(host):
        raise UsageError(f"{text}: not a registry (docker://HOST[:PORT][/PREFIX])")
    if host in _HUB_ALIASES:
        host = DOCKER_HUB
    if prefix and not all(_COMPONENT.match(c) for c in prefix.split("/")):
        raise UsageError(f"{text}: {prefix!r} is not a repository name prefix (lowercase letters, digits, . _ -)")
    return host, prefix


def parse_tag_rule(text: str | int) -> TagRule:
    """``all``, ``latest`` or a positive count."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    elif isinstance(text, str) and text in ("all", "latest"):
        return text
    elif isinstance(text, str) and text.strip().isdigit():
        value = int(text)
    else:
        raise UsageError(f"--tags {text!r}: expected all, latest or a number of tags")
    if value < 1:
        raise UsageError(f"--tags {text!r}: the number of tags is at least 1")
    return value


def version_key(tag: str) -> tuple:
    """Sort key reading runs of digits as numbers: ``1.9 < 1.10 < 2``, ``v2 < v10``. Runs are
    compared in turn, digits before letters (as in ASCII), a prefix first (``1.2 < 1.2.1``,
    and so ``1.2 < 1.2-rc1``: pre-releases are not recognised)."""
    return tuple((0, int(d), d) if d else (1, 0, t) for d, t in _RUNS.findall(tag))


def pick_tags(tags: Iterable[str], rule: TagRule) -> list[str]:
    """The tags ``rule`` takes of ``tags``, lowest first by :func:`version_key`."""
    ordered = sorted(set(tags), key=version_key)
    if rule == "all":
        return ordered
    if rule == "latest":
        if not ordered:
            return []
        return ["latest"] if "latest" in ordered else ordered[-1:]
    return ordered[-int(rule):]


def _next(link: str | None, current: str, endpoint: str, where: str) -> str | None:
    """The URL of the next page a ``Link`` header names (None: the last page). Only the same
    listing (``endpoint``: scheme, host and path) is followed."""
    if not link:
        return None
    for m in _LINK.finditer(link):
        rels = [r.lower() for p in _REL_NEXT.findall(m.group(2)) for r in p.split()]
        if "next" not in rels:
            continue
        url = urljoin(current, m.group(1).strip())
        got, want = urlsplit(url), urlsplit(endpoint)
        if (got.scheme, got.netloc.lower()) != (want.scheme, want.netloc.lower()):
            raise BadInputError(f"the next page's link points to another host ({got.netloc or '?'}): "
                                "not followed", where=where)
        if got.path != want.path:
            raise BadInputError(f"the next page's link leaves the listing ({got.path!r}): not followed",
                                where=where)
        return url
    return None


def _pages(client, path: str, *, scope: str, what: str, where: str, max_pages: int,
           on_request: Callable[[], None] | None = None):
    """The bodies of a paginated listing, page by page."""
    base = client.base_url()
    url = base + path
    endpoint = base + urlsplit(path).path
    seen: set[str] = set()
    for n in range(max_pages):
        seen.add(url)
        split = urlsplit(url)
        data, link = client.page(split.path + (f"?{split.query}" if split.query else ""), scope=scope,
                                 what=what if n == 0 else f"{what} (page {n + 1})", where=where)
        if on_request:
            on_request()
        yield data
        url = _next(link, url, endpoint, where)
        if url is None:
            return
        if url in seen:
            raise BadInputError(f"{what}: the next page's link leads back to a page already read (a paging "
                                "loop): stopped", where=where)
    raise BadInputError(f"{what}: more than {max_pages} pages: stopped (a paging loop, or raise "
                        "LAYERSCOPE_REGISTRY_PAGE)", where=where)


def _names(data: bytes, key: str, what: str, where: str) -> list[str]:
    try:
        doc = json.loads(data)
        names = doc.get(key) if isinstance(doc, dict) else None
        if names is None and isinstance(doc, dict) and key in doc:
            return []  # a repository whose tags were all deleted: "tags": null
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise BadInputError(f"{what}: the registry answered something that is not a {{\"{key}\": [...]}} "
                            "document", where=where) from None
    return names


def _valid_repository(name: str) -> bool:
    return bool(name) and len(name) <= 255 and all(_COMPONENT.match(c) for c in name.split("/"))


def repositories(client, prefix: str = "", globs: Sequence[str] = (), *, page: int | None = None,
                 max_pages: int = limits.MAX_PAGES, warn: Warn | None = None) -> list[str]:
    """The repositories of the registry's catalog under ``prefix`` matching any of ``globs``
    (fnmatch on the whole name; none: all), sorted. A registry whose catalog is off or
    forbidden (Docker Hub's is) is one error that says to name the images in a file."""
    n = page or limits.page_size()
    where = f"docker://{client.host}"
    found: dict[str, None] = {}
    try:
        for data in _pages(client, f"/v2/_catalog?{urlencode({'n': n})}", scope="registry:catalog:*",
                           what="the catalog", where=where, max_pages=max_pages):
            names = _names(data, "repositories", "the catalog", where)
            if not names:
                break
            for name in names:
                found.setdefault(name, None)
    except LayerscopeError as e:
        status = getattr(e, "status", None)
        if status in (401, 403, 404):
            said = str(e).removeprefix(f"{where}: ")
            raise BadInputError(f"cannot list the repositories ({said}); many registries (Docker Hub among "
                                "them) turn the catalog off or keep it for admins: list the images in a "
                                "file and pass it with --from-file", where=where) from None
        raise
    out = []
    for name in found:
        if prefix and name != prefix and not name.startswith(prefix + "/"):
            continue
        if globs and not any(fnmatch.fnmatchcase(name, g) for g in globs):
            continue
        if not _valid_repository(name):
            if warn:
                warn(where, f"the catalog lists {name[:100]!r}, not a repository name: skipped")
            continue
        out.append(name)
    return sorted(out)


def tags(client, repository: str, *, page: int | None = None, max_pages: int = limits.MAX_PAGES,
         warn: Warn | None = None) -> list[str]:
    """Every tag of ``repository`` (valid tag names only), as the registry lists them."""
    n = page or limits.page_size()
    where = f"docker://{client.host}/{repository}"
    out: dict[str, None] = {}
    bad = 0
    for data in _pages(client, f"/v2/{repository}/tags/list?{urlencode({'n': n})}",
                       scope=f"repository:{repository}:pull", what="the tag list", where=where,
                       max_pages=max_pages):
        names = _names(data, "tags", "the tag list", where)
        if not names:
            break
        for t in names:
            if _TAG.match(t):
                out.setdefault(t, None)
            else:
                bad += 1
    if bad and warn:
        warn(where, f"{bad} tag(s) that are not valid tag names: skipped")
    return list(out)


def walk(registry: str, *, repos: Sequence[str] = (), tags_rule: TagRule = "latest", page: int | None = None,
         max_pages: int = limits.MAX_PAGES, warn: Warn | None = None, bar: BarFactory | None = None,
         client=None, threads: int = THREADS) -> list[str]:
    """The ``docker://HOST/REPO:TAG`` specs of ``registry`` (``docker://HOST[:PORT][/PREFIX]``):
    its repositories matching ``repos`` (fnmatch globs; none: all), each with the tags
    ``tags_rule`` picks, sorted by repository and then :func:`version_key`. A repository whose
    tag list fails is a ``warn(where, message)`` and skipped: one broken repository does not
    cost the fleet's figures. ``page``: entries per page (default ``LAYERSCOPE_REGISTRY_PAGE``)."""
    host, prefix = parse_registry(registry)
    rule = parse_tag_rule(tags_rule)
    if client is None:
        from .client import Client

        client = Client(host, Reference(host, "x", None, None).hostname)
    names = repositories(client, prefix, repos, page=page, max_pages=max_pages, warn=warn)
    tick, done = bar(len(names), "tag lists") if bar else (None, lambda: None)

    def one(name: str) -> list[str]:
        try:
            got = tags(client, name, page=page, max_pages=max_pages, warn=warn)
        except LayerscopeError as e:
            if warn:
                text = str(e)
                w = f"docker://{host}/{name}"
                warn(w, f"{text.removeprefix(w + ': ')}; repository skipped")
            got = []
        if tick:
            tick(1)
        return [f"docker://{host}/{name}:{t}" for t in pick_tags(got, rule)]

    try:
        if threads > 1 and len(names) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(threads, len(names))) as pool:
                lists = list(pool.map(one, names))
        else:
            lists = [one(name) for name in names]
    finally:
        done()
    return [spec for specs in lists for spec in specs]


def read_spec_file(path: str) -> list[str]:
    """The image specs of a ``--from-file`` list: one a line, blank lines and lines starting
    with ``#`` skipped, surrounding whitespace dropped (a spec is taken as written: a
    relative path is relative to the working directory, as on the command line)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(MAX_SPEC_FILE + 1)
    except OSError as e:
        raise os_error(e, "read this list of images", path, cls=UsageError) from None
    except UnicodeDecodeError:
        raise BadInputError("a list of images is UTF-8 text", where=path) from None
    if len(text) > MAX_SPEC_FILE:
        raise BadInputError(f"too large for a list of images ({MAX_SPEC_FILE >> 20} MiB at most)", where=path)
    out = []
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            out.append(s)
    return out
