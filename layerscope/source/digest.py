"""Content digests as the OCI image spec defines them (``algorithm:hex``).

A digest names a file inside an archive or layout, so it is validated before
it is ever turned into a path: a hostile ``sha256:../../x`` must not escape.
"""

from __future__ import annotations

import hashlib
import re

from ..errors import BadInputError

_HEX_LEN = {"sha256": 64, "sha512": 128}
_DIGEST_RE = re.compile(r"(sha256|sha512):([0-9a-f]+)")  # fullmatch: "$" would let a trailing newline in


def parse_digest(value: object, *, where: str) -> tuple[str, str]:
    """Split a digest into (algorithm, hex), rejecting anything malformed."""
    if not isinstance(value, str):
        raise BadInputError(f"digest is not a string: {value!r}", where=where)
    m = _DIGEST_RE.fullmatch(value)
    if not m or len(m.group(2)) != _HEX_LEN[m.group(1)]:
        raise BadInputError(f"malformed digest {value!r}", where=where)
    return m.group(1), m.group(2)


def new_hasher(algorithm: str):
    """A hashlib object for a digest algorithm named in an image."""
    return hashlib.new(algorithm)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
