"""Registry references as docker and skopeo read them (``docker://`` stripped).

``alpine`` -> ``registry-1.docker.io/library/alpine:latest``;
``ghcr.io/org/app:1.2``; ``localhost:5000/app@sha256:...``. A first component
with a dot or a colon, or ``localhost``, is a registry host; otherwise the
image is on Docker Hub.
"""

from __future__ import annotations

import re

from ...errors import UsageError
from ...record import Record
from ..digest import parse_digest

DOCKER_HUB = "registry-1.docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                   r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


class Reference(Record):
    """``host`` (with its port), ``repository`` (``library/alpine``), ``tag`` and/or ``digest``."""

    __slots__ = ("host", "repository", "tag", "digest")

    host: str
    repository: str
    tag: str | None
    digest: str | None

    def __init__(self, host: str, repository: str, tag: str | None, digest: str | None) -> None:
        self.host = host
        self.repository = repository
        self.tag = tag
        self.digest = digest

    @property
    def ref(self) -> str:
        """What the manifest is asked by: the digest when there is one, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def hostname(self) -> str:
        """The host without its port (``[::1]`` without brackets)."""
        host = self.host
        if host.startswith("["):
            return host[1:host.index("]")]
        return host.rsplit(":", 1)[0] if ":" in host else host

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return f"{self.host}/{self.repository}{self._suffix()}"

    def short(self) -> str:
        """As users write it: Docker Hub's ``library/`` and host left out."""
        if self.host == DOCKER_HUB:
            return self.repository.removeprefix("library/") + self._suffix()
        return str(self)


def parse_reference(text: str) -> Reference:
    """Parse ``[HOST[:PORT]/]REPO[:TAG][@DIGEST]``; UsageError naming what is wrong."""
    where = f"docker://{text}"
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        parse_digest(digest, where=where)
    first, slash, tail = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        host, path = first, tail
        if not _HOST.match(host):
            raise UsageError(f"{where}: {host!r} is not a registry host")
    else:
        host, path = DOCKER_HUB, rest
    if host in _HUB_ALIASES:
        host = DOCKER_HUB
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        if not _TAG.match(tag):
            raise UsageError(f"{where}: {tag!r} is not a valid tag")
    if host == DOCKER_HUB and "/" not in path:
        path = "library/" + path
    if not path or not all(_COMPONENT.match(c) for c in path.split("/")):
        raise UsageError(f"{where}: {path!r} is not a valid repository name (lowercase letters, digits, "
                         f"separators . _ -)")
    if tag is None and digest is None:
        tag = "latest"
    return Reference(host, path, tag, digest)


def is_loopback(hostname: str) -> bool:
    """localhost, 127.0.0.0/8 and ::1: the hosts plain HTTP is allowed to without being asked."""
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
