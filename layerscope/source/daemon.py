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
import json
import os
import re
from collections.abc import Iterator
from socket import timeout as socket_timeout
from urllib.parse import quote, urlsplit

from ..errors import BadInputError, SelectionError, UsageError, os_error
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


def _pool(host: str):
    """A urllib3 connection pool to the daemon: a unix socket or plain HTTP. No proxy: the
    environment's HTTP_PROXY must never capture the daemon's requests (a PoolManager would
    not take one either; no ProxyManager is made)."""
    import urllib3

    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    if os.environ.get("DOCKER_TLS_VERIFY"):
        raise UsageError(f"DOCKER_TLS_VERIFY is set: TLS to the Docker daemon at {host} is not supported "
                         "(use its unix socket or a plain tcp:// endpoint)")
    u = urlsplit(host)
    if u.scheme == "unix" and u.path:
        return _UnixPool(u.path, timeout=timeout, retries=False)
    if u.scheme in ("tcp", "http") and u.hostname:
        try:
            port = u.port or 2375  # the docker CLI's default for plain tcp://
        except ValueError:  # not a number
            port = None
        if port is not None:
            return urllib3.HTTPConnectionPool(u.hostname, port, timeout=timeout, retries=False)
    raise UsageError(f"DOCKER_HOST={host!r}: layerscope reaches the Docker daemon at unix:///PATH, "
                     "tcp://HOST:PORT or http://HOST:PORT")


def _UnixPool(path: str, **kw):
    """urllib3's pool over a unix socket: the connection's ``connect`` dials the socket."""
    import socket

    import urllib3
    from urllib3.connection import HTTPConnection
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    class UnixConnection(HTTPConnection):
        def connect(self) -> None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(CONNECT_TIMEOUT)
            try:
                sock.connect(path)
            except TimeoutError:
                sock.close()
                raise ConnectTimeoutError(self, f"connecting to {path} timed out") from None
            except OSError as e:
                sock.close()
                raise NewConnectionError(self, str(os_error(e, "connect", path))) from e
            sock.settimeout(READ_TIMEOUT)
            self.sock = sock

    class UnixPool(urllib3.HTTPConnectionPool):
        ConnectionCls = UnixConnection

    return UnixPool("localhost", **kw)


def _errno(e: BaseException) -> int | None:
    """The errno of the socket error under a urllib3 error (chained as its cause)."""
    seen: BaseException | None = e
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno:
            return seen.errno
        seen = seen.__cause__ or seen.__context__
    return None


def _daemon_message(body: bytes, reason: str) -> str:
    """The daemon's own words for a failure: its JSON ``message``, else the body's first line."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            return doc["message"]
    except ValueError:
        pass
    text = body.decode("utf-8", "replace").strip().splitlines()
    return text[0][:300] if text else reason


def export_from_daemon(name: str) -> str:
    """Export image ``name`` from the daemon at ``DOCKER_HOST`` into a spooled docker-archive; its path.

    The body goes to disk a MiB at a time, never whole in memory. Every failure is
    one line naming ``DOCKER_HOST`` and the image: no daemon, no such image, the
    daemon's refusal, a timeout, an export cut short.
    """
    host = docker_host()
    ref = daemon_name(name)
    where = f"docker-daemon:{name}"
    from urllib3.exceptions import (HTTPError, NewConnectionError, ProtocolError, ReadTimeoutError,
                                    ConnectTimeoutError)

    pool = _pool(host)
    try:
        r = pool.urlopen("GET", f"/images/{quote(ref, safe='')}/get", preload_content=False, redirect=False)
        try:
            if r.status == 404:
                r.read(64 << 10)
                raise SelectionError(f"the Docker daemon at {host} (DOCKER_HOST) has no image {ref}")
            if r.status != 200:
                said = _daemon_message(r.read(64 << 10), r.reason or "")
                raise BadInputError(f"the Docker daemon at {host} (DOCKER_HOST) refused to export {ref} "
                                    f"(HTTP {r.status}): {said}")
            path = spool(_pieces(r), name="daemon", where=where)
        finally:
            r.release_conn()
    except NewConnectionError as e:  # (a subclass of ConnectTimeoutError in urllib3 2)
        if _errno(e) in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK):
            raise UsageError(f"no Docker daemon at {host}: is it running? (DOCKER_HOST)") from None
        raise UsageError(f"cannot connect to the Docker daemon at {host} (DOCKER_HOST)") from None
    except ConnectTimeoutError:
        raise UsageError(f"the Docker daemon at {host} (DOCKER_HOST) did not answer within "
                         f"{CONNECT_TIMEOUT:g} s") from None
    except (ReadTimeoutError, socket_timeout):
        raise BadInputError(f"the Docker daemon at {host} (DOCKER_HOST) sent nothing for {READ_TIMEOUT:g} s "
                            f"while exporting {ref}") from None
    except ProtocolError as e:
        raise BadInputError(f"the Docker daemon at {host} (DOCKER_HOST) dropped the connection while "
                            f"exporting {ref}: truncated export ({type(e).__name__})") from None
    except HTTPError as e:
        raise BadInputError(f"exporting {ref} from the Docker daemon at {host} (DOCKER_HOST) failed: "
                            f"{type(e).__name__}") from None
    finally:
        pool.close()
    if os.path.getsize(path) == 0:
        os.unlink(path)
        raise BadInputError(f"the Docker daemon at {host} (DOCKER_HOST) sent an empty export of {ref}")
    return path


def _pieces(r) -> Iterator[bytes]:
    while piece := r.read(1 << 20):
        yield piece
