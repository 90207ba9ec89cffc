"""Whiteout markers, as the OCI image spec (layer.md) defines them.

* ``DIR/.wh.NAME`` deletes ``DIR/NAME`` (and its subtree) from the layers
  *below*; the marker itself is never part of the filesystem.
* ``DIR/.wh..wh..opq`` makes ``DIR`` opaque: every lower child of DIR is
  hidden (DIR itself stays).
* Other ``.wh..wh.*`` names (AUFS metadata such as ``.wh..wh.plnk``,
  ``.wh..wh.aufs``, ``.wh..wh.orph``) are ignored.

Same-layer entries are never affected by the layer's own markers, whatever
their order in the tar; the overlay applies markers first, then entries.
"""

from __future__ import annotations

import posixpath

PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
META_PREFIX = ".wh..wh."

# Marker kinds
NOT_MARKER, WHITEOUT, OPAQUE_MARKER, AUFS_META, BAD_WHITEOUT = "entry", "whiteout", "opaque", "aufs-meta", "bad-whiteout"


def classify(path: str) -> tuple[str, str, str]:
    """(kind, parent dir, target name) of a normalised layer path (parent and name for markers).

    ``BAD_WHITEOUT`` is a bare ``.wh.`` or one whose target would leave its
    directory (``.wh..`` / ``.wh...``): a defect of the image, not applied.
    """
    if PREFIX not in path:  # the common case, decided without splitting
        return NOT_MARKER, "", ""
    parent, base = posixpath.split(path)
    if META_PREFIX in parent and any(part.startswith(META_PREFIX) for part in parent.split("/")):
        return AUFS_META, parent, base  # inside an AUFS metadata dir such as .wh..wh.plnk/
    if not base.startswith(PREFIX):
        return NOT_MARKER, parent, base
    if base == OPAQUE:
        return OPAQUE_MARKER, parent, ""
    if base.startswith(META_PREFIX):
        return AUFS_META, parent, base
    name = base[len(PREFIX):]
    if name in ("", ".", "..") or "/" in name:
        return BAD_WHITEOUT, parent, name
    return WHITEOUT, parent, name
