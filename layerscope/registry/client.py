"""The OCI distribution API v2, as far as reading images goes: manifests and blobs.

One :class:`Client` per registry host. It answers auth challenges (anonymous,
bearer tokens from the ``WWW-Authenticate`` realm as Docker Hub, ECR and GHCR
hand them out, basic), retries with backoff on 429, 5xx and dropped
connections (honouring ``Retry-After``), follows redirects (blobs are served
from object storage; httpx drops the ``Authorization`` header on a redirect to
another origin), and resumes a dropped blob download with ``Range``. Blobs are
streamed to a file and hashed as they arrive; a blob that does not match its
digest is an error, never a result.

HTTPS by default; plain HTTP only to a loopback host or one named insecure
(``--insecure-registry HOST`` / ``LAYERSCOPE_INSECURE_REGISTRIES``), which are
also not held to a certificate.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Callable

import httpx

from ..errors import BadInputError, DigestMismatchError, MissingBlobError
from ..source.digest import parse_digest
from ..version import __version__
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
                 timeout: float = 60.0) -> None:
        self.host = host
        self.insecure = _is_insecure(host, hostname)
        self._creds = find_credentials(host) if credentials is True else (credentials or None)
        self._tokens: dict[str, str] = {}  # scope -> Authorization header value
        self._lock = threading.Lock()
        self._base: str | None = None
        self._http = httpx.Client(
            follow_redirects=True, verify=not self.insecure, max_redirects=10,
            timeout=httpx.Timeout(timeout, connect=10.0),
            headers={"User-Agent": f"layerscope/{__version__}"},
        )
        self.requests = 0  # counted, for tests and the progress of a cache

    def close(self) -> None:
        self._http.close()

    def __getstate__(self):
        # worker processes get their own connections and tokens
        return {"host": self.host, "insecure": self.insecure, "creds": self._creds, "base": self._base}

    def __setstate__(self, state) -> None:
        self.__init__(state["host"], state["host"], credentials=state["creds"] or False)
        self.insecure = state["insecure"]
        self._base = state["base"]

    # ---- the API -------------------------------------------------------------------

    def manifest(self, repository: str, ref: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of the manifest or index ``ref`` (a tag or digest) names."""
        what = f"manifest {repository}:{ref}" if not ref.startswith("sha") else f"manifest {repository}@{ref}"
        r = self._send("GET", repository, f"/v2/{repository}/manifests/{ref}", what,
                       headers={"Accept": ", ".join(MANIFEST_TYPES)})
        try:
            data = _read_bounded(r, MAX_MANIFEST, what, self.host)
        finally:
            r.close()
        media_type = r.headers.get("content-type", "").split(";")[0].strip()
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
        r = self._send("HEAD", repository, f"/v2/{repository}/blobs/{digest}", f"blob {digest}")
        r.close()
        try:
            return int(r.headers["content-length"])
        except (KeyError, ValueError):
            raise BadInputError(f"blob {digest}: the registry states no size", where=f"{self.host}/{repository}") from None

    def fetch_blob(self, repository: str, digest: str, out, *, size: int | None = None,
                   progress: Callable[[int], None] | None = None) -> int:
        """Stream blob ``digest`` into the binary file ``out`` (at its start), resuming a dropped
        download with Range, and check its size and digest. Returns the bytes written."""
        algo, hex_ = parse_digest(digest, where=f"{self.host}/{repository}")
        where = f"{self.host}/{repository}"
        what = f"blob {digest}"
        hasher = hashlib.new(algo)
        got = 0
        tries = 0
        while True:
            headers = {"Range": f"bytes={got}-"} if got else {}
            try:
                r = self._send("GET", repository, f"/v2/{repository}/blobs/{digest}", what, headers=headers)
                try:
                    if got and r.status_code != 206:  # the range was not honoured: from the start
                        out.seek(0)
                        out.truncate()
                        hasher, got = hashlib.new(algo), 0
                    for piece in r.iter_bytes(PIECE):
                        out.write(piece)
                        hasher.update(piece)
                        got += len(piece)
                        if size is not None and got > size:
                            raise BadInputError(f"{what} is longer than the {size} bytes its descriptor says",
                                                where=where)
                        if progress is not None:
                            progress(len(piece))
                finally:
                    r.close()
                break
            except httpx.TransportError as e:
                tries = 0 if got else tries  # moving on earns the attempts back
                tries += 1
                if tries >= ATTEMPTS:
                    raise BadInputError(f"{what}: the download failed {ATTEMPTS} times ({_reason(e)}) after "
                                        f"{got} bytes", where=where) from None
                _sleep(tries, None)
        if size is not None and got != size:
            raise BadInputError(f"{what} is {got} bytes, its descriptor says {size}", where=where)
        if hasher.hexdigest() != hex_:
            raise DigestMismatchError(f"{what}: the registry sent bytes that do not match the digest",
                                      where=where)
        return got

    # ---- requests --------------------------------------------------------------------

    def _url(self, path: str) -> str:
        if self._base is None:
            self._base = self._probe()
        return self._base + path

    def _probe(self) -> str:
        """https, or for a loopback or insecure host, http when https does not answer."""
        https = f"https://{self.host}"
        if not self.insecure:
            return https
        try:
            self._http.get(https + "/v2/", timeout=5.0).close()
            return https
        except httpx.TransportError:
            return f"http://{self.host}"

    def _send(self, method: str, repository: str, path: str, what: str, *,
              headers: dict[str, str] | None = None) -> httpx.Response:
        """A streamed response with a 2xx status (the caller closes it): auth answered, retried
        on 429/5xx/dropped connections; 401/403/404 and the rest are one clear error."""
        where = f"{self.host}/{repository}"
        scope = f"repository:{repository}:pull"
        tries = 0
        authed = False
        while True:
            h = dict(headers or {})
            auth = self._tokens.get(scope)
            if auth:
                h["Authorization"] = auth
            try:
                req = self._http.build_request(method, self._url(path), headers=h)
                self.requests += 1
                r = self._http.send(req, stream=True)
            except httpx.TransportError as e:
                tries += 1
                if tries >= ATTEMPTS:
                    raise BadInputError(f"{what}: cannot reach the registry ({_reason(e)})", where=where) from None
                _sleep(tries, None)
                continue
            if r.status_code == 401 and not authed:
                challenge = r.headers.get("www-authenticate", "")
                r.close()
                self._authorise(challenge, scope, where)
                authed = True
                continue
            if r.status_code in RETRY_STATUSES:
                tries += 1
                retry_after = r.headers.get("retry-after")
                r.close()
                if tries >= ATTEMPTS:
                    raise BadInputError(f"{what}: the registry answered {r.status_code} {ATTEMPTS} times",
                                        where=where)
                _sleep(tries, retry_after)
                continue
            if 200 <= r.status_code < 300:
                return r
            r.close()
            raise _status_error(r.status_code, what, where, self._creds)

    def _authorise(self, challenge: str, scope: str, where: str) -> None:
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
                r = self._http.post(realm, data={**query, "grant_type": "refresh_token", "client_id": "layerscope",
                                                 "refresh_token": creds.secret})
            else:
                headers = {"Authorization": creds.basic()} if creds is not None else {}
                r = self._http.get(realm, params=query, headers=headers)
        except httpx.TransportError as e:
            raise BadInputError(f"cannot reach the registry's token service ({_reason(e)})", where=where) from None
        self.requests += 1
        if r.status_code in (401, 403):
            if creds is not None:
                raise BadInputError(f"the registry refused the credentials from {creds.source} for user "
                                    f"{creds.user!r} ({r.status_code})", where=where)
            raise BadInputError(f"the registry's token service wants credentials ({r.status_code}); none are "
                                "configured (docker login / REGISTRY_AUTH_FILE)", where=where)
        if r.status_code != 200 or len(r.content) > MAX_TOKEN:
            raise BadInputError(f"the registry's token service answered {r.status_code}", where=where)
        try:
            doc = json.loads(r.content)
            token = doc.get("token") or doc.get("access_token")
            if not isinstance(token, str) or not token:
                raise ValueError
        except (ValueError, AttributeError):
            raise BadInputError("the registry's token service answered without a token", where=where) from None
        self._tokens[scope] = f"Bearer {token}"


