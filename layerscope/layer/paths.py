"""Lexical normalisation of tar member names.

A layer tar names its members relative to the container's root, but writers
disagree on the spelling (``./usr/bin``, ``usr/bin/``, ``/usr/bin``) and a
hostile layer can try to climb out (``../../etc/passwd``). Every path the rest
of layerscope sees has gone through :func:`normalize_path`:

* leading ``/`` and ``./`` are stripped, ``//`` collapses, ``.`` parts vanish;
* ``..`` is resolved lexically (symlinks are *not* followed: the tar reader
  has no filesystem to follow them in); a ``..`` that would climb above the
  root stays at the root and the entry is marked ``"path-escape"``;
* a trailing slash is dropped; the root itself (``/``, ``./``, ``.``) is ``""``;
* an empty name is marked ``"empty-name"``.

This mirrors what container runtimes do when they unpack a layer (they clamp
to the root rather than refuse), so the normalised path is where the file
really lands, and the defect records that the image asked for something else.
"""

from __future__ import annotations

PATH_ESCAPE = "path-escape"
LINK_ESCAPE = "link-escape"
EMPTY_NAME = "empty-name"
EMPTY_LINK = "empty-link"

_NO_DEFECTS: tuple[str, ...] = ()
_ESCAPE = (PATH_ESCAPE,)
_EMPTY = (EMPTY_NAME,)


def normalize_path(name: str) -> tuple[str, tuple[str, ...]]:
    """Return ``(path, defects)`` for a tar member name.

    ``defects`` is ``()``, ``("path-escape",)`` or ``("empty-name",)``.
    """
    # Fast path: the spelling almost every layer uses ("usr/bin/ls", or
    # "usr/bin/" for a directory) is already normal.
    n = name[:-1] if name[-1:] == "/" else name
    if n and n[0] != "/" and n[0] != "." and "//" not in name and "/." not in n:
        return n, _NO_DEFECTS
    if not name:
        return "", _EMPTY
    parts: list[str] = []
    escaped = False
    for part in name.split("/"):
        if not part or part == ".":
            continue
        if part == "..":
            if parts:
                parts.pop()
            else:
                escaped = True
            continue
        parts.append(part)
    return "/".join(parts), (_ESCAPE if escaped else _NO_DEFECTS)


def normalize_link(target: str) -> tuple[str, tuple[str, ...]]:
    """Normalise a hardlink target the same way.

    Its defects are ``"link-escape"`` (climbs above the root) and
    ``"empty-link"`` instead of the name's.
    """
    path, defects = normalize_path(target)
    if defects is _NO_DEFECTS:
        return path, defects
    return path, ((LINK_ESCAPE,) if defects is _ESCAPE else (EMPTY_LINK,))
