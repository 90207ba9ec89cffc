"""Whiteout markers, as the OCI image spec (layer.md) defines them.

* ``DIR/.wh.NAME`` deletes ``DIR/NAME`` (and its subtree) from the layers
  *below*; the marker itself is never part of the filesystem.
* ``DIR/.wh..wh..opq`` makes ``DIR`` opaque: every lower child of DIR is
  hidden (DIR itself stays).
* Other ``.wh..wh.*`` names (AUFS metadata such as ``.wh..wh.plnk``,
  ``.wh..wh.aufs``, ``.wh..wh.orph``) are ignored.

Same-layer entries are never affected by the layer's own markers, whatever
their order in the tar; the overlay applies markers first, then entries.

This module is the one home of those spellings: readers that synthesise
markers (``layer/upperdir.py``) build them here, and the model
(``fs/overlay.py``), the container diff (``analysis/view.py``) and dive's
emulation (``fs/dive.py``) classify with it. It lives in ``layer/`` rather
than ``fs/`` because marker names are part of the layer format, and a reader
must not import the model.
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


def applies(kind: str) -> bool:
    """Does a marker of this kind act on the layers below (whiteout or opaque)?"""
    return kind == WHITEOUT or kind == OPAQUE_MARKER


def target(kind: str, parent: str, name: str) -> str:
    """The path a marker acts on, given its (resolved) parent directory:
    the directory itself for an opaque marker, else ``parent/name``."""
    if kind == OPAQUE_MARKER:
        return parent
    return f"{parent}/{name}" if parent else name


def whiteout_path(parent: str, name: str) -> str:
    """The marker that deletes ``parent/name``."""
    return f"{parent}/{PREFIX}{name}" if parent else PREFIX + name


def opaque_path(directory: str) -> str:
    """The marker that makes ``directory`` opaque."""
    return f"{directory}/{OPAQUE}" if directory else OPAQUE
