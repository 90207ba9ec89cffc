"""What every text rendering shares: colour (off unless the CLI decided the reader
is a terminal, docs/reports.md), elision of long lists, and lines without
trailing spaces.

Colour wraps a cell's text only, never its padding: columns line up the same
with or without it, and stripping a line's trailing spaces cannot eat into an
escape sequence.
"""

from __future__ import annotations

from collections.abc import Iterable

_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}

#: what a change is painted with, in ``changes`` and ``compare``
CHANGE_STYLE = {"added": "green", "+": "green", "A": "green", "deleted": "red", "removed": "red", "-": "red",
                "D": "red", "modified": "yellow", "~": "yellow", "M": "yellow", "metadata": "yellow",
                "m": "yellow", "opaque": "red", "O": "red"}


class Paint:
    """``paint(text, style)``: ``text`` in ANSI ``style`` when on, else unchanged."""

    __slots__ = ("on",)

    def __init__(self, on: bool = False) -> None:
        self.on = on

    def __call__(self, text: str, style: str | None) -> str:
        if not self.on or not style or not text:
            return text
        return f"\x1b[{_CODES[style]}m{text}\x1b[0m"

    def ljust(self, text: str, width: int, style: str | None) -> str:
        return self(text, style) + " " * (width - len(text))

    def rjust(self, text: str, width: int, style: str | None) -> str:
        return " " * (width - len(text)) + self(text, style)


def more(hidden: int, indent: str = "  ") -> str:
    """The line that stands for ``hidden`` rows left out."""
    return f"{indent}… {hidden:,} more (--all shows them)"


def capped(rows: list[str], total: int, limit: int | None, indent: str = "  ") -> list[str]:
    """``rows`` (at least the first ``limit`` of ``total``) cut to ``limit``, with a :func:`more` line."""
    if limit is not None and total > limit:
        return rows[:limit] + [more(total - limit, indent)]
    return rows


def finish(lines: Iterable[str]) -> str:
    """The rendering: one string, no line ending in spaces, a final newline."""
    return "\n".join(line.rstrip() for line in lines) + "\n"
