"""A deadline on a response's head: the status line and headers must arrive within it.

The read timeout ends a registry that goes silent, and the minimum rate one
that drips a body (``limits.py``); neither sees a server that sends a header
byte just inside the timeout, for ever: each read succeeds, http.client
waits for the end of the headers. Connections made here arm a timer when
they wait for a response and, if the head is not complete when it fires,
shut the socket down: the wait ends as a dropped connection, which the
client retries as any other (a bounded number of times).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any


def pool_classes(seconds: float) -> dict[str, type]:
    """urllib3 pool classes (``PoolManager.pool_classes_by_scheme``) whose connections give up on
    a response head that takes longer than ``seconds``."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class DeadlineHTTPConnection(HTTPConnection):
        def getresponse(self, *args: Any, **kwargs: Any):
            with _armed(self, seconds):
                return super().getresponse(*args, **kwargs)

    class DeadlineHTTPSConnection(HTTPSConnection):
        def getresponse(self, *args: Any, **kwargs: Any):
            with _armed(self, seconds):
                return super().getresponse(*args, **kwargs)

    class DeadlineHTTPPool(HTTPConnectionPool):
        ConnectionCls = DeadlineHTTPConnection

    class DeadlineHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = DeadlineHTTPSConnection

    return {"http": DeadlineHTTPPool, "https": DeadlineHTTPSPool}


@contextlib.contextmanager
def _armed(conn: Any, seconds: float) -> Iterator[None]:
    cut = threading.Event()
    timer = threading.Timer(seconds, _cut, (conn, cut))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()  # the head is in: the body has its own rate check
    if cut.is_set():
        # a head cut short can parse as a whole one (headers end where the bytes did): never use it
        raise TimeoutError(f"timed out: no complete response head within {seconds:g} s")


def _cut(conn: Any, cut: threading.Event) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        cut.set()
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the reader: close() would leave it blocked
        except OSError:
            pass  # closed meanwhile
