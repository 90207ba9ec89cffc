"""Registry credentials from the files users already have, and the token dance.

Where credentials come from, first match wins (skopeo's order, then docker's):
``REGISTRY_AUTH_FILE``; ``$XDG_RUNTIME_DIR/containers/auth.json``;
``~/.config/containers/auth.json``; docker's ``config.json`` (``$DOCKER_CONFIG``
or ``~/.docker``): ``credHelpers[host]``, ``auths[host]``, then ``credsStore``.
A helper is run by the docker-credential-helpers protocol (``docker-credential-NAME
get``, the server URL on stdin, ``{"Username", "Secret"}`` on stdout), so Amazon
ECR's ``ecr-login`` and the OS keychains work; a ``<token>`` user means the secret
is an identity (refresh) token.

Secrets stay in :class:`Credentials` (whose ``repr`` hides them) and in request
headers; no message, log line or exception text ever holds one.
"""

from __future__ import annotations

import base64
import json
import os

from ...errors import BadInputError, os_error
from .reference import DOCKER_HUB

HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io",
            "https://registry-1.docker.io", "https://index.docker.io")
HELPER_TIMEOUT = 30  # seconds a credential helper may take (ecr-login calls AWS)
MAX_FILE = 4 << 20  # an auth file larger than this is not one


class Credentials:
    """A user and a secret (a password, or an identity token when ``user`` is ``<token>``)."""

    __slots__ = ("user", "secret", "source")

    def __init__(self, user: str, secret: str, source: str) -> None:
        self.user = user
        self.secret = secret
        self.source = source  # where they came from, for messages: a file or a helper's name

    @property
    def identity_token(self) -> bool:
        return self.user == "<token>"

    def basic(self) -> str:
        raw = f"{self.user}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, secret=<hidden>, source={self.source!r})"

    __str__ = __repr__

    def __getstate__(self):
        return (self.user, self.secret, self.source)

    def __setstate__(self, state) -> None:
        self.user, self.secret, self.source = state


def _keys(host: str) -> tuple[str, ...]:
    """The keys an auth file may file ``host`` under."""
    if host == DOCKER_HUB:
        return HUB_KEYS
    return (host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/")


def _load(path: str) -> dict | None:
    try:
        if os.path.getsize(path) > MAX_FILE:
            raise BadInputError("not an auth file (too large)", where=path)
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise BadInputError(f"cannot read this auth file ({type(e).__name__})", where=path) from None
    if not isinstance(doc, dict):
        raise BadInputError("an auth file is a JSON object", where=path)
    return doc


def _from_auths(doc: dict, host: str, path: str) -> Credentials | None:
    auths = doc.get("auths")
    if not isinstance(auths, dict):
        return None
    for key in _keys(host):
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        token = entry.get("identitytoken")
        auth = entry.get("auth")
        user = None
        if isinstance(auth, str) and auth:
            try:
                user, _, secret = base64.b64decode(auth, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise BadInputError(f"the entry for {key} has an auth value that is not base64 of user:password",
                                    where=path) from None
            if isinstance(token, str) and token:
                return Credentials("<token>", token, path)
            return Credentials(user, secret, path)
        if isinstance(token, str) and token:
            return Credentials("<token>", token, path)
    return None


def _helper(name: str, host: str, where: str) -> Credentials | None:
    """Ask ``docker-credential-NAME``; None when it has nothing for ``host``."""
    server = "https://index.docker.io/v1/" if host == DOCKER_HUB else host
    import subprocess  # only when a helper is configured: not at start-up

    exe = f"docker-credential-{name}"
    try:
        done = subprocess.run([exe, "get"], input=server.encode(), capture_output=True, timeout=HELPER_TIMEOUT)
    except FileNotFoundError:
        raise BadInputError(f"credential helper {exe} (named in {where}) is not on PATH", where=host) from None
    except subprocess.TimeoutExpired:
        raise BadInputError(f"credential helper {exe} did not answer in {HELPER_TIMEOUT} s", where=host) from None
    except OSError as e:
        raise os_error(e, f"run the credential helper {exe}", host) from None
    if done.returncode != 0:
        # the protocol's "not found" is a non-zero exit with a message; nothing else is said
        # (a helper's stderr is its own business and may echo what it was given)
        return None
    try:
        doc = json.loads(done.stdout)
        user, secret = doc["Username"], doc["Secret"]
        if not isinstance(user, str) or not isinstance(secret, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise BadInputError(f"credential helper {exe} answered something that is not "
                            "{\"Username\", \"Secret\"} JSON", where=host) from None
    return Credentials(user, secret, exe)


def auth_files() -> list[str]:
    """The containers auth files, in the order they are asked."""
    out = []
    env = os.environ.get("REGISTRY_AUTH_FILE")
    if env:
        out.append(env)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        out.append(os.path.join(xdg, "containers", "auth.json"))
    out.append(os.path.join(os.path.expanduser("~"), ".config", "containers", "auth.json"))
    return out


def docker_config() -> str:
    return os.path.join(os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker"),
                        "config.json")


def find_credentials(host: str) -> Credentials | None:
    """The credentials users have for ``host`` (HOST[:PORT]), or None: anonymous."""
    for path in auth_files():
        doc = _load(path)
        if doc is not None and (found := _from_auths(doc, host, path)) is not None:
            return found
    path = docker_config()
    doc = _load(path)
    if doc is None:
        return None
    helpers = doc.get("credHelpers")
    if isinstance(helpers, dict):
        for key in _keys(host):
            name = helpers.get(key)
            if isinstance(name, str) and name:
                return _helper(name, host, path)
    found = _from_auths(doc, host, path)
    if found is not None:
        return found
    store = doc.get("credsStore")
    if isinstance(store, str) and store:
        return _helper(store, host, path)
    return None


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="https://auth",service="reg",scope="x"`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            j = i + 1
            value = []
            while j < n and rest[j] != '"':
                if rest[j] == "\\" and j + 1 < n:
                    j += 1
                value.append(rest[j])
                j += 1
            params[key] = "".join(value)
            i = j + 1
        else:
            j = rest.find(",", i)
            j = n if j < 0 else j
            params[key] = rest[i:j].strip()
            i = j
    return scheme.lower(), params
