"""What a layer's pax records say beyond the header fields: extended attributes.

``SCHILY.xattr.NAME`` (GNU tar, Go's archive/tar, docker) carries the raw
value; ``LIBARCHIVE.xattr.NAME`` (bsdtar) a URL-encoded name and a base64
value. The record syntax itself (``parse_records``) is in
:mod:`layerscope.tarheader`, shared with the outer-archive index.
"""

from __future__ import annotations

from ..errors import BadInputError

SCHILY_XATTR = "SCHILY.xattr."
LIBARCHIVE_XATTR = "LIBARCHIVE.xattr."


def libarchive_xattr(key: str, value: bytes, offset: int) -> tuple[str, bytes]:
    """Decode a ``LIBARCHIVE.xattr.NAME=VALUE`` record.

    NAME is URL-encoded, VALUE base64 (libarchive omits the ``=`` padding).
    """
    quoted = key[len(LIBARCHIVE_XATTR) :].encode("utf-8", "surrogateescape")
    # rare (libarchive xattrs): not imported at start-up
    import base64
    import binascii
    from urllib.parse import unquote_to_bytes

    name = unquote_to_bytes(quoted).decode("utf-8", "surrogateescape")
    v = bytes(value).strip()
    try:
        raw = base64.b64decode(v + b"=" * (-len(v) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BadInputError(f"bad base64 in pax record {key!r} at offset {offset}") from None
    return name, raw
