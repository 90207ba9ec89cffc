"""An HTTP server on loopback that plays a hostile registry: each test gives it a function that
answers a request however it likes (endless bodies, silence, one byte a second, redirect loops,
huge headers), writing raw bytes to the socket. It counts the requests it saw."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable

Behaviour = Callable[[str, str, socket.socket], None]  # (method, path, socket)


class HostileServer:
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests: list[tuple[str, str]] = []
        self.stopping = threading.Event()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock = self.request
                sock.settimeout(30)
                buf = b""
                try:
                    while not outer.stopping.is_set():
                        while b"\r\n\r\n" not in buf:
                            data = sock.recv(65536)
                            if not data:
                                return
                            buf += data
                        head, _, buf = buf.partition(b"\r\n\r\n")
                        method, path = head.split(b"\r\n")[0].decode("latin-1").split(" ")[:2]
                        outer.requests.append((method, path))
                        outer.behaviour(method, path, sock)
                except OSError:
                    return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def paths(self, prefix: str) -> list[str]:
        return [p for _m, p in self.requests if p.startswith(prefix)]


def respond(sock: socket.socket, status: str, headers: dict[str, str], body: bytes = b"") -> None:
    """A whole, well-formed response (keep-alive)."""
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers.items()]
    if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
        lines.append(f"Content-Length: {len(body)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def api_ok(method: str, sock: socket.socket) -> None:
    """The ``/v2/`` probe's answer: a registry is here, no auth."""
    respond(sock, "200 OK", {"Content-Type": "application/json",
                             "Docker-Distribution-API-Version": "registry/2.0"}, b"{}" if method == "GET" else b"")


def endless(sock: socket.socket, piece: bytes, stopping: threading.Event, *, every: float = 0.0) -> None:
    """``piece`` for ever (a pause of ``every`` seconds between pieces), until the client hangs up."""
    while not stopping.is_set():
        sock.sendall(piece)
        if every:
            time.sleep(every)
