"""Mutations of whole image archives and the check every run must pass.

Used by tests/test_fuzz.py. A mutator takes the archive's members (as
``images.read_outer`` gives them) or its raw bytes and a seeded
``random.Random``, and returns the bytes of a damaged archive; every damage
an attacker or a bad disk can do to an archive is one of these or a mix.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import signal
import tarfile
from collections.abc import Callable
from dataclasses import dataclass

from click.testing import CliRunner

from layerscope.cli import main

Members = list[tuple[tarfile.TarInfo, bytes | None]]

MEDIA_TYPES = [
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.in-toto+json", "", "text/html",
]
GARBAGE_JSON = [b"", b"{", b"null", b"[]", b"\xff\xfe\x00garbage", b"[" * 100_000, b'{"a":' * 50_000,
                b'{"manifests": 1e999}', b'{"schemaVersion": 2, "manifests": [{"digest": "sha256:../../x"}]}',
                b'"' + b"x" * 300_000 + b'"', json.dumps({"layers": [{}] * 10_000}).encode()]


def tar_bytes(members: Members) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in members:
            ti = tarfile.TarInfo(ti.name) if data is not None else ti
            if data is not None:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


def is_json(data: bytes | None) -> bool:
    return data is not None and data[:1] in (b"{", b"[")


def header_boundaries(raw: bytes) -> list[int]:
    """Every 512-byte block that starts a tar header, in the archive and in uncompressed layers inside it."""
    out = [0]
    try:
        tf = tarfile.open(fileobj=io.BytesIO(raw))
        found = tf.getmembers()
    except (tarfile.TarError, EOFError):  # already damaged: the blocks tarfile read so far
        return out
    with tf:
        for ti in found:
            out += [ti.offset, ti.offset_data]
            if ti.isreg() and ti.size > 1024:
                inner = raw[ti.offset_data:ti.offset_data + ti.size]
                try:
                    with tarfile.open(fileobj=io.BytesIO(inner), mode="r:") as lt:
                        out += [ti.offset_data + m.offset for m in lt.getmembers()]
                except tarfile.TarError:
                    pass
    return sorted(set(out))


# --------------------------------------------------------------------------
# mutators: (members, raw, rnd) -> damaged archive bytes
# --------------------------------------------------------------------------

def flip_bits(members: Members, raw: bytes, rnd: random.Random) -> bytes:
    b = bytearray(raw)
    headers = header_boundaries(raw)
    for _ in range(rnd.randint(1, 4)):
        at = rnd.choice(headers) + rnd.randrange(512) if rnd.random() < 0.5 else rnd.randrange(len(b))
        b[min(at, len(b) - 1)] ^= 1 << rnd.randrange(8)
    return bytes(b)


def truncate(members: Members, raw: bytes, rnd: random.Random) -> bytes:
    at = rnd.choice(header_boundaries(raw)) + rnd.choice([0, 0, 1, 100, 511, 512, 1000])
    return raw[:at]


def swap_digests(members: Members, raw: bytes, rnd: random.Random) -> bytes:
    """Two blobs trade names: every reference now points at the wrong bytes."""
    blobs = [i for i, (ti, data) in enumerate(members) if data is not None and ti.name != "index.json"]
    i, j = rnd.sample(blobs, 2)
    ms = [(tarfile.TarInfo(ti.name), d) for ti, d in members]
    ms[i], ms[j] = (ms[i][0], members[j][1]), (ms[j][0], members[i][1])
    return tar_bytes(ms)


def duplicate_entry(members: Members, raw: bytes, rnd: random.Random) -> bytes:
    """A member appears twice, the copy (same or other bytes) before or after it."""
    ms = list(members)
    i = rnd.randrange(len(ms))
    ti, data = ms[i]
    if data is not None and rnd.random() < 0.5:
        data = rnd.choice([d for _t, d in members if d is not None])
    ms.insert(rnd.randrange(len(ms) + 1), (ti, data))
    return tar_bytes(ms)


def reorder(members: Members, raw: bytes, rnd: random.Random) -> bytes:
    ms = list(members)
    rnd.shuffle(ms)
    return tar_bytes(ms)


def _rewrite(members: Members, i: int, new: bytes, rnd: random.Random) -> Members:
    """Replace member ``i`` by ``new``; when consistent (most of the time), store it under its
    new digest and update every reference to it, recursively, so the damage gets past digest checks."""
    ms = [(tarfile.TarInfo(ti.name), d) for ti, d in members]
    name = ms[i][0].name
    if not name.startswith("blobs/") or rnd.random() < 0.3:
        ms[i] = (ms[i][0], new)
        return ms
    pending = [(i, new)]
    for _ in range(6):
        if not pending:
            break
        k, data = pending.pop()
        old_name = ms[k][0].name
        old_hex, old_size = old_name.rsplit("/", 1)[1], len(ms[k][1] or b"")
        new_hex = hashlib.sha256(data).hexdigest()
        ms[k] = (tarfile.TarInfo(old_name.rsplit("/", 1)[0] + "/" + new_hex), data)
        for j, (ti, d) in enumerate(ms):
            if j != k and is_json(d) and old_hex.encode() in d:
                d2 = d.replace(old_hex.encode(), new_hex.encode()).replace(
                    b'"size":%d' % old_size, b'"size":%d' % len(data)).replace(
                    b'"size": %d' % old_size, b'"size": %d' % len(data))
                if ti.name == "index.json" or not ti.name.startswith("blobs/"):
                    ms[j] = (ti, d2)
                else:
                    pending.append((j, d2))
    return ms


def garbage_json(members: Members, raw: bytes, rnd: random.Random) -> bytes:
    docs = [i for i, (_ti, d) in enumerate(members) if is_json(d)]
    i = rnd.choice(docs)
    return tar_bytes(_rewrite(members, i, rnd.choice(GARBAGE_JSON), rnd))


def wrong_media_type(members: Members, raw: bytes, rnd: random.Random) -> bytes:
    docs = [i for i, (_ti, d) in enumerate(members) if is_json(d) and b"mediaType" in d]
    if not docs:
        return garbage_json(members, raw, rnd)
    i = rnd.choice(docs)
    doc = json.loads(members[i][1])
    spots = []

    def walk(o):
        if isinstance(o, dict):
            if "mediaType" in o:
                spots.append(o)
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(doc)
    rnd.choice(spots)["mediaType"] = rnd.choice(MEDIA_TYPES)
    return tar_bytes(_rewrite(members, i, json.dumps(doc).encode(), rnd))


def self_index(members: Members, raw: bytes, rnd: random.Random) -> bytes:
    """index.json points at an index blob that lists itself (or a two-index cycle)."""
    idx = [i for i, (ti, _d) in enumerate(members) if ti.name == "index.json"]
    if not idx:
        return duplicate_entry(members, raw, rnd)
    mt = MEDIA_TYPES[0]
    a_hex, b_hex = (hashlib.sha256(str(rnd.random()).encode()).hexdigest() for _ in range(2))
    cycle = rnd.random() < 0.5
    a = json.dumps({"schemaVersion": 2, "mediaType": mt, "manifests": [
        {"mediaType": mt, "digest": "sha256:" + (b_hex if cycle else a_hex), "size": 200}]}).encode()
    b = json.dumps({"schemaVersion": 2, "mediaType": mt, "manifests": [
        {"mediaType": mt, "digest": "sha256:" + a_hex, "size": len(a)}]}).encode()
    top = json.dumps({"schemaVersion": 2, "mediaType": mt, "manifests": [
        {"mediaType": mt, "digest": "sha256:" + a_hex, "size": len(a)}]}).encode()
    ms = [(tarfile.TarInfo(ti.name), d if ti.name != "index.json" else top) for ti, d in members]
    ms += [(tarfile.TarInfo("blobs/sha256/" + a_hex), a), (tarfile.TarInfo("blobs/sha256/" + b_hex), b)]
    return tar_bytes(ms)


def bad_digest_strings(members: Members, raw: bytes, rnd: random.Random) -> bytes:
    """A digest in a document becomes a path, a short hex, an unknown algorithm."""
    docs = [i for i, (_ti, d) in enumerate(members) if is_json(d) and b"sha256:" in d]
    if not docs:
        return flip_bits(members, raw, rnd)
    i = rnd.choice(docs)
    d = members[i][1]
    at = d.index(b"sha256:", rnd.randrange(d.count(b"sha256:")) and d.index(b"sha256:") + 1 or 0)
    bad = rnd.choice([b"sha256:../../../../etc/passwd", b"sha256:/etc/passwd", b"sha256:abc", b"md5:" + b"0" * 32,
                      b"sha256:" + b"g" * 64, b"sha512:" + b"0" * 64, b"sha256:" + b"0" * 64 + b"/../x", b":"])
    end = d.index(b'"', at)
    return tar_bytes(_rewrite(members, i, d[:at] + bad + d[end:], rnd))


MUTATORS: dict[str, Callable[[Members, bytes, random.Random], bytes]] = {
    "flip": flip_bits, "truncate": truncate, "swap-digests": swap_digests, "duplicate": duplicate_entry,
    "reorder": reorder, "garbage-json": garbage_json, "media-type": wrong_media_type, "self-index": self_index,
    "bad-digest": bad_digest_strings,
}


# --------------------------------------------------------------------------
# running one case
# --------------------------------------------------------------------------

class CaseHung(BaseException):
    """Raised by SIGALRM in a case that overran its deadline (BaseException: no handler may catch it)."""


COMMANDS = [["inspect", "--json"], ["inspect", "--no-verify"], ["ls", "-R", "--no-verify"], ["changes", "--json"],
            ["changes", "--no-verify"], ["ls", "-R"]]


@dataclass
class Outcome:
    rc: int
    stderr: str
    problem: str | None  # None: the contract held


def run_case(path: str, args: list[str], *, timeout: int = 20) -> Outcome:
    """Run the CLI in-process on ``path``; judge its exit code and stderr against the contract."""
    def on_alarm(_sig, _frame):
        raise CaseHung

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(timeout)
    try:
        r = CliRunner().invoke(main, [*args, path], catch_exceptions=False)
    except CaseHung:
        return Outcome(-1, "", f"hung (> {timeout}s)")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return Outcome(r.exit_code, r.stderr, judge(r.exit_code, r.stderr, path))


def judge(rc: int, stderr: str, path: str) -> str | None:
    """What is wrong with a run's exit code and stderr (None: nothing)."""
    lines = [l for l in stderr.splitlines() if l.strip() and "layerscope: warning:" not in l]
    if "Traceback" in stderr:
        return "traceback: " + stderr.strip().splitlines()[-1]
    if rc == 0:
        return None
    if rc != 2:
        return f"exit {rc}: {stderr.strip()[-300:]}"
    if len(lines) != 1:
        return f"{len(lines)} error lines: {stderr.strip()[-300:]!r}"
    line = lines[0]
    if "internal error" in line:
        return line
    if not line.startswith("layerscope: error: ") or path.rsplit("/", 1)[-1] not in line:
        return "error line does not name the file: " + line
    return None
