"""The content hook of a layer scan: keep the bytes of package databases.

A scan hashes file content and forgets it; ``compare`` also needs what the
package databases say (dpkg, apk, rpm, Python distributions, npm packages).
Reading each layer a second time for a handful of small files would double
the work, so the scan keeps their bytes as they stream by: :class:`Capture`
wraps the layer stream, remembers the last pieces it handed to the tar
reader, and copies a wanted member's content out of them (by the entry's
``data_offset``/``data_size``) as soon as the reader reports the member.

What is wanted is decided here, by path (:func:`database_kind`), and is the
one home of those patterns: ``packages/`` parses what was kept. Memory stays
bounded: the wrapper drops pieces behind the last reported member, a member
the reader says is unwanted is dropped as it streams by (the C reader asks
about members that run past the slice in hand), and a wanted file larger than
:data:`MAX_CAPTURE` is not kept (its digest maps to ``None``, which the
comparison reports as a warning).
"""

from __future__ import annotations

from collections import deque

from .entry import FILE, Entry

#: A package database larger than this is not kept (rpmdb.sqlite of a large
#: RPM-based image is the biggest seen in practice: 5-30 MB).
MAX_CAPTURE = 32 << 20
# stream pieces kept at most: a wanted file, plus the pieces around it (the C reader takes
# 1 MiB slices, the reference reader at most 256 KiB + a header at a time)
_RETAIN = MAX_CAPTURE + (3 << 20)

DPKG, DPKG_STATUS_D, APK, RPM, PYTHON, NPM = "dpkg", "dpkg-status.d", "apk", "rpm", "python", "npm"

_EXACT = {
    "var/lib/dpkg/status": DPKG,
    "lib/apk/db/installed": APK,
    "var/lib/rpm/rpmdb.sqlite": RPM,
    "usr/lib/sysimage/rpm/rpmdb.sqlite": RPM,  # Fedora 36+: /var/lib/rpm is a symlink to it
}
_STATUS_D = "var/lib/dpkg/status.d/"
# a cheap first test, one C call per entry: every wanted path ends with one of these or is in status.d
_SUFFIXES = ("/status", "/installed", "/rpmdb.sqlite", "/METADATA", "/PKG-INFO", ".egg-info", "/package.json")


def database_kind(path: str) -> str | None:
    """Which package database ``path`` (normalised, relative) is, if any.

    dpkg ``var/lib/dpkg/status`` and distroless ``status.d/NAME`` (not its
    ``.md5sums``), apk ``lib/apk/db/installed``, rpm ``rpmdb.sqlite``, Python
    ``*.dist-info/METADATA``, ``*.egg-info/PKG-INFO`` and ``*.egg-info`` files
    anywhere, npm ``node_modules/[@scope/]NAME/package.json`` at any depth (a
    package's root: not the package.json files inside a package's own tree).
    """
    kind = _EXACT.get(path)
    if kind is not None:
        return kind
    if path.startswith(_STATUS_D):
        name = path[len(_STATUS_D):]
        return DPKG_STATUS_D if name and "/" not in name and not name.endswith(".md5sums") else None
    head, _, name = path.rpartition("/")
    if name == "METADATA":
        return PYTHON if head.endswith(".dist-info") else None
    if name == "PKG-INFO":
        return PYTHON if head.endswith(".egg-info") else None
    if name.endswith(".egg-info") and len(name) > 9:
        return PYTHON
    if name == "package.json":
        parts = head.split("/")
        if len(parts) >= 2 and parts[-2] == "node_modules" and not parts[-1].startswith("@"):
            return NPM
        if len(parts) >= 3 and parts[-3] == "node_modules" and parts[-2].startswith("@"):
            return NPM
    return None


def candidate(path: str) -> bool:
    """A cheap first test (two C calls): False for every path that is no package database."""
    return path.endswith(_SUFFIXES) or path.startswith(_STATUS_D)


def wanted(e: Entry) -> bool:
    """Is ``e`` a package database whose bytes a scan keeps?"""
    p = e.path
    return e.kind is FILE and (p.endswith(_SUFFIXES) or p.startswith(_STATUS_D)) and database_kind(p) is not None


def _fits(e: Entry) -> bool:
    # a sparse database file would need expanding: not kept either
    return e.size <= MAX_CAPTURE and e.size == e.data_size


class StreamTap:
    """The base of the scan's content hooks (this module's :class:`Capture`, ``feed.py``,
    ``savings``' compressed count): reads (``read``, and ``read1`` when the stream has it)
    pass through :meth:`_note`. Here, not in a module of its own, so that ``inspect``
    loads no extra module."""

    def __init__(self, stream) -> None:
        self._stream = stream
        if hasattr(stream, "read1"):
            self.read1 = self._read1

    def read(self, n: int, /):
        return self._note(self._stream.read(n))

    def _read1(self, n: int, /):
        return self._note(self._stream.read1(n))

    def _note(self, piece):
        return piece


class Capture(StreamTap):
    """A layer stream that remembers what it handed out, and the bytes kept from it.

    Pass it to the tar reader in place of the stream, with :meth:`wants` as
    the reader's ``wants``; call :meth:`batch` with every batch of entries
    the reader yields. ``kept`` maps the XXH3-128 digest of each wanted file
    to its bytes (``None``: larger than ``MAX_CAPTURE``).
    """

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._pieces: deque[tuple[int, bytes | memoryview]] = deque()  # (stream offset, piece)
        self._pos = 0  # stream offset after the last byte handed out
        self._held = 0  # bytes in _pieces
        self._keep = 0  # pieces ending at or before this offset may go
        self.kept: dict[bytes, bytes | None] = {}
        self.lost: list[str] = []  # wanted members whose bytes were no longer at hand (a bug if not empty)

    def _note(self, piece):
        size = len(piece)
        if size:
            pieces = self._pieces
            pieces.append((self._pos, piece))
            self._pos += size
            self._held += size
            while len(pieces) > 1:
                start, old = pieces[0]
                if start + len(old) > self._keep and self._held <= _RETAIN:
                    break
                pieces.popleft()
                self._held -= len(old)
        return piece

    def wants(self, e: Entry) -> bool:
        """The reader's question: keep the bytes of ``e``? (If not, they may go.)"""
        if wanted(e) and _fits(e):
            return True
        self._keep = max(self._keep, e.data_offset + e.data_size)
        return False

    def batch(self, entries: list[Entry]) -> None:
        """Copy out the wanted members of a batch the reader just yielded."""
        if not entries:
            return
        for e in entries:
            p = e.path
            if (p.endswith(_SUFFIXES) or p.startswith(_STATUS_D)) and e.digest is not None and wanted(e):
                if not _fits(e):
                    self.kept[e.digest] = None
                elif e.digest not in self.kept:
                    data = self._copy(e.data_offset, e.size)
                    if data is None:
                        self.lost.append(e.path)
                    else:
                        self.kept[e.digest] = data
        last = entries[-1]
        self._keep = max(self._keep, last.data_offset + last.data_size)

    def _copy(self, offset: int, size: int) -> bytes | None:
        end = offset + size
        out = []
        for start, piece in self._pieces:
            stop = start + len(piece)
            if stop <= offset:
                continue
            if start >= end:
                break
            if not out and start > offset:
                return None  # its head was dropped
            out.append(piece[max(offset - start, 0):min(end, stop) - start])
        data = b"".join(out)
        return data if len(data) == size else None

    def close(self) -> None:
        """Let go of the pieces (views into the stream's buffers)."""
        self._pieces.clear()
        self._held = 0
