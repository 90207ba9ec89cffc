"""Image sources: find the manifest, config and layer blobs of one image.

``open_image("img.tar")``, ``open_image("img.tar:name:tag")``,
``open_image("layout-dir", platform="linux/arm64")``.
"""

from __future__ import annotations

import os

from ..errors import LayerscopeError, NotAnImageError, SelectionError
from .container import Container, TarContainer, open_container
from .docker import DockerArchive
from .docker_v1 import DockerV1Archive, is_v1_archive
from .image import Image, LayerRef
from .oci import OCILayout
from .platform import Platform, host_platform, parse_platform
from . import transport
from .transport import parse_spec

__all__ = ["Image", "LayerRef", "Platform", "open_image", "open_images", "open_many", "split_spec", "host_platform",
           "parse_platform"]


def split_spec(spec: str) -> tuple[str, str | None]:
    """Split ``PATH[:REF]``: the longest prefix that exists is the path.

    References contain colons themselves (``img.tar:name:tag``,
    ``registry:5000/x:1``), so split at the colon that leaves an existing path.
    """
    if os.path.exists(spec):
        return spec, None
    for i in range(len(spec) - 1, 0, -1):
        if spec[i] == ":" and os.path.exists(spec[:i]):
            return spec[:i], spec[i + 1:] or None
    return spec, None


def open_image(
    spec: str,
    *,
    image: str | None = None,
    platform: str | Platform | None = None,
    verify: bool = True,
    blob_cache: bool | None = None,
) -> Image:
    """Resolve one image from an archive, a layout, a registry, the Docker daemon or stdin.

    ``spec`` in skopeo's transport syntax (``transport.py``): ``docker://REF``,
    ``docker-daemon:NAME[:TAG]``, ``docker-archive:``/``oci-archive:``/``oci:PATH[:REF]``,
    ``-``, or a bare ``PATH[:REF]``. ``image`` names one image of a multi-image
    source (a tag, an OCI ref name, or an index number); it overrides a ``:REF``
    suffix. ``platform`` defaults to the host's when the source holds several.
    ``blob_cache``: registry blobs go to the blob cache (None: the default cache
    unless ``LAYERSCOPE_CACHE`` turns it off; False: a temporary directory).
    """
    s = parse_spec(spec)
    if s.transport == transport.REGISTRY:
        from .registry.image import open_registry_image

        return open_registry_image(s.target, platform=platform, verify=verify, cache=blob_cache)
    if s.transport == transport.DAEMON:
        from .daemon import export_from_daemon

        return _open_spooled(export_from_daemon(s.target), spec, image=image, platform=platform, verify=verify)
    if s.transport == transport.STDIN:
        return _open_spooled(_stdin_path(), spec, image=image, platform=platform, verify=verify)
    img = _open_path(s.target, image=image, platform=platform, verify=verify)
    _check_format(s, img)
    return img


_stdin: list[str] = []  # the spooled standard input: it can be read once


def _stdin_path() -> str:
    if not _stdin:
        from .spool import spool_stdin

        _stdin.append(spool_stdin())
    return _stdin[0]


def _open_spooled(path: str, spec: str, *, image: str | None, platform: str | Platform | None,
                  verify: bool) -> Image:
    """An image spooled from a stream, named by its spec: the temporary file is gone at exit,
    so neither the image's path nor an error message names it."""
    try:
        img = _open_path(path, image=image, platform=platform, verify=verify)
    except LayerscopeError as e:
        text, prefix = str(e), f"{path}: "
        if e.where != path or not text.startswith(prefix):
            raise
        raise type(e)(text[len(prefix):], where=spec) from None
    img.path = spec
    return img


def _check_format(s: transport.Spec, img: Image) -> None:
    want = s.expected_format
    if want is not None and img.format != want and not (want == "docker-archive" and img.format.startswith("docker")):
        raise NotAnImageError(f"the '{s.transport}:' prefix says {want}, but this is a {img.format}", where=img.path)


