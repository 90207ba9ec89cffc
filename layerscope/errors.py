"""One exception family, so the CLI can map every failure to an exit code.

Anything raised for bad input derives from :class:`LayerscopeError`; its
message is the one line a user sees, naming the file and the object at fault.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs more to import than this whole module
if TYPE_CHECKING:
    from typing import TypeVar

    E = TypeVar("E", bound="LayerscopeError")


class LayerscopeError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class BadInputError(LayerscopeError):
    """The input is not what it claims to be (truncated, malformed, hostile)."""


class NotAnImageError(BadInputError):
    """The path is not an image archive or layout layerscope can read."""


class DigestMismatchError(BadInputError):
    """A blob or diff_id did not hash to the digest the image claims."""


class MissingBlobError(BadInputError):
    """A blob the manifest references is absent from the archive or layout."""


class SelectionError(BadInputError):
    """The image/platform/tag asked for is absent or the choice is ambiguous."""


class UsageError(LayerscopeError):
    """The caller asked for something inconsistent."""


def os_error(e: OSError, doing: str | None = None, where: str | None = None,
             *, cls: type[E] = BadInputError) -> E:  # type: ignore[assignment]
    """The one line a user sees for an OSError: ``WHERE: cannot DOING: REASON``.

    REASON is the system's text (``strerror``), not Python's repr with errno
    and path; without ``doing`` the line is just ``WHERE: REASON``. Raise the
    result ``from None``: the traceback of an OSError is not for users.
    """
    reason = e.strerror or str(e)
    return cls(f"cannot {doing}: {reason}" if doing else reason, where=where)
