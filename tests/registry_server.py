"""A real registry on loopback for the tests: Debian's ``docker-registry`` (the CNCF
distribution registry), optionally behind htpasswd basic auth or token auth (with a
small token server here that signs JWTs the registry verifies), plus a TCP proxy that
can cut a connection mid-blob.

Images go in with ``skopeo copy``; the registry's access log says which blobs were
served (the cache tests count them).
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import warnings
from pathlib import Path


def have_registry() -> bool:
    return bool(shutil.which("docker-registry") and shutil.which("skopeo"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"docker-registry did not listen on {port}: {log.read_text()[-2000:]}")


def bcrypt_htpasswd(user: str, password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n"


class Registry:
    """``docker-registry serve`` on 127.0.0.1:PORT with its storage and access log under ``root``."""

    def __init__(self, root: Path, *, auth: dict | None = None, listen: str = "127.0.0.1") -> None:
        self.root = root
        self.port = free_port()
        self.listen = listen
        self.host = f"127.0.0.1:{self.port}"
        self.data = root / "data"
        self.log = root / "registry.log"
        self.auth = auth
        self.proc: subprocess.Popen | None = None

    def config(self) -> str:
        lines = ["version: 0.1", "log:", "  level: info", "  accesslog:", "    disabled: false",
                 "storage:", "  filesystem:", f"    rootdirectory: {self.data}", "  delete:", "    enabled: true",
                 "http:", f"  addr: {self.listen}:{self.port}"]
        if self.auth:
            lines.append("auth:")
            for kind, opts in self.auth.items():
                lines.append(f"  {kind}:")
                lines += [f"    {k}: {v}" for k, v in opts.items()]
        return "\n".join(lines) + "\n"

    def start(self) -> Registry:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "config.yml").write_text(self.config())
        self.log_file = open(self.log, "ab")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(self.root / "config.yml")],
                                     stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_port(self.port, self.proc, self.log)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        if getattr(self, "log_file", None):
            self.log_file.close()

    def push(self, src: str, dest: str, *extra: str, creds: str | None = None) -> str:
        """``skopeo copy SRC docker://HOST/DEST``; returns the ``docker://`` reference."""
        ref = f"docker://{self.host}/{dest}"
        cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", *extra]
        if creds:
            cmd += ["--dest-creds", creds]
        subprocess.run([*cmd, src, ref], check=True, capture_output=True, timeout=120)
        return ref

    def blob_gets(self, repository: str) -> int:
        """Blob downloads the access log shows for ``repository`` (HEADs not counted)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return len(re.findall(rf'"GET /v2/{re.escape(repository)}/blobs/sha256:[0-9a-f]+ HTTP', text))

    def requests_with_range(self) -> int:
        return self.log.read_text(errors="replace").count("Range") if self.log.exists() else 0

    def blob_file(self, digest: str) -> Path:
        hex_ = digest.split(":", 1)[1]
        return self.data / "docker" / "registry" / "v2" / "blobs" / "sha256" / hex_[:2] / hex_ / "data"


# ---- token auth ------------------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """The token service of the Docker registry token auth spec: a GET with basic auth
    returns a JWT (RS256, the certificate in ``x5c``) granting pull on the asked scope."""

    def __init__(self, root: Path, users: dict[str, str], *, issuer: str = "layerscope-test",
                 service: str = "layerscope-registry") -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.key, self.cert = root / "token.key", root / "token.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
                        "-out", self.cert, "-days", "2", "-subj", "/CN=layerscope-test-token"],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.users, self.issuer, self.service = users, issuer, service
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self.issued = 0
        self.refused = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                from urllib.parse import parse_qs, urlparse

                q = parse_qs(urlparse(self.path).query)
                auth = self.headers.get("Authorization", "")
                user = None
                if auth.startswith("Basic "):
                    u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                    if server.users.get(u) == p:
                        user = u
                if user is None:
                    server.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                scope = (q.get("scope") or [""])[0]
                access = []
                if scope.startswith("repository:"):
                    _, name, actions = scope.split(":", 2)
                    access = [{"type": "repository", "name": name, "actions": actions.split(",")}]
                body = json.dumps({"token": server.sign(user, access)}).encode()
                server.issued += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def sign(self, user: str, access: list[dict]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": user, "aud": self.service, "exp": now + 600, "nbf": now - 10,
                  "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=signing_input.encode(),
                             check=True, capture_output=True).stdout
        return f"{signing_input}.{_b64url(sig)}"

    def registry_auth(self) -> dict:
        return {"token": {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                          "rootcertbundle": str(self.cert)}}

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- a proxy that cuts ---------------------------------------------------------------

class CuttingProxy:
    """Forwards 127.0.0.1:PORT to the registry; ``cut_after`` bytes into the first response
    bigger than that it closes the connection, and with ``then_refuse`` it then stops
    listening (a registry gone mid-blob)."""

    def __init__(self, target_port: int, *, cut_after: int, then_refuse: bool, delay: float = 0.0) -> None:
        self.delay = delay  # seconds per 64 KiB passed on (a slow link)
        self.target_port = target_port
        self.cut_after = cut_after
        self.then_refuse = then_refuse
        self.cuts = 0
        self.ranges = 0  # requests that asked for a Range (a resumed download)
        self._conns: list[socket.socket] = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self._stop:  # accepted as the registry went away
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        self._conns += [client, upstream]
        done = threading.Event()

        def up() -> None:
            try:
                while data := client.recv(65536):
                    self.ranges += data.lower().count(b"\r\nrange: bytes=")
                    upstream.sendall(data)
            except OSError:
                pass
            done.set()

        threading.Thread(target=up, daemon=True).start()
        sent = 0
        try:
            while data := upstream.recv(65536):
                if self.cuts == 0 and sent + len(data) > self.cut_after and sent < self.cut_after:
                    client.sendall(data[:self.cut_after - sent])
                    self.cuts += 1
                    if self.then_refuse:  # gone: no new connections, and the open ones drop
                        self._stop = True
                        self.sock.close()
                        for c in list(self._conns):
                            try:
                                c.shutdown(socket.SHUT_RDWR)
                            except OSError:
                                pass
                    break
                client.sendall(data)
                sent += len(data)
                if self.delay:
                    time.sleep(self.delay)
        except OSError:
            pass
        finally:
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass


# ---- a front that fails, then redirects --------------------------------------------------

class FlakyFront:
    """An HTTP front for the registry: the first ``fail`` requests get 503 (``Retry-After: 0``)
    and every other request a 307 to the same path on the registry (another origin, as object
    storage is). Counts what it answered."""

    def __init__(self, target: str, *, fail: int = 2) -> None:
        self.target, self.fail = target, fail
        self.failed = self.redirected = 0
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                if front.failed < front.fail:
                    front.failed += 1
                    self.send_response(503)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                front.redirected += 1
                self.send_response(307)
                self.send_header("Location", f"http://{front.target}{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD = _answer

        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def outward_ip() -> str | None:
    """An address of this machine that is not loopback (None if it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


class ForwardProxy:
    """A plain HTTP forward proxy (absolute-URI requests; no CONNECT), counting what it carried."""

    def __init__(self) -> None:
        self.carried: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                import http.client
                from urllib.parse import urlsplit

                u = urlsplit(self.path)
                if u.scheme != "http":
                    self.send_response(501)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                proxy.carried.append(f"{self.command} {self.path}")
                conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
                conn.request(self.command, u.path + (f"?{u.query}" if u.query else ""), headers=headers)
                r = conn.getresponse()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding"):
                        self.send_header(k, v)
                body = r.read()
                if r.getheader("Content-Length") is None:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                conn.close()

            do_GET = do_HEAD = do_CONNECT = _forward

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
