"""Fuzzing whole image archives: any byte sequence ends in a result or one clean error.

Each case damages a real archive (see fuzz_cases.py: truncation at every
tar header boundary, bit flips, swapped digests, duplicated and reordered
entries, garbage JSON, wrong media types, indexes that list themselves, digests
that are paths) and runs a command in-process under a deadline (SIGALRM).
The contract (docs/security.md): exit 0, or exit 2 with exactly one stderr
line naming the file; never a traceback, never "internal error" (a bug the
CLI's catch-all caught), never a hang. Both tar readers take turns.

``pytest tests/test_fuzz.py --fuzz-cases 20000`` runs a longer (nightly) campaign;
the default runs ~2,000 cases in about two minutes on two cores.
"""

from __future__ import annotations

import random
import subprocess
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_cases as F
import images as I
from layerscope.layer import tarscan


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, bytes]:
    """Small real archives to damage: docker-archive (uncompressed layers), oci-archives (gzip, zstd),
    and a skopeo docker-archive of a umoci-built image when the tools are there."""
    w = tmp_path_factory.mktemp("fuzzbase")
    out = {}
    I.build_legacy_docker_archive(w / "docker.tar", "docker")
    out["docker"] = (w / "docker.tar").read_bytes()
    for comp in ("gzip", "zstd"):
        I.build_simple_oci_layout(w / comp, compress=comp)
        out[f"oci-{comp}"] = I.pack_oci_archive(w / comp, w / f"oci-{comp}.tar").read_bytes()
    if I.have_tools():
        um = I.build_umoci_layout(w / "umoci")
        I.skopeo("copy", f"oci:{um.layout}:v1", f"docker-archive:{w / 'skopeo.tar'}:tool/img:v1")
        out["skopeo"] = (w / "skopeo.tar").read_bytes()
    return out


def _members(raw: bytes) -> F.Members:
    import io

    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        return [(ti, tf.extractfile(ti).read() if ti.isreg() else None) for ti in tf.getmembers()]


def _backend(i: int, monkeypatch) -> None:
    if i % 2 and tarscan.NATIVE is not None:
        monkeypatch.setattr(tarscan, "BACKEND", tarscan.NATIVE)
    else:
        monkeypatch.setattr(tarscan, "BACKEND", tarscan.PYTHON)


def _report(failures: list[str], n: int) -> None:
    assert not failures, f"{len(failures)} of {n} cases broke the contract:\n" + "\n".join(failures[:15])


def test_truncated_at_every_header_boundary(bases, tmp_path, monkeypatch):
    """Cut each archive at every tar header of the archive and of its uncompressed layers (and just after)."""
    failures, n = [], 0
    for name, raw in bases.items():
        for at in F.header_boundaries(raw):
            for cut in (at, at + 100):
                if cut >= len(raw):
                    continue
                p = tmp_path / f"{name}-cut{cut}.tar"
                p.write_bytes(raw[:cut])
                _backend(n, monkeypatch)
                o = F.run_case(str(p), F.COMMANDS[n % len(F.COMMANDS)])
                n += 1
                if o.problem:
                    failures.append(f"{p.name}: {o.problem}")
                p.unlink()
    assert n >= 100
    _report(failures, n)


def test_seeded_mutations(bases, tmp_path, monkeypatch, fuzz_cases):
    """``fuzz_cases`` seeded cases, the mutators (and the bases) taking turns; a few mutations stack."""
    names = sorted(bases)
    members = {k: _members(v) for k, v in bases.items()}
    kinds = sorted(F.MUTATORS)
    failures = []
    for seed in range(fuzz_cases):
        rnd = random.Random(seed)
        base = names[seed % len(names)]
        kind = kinds[(seed // len(names)) % len(kinds)]
        data = F.MUTATORS[kind](members[base], bases[base], rnd)
        if rnd.random() < 0.15 and len(data) > 1024:  # and then a bit flip on top
            data = F.flip_bits(_members(data) if _parses(data) else members[base], data, rnd)
        p = tmp_path / f"{base}-{kind}-{seed}.tar"
        p.write_bytes(data)
        _backend(seed, monkeypatch)
        args = F.COMMANDS[rnd.randrange(len(F.COMMANDS))]
        o = F.run_case(str(p), args)
        if o.problem:
            failures.append(f"seed {seed} {kind} on {base}, {' '.join(args)}: {o.problem}")
        p.unlink()
    _report(failures, fuzz_cases)


def _parses(data: bytes) -> bool:
    try:
        _members(data)
        return True
    except (tarfile.TarError, EOFError):
        return False


def test_hypothesis_overwrites(bases, tmp_path_factory, fuzz_cases):
    """Hypothesis picks where to overwrite which bytes (and where to cut) in the docker-archive."""
    raw = bases["docker"]
    d = tmp_path_factory.mktemp("hyp")

    @settings(max_examples=max(100, fuzz_cases // 10), deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(at=st.integers(0, len(raw) - 1), patch=st.binary(min_size=1, max_size=64),
           cut=st.one_of(st.none(), st.integers(0, len(raw))))
    def case(at, patch, cut):
        data = (raw[:at] + patch + raw[at + len(patch):])[:cut]
        p = d / "hyp.tar"
        p.write_bytes(data)
        o = F.run_case(str(p), ["inspect", "--json"])
        assert o.problem is None, o.problem

    case()


def test_a_few_cases_through_the_real_executable(bases, tmp_path, ls):
    """The entry point (not click's runner) keeps the contract too: one line, exit 2."""
    members = _members(bases["oci-gzip"])
    for seed, kind in enumerate(["garbage-json", "self-index", "bad-digest", "truncate"]):
        p = tmp_path / f"{kind}.tar"
        p.write_bytes(F.MUTATORS[kind](members, bases["oci-gzip"], random.Random(seed)))
        res = ls("inspect", "--json", p)
        assert F.judge(res.rc, res.err, str(p)) is None, res.err
