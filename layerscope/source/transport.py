"""Where an image spec points, in skopeo's transport syntax.

``docker://REF`` (a registry), ``docker-daemon:NAME[:TAG]`` (the Docker Engine
API), ``docker-archive:PATH[:REF]``, ``oci-archive:PATH[:REF]``, ``oci:PATH[:REF]``
(files, with the format stated), ``-`` (an archive on standard input), and a
bare ``PATH[:REF]`` whose format is found by looking. An existing file wins over
a transport prefix: a file named ``docker:x`` is a file.
"""

from __future__ import annotations

import os

from ..errors import UsageError
from ..record import Record

REGISTRY = "docker"
DAEMON = "docker-daemon"
STDIN = "stdin"
PATH = "path"  # format found by looking
FILE_TRANSPORTS = {"docker-archive": "docker-archive", "oci-archive": "oci-archive", "oci": "oci-layout"}


class Spec(Record):
    """``transport``: one of REGISTRY, DAEMON, STDIN, PATH or a FILE_TRANSPORTS key; ``target``:
    the reference (registry, daemon) or the rest of the spec (files: ``PATH[:REF]``)."""

    __slots__ = ("transport", "target", "text")

    transport: str
    target: str
    text: str  # the spec as given, for messages

    def __init__(self, transport: str, target: str, text: str) -> None:
        self.transport = transport
        self.target = target
        self.text = text

    @property
    def is_file(self) -> bool:
        return self.transport == PATH or self.transport in FILE_TRANSPORTS

    @property
    def expected_format(self) -> str | None:
        """The format a file transport states (None: found by looking)."""
        return FILE_TRANSPORTS.get(self.transport)


def parse_spec(spec: str) -> Spec:
    """What ``spec`` names; UsageError for a transport prefix with nothing after it."""
    if spec == "-":
        return Spec(STDIN, "-", spec)
    if os.path.exists(spec):
        return Spec(PATH, spec, spec)
    if spec.startswith("docker://"):
        return Spec(REGISTRY, _rest(spec, len("docker://")), spec)
    head, sep, rest = spec.partition(":")
    if sep and head == DAEMON:
        return Spec(DAEMON, _rest(spec, len(head) + 1), spec)
    if sep and head in FILE_TRANSPORTS:
        return Spec(head, _rest(spec, len(head) + 1), spec)
    return Spec(PATH, spec, spec)


def _rest(spec: str, at: int) -> str:
    rest = spec[at:]
    if not rest:
        raise UsageError(f"{spec!r} names no image after its transport")
    return rest