def _open_path(spec: str, *, image: str | None, platform: str | Platform | None, verify: bool) -> Image:
    path, ref = split_spec(spec)
    index = None
    if image is not None:
        if image.isdigit():
            index, ref = int(image), None
        else:
            ref = image
    wanted = parse_platform(platform) if isinstance(platform, str) else platform
    c = open_container(path)
    fmt_oci = "oci-archive" if isinstance(c, TarContainer) else "oci-layout"
    if c.exists("manifest.json"):
        img = DockerArchive(c, verify=verify).select(ref, index)
        if wanted is not None and img.platform is not None and not img.platform.matches(wanted):
            raise SelectionError(f"the image is {img.platform}, not {wanted}", where=path)
        return img
    if c.exists("index.json"):
        return OCILayout(c, fmt=fmt_oci, verify=verify).select(ref, index, wanted)
    if is_v1_archive(c):
        img = DockerV1Archive(c, verify=verify).select(ref, index)
        if wanted is not None and img.platform is not None and not img.platform.matches(wanted):
            raise SelectionError(f"the image is {img.platform}, not {wanted}", where=path)
        return img
    raise NotAnImageError("not an image: no manifest.json (docker-archive), index.json (OCI layout) "
                          "or repositories (pre-1.10 docker-archive)", where=path)


def open_many(specs, *, all_images: bool = False, platform: str | Platform | None = None,
              verify: bool = True, blob_cache: bool | None = None, threads: int = 1,
              progress=None) -> list[Image]:
    """Every image of ``specs``: opened :class:`Image` objects as they are, and specs as
    :func:`open_images` reads them (``savings``, ``store add``), in order.

    ``threads`` > 1 opens registry images (``docker://``) that many at a time: each is a few
    round trips (a fleet is thousands); the rest open in this thread. The first failing
    spec in order is the error. ``progress(1)`` is called as each spec is opened."""
    specs = list(specs)

    def one(spec) -> list[Image]:
        if isinstance(spec, Image):
            got = [spec]
        else:
            got = open_images(spec, all_images=all_images, platform=platform, verify=verify, blob_cache=blob_cache)
        if progress:
            progress(1)
        return got

    remote = [i for i, s in enumerate(specs) if isinstance(s, str) and parse_spec(s).transport == transport.REGISTRY]
    if threads <= 1 or len(remote) < 2:
        return [im for spec in specs for im in one(spec)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(threads, len(remote))) as pool:
        futures = {i: pool.submit(one, specs[i]) for i in remote}
        try:
            lists = [futures[i].result() if i in futures else one(spec) for i, spec in enumerate(specs)]
        finally:
            for f in futures.values():
                f.cancel()
    return [im for images in lists for im in images]


def open_images(spec: str, *, all_images: bool = False, platform: str | Platform | None = None,
                verify: bool = True, blob_cache: bool | None = None) -> list[Image]:
    """The images ``spec`` names, for commands that take many (``savings``).

    A directory that is no OCI layout stands for the archives and layouts in
    it (sorted by name; other files are skipped); ``all_images`` takes every
    image of a multi-image archive or layout instead of asking which one.
    A registry, the daemon and stdin give one image each.
    """
    s = parse_spec(spec)
    if not s.is_file:
        return [open_image(spec, platform=platform, verify=verify, blob_cache=blob_cache)]
    if s.transport != transport.PATH:
        images = open_images(s.target, all_images=all_images, platform=platform, verify=verify)
        for img in images:
            _check_format(s, img)
        return images
    path, ref = split_spec(spec)
    if ref is None and os.path.isdir(path) and not os.path.exists(os.path.join(path, "index.json")) \
            and not os.path.exists(os.path.join(path, "manifest.json")) \
            and not os.path.exists(os.path.join(path, "repositories")):
        out: list[Image] = []
        for name in sorted(os.listdir(path)):
            sub = os.path.join(path, name)
            if os.path.isdir(sub) and not os.path.exists(os.path.join(sub, "index.json")):
                continue
            try:
                out.extend(open_images(sub, all_images=all_images, platform=platform, verify=verify))
            except NotAnImageError:
                continue
        if not out:
            raise NotAnImageError("no image archive or layout in this directory", where=path)
        return out
    if ref is not None or not all_images:
        return [open_image(spec, platform=platform, verify=verify)]
    wanted = parse_platform(platform) if isinstance(platform, str) else platform
    c = open_container(path)
    if c.exists("manifest.json"):
        archive = DockerArchive(c, verify=verify)
        return [archive.select(None, i) for i in range(len(archive.entries))]
    if c.exists("index.json"):
        layout = OCILayout(c, fmt="oci-archive" if isinstance(c, TarContainer) else "oci-layout", verify=verify)
        return [layout.select(None, i, wanted) for i in range(len(layout.top))]
    return [open_image(spec, platform=platform, verify=verify)]
