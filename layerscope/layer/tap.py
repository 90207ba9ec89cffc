"""The base of the scan's content hooks: a stream wrapper that sees every piece the tar reader gets.

``capture.py`` keeps package databases, ``feed.py`` hands file contents to a
sink, ``savings`` counts a compressed size: each overrides :meth:`StreamTap._note`.
"""

from __future__ import annotations


class StreamTap:
    """Reads (``read``, and ``read1`` when the stream has it) pass through :meth:`_note`."""

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
