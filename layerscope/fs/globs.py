"""Path globs for image paths (``forbid_paths``, ``**/*.pem``): ``**`` spans
directories, ``*`` never crosses "/", and a dot is not special (an image
path is data, not a shell's working directory)."""

from __future__ import annotations

import re

__all__ = ["compile_glob", "glob_match", "norm_path"]


def _segment_regex(seg: str) -> str:
    """One path segment's glob (``*``, ``?``, ``[seq]``, ``[!seq]``) as a regex that never crosses "/"."""
    out: list[str] = []
    i, n = 0, len(seg)
    while i < n:
        c = seg[i]
        if c == "*":
            while i < n and seg[i] == "*":
                i += 1
            out.append("[^/]*")
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and seg[j] in "!^":
                j += 1
            if j < n and seg[j] == "]":
                j += 1
            while j < n and seg[j] != "]":
                j += 1
            if j >= n:  # no closing bracket: a literal "["
                out.append(re.escape(c))
            else:
                body = seg[i + 1:j]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = "".join(ch if ch == "-" else re.escape(ch) for ch in body)
                out.append(f"(?!/)[{'^' if negate else ''}{body}]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile a path glob: ``**`` is zero or more directories, ``*`` and
    ``?`` stay within one path segment, ``[seq]``/``[!seq]`` are character
    classes; a leading or trailing "/" is ignored. ``*`` matches names
    starting with a dot too (``**/*.pem`` finds ``.key.pem``); matching is
    case-sensitive, like the paths in a Linux image. ``a/**`` matches ``a``
    itself and everything below it."""
    if not isinstance(pattern, str):
        raise ValueError(f"a glob pattern must be a string, got {pattern!r}")
    segs = [s for s in pattern.split("/") if s]
    if not segs:
        raise ValueError(f"empty glob pattern {pattern!r}")
    collapsed: list[str] = []
    for s in segs:
        if not (s == "**" and collapsed and collapsed[-1] == "**"):
            collapsed.append(s)
    rx = ""
    last = len(collapsed) - 1
    for i, seg in enumerate(collapsed):
        if seg == "**":
            if i == last:
                rx = rx[:-1] + "(?:/.*)?" if rx else ".*"  # drop the "/" the previous segment added
            else:
                rx += "(?:[^/]+/)*"
        else:
            rx += _segment_regex(seg) + ("" if i == last else "/")
    try:
        return re.compile(rx, re.DOTALL)
    except re.error as e:
        raise ValueError(f"bad glob pattern {pattern!r}: {e}") from None


def norm_path(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path.strip("/")


def glob_match(pattern: str | re.Pattern[str], path: str) -> bool:
    """Does image path ``path`` (relative or with a leading "/") match the glob?"""
    rx = compile_glob(pattern) if isinstance(pattern, str) else pattern
    return rx.fullmatch(norm_path(path)) is not None
