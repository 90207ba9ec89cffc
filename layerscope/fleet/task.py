"""What runs on a worker: re-open an image, read one layer, write its units beside the others.

Tasks get only small picklable arguments (:class:`Where` names an image and a
layer the way any machine can find them again) and return small facts; a
layer's digest tables go to the work dir as Parquet (``columns.write_units``),
its member list to a pickle sidecar, each written atomically, so a task killed
midway leaves nothing behind and its retry writes the same files again.
"""

from __future__ import annotations

import functools
import os
import pickle
import uuid

from ..analysis.layer_digests import LayerDigests, chunk_params, layer_digests, layer_files
from ..analysis.layers import blob_key, read_layer, verify_blob
from ..errors import BadInputError, LayerscopeError, SelectionError
from ..record import Record
from ..source import Image, LayerRef, open_image
from ..source import transport

KINDS = ("chunks", "files")


class Where(Record):
    """A layer any worker can find: the image's ``spec`` (a path, ``PATH:REF`` or a registry
    reference pinned by digest), the platform, and the layer's index and blob key."""

    __slots__ = ("spec", "platform", "index", "key")

    spec: str
    platform: str | None
    index: int
    key: str

    def __init__(self, spec: str, platform: str | None, index: int, key: str) -> None:
        self.spec = spec
        self.platform = platform
        self.index = index
        self.key = key


class Settings(Record):
    """The run's options, the same for every task (and what a worker process must be told)."""

    __slots__ = ("work", "avg_chunk", "sample", "verify", "max_layer_size", "insecure", "run", "files_only")

    def __init__(self, work: str, avg_chunk: int, sample: float, verify: bool, max_layer_size, insecure: tuple,
                 run: str, files_only: bool = False) -> None:
        self.work = work
        self.avg_chunk = avg_chunk
        self.sample = sample
        self.verify = verify
        self.max_layer_size = max_layer_size
        self.insecure = insecure
        self.run = run  # the run's id: a long-lived worker never serves an image opened for another run
        self.files_only = files_only  # workload: file digests and members, no chunks (analysis/layer_digests.layer_files)


class Facts(Record):
    """What a task returns: ``LayerFacts`` and the checks' digests, and the layer's os-release."""

    __slots__ = ("size", "compressed", "file_bytes", "diff_id", "blob_digest", "os_release")

    def __init__(self, size: int, compressed: int, file_bytes: int, diff_id: str | None, blob_digest: str | None,
                 os_release: str | None) -> None:
        self.size = size
        self.compressed = compressed
        self.file_bytes = file_bytes
        self.diff_id = diff_id
        self.blob_digest = blob_digest
        self.os_release = os_release


class Failed(Record):
    """A task's bad-input error, returned rather than raised: dask would retry it, in vain."""

    __slots__ = ("error",)

    def __init__(self, error: LayerscopeError) -> None:
        self.error = error


def unit_path(work: str, kind: str, idx: int) -> str:
    return os.path.join(work, kind, f"L{idx:07d}.parquet")


def members_path(work: str, idx: int) -> str:
    return os.path.join(work, "members", f"L{idx:07d}.pickle")


def _setup(s: Settings) -> None:
    from ..source.limits import set_max_layer_size
    from ..source.registry.client import allow_insecure

    set_max_layer_size(s.max_layer_size)
    allow_insecure(s.insecure)


@functools.lru_cache(maxsize=32)
def _open(spec: str, platform: str | None, verify: bool, image: str | None, run: str) -> Image:
    s = transport.parse_spec(spec)
    if s.transport == transport.REGISTRY:  # not every layer fetched in the background: this task reads one
        from ..source.registry.image import open_registry_image

        return open_registry_image(s.target, platform=platform, verify=verify, prefetch=False)
    return open_image(spec, image=image, platform=platform, verify=verify)


def find_layer(w: Where, s: Settings) -> tuple[Image, LayerRef]:
    """The layer ``w`` names, in the image opened again here; its blob key must be the one the
    client saw (an untagged image of a multi-image archive is found by trying each index)."""
    def fits(img: Image) -> bool:
        return w.index < len(img.layers) and not img.layers[w.index].foreign and \
            blob_key(img, img.layers[w.index]) == w.key
    try:
        img = _open(w.spec, w.platform, s.verify, None, s.run)
    except SelectionError:
        img = None
    k = 0
    while img is None or not fits(img):
        if transport.parse_spec(w.spec).transport == transport.REGISTRY:
            break
        try:
            img = _open(w.spec, w.platform, s.verify, str(k), s.run)
        except SelectionError:
            break
        k += 1
    if img is None or not fits(img):
        raise BadInputError(f"layer {w.index} is no longer {w.key} (the image changed since the run began)",
                            where=w.spec)
    return img, img.layers[w.index]


def digest_layer(w: Where, idx: int | None, s: Settings) -> Facts | Failed:
    """Read one layer as ``digest_images`` does; with an ``idx`` (the unique layer it stands for),
    write its chunk and file units and its member list under the work dir."""
    from ..analysis.workload import layer_os_release  # its parsers load here only when a layer is read

    try:
        _setup(s)
        _die_once()
        image, layer = find_layer(w, s)
        params = chunk_params(s.avg_chunk)
        read = layer_files if s.files_only else (lambda stream: layer_digests(stream, params, sample=s.sample))
        table: LayerDigests = read_layer(layer, read, where=layer.where(image.path), verify=s.verify)
        if idx is not None:
            for kind in ("files",) if s.files_only else KINDS:
                from .columns import table_units, write_units  # pyarrow: only where tables are written

                write_units(unit_path(s.work, kind, idx), idx, *table_units(table, kind))
            _atomic_pickle(members_path(s.work, idx), table.members)
        return Facts(table.size, table.compressed, sum(table.files.values()), table.diff_id, table.blob_digest,
                     layer_os_release(table.members))
    except LayerscopeError as e:
        return Failed(e)


def check_copy(w: Where, first: Where, s: Settings) -> Failed | None:
    """Another file's copy of a blob read elsewhere: its bytes must be that blob's (as
    ``digest_images`` checks them: byte for byte against the first copy, else hashed)."""
    try:
        _setup(s)
        image, layer = find_layer(w, s)
        _, verified = find_layer(first, s)
        verify_blob(layer, w.key, where=layer.where(image.path), cache=None, verified=verified)
        return None
    except LayerscopeError as e:
        return Failed(e)


def _die_once() -> None:
    """The fault-tolerance test's hook (tests/test_fleet.py): when the file that
    ``LAYERSCOPE_FLEET_DIE_ONCE`` names exists, the first task to claim it ends its worker
    process abruptly, as a machine lost mid-run would."""
    armed = os.environ.get("LAYERSCOPE_FLEET_DIE_ONCE")
    if armed:
        try:
            os.rename(armed, armed + ".fired")  # one task wins
        except OSError:
            return
        os._exit(1)


def _atomic_pickle(path: str, obj) -> None:
    tmp = f"{path}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_members(work: str, idx: int) -> list[tuple]:
    with open(members_path(work, idx), "rb") as f:
        return pickle.load(f)
