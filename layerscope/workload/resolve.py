"""From an image reference as a manifest writes it to an image layerscope can read.

A manifest names images by registry reference (``nginx:1.25``,
``123.dkr.ecr.eu-west-1.amazonaws.com/shop/web@sha256:...``). By default each
is read from its registry (``docker://`` as written). To run offline, or on
what CI just built, ``--map REF=SPEC`` points one reference at anything
``inspect`` reads, and ``--images DIR`` offers every image of the archives and
layouts in a directory, matched by the names they carry (a docker-archive's
RepoTags, an OCI layout's ref names; a layout or archive named after the
repository with a bare tag, ``web/`` holding ``1.2``, stands for ``web:1.2``) or
by manifest digest for a pinned reference. References are compared the way
docker compares them (``nginx`` is ``docker.io/library/nginx:latest``).

A reference that none of these resolves is not fatal: the workload is reported
without it and the reason is a warning. A spec the user named that is broken
(a ``--map`` archive that does not open) is an error, as everywhere else.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from ..errors import LayerscopeError, UsageError
from ..record import Record
from ..source import Image, open_image, open_images
from ..source.platform import Platform


class Resolved(Record):
    """One reference's outcome: the image (None: not resolved), where it came from, or why not."""

    __slots__ = ("ref", "image", "source", "problem")

    ref: str
    image: Image | None
    source: str | None
    problem: str | None

    def __init__(self, ref: str, image: Image | None, source: str | None, problem: str | None) -> None:
        self.ref = ref
        self.image = image
        self.source = source
        self.problem = problem


def canonical(ref: str) -> str | None:
    """``HOST/REPO[:TAG][@DIGEST]`` as docker reads ``ref`` (tag ``latest`` when neither is
    written); None when it is no image reference."""
    from ..source.registry.reference import parse_reference

    try:
        return str(parse_reference(ref.strip()))
    except LayerscopeError:
        return None


def _short(ref: str) -> str | None:
    """The repository's last component and the tag (``web:1.2``): how a local archive is named."""
    from ..source.registry.reference import parse_reference

    try:
        r = parse_reference(ref.strip())
    except LayerscopeError:
        return None
    return f"{r.repository.rsplit('/', 1)[-1]}:{r.tag}" if r.tag else None


def _digest(ref: str) -> str | None:
    return ref.rsplit("@", 1)[1] if "@" in ref else None


def parse_map(items: Iterable[str]) -> dict[str, str]:
    """``REF=SPEC`` pairs (``--map``) keyed by the canonical reference."""
    pairs = []
    for item in items:
        ref, sep, spec = item.partition("=")
        if not sep or not spec:
            raise UsageError(f"--map {item!r}: expected REF=ARCHIVE")
        pairs.append((ref, spec))
    return canonical_map(pairs)


def canonical_map(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """(reference, spec) pairs keyed by the canonical reference; UsageError for a non-reference."""
    out: dict[str, str] = {}
    for ref, spec in pairs:
        key = canonical(ref)
        if key is None:
            raise UsageError(f"--map {ref}={spec}: {ref!r} is not an image reference")
        out[key] = spec
    return out


class Resolver:
    """Resolves references, each once (a workload set names the same image many times)."""

    def __init__(self, *, mapping: dict[str, str] | None = None, image_dirs: Iterable[str] = (),
                 platform: str | Platform | None = None, verify: bool = True, offline: bool = False,
                 blob_cache: bool | None = None) -> None:
        self._map = dict(mapping or {})
        self._platform = platform
        self._verify = verify
        self._offline = offline
        self._blob_cache = blob_cache
        self._done: dict[str, Resolved] = {}
        self._by_name: dict[str, list[Image]] = {}  # canonical name -> images of --images
        self._by_short: dict[str, list[Image]] = {}  # "repo:tag" -> images of --images
        self._by_digest: dict[str, list[Image]] = {}
        for d in image_dirs:
            self._index(d)

    def _index(self, directory: str) -> None:
        if not os.path.isdir(directory):
            raise UsageError(f"--images {directory}: not a directory")
        for image in open_images(directory, all_images=True, platform=self._platform, verify=self._verify):
            for name in _names(image):
                key = canonical(name)
                if key is not None:
                    self._by_name.setdefault(key, []).append(image)
                short = _short(name)
                if short is not None:
                    self._by_short.setdefault(short, []).append(image)
            if image.manifest_digest:
                self._by_digest.setdefault(image.manifest_digest, []).append(image)

    def resolve(self, ref: str) -> Resolved:
        key = canonical(ref)
        done = self._done.get(key or ref)
        if done is None:
            done = self._done[key or ref] = self._resolve(ref, key)
        return done

    def _resolve(self, ref: str, key: str | None) -> Resolved:
        if key is None:
            return Resolved(ref, None, None, "not an image reference")
        spec = self._map.get(key)
        if spec is not None:  # named by the user: a broken archive is an error, not a warning
            return Resolved(ref, open_image(spec, platform=self._platform, verify=self._verify), spec, None)
        found = self._local(ref, key)
        if isinstance(found, Resolved):
            return found
        if self._offline:
            return Resolved(ref, None, None, "not in --images or --map (offline: the registry was not asked)")
        spec = f"docker://{ref.strip()}"
        try:
            image = open_image(spec, platform=self._platform, verify=self._verify, blob_cache=self._blob_cache)
        except LayerscopeError as e:
            return Resolved(ref, None, None, " ".join(str(e).split()))
        return Resolved(ref, image, spec, None)

    def _local(self, ref: str, key: str) -> Resolved | None:
        digest = _digest(key)
        for table, k in ((self._by_digest, digest), (self._by_name, key), (self._by_short, _short(ref))):
            if k is None:
                continue
            hits = _distinct(table.get(k, []))
            if len(hits) == 1:
                return Resolved(ref, hits[0], _where(hits[0]), None)
            if len(hits) > 1:
                return Resolved(ref, None, None, "more than one image in --images matches: "
                                + ", ".join(_where(h) for h in hits[:4]) + " (use --map)")
            if table is self._by_digest:
                continue
        return None


def _distinct(images: list[Image]) -> list[Image]:
    seen: dict[tuple, Image] = {}
    for im in images:
        seen.setdefault((im.path, im.ref, im.manifest_digest), im)
    return list(seen.values())


def _where(image: Image) -> str:
    return f"{image.path}:{image.ref}" if image.ref else str(image.path)


def _names(image: Image) -> list[str]:
    """The names an image of ``--images`` answers to: its ref when it is a full name, and
    ``STEM:REF`` for a bare tag in an archive or layout named after its repository."""
    ref = image.ref
    stem = os.path.basename(os.path.normpath(str(image.path)))
    for ext in (".tar.gz", ".tgz", ".tar.zst", ".tar"):
        if stem.endswith(ext):
            stem = stem[:-len(ext)]
            break
    if not ref:
        return [stem]
    if ":" in ref or "/" in ref:
        return [ref]
    return [f"{stem}:{ref}"]
