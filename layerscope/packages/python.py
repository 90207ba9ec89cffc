"""Python distributions: ``*.dist-info/METADATA``, ``*.egg-info/PKG-INFO``
and single-file ``*.egg-info``. Their headers are RFC 822 style (core
metadata spec); only ``Name`` and ``Version`` are read, from the header block
before the first blank line (the stdlib email parser would cost ~15 ms of
imports and walk the long description for nothing). A distribution is known
by its normalised name (PEP 503) and the directory it is installed in: the
same project may sit in several site-packages of one image."""

from __future__ import annotations

import re

from . import Package

_RUNS = re.compile(r"[-_.]+")


def normalize(name: str) -> str:
    return _RUNS.sub("-", name).lower()


_BLANK_LINE = re.compile(rb"\r?\n[ \t]*\r?\n")


def _headers(data: bytes) -> dict[str, str]:
    """The header block's fields (first occurrence wins; folded lines joined)."""
    end = _BLANK_LINE.search(data)
    text = (data[:end.start()] if end else data).decode("utf-8", "replace")
    out: dict[str, str] = {}
    last = None
    for line in text.splitlines():
        if line[:1] in (" ", "\t"):  # a folded continuation of the field before
            if last is not None:
                out[last] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        last = None
        if sep and key.strip() and key.strip().lower() not in out:
            last = key.strip().lower()
            out[last] = value.strip()
    return out


def read_metadata(path: str, data: bytes) -> tuple[list[Package], list[str]]:
    headers = _headers(data)
    name, version = headers.get("name"), headers.get("version")
    if not name or not version:
        return [], [f"/{path}: no Name or Version header; not a distribution's metadata"]
    name, version = str(name).strip(), str(version).strip()
    info = path if path.endswith(".egg-info") else path.rpartition("/")[0]  # the .dist-info / .egg-info
    site = info.rpartition("/")[0]
    return [Package("pypi", name, version, f"{normalize(name)}@/{site}", path)], []
