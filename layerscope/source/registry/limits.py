"""How long and how slowly a registry may answer before layerscope gives up on it.

A hostile or broken registry must not hold a run for ever: one that goes
silent is ended by the read timeout, one that sends a byte now and then (each
within the timeout) by a minimum rate, checked over each window of the
timeout's length while a response body arrives. Both come from the
environment, so a CI job on a slow link (or a test) can choose them:

* ``LAYERSCOPE_REGISTRY_TIMEOUT``: seconds without a byte before a request
  fails (and is retried), default 60; also the rate's window.
* ``LAYERSCOPE_REGISTRY_MIN_RATE``: bytes per second a body must average over
  each window (``10KB`` style sizes), default 1 KiB/s; 0 turns the check off.
  A body slower than that fails at once, not retried: a resumed download
  would earn its attempts back with each byte and never end.
* ``LAYERSCOPE_REGISTRY_PAGE``: entries asked per page of a catalog or tag
  list (``n=``), default 100 (what the distribution registry returns unasked;
  some refuse more than 1000). A listing is also bounded: at most
  ``MAX_PAGES`` pages of at most ``MAX_PAGE_BYTES`` each.
"""

from __future__ import annotations

import os
import time

from ...errors import BadInputError, UsageError
from ...places import size_from_env

DEFAULT_TIMEOUT = 60.0
DEFAULT_MIN_RATE = 1024
DEFAULT_PAGE = 100
MAX_PAGE = 10_000  # n= above this is no page size any registry honours
MAX_PAGES = 10_000  # pages of one listing: a million repositories at the default size; a paging loop ends here
MAX_PAGE_BYTES = 4 << 20  # one page of a listing: 100 names take a few kB


def timeout() -> float:
    """Seconds of silence before a request fails (``LAYERSCOPE_REGISTRY_TIMEOUT``, default 60)."""
    raw = os.environ.get("LAYERSCOPE_REGISTRY_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise UsageError(f"LAYERSCOPE_REGISTRY_TIMEOUT={raw!r}: not a number of seconds above 0")
    return value


def page_size() -> int:
    """Entries asked per page of a listing (``LAYERSCOPE_REGISTRY_PAGE``, default 100)."""
    raw = os.environ.get("LAYERSCOPE_REGISTRY_PAGE", "").strip()
    if not raw:
        return DEFAULT_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise UsageError(f"LAYERSCOPE_REGISTRY_PAGE={raw!r}: not a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def min_rate() -> int:
    """Bytes per second a response body must average (``LAYERSCOPE_REGISTRY_MIN_RATE``, default 1 KiB)."""
    return size_from_env("LAYERSCOPE_REGISTRY_MIN_RATE", DEFAULT_MIN_RATE)


class Pace:
    """Counts a body's bytes and raises when a window of ``window`` seconds brought fewer than
    ``rate`` bytes per second: a drip-feed is ended within about two windows."""

    def __init__(self, window: float, rate: int, what: str, where: str) -> None:
        self.window, self.rate, self.what, self.where = window, rate, what, where
        self._start = time.monotonic()
        self._got = 0

    def add(self, n: int) -> None:
        self._got += n
        now = time.monotonic()
        spent = now - self._start
        if spent < self.window:
            return
        if self.rate and self._got < self.rate * spent:
            raise BadInputError(f"{self.what}: the registry sends too slowly ({self._got} bytes in {spent:.1f} s; "
                                f"at least {self.rate} bytes/s are expected: LAYERSCOPE_REGISTRY_MIN_RATE)",
                                where=self.where)
        self._start, self._got = now, 0


def read_bounded(r, limit: int, what: str, where: str, pace: Pace) -> bytes:
    """A whole (small) response body, at most ``limit`` bytes, read as it arrives (``read1``: a
    drip-feed is seen byte by byte, not waited for until a buffer fills)."""
    parts = []
    got = 0
    while True:
        piece = r.read1(min(1 << 16, limit + 1 - got))
        if not piece:
            return b"".join(parts)
        parts.append(piece)
        got += len(piece)
        if got > limit:
            raise BadInputError(f"{what} is larger than {limit} bytes: refused", where=where)
        pace.add(len(piece))
