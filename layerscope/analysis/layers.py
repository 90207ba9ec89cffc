"""Scan every layer of an image, in parallel, each unique blob once.

Threads are enough: sha256, inflate (isal), zstd and XXH3 all release the
GIL on large buffers, and the tar walk between them is light. A layer whose
blob is absent (foreign / non-distributable) is reported, never fetched.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..errors import BadInputError, LayerscopeError
from ..layer.scan import LayerScan, scan
from ..source import Image, LayerRef

ProgressFn = Callable[[int], None]


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def scan_layer(layer: LayerRef, *, image_path: str, verify: bool = True, keep_entries: bool = False) -> LayerScan:
    """Scan one layer; a pure function of the blob it names."""
    stream = layer.open(verify=verify, where=layer.where(image_path))
    try:
        return scan(stream, keep_entries=keep_entries)
    except LayerscopeError as e:
        if e.where is None:
            raise BadInputError(str(e), where=layer.where(image_path)) from None
        raise


def scan_image(
    image: Image,
    *,
    verify: bool = True,
    keep_entries: bool = False,
    jobs: int | None = None,
    progress: ProgressFn | None = None,
) -> list[LayerScan | None]:
    """Scans in layer order; ``None`` for foreign layers without a blob.

    Layers sharing a blob (same digest or, for legacy archives, the same
    file) are read once. Largest first, so two workers finish together.
    """
    todo: dict[str, LayerRef] = {}
    key_of: list[str | None] = []
    for layer in image.layers:
        if layer.foreign:
            key_of.append(None)
            continue
        key = layer.digest or f"file:{layer.name}"
        todo.setdefault(key, layer)
        key_of.append(key)
    order = sorted(todo, key=lambda k: -(todo[k].compressed_size or 0))
    jobs = min(jobs or default_jobs(), len(order)) or 1
    results: dict[str, LayerScan] = {}

    def run(key: str) -> LayerScan:
        return scan_layer(todo[key], image_path=image.path, verify=verify, keep_entries=keep_entries)

    if jobs == 1:
        for key in order:
            results[key] = run(key)
            if progress:
                progress(1)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {key: pool.submit(run, key) for key in order}
            try:
                for key in order:
                    results[key] = futures[key].result()
                    if progress:
                        progress(1)
            except BaseException:
                for f in futures.values():
                    f.cancel()
                raise
    return [results[k] if k else None for k in key_of]


def progress_bar(total: int, *, enabled: bool | None = None, desc: str = "layers") -> tuple[ProgressFn | None, Callable[[], None]]:
    """A tqdm bar on stderr, only when stderr is a terminal or when asked."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled or total == 0:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="layer", file=sys.stderr, leave=False)
    return bar.update, bar.close
