"""The OCI distribution API v2, as far as reading images goes: manifests and blobs.

One :class:`Client` per registry host. It answers auth challenges (anonymous,
bearer tokens from the ``WWW-Authenticate`` realm as Docker Hub, ECR and GHCR
hand them out, basic), retries with backoff on 429, 5xx and dropped
connections (honouring ``Retry-After``), follows redirects (blobs are served
from object storage; urllib3 drops the ``Authorization`` header on a redirect
to another host), and resumes a dropped blob download with ``Range``. Blobs are
streamed to a file and hashed as they arrive (``read1``, up to a MiB: what the
socket has, so a drip-feed is seen as it drips; 840 MB/s over loopback here,
where ``readinto`` a reused MiB made 620, and httpx 220-235); a blob that does
not match its digest is an error, never a result. Responses are bounded
(limits.py: the read timeout, a minimum rate, MAX_MANIFEST, MAX_TOKEN,
MAX_REDIRECTS, a blob's descriptor size). The connection
pool is made on first use, so a worker process that finds its blobs cached
never makes one.

HTTPS by default; plain HTTP only to a loopback host or one named insecure
(``--insecure-registry HOST`` / ``LAYERSCOPE_INSECURE_REGISTRIES``), which are
also not held to a certificate.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Callable

from ...errors import BadInputError, DigestMismatchError, MissingBlobError
from ..digest import parse_digest
from . import limits
from .auth import Credentials, find_credentials, parse_challenge
from .reference import is_loopback

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")
MAX_MANIFEST = 4 << 20  # a manifest or index larger than this is hostile
MAX_TOKEN = 1 << 20
MAX_REDIRECTS = 10  # per request; a loop ends there, not retried
DISCARD_MAX = 1 << 16  # an error answer's body read to reuse its connection; past this it is closed
ATTEMPTS = 5  # tries of one request (a resumed blob gets its attempts back once it moves on)
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 10.0
PIECE = 1 << 20
_insecure: set[str] = set()


def allow_insecure(hosts) -> None:
    """Hosts (``HOST[:PORT]``) that may be spoken to over plain HTTP or without a valid certificate."""
    _insecure.update(h.strip() for h in hosts if h and h.strip())


def _is_insecure(host: str, hostname: str) -> bool:
    env = os.environ.get("LAYERSCOPE_INSECURE_REGISTRIES", "")
    named = _insecure | {h.strip() for h in env.split(",") if h.strip()}
    return host in named or hostname in named or is_loopback(hostname)


class Client:
    """Requests to one registry host, authorised and retried."""

    def __init__(self, host: str, hostname: str, *, credentials: Credentials | None | bool = True,
                 timeout: float | None = None) -> None:
        self.host = host
        self.hostname = hostname
        self.insecure = _is_insecure(host, hostname)
        # looked up when a registry first asks (a credential helper is a process, a keychain a prompt)
        self._creds_found = credentials is not True
        self._creds_value = None if credentials is True else (credentials or None)
        self._tokens: dict[str, str] = {}  # scope -> Authorization header value
        self._timeout = limits.timeout() if timeout is None else timeout
        self._min_rate = limits.min_rate()
        self._base: str | None = None
        self._pool = None

    @property
    def _creds(self) -> Credentials | None:
        if not self._creds_found:
            self._creds_value = find_credentials(self.host)
            self._creds_found = True
        return self._creds_value

    def _http(self):
        if self._pool is None:
            import urllib3

            kw = dict(num_pools=8, maxsize=8, cert_reqs="CERT_NONE" if self.insecure else "CERT_REQUIRED",
                      timeout=urllib3.Timeout(connect=min(10.0, self._timeout), read=self._timeout),
                      retries=urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=MAX_REDIRECTS,
                                            raise_on_redirect=True, raise_on_status=False),
                      headers={"User-Agent": "layerscope"})
            proxy = _proxy_for(self.host, self.hostname)
            self._pool = urllib3.ProxyManager(proxy, **kw) if proxy else urllib3.PoolManager(**kw)
            from .deadline import pool_classes

            self._pool.pool_classes_by_scheme = pool_classes(self._timeout)  # a head within the timeout
            if self.insecure:
                import warnings

                warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()

    def __getstate__(self):
        # a worker process gets its own connections and tokens (and only if it needs them)
        creds = self._creds_value if self._creds_found else True  # unasked: the worker asks if it must
        return {"host": self.host, "hostname": self.hostname, "insecure": self.insecure, "creds": creds,
                "base": self._base, "timeout": self._timeout}

    def __setstate__(self, state) -> None:
        self.__init__(state["host"], state["hostname"], credentials=state["creds"] or False,
                      timeout=state["timeout"])
        self.insecure = state["insecure"]
        self._base = state["base"]

    # ---- the API -------------------------------------------------------------------

    def manifest(self, repository: str, ref: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of the manifest or index ``ref`` (a tag or digest) names."""
        what = f"manifest {repository}:{ref}" if ":" not in ref else f"manifest {repository}@{ref}"
        if ":" in ref:  # a digest goes into the URL: checked before any request
            parse_digest(ref, where=f"{self.host}/{repository}")
        r = self._send("GET", repository, f"/v2/{repository}/manifests/{ref}", what,
                       headers={"Accept": ", ".join(MANIFEST_TYPES)})
        try:
            data = limits.read_bounded(r, MAX_MANIFEST, what, self.host, self._pace(what, self.host))
        finally:
            r.release_conn()
        media_type = (r.headers.get("content-type") or "").split(";")[0].strip()
        if media_type in SCHEMA1:
            raise BadInputError(f"{what} is a Docker schema 1 manifest (deprecated since 2017; layerscope reads "
                                "schema 2 and OCI)", where=self.host)
        if ":" in ref:
            algo, hex_ = parse_digest(ref, where=f"{self.host}/{repository}")
            digest = ref
            if hashlib.new(algo, data).hexdigest() != hex_:
                raise DigestMismatchError(f"{what}: the registry sent bytes that do not match the digest",
                                          where=self.host)
        else:
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            said = r.headers.get("docker-content-digest")
            if said and said.startswith("sha256:") and said != digest:
                raise DigestMismatchError(f"{what}: Docker-Content-Digest says {said}, the bytes are {digest}",
                                          where=self.host)
        return data, media_type, digest

    def blob_size(self, repository: str, digest: str) -> int:
        parse_digest(digest, where=f"{self.host}/{repository}")  # before it goes into a URL
        r = self._send("HEAD", repository, f"/v2/{repository}/blobs/{digest}", f"blob {digest}")
        r.release_conn()
        try:
            return int(r.headers["content-length"])
        except (KeyError, ValueError):
            raise BadInputError(f"blob {digest}: the registry states no size", where=f"{self.host}/{repository}") from None

    def fetch_blob(self, repository: str, digest: str, out, *, size: int | None = None,
                   progress: Callable[[int], None] | None = None) -> int:
        """Stream blob ``digest`` into the binary file ``out`` (at its start), resuming a dropped
        download with Range, and check its size and digest. Returns the bytes written.
        ``progress(n)``: the first ``n`` bytes of the blob are now in ``out`` (a restart from
        zero writes the same bytes again, so what a reader took stays right). ``out`` is never
        shortened while the download runs (a reader may have it mapped)."""
        from urllib3.exceptions import HTTPError

        algo, hex_ = parse_digest(digest, where=f"{self.host}/{repository}")
        where = f"{self.host}/{repository}"
        what = f"blob {digest}"
        hasher = hashlib.new(algo)
        got = 0
        tries = 0
        while True:
            headers = {"Range": f"bytes={got}-"} if got else {}
            r = self._send("GET", repository, f"/v2/{repository}/blobs/{digest}", what, headers=headers)
            pace = self._pace(what, where)  # from the headers on: retries and backoff are not the body's pace
            try:
                if got and r.status != 206:  # the range was not honoured: from the start
                    out.seek(0)
                    hasher, got = hashlib.new(algo), 0
                while piece := r.read1(PIECE):  # as it arrives: a drip-feed is seen, not waited on
                    n = len(piece)
                    out.write(piece)
                    hasher.update(piece)
                    got += n
                    if size is not None and got > size:
                        raise BadInputError(f"{what} is longer than the {size} bytes its descriptor says",
                                            where=where)
                    if progress is not None:
                        out.flush()  # in the page cache before anyone is told: readers map the file
                        progress(got)
                    pace.add(n)
                break
            except HTTPError as e:
                tries = 0 if got else tries  # moving on earns the attempts back
                tries += 1
                if tries >= ATTEMPTS:
                    raise BadInputError(f"{what}: the download failed {ATTEMPTS} times ({_reason(e)}) after "
                                        f"{got} bytes", where=where) from None
                _sleep(tries, None)
            finally:
                r.release_conn()
        if size is not None and got != size:
            raise BadInputError(f"{what} is {got} bytes, its descriptor says {size}", where=where)
        if size is None:
            out.truncate(got)  # a restarted download of unknown size may have left more behind
        if hasher.hexdigest() != hex_:
            raise DigestMismatchError(f"{what}: the registry sent bytes that do not match the digest",
                                      where=where)
        return got

    def page(self, path: str, *, scope: str, what: str, where: str) -> tuple[bytes, str | None]:
        """One page of a paginated listing (``/v2/_catalog``, ``/v2/NAME/tags/list``): its body, at
        most ``limits.MAX_PAGE_BYTES``, and its ``Link`` header (the next page, unchecked: the
        caller decides which links it follows). ``path`` includes the query."""
        r = self._send("GET", "", path, what, scope=scope, where=where, headers={"Accept": "application/json"})
        try:
            data = limits.read_bounded(r, limits.MAX_PAGE_BYTES, what, where, self._pace(what, where))
        finally:
            r.release_conn()
        return data, r.headers.get("link")

    def base_url(self) -> str:
        """``scheme://host[:port]`` the registry is spoken to at (probed on first use)."""
        return self._url("")

    # ---- requests --------------------------------------------------------------------

    def _pace(self, what: str, where: str) -> limits.Pace:
        return limits.Pace(self._timeout, self._min_rate, what, where)

    def _url(self, path: str) -> str:
        if self._base is None:
            self._base = self._probe()
        return self._base + path

    def _probe(self) -> str:
        """https; an insecure host: https when it answers, else http; a loopback host: http first
        (a registry on this machine nearly always is; asking https first costs a TLS set-up)."""
        from urllib3.exceptions import HTTPError

        https, http = f"https://{self.host}", f"http://{self.host}"
        if not self.insecure:
            return https
        order = (http, https) if is_loopback(self.hostname) else (https, http)
        for base in order:
            try:
                r = self._http().request("GET", base + "/v2/", timeout=min(5.0, self._timeout), redirect=False)
            except HTTPError:
                continue
            if r.status != 400:  # something speaks this scheme (an https server answers plain http with 400)
                return base
        return order[-1]

    def _send(self, method: str, repository: str, path: str, what: str, *, headers: dict[str, str] | None = None,
              scope: str | None = None, where: str | None = None):
        """A streamed response with a 2xx status (the caller releases it): auth answered, retried
        on 429/5xx/dropped connections; 401/403/404 and the rest are one clear error (its
        ``status`` attribute says which)."""
        from urllib3.exceptions import HTTPError

        where = where or f"{self.host}/{repository}"
        scope = scope or f"repository:{repository}:pull"
        tries = 0
        authed = False
        while True:
            h = dict(headers or {})
            auth = self._tokens.get(scope)
            if auth:
                h["Authorization"] = auth
            try:
                r = self._http().request(method, self._url(path), headers=h, preload_content=False,
                                         decode_content=True)
            except HTTPError as e:
                if _redirect_loop(e):
                    raise BadInputError(f"{what}: more than {MAX_REDIRECTS} redirects", where=where) from None
                tries += 1
                if tries >= ATTEMPTS:
                    raise BadInputError(f"{what}: cannot reach the registry ({_reason(e)})", where=where) from None
                _sleep(tries, None)
                continue
            status = r.status
            if status == 401 and not authed:
                challenge = r.headers.get("www-authenticate", "")
                self._discard(r, what, where)
                try:
                    self._authorise(challenge, scope, where)
                except BadInputError as e:
                    e.status = 401  # type: ignore[attr-defined] - what the registry answered
                    raise
                authed = True
                continue
            if status in RETRY_STATUSES:
                tries += 1
                retry_after = r.headers.get("retry-after")
                self._discard(r, what, where)
                if tries >= ATTEMPTS:
                    raise BadInputError(f"{what}: the registry answered {status} {ATTEMPTS} times", where=where)
                _sleep(tries, retry_after)
                continue
            if 200 <= status < 300:
                return r
            self._discard(r, what, where)
            raise _status_error(status, what, where, self._creds)

    def _discard(self, r, what: str, where: str) -> None:
        """Let go of an answer whose body is not wanted (a 401, 404, 5xx): read to its end so the
        connection is reused if it is small (DISCARD_MAX) and comes at the minimum rate, else close
        the connection. Draining blindly would wait on an endless or dripping error body for ever."""
        from urllib3.exceptions import HTTPError

        try:
            limits.read_bounded(r, DISCARD_MAX, what, where, self._pace(what, where))
        except (HTTPError, BadInputError, OSError):
            r.close()
        r.release_conn()

    def _authorise(self, challenge: str, scope: str, where: str) -> None:
        from urllib.parse import urlencode

        from urllib3.exceptions import HTTPError

        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if self._creds is None or self._creds.identity_token:
                raise BadInputError("the registry wants a user and password (basic auth) and none is configured "
                                    "(docker login / REGISTRY_AUTH_FILE)", where=where)
            self._tokens[scope] = self._creds.basic()
            return
        if scheme != "bearer" or not params.get("realm"):
            raise BadInputError(f"the registry asks for an authentication it does not describe "
                                f"({scheme or 'no challenge'})", where=where)
        realm = params["realm"]
        if not realm.startswith("https://") and not (realm.startswith("http://") and self.insecure):
            raise BadInputError("the registry's token service is not HTTPS: credentials not sent", where=where)
        query = {"scope": params.get("scope") or scope}
        if params.get("service"):
            query["service"] = params["service"]
        creds = self._creds
        try:
            if creds is not None and creds.identity_token:
                body = urlencode({**query, "grant_type": "refresh_token", "client_id": "layerscope",
                                  "refresh_token": creds.secret})
                r = self._http().request("POST", realm, body=body, preload_content=False, redirect=False,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            else:
                headers = {"Authorization": creds.basic()} if creds is not None else {}
                sep = "&" if "?" in realm else "?"
                r = self._http().request("GET", realm + sep + urlencode(query), headers=headers,
                                         preload_content=False, redirect=False)
            status = r.status
            what = "the token service's answer"
            data = limits.read_bounded(r, MAX_TOKEN, what, where, self._pace(what, where)) if status == 200 else b""
            r.release_conn()
        except HTTPError as e:
            raise BadInputError(f"cannot reach the registry's token service ({_reason(e)})", where=where) from None
        if status in (401, 403):
            if creds is not None:
                raise BadInputError(f"the registry refused the credentials from {creds.source} for user "
                                    f"{creds.user!r} ({status})", where=where)
            raise BadInputError(f"the registry's token service wants credentials ({status}); none are "
                                "configured (docker login / REGISTRY_AUTH_FILE)", where=where)
        if status != 200:
            raise BadInputError(f"the registry's token service answered {status}", where=where)
        try:
            doc = json.loads(data)
            token = doc.get("token") or doc.get("access_token")
            if not isinstance(token, str) or not token:
                raise ValueError
        except (ValueError, AttributeError):
            raise BadInputError("the registry's token service answered without a token", where=where) from None
        self._tokens[scope] = f"Bearer {token}"


def _proxy_for(host: str, hostname: str) -> str | None:
    """The proxy the environment names for this registry (``HTTPS_PROXY``, ``HTTP_PROXY``,
    ``ALL_PROXY``, lower case too; ``NO_PROXY`` honoured), as skopeo and docker take it. Never
    for a loopback host. One proxy for both schemes: the registry's is chosen before the scheme
    is known (https unless insecure), so HTTPS_PROXY is asked first."""
    import urllib.request

    if is_loopback(hostname):
        return None
    proxies = urllib.request.getproxies()
    if not proxies or urllib.request.proxy_bypass(host) or urllib.request.proxy_bypass(hostname):
        return None
    proxy = proxies.get("https") or proxies.get("http") or proxies.get("all")
    if proxy and "://" not in proxy:
        proxy = "http://" + proxy
    return proxy or None


def _status_error(status: int, what: str, where: str, creds: Credentials | None) -> BadInputError:
    if status == 401:
        said = f"as {creds.user!r} (credentials from {creds.source})" if creds else "anonymously"
        e = BadInputError(f"{what}: not authorised {said} (401)", where=where)
    elif status == 403:
        e = BadInputError(f"{what}: access denied (403)", where=where)
    elif status == 404:
        e = MissingBlobError(f"{what}: not found in the registry (404)", where=where)
    else:
        e = BadInputError(f"{what}: the registry answered {status}", where=where)
    e.status = status  # type: ignore[attr-defined] - a listing tells a disabled catalog from the rest
    return e


def _redirect_loop(e: Exception) -> bool:
    from urllib3.exceptions import MaxRetryError, ResponseError

    return isinstance(e, MaxRetryError) and isinstance(e.reason, ResponseError) and "redirect" in str(e.reason)


def _reason(e: Exception) -> str:
    """The kind of failure, without the request (whose URL and headers are not for messages)."""
    e = getattr(e, "reason", None) or e
    name = type(e).__name__
    return {"NewConnectionError": "connection refused or failed", "ConnectTimeoutError": "connect timed out",
            "ReadTimeoutError": "read timed out", "ProtocolError": "connection dropped",
            "IncompleteRead": "connection dropped", "SSLError": "TLS failed",
            "NameResolutionError": "host not found"}.get(name, name)


def _sleep(tries: int, retry_after: str | None) -> None:
    delay = 0.25 * 2 ** (tries - 1) * (1 + random.random() / 4)
    if retry_after:
        try:
            delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
        except ValueError:
            pass
    time.sleep(delay)
