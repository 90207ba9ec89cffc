"""``docker-daemon:NAME[:TAG]``: an image from the Docker Engine API (or podman's compatible one).

The image comes through the export endpoint, ``GET /images/{name}/get``, the one
``docker save`` uses: a docker-archive, streamed into a spooled file (``spool.py``)
because the readers map blobs and worker processes reopen the archive by path. No
``docker`` CLI, no API version prefix (Docker and podman both serve unversioned
paths). The daemon is found as the docker CLI finds it: ``DOCKER_HOST``, else
``unix:///var/run/docker.sock``; TLS, ``ssh://`` and contexts are not spoken.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import httpx

from ..errors import BadInputError, SelectionError, UsageError
from .spool import spool

DEFAULT_HOST = "unix:///var/run/docker.sock"
CONNECT_TIMEOUT = 10.0  # a daemon that is there answers at once
# Between two reads of the export: podman writes the whole archive to a temporary
# file before sending a byte, which takes minutes for a big image.
READ_TIMEOUT = 600.0
_ID = re.compile(r"(sha256:)?[0-9a-f]{12,64}")


def daemon_name(name: str) -> str:
    """The name to ask the daemon for: ``alpine`` -> ``alpine:latest``.

    Without a tag the export endpoint gives every tag of the repository (Docker)
    or nothing (podman); ``docker save alpine`` means ``alpine:latest``, so does
    this. IDs (whole, ``sha256:``-prefixed or 12+ hex digits, as docker resolves
    them) and digest references are passed as they are.
    """
    if _ID.fullmatch(name) or "@" in name or ":" in name.rsplit("/", 1)[-1]:
        return name
    return name + ":latest"


def docker_host() -> str:
    """Where the daemon listens, as the docker CLI reads it."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def _client(host: str) -> httpx.Client:
    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    if os.environ.get("DOCKER_TLS_VERIFY"):
        raise UsageError(f"DOCKER_TLS_VERIFY is set: TLS to the Docker daemon at {host} is not supported "
                         "(use its unix socket or a plain tcp:// endpoint)")
    u = urlsplit(host)
    if u.scheme == "unix" and u.path:
        # trust_env off, not left to httpx's rules: an HTTP_PROXY must never capture the socket's requests
        return httpx.Client(transport=httpx.HTTPTransport(uds=u.path), base_url="http://docker", timeout=timeout,
                            trust_env=False)
    if u.scheme in ("tcp", "http") and u.hostname:
        try:
            port = u.port or 2375  # the docker CLI's default for plain tcp://
        except ValueError:  # not a number
            port = None
        if port is not None:
            name = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
            return httpx.Client(base_url=f"http://{name}:{port}", timeout=timeout)
    raise UsageError(f"DOCKER_HOST={host!r}: layerscope reaches the Docker daemon at unix:///PATH, "
                     "tcp://HOST:PORT or http://HOST:PORT")


def _errno(e: BaseException) -> int | None:
    """The errno under an httpx error (httpcore and the socket chain them)."""
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return seen.errno
        seen = seen.__cause__ or seen.__context__
    return None


def _daemon_message(r: httpx.Response) -> str:
    """The daemon's own words for a failure: its JSON ``message``, else the body's first line."""
    try:
        doc = r.json()
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            return doc["message"]
    except ValueError:
        pass
    text = r.text.strip().splitlines()
    return text[0][:300] if text else r.reason_phrase


def export_from_daemon(name: str) -> str:
    """Export image ``name`` from the daemon at ``DOCKER_HOST`` into a spooled docker-archive; its path.

    The body goes to disk a MiB at a time, never whole in memory. Every failure is
    one line naming ``DOCKER_HOST`` and the image: no daemon, no such image, the
    daemon's refusal, a timeout, an export cut short.
    """
    host = docker_host()
    ref = daemon_name(name)
    where = f"docker-daemon:{name}"
    with _client(host) as client:
        try:
            with client.stream("GET", f"/images/{quote(ref, safe='')}/get") as r:
                if r.status_code == 404:
                    r.read()
                    raise SelectionError(f"the Docker daemon at {host} (DOCKER_HOST) has no image {ref}")
                if r.status_code != 200:
                    r.read()
                    raise BadInputError(f"the Docker daemon at {host} (DOCKER_HOST) refused to export {ref} "
                                        f"(HTTP {r.status_code}): {_daemon_message(r)}")
                path = spool(_pieces(r), name="daemon", where=where)
        except httpx.ConnectError as e:
            if _errno(e) in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK):
                raise UsageError(f"no Docker daemon at {host}: is it running? (DOCKER_HOST)") from None
            raise UsageError(f"cannot connect to the Docker daemon at {host} (DOCKER_HOST): {e}") from None
        except httpx.ConnectTimeout:
            raise UsageError(f"the Docker daemon at {host} (DOCKER_HOST) did not answer within "
                             f"{CONNECT_TIMEOUT:g} s") from None
        except httpx.TimeoutException:
            raise BadInputError(f"the Docker daemon at {host} (DOCKER_HOST) sent nothing for {READ_TIMEOUT:g} s "
                                f"while exporting {ref}") from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as e:
            raise BadInputError(f"the Docker daemon at {host} (DOCKER_HOST) dropped the connection while "
                                f"exporting {ref}: truncated export ({' '.join(str(e).split()) or type(e).__name__})"
                                ) from None
        except httpx.HTTPError as e:
            raise BadInputError(f"exporting {ref} from the Docker daemon at {host} (DOCKER_HOST) failed: "
                                f"{e or type(e).__name__}") from None
    if os.path.getsize(path) == 0:
        os.unlink(path)
        raise BadInputError(f"the Docker daemon at {host} (DOCKER_HOST) sent an empty export of {ref}")
    return path


def _pieces(r: httpx.Response) -> Iterator[bytes]:
    yield from r.iter_bytes(1 << 20)
