"""Installed packages, read from the package databases a layer scan kept.

Each reader is a pure function of one database file's path and bytes
(``layer/capture.py`` decides which files those are and keeps them during
the scan, so nothing here reads an image): :func:`read` dispatches on the
kind of database and returns the packages it lists plus warnings. A
database that does not parse (bad JSON, a corrupt sqlite file) gives a
warning, never an exception: one broken ``package.json`` must not hide the
rest of a comparison.

Which packages are "the same" across two images is each ecosystem's
``key``: dpkg ``name:arch``, apk ``name``, rpm ``name.arch``, and for
Python and npm, which install side by side in many places, the name plus
where it is installed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..layer import capture

__all__ = ["Package", "read"]


@dataclass(slots=True, frozen=True)
class Package:
    type: str  # deb, apk, rpm, pypi, npm (package-URL types)
    name: str
    version: str
    key: str  # identity across images (see the module docstring)
    path: str  # the database file it was read from (relative, as in the models)
    arch: str | None = None
    size: int | None = None  # installed bytes, where the database records them


def read(path: str, data: bytes) -> tuple[list[Package], list[str]]:
    """The packages the database at ``path`` lists, and warnings (one line each)."""
    kind = capture.database_kind(path)
    try:
        if kind in (capture.DPKG, capture.DPKG_STATUS_D):
            from .dpkg import read_status

            return read_status(path, data, distroless=kind == capture.DPKG_STATUS_D), []
        if kind == capture.APK:
            from .apk import read_installed

            return read_installed(path, data), []
        if kind == capture.RPM:
            from .rpm import read_rpmdb

            return read_rpmdb(path, data)
        if kind == capture.PYTHON:
            from .python import read_metadata

            return read_metadata(path, data)
        if kind == capture.NPM:
            from .npm import read_package_json

            return read_package_json(path, data)
    except BadDatabase as e:
        return [], [f"/{path}: {e}"]
    return [], []


class BadDatabase(Exception):
    """A database that cannot be read: reported as a warning by :func:`read`."""