def _status_error(status: int, what: str, where: str, creds: Credentials | None) -> BadInputError:
    if status == 401:
        said = f"as {creds.user!r} (credentials from {creds.source})" if creds else "anonymously"
        return BadInputError(f"{what}: not authorised {said} (401)", where=where)
    if status == 403:
        return BadInputError(f"{what}: access denied (403)", where=where)
    if status == 404:
        return MissingBlobError(f"{what}: not found in the registry (404)", where=where)
    return BadInputError(f"{what}: the registry answered {status}", where=where)


def _read_bounded(r: httpx.Response, limit: int, what: str, where: str) -> bytes:
    parts, total = [], 0
    for piece in r.iter_bytes(PIECE):
        total += len(piece)
        if total > limit:
            raise BadInputError(f"{what} is larger than {limit} bytes: not a manifest", where=where)
        parts.append(piece)
    return b"".join(parts)


def _reason(e: httpx.TransportError) -> str:
    """The kind of failure, without the request (whose URL and headers are not for messages)."""
    name = type(e).__name__
    return {"ConnectError": "connection refused or failed", "ConnectTimeout": "connect timed out",
            "ReadTimeout": "read timed out", "RemoteProtocolError": "connection dropped",
            "ReadError": "connection dropped", "WriteError": "connection dropped"}.get(name, name)


def _sleep(tries: int, retry_after: str | None) -> None:
    delay = 0.25 * 2 ** (tries - 1) * (1 + random.random() / 4)
    if retry_after:
        try:
            delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
        except ValueError:
            pass
    time.sleep(delay)
