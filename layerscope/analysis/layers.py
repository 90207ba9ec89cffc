"""Scan every layer of an image, in parallel, each unique blob once.

Threads are enough: sha256, inflate (isal), zstd and XXH3 all release the
GIL on large buffers, and the tar walk between them is light. A layer whose
blob is absent (foreign / non-distributable) is reported, never fetched.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from ..errors import BadInputError, LayerscopeError
from ..layer.cache import ScanCache
from ..layer.scan import LayerScan, VerifyingStream, scan
from ..source import Image, LayerRef
from ..source.compression import diff_id_mismatch
from ..sysinfo import usable_cpus

ProgressFn = Callable[[int], None]
T = TypeVar("T")
LayerFn = Callable[[int, "LayerScan | None"], None]


def default_jobs() -> int:
    """One layer worker per usable CPU."""
    return usable_cpus()


def open_cache(cache: ScanCache | bool | str | None) -> ScanCache | None:
    """``True``/``None``: the default cache (``LAYERSCOPE_CACHE`` or the user's cache dir);
    ``False``: none; a path: a cache there."""
    if cache is None or cache is True:
        return ScanCache.default()
    if cache is False:
        return None
    if isinstance(cache, (str, os.PathLike)):
        return ScanCache(os.fspath(cache))
    return cache


#: A file changed less than this long before it was hashed is not recorded as
#: hashed: a write in the same timestamp tick would leave its identity as it was.
SETTLED_NS = 2_000_000_000


def _stamp(layer: LayerRef, digest: str) -> tuple[str, tuple[int, ...]] | None:
    """The record of ``layer``'s file bytes hashing to ``digest``; None when they cannot be named."""
    ident = layer.blob_identity()
    if ident is None:
        return None
    return f"{digest}@{':'.join(map(str, ident))}", ident


def _settled(ident: tuple[int, ...]) -> bool:
    return max(ident[3], ident[4]) < time.time_ns() - SETTLED_NS  # mtime_ns, ctime_ns


def verify_blob(layer: LayerRef, digest: str, *, where: str, cache: ScanCache | None,
                verified: LayerRef | None = None) -> None:
    """Hash ``layer``'s blob against ``digest`` -- unless ``cache`` recorded these very file
    bytes hashing to it (same device, inode, size, mtime and ctime: as restic and git tell an
    unchanged file; any write changes ctime), or they equal, byte for byte, the copy
    ``verified`` whose bytes the caller proves to be the digest's before it uses the result
    (memcmp instead of sha256). Only a full hash is recorded for the next run: when this runs,
    ``verified`` may still be being hashed."""
    stamp = _stamp(layer, digest) if cache is not None else None
    if stamp is not None and cache.seen(stamp[0]):
        return
    if verified is not None and layer.same_bytes(verified):
        return
    layer.check_blob(digest, where=where)  # also when they differ: the error names the digest found
    remember_hashed(layer, stamp, cache)


def remember_hashed(layer: LayerRef, stamp: tuple[str, tuple[int, ...]] | None, cache: ScanCache | None) -> None:
    """Record that the file bytes ``stamp`` names hashed to its digest, if the file had
    settled before and is unchanged after."""
    if stamp is not None and cache is not None and _settled(stamp[1]) and layer.blob_unchanged(stamp[1]):
        cache.mark(stamp[0])


def read_layer(layer: LayerRef, fn: Callable[[VerifyingStream], T], *, where: str, verify: bool) -> T:
    """Open ``layer``'s stream, run ``fn`` over it, close it: the one place where an error
    that names no place is said to be the layer's (``scan``, ``savings``' digest tables)."""
    stream = layer.open(verify=verify, where=where)
    try:
        return fn(stream)
    except LayerscopeError as e:
        if e.where is None:
            raise BadInputError(str(e), where=where) from None
        raise
    finally:
        stream.close()


def scan_layer(layer: LayerRef, *, image_path: str, verify: bool = True, keep_entries: bool = False,
               cache: ScanCache | None = None) -> LayerScan:
    """Scan one layer; a pure function of the blob it names, so it may come from ``cache``.

    A hit is as trustworthy as a cold scan: the blob is hashed against the
    digest it is cached under (unless ``verify`` is off, or the cache saw
    the same unchanged file bytes hash to it: :func:`verify_blob`), and the
    config's diff_id is checked against the one the scan recorded.
    """
    where = layer.where(image_path)
    key = layer.cache_key() if cache is not None and keep_entries else None
    if key is not None:
        hit = cache.get(key)
        if hit is not None:
            if verify and layer.diff_id and hit.diff_id and hit.diff_id != layer.diff_id:
                raise diff_id_mismatch(layer.diff_id, hit.diff_id, where)
            if verify:
                verify_blob(layer, key, where=where, cache=cache)
            else:
                hit.blob_digest = hit.diff_id = None  # as a cold scan without verification reports them
            return hit
    stamp = None

    def run(stream) -> LayerScan:
        nonlocal stamp
        stamp = _stamp(layer, key) if key is not None and verify else None  # the bytes as mapped, before reading
        return scan(stream, keep_entries=keep_entries)

    result = read_layer(layer, run, where=where, verify=verify)
    if key is not None and verify and key in (result.blob_digest, result.diff_id):
        cache.put(key, result)  # only verified bytes are cached
        remember_hashed(layer, stamp, cache)
    return result


def scan_image(
    image: Image,
    *,
    verify: bool = True,
    keep_entries: bool = False,
    jobs: int | None = None,
    progress: ProgressFn | None = None,
    on_layer: LayerFn | None = None,
    cache: ScanCache | bool | str | None = None,
) -> list[LayerScan | None]:
    """Scans in layer order; ``None`` for foreign layers without a blob.

    Layers sharing a blob (same digest or, for legacy archives, the same
    file) are read once. ``on_layer(index, scan)`` is called in layer order as soon as the scans
    up to that layer are done, so callers can stack layers while later ones
    are still being read.
    """
    each = (lambda _image, index, scan: on_layer(index, scan)) if on_layer else None
    return scan_images([image], verify=verify, keep_entries=keep_entries, jobs=jobs, progress=progress,
                       on_layer=each, cache=cache)[0]


def blob_key(image: Image, layer: LayerRef) -> str:
    """What names a layer's bytes across images: its blob digest (for a legacy
    docker-archive's uncompressed layer, its diff_id: the same bytes), else the
    archive and the layer file."""
    return layer.cache_key() or f"file:{image.path}:{layer.name}"


def _same_file(x: LayerRef, y: LayerRef) -> bool:
    return x.name == y.name and x.container.path == y.container.path


def scan_images(
    images: list[Image],
    *,
    verify: bool = True,
    keep_entries: bool = False,
    jobs: int | None = None,
    progress: ProgressFn | None = None,
    on_layer: Callable[[int, int, LayerScan | None], None] | None = None,
    cache: ScanCache | bool | str | None = None,
) -> list[list[LayerScan | None]]:
    """:func:`scan_image` over several images in one pool: a blob two images
    share (same digest) is read once, and the same scan object serves both.

    ``on_layer(image_index, layer_index, scan)`` is called image by image, in
    layer order. A shared blob was verified against the first image's diff_id;
    every other layer naming it is checked against the diff_id the scan found,
    and when its blob is another file (another archive or layout), that file is
    hashed against the digest too, as a cache hit is: its bytes were not read.
    """
    store = open_cache(cache)
    todo: dict[str, tuple[Image, LayerRef]] = {}
    key_of: list[list[str | None]] = []
    checks: dict[tuple[int, int], str] = {}  # (image, layer) whose other copy of a shared blob is hashed
    for i, image in enumerate(images):
        keys: list[str | None] = []
        for index, layer in enumerate(image.layers):
            if layer.foreign:
                keys.append(None)
                continue
            key = blob_key(image, layer)
            first = todo.setdefault(key, (image, layer))[1]
            if verify and not _same_file(first, layer) and not key.startswith("file:"):
                checks[(i, index)] = key
            keys.append(key)
        key_of.append(keys)
    order = sorted(todo, key=lambda k: -(todo[k][1].compressed_size or 0))  # largest first: workers finish together
    jobs = min(jobs or default_jobs(), len(order)) or 1
    results: dict[str, LayerScan] = {}

    def run(key: str) -> LayerScan:
        image, layer = todo[key]
        scan = scan_layer(layer, image_path=image.path, verify=verify, keep_entries=keep_entries, cache=store)
        if progress:
            progress(1)
        return scan

    def check(i: int, index: int) -> None:
        # the first copy is scanned and verified against the digest, and its image comes
        # first in the loop below: no result is handed out unless it checked out
        layer, key = images[i].layers[index], checks[(i, index)]
        verify_blob(layer, key, where=layer.where(images[i].path), cache=store, verified=todo[key][1])

    pool = None
    if jobs > 1:
        from concurrent.futures import ThreadPoolExecutor  # loads logging: only when there is a pool

        pool = ThreadPoolExecutor(max_workers=jobs)
    futures = {key: pool.submit(run, key) for key in order} if pool else {}
    checked = {at: pool.submit(check, *at) for at in checks} if pool else {}
    try:
        out: list[list[LayerScan | None]] = []
        for i, (image, keys) in enumerate(zip(images, key_of)):
            scans: list[LayerScan | None] = []
            for index, key in enumerate(keys):
                if key is not None and key not in results:
                    results[key] = futures[key].result() if pool else run(key)
                scan = results[key] if key is not None else None
                if scan is not None and verify and todo[key][1] is not image.layers[index]:
                    _check_diff_id(image, image.layers[index], scan)
                if (i, index) in checks:
                    checked[(i, index)].result() if pool else check(i, index)
                if on_layer:
                    on_layer(i, index, scan)
                scans.append(scan)
            out.append(scans)
        return out
    finally:
        if pool:
            for f in (*futures.values(), *checked.values()):
                f.cancel()
            pool.shutdown(wait=True)


def _check_diff_id(image: Image, layer: LayerRef, scan: LayerScan) -> None:
    """A layer whose blob was read for another layer (of this image or another):
    its config's diff_id must still be the content's."""
    if layer.diff_id and scan.diff_id and layer.diff_id != scan.diff_id:
        raise diff_id_mismatch(layer.diff_id, scan.diff_id, layer.where(image.path))


def progress_bar(total: int, *, enabled: bool | None = None, desc: str = "layers",
                 unit: str = "layer") -> tuple[ProgressFn | None, Callable[[], None]]:
    """A tqdm bar on stderr, only when stderr is a terminal or when asked."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled or total == 0:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
    return bar.update, bar.close
