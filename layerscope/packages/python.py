"""Python distributions: ``*.dist-info/METADATA``, ``*.egg-info/PKG-INFO``
and single-file ``*.egg-info``, read with the stdlib email parser (they are
RFC 822 headers). A distribution is known by its normalised name (PEP 503)
and the directory it is installed in: the same project may sit in several
site-packages of one image."""

from __future__ import annotations

import re
from email.parser import BytesHeaderParser

from . import Package

_RUNS = re.compile(r"[-_.]+")


def normalize(name: str) -> str:
    return _RUNS.sub("-", name).lower()


def read_metadata(path: str, data: bytes) -> tuple[list[Package], list[str]]:
    headers = BytesHeaderParser().parsebytes(data)
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return [], [f"/{path}: no Name or Version header; not a distribution's metadata"]
    name, version = str(name).strip(), str(version).strip()
    info = path if path.endswith(".egg-info") else path.rpartition("/")[0]  # the .dist-info / .egg-info
    site = info.rpartition("/")[0]
    return [Package("pypi", name, version, f"{normalize(name)}@/{site}", path)], []
