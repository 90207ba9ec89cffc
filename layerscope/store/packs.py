"""Pack files: append-only files of zstd frames, each chunk in exactly one frame.

A pack is ``MAGIC`` followed by zstd frames, nothing else: where each chunk
lives (frame offset, frame length, offset inside the decompressed frame) is
the index's business (repo.py). Chunks are gathered into *bundles*, one
frame of up to :data:`BUNDLE_TARGET` bytes, because chunks compressed one by
one compress poorly (docs/store.md, "Compression"); a chunk of
:data:`ALONE_MIN` or more is a frame of its own.

Crash safety is the writer's job: a pack is written under ``tmp/``, fsynced,
renamed to ``packs/XX/<name>.pack`` and the directory fsynced by
:meth:`PackWriter.finish`, which the caller runs *before* the index
transaction that points into the pack commits. A pack no index row points
at (a killed add, a lost race, an interrupted gc) is garbage for gc, never
a hazard.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable

import zstandard

from ..errors import BadInputError, os_error

MAGIC = b"LSPACK\x00\x01"
LEVEL = 3  # zstd level: docs/store.md "Compression" (10% smaller than level 1; compressed on every core)
# level 3's match finder with smaller tables (256 KiB + 64 KiB: they stay in a core's L2 while the
# other threads run): 1.3% larger frames, compressed ~10% faster (docs/store.md "Compression")
HASH_LOG = 16
CHAIN_LOG = 14
BUNDLE_TARGET = 2 << 20  # a bundle frame is closed once it holds this many raw bytes (docs/store.md)
ALONE_MIN = 1 << 20  # a chunk this large is a frame of its own (FastCDC's are at most 256 KiB: none is)
PACK_TARGET = 32 << 20  # a pack is finished once it holds this many compressed bytes
PACK_SUFFIX = ".pack"
MAX_FRAME = 1 << 30  # a frame header claiming more is damage, not a chunk (FastCDC's are <= 256 KiB)

# One chunk's place: (frame offset, frame length, offset inside the frame)
Place = tuple[int, int, int]


def pack_path(root: str, name: str) -> str:
    """``packs/XX/<name>.pack``: the first two hex digits fan the files out."""
    return os.path.join(root, "packs", name[:2], name + PACK_SUFFIX)


def fsync_dir(path: str) -> None:
    """Make a rename or unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PackWriter:
    """Chunks in, finished packs out; memory holds the open bundle and at most two more.

    Frames are compressed on worker threads (one per core: zstd lets go of
    the GIL) and written in order by one writer thread, so compression
    overlaps the caller's hashing and chunking. :meth:`add` returns nothing: a
    chunk's place is known once its frame is written, and is handed to
    ``placed(key, pack_name, place)`` (from the writer thread; read the
    places after :meth:`finish`). Keys are whatever names a chunk (its id).
    """

    def __init__(self, root: str, placed: Callable[[int, str, Place], None], *, level: int | None = None,
                 bundle_target: int | None = None, alone_min: int | None = None,
                 pack_target: int | None = None) -> None:
        # None: the module's setting at the time (tests shrink them to get many packs)
        self.root = root
        self._placed = placed
        self._level = LEVEL if level is None else level
        self._local = threading.local()  # a ZstdCompressor per worker thread: they are not to be shared
        self._workers = _workers()
        self._pool = None
        self._bundle_target = BUNDLE_TARGET if bundle_target is None else bundle_target
        self._alone_min = ALONE_MIN if alone_min is None else alone_min
        self._pack_target = PACK_TARGET if pack_target is None else pack_target
        self._bundle: list[tuple[int, int]] = []  # (key, length) of the chunks in _bundle_buf
        self._bundle_buf: bytearray | None = None
        self._bundle_len = 0
        self._spare: list[bytearray] = []  # bundle buffers back from the writer: a fresh one is zeroed and faulted in
        self._fd: int | None = None
        self._tmp: str | None = None
        self._name: str | None = None
        self._size = 0
        self.finished: list[tuple[str, int, int]] = []  # (name, size, raw bytes) of packs renamed into packs/
        self._raw = 0  # chunk bytes in the open pack
        self.raw_bytes = 0
        self.frame_bytes = 0
        self._jobs: queue.Queue = queue.Queue(maxsize=self._workers + 1)  # frames in flight, at most
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._aborted = False

    def add(self, key: int, data: bytes | memoryview) -> None:
        n = len(data)
        if n >= self._alone_min:
            self._submit([(key, n)], bytes(data))  # a copy: the caller's buffer may be reused
            return
        if self._bundle_buf is None:  # the bundle's room, filled in place: the one copy of a chunk
            spare = self._spare
            self._bundle_buf = spare.pop() if spare else bytearray(self._bundle_target + self._alone_min)
        at = self._bundle_len
        self._bundle_buf[at:at + n] = data
        self._bundle_len = at + n
        self._bundle.append((key, n))
        if self._bundle_len >= self._bundle_target:
            self.flush_bundle()

    def flush_bundle(self) -> None:
        if self._bundle:
            buf, bundle = self._bundle_buf, self._bundle
            payload = memoryview(buf)[:self._bundle_len]
            self._bundle, self._bundle_buf, self._bundle_len = [], None, 0
            self._submit(bundle, payload, buf)

    # ---- the writer thread ----------------------------------------------------------

    def _submit(self, items: list[tuple[int, int]], payload: bytes | memoryview,
                buf: bytearray | None = None) -> None:
        self._raise()
        if self._thread is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="layerscope-zstd")
            self._thread = threading.Thread(target=self._run, name="layerscope-pack-writer", daemon=True)
            self._thread.start()
        self._jobs.put((self._pool.submit(self._compress, payload), items, len(payload), buf))

    def _compress(self, payload: bytes | memoryview) -> bytes:
        cctx = getattr(self._local, "cctx", None)
        if cctx is None:
            base = zstandard.ZstdCompressionParameters.from_level(self._level)
            params = zstandard.ZstdCompressionParameters.from_level(
                self._level, hash_log=min(HASH_LOG, base.hash_log), chain_log=min(CHAIN_LOG, base.chain_log),
                write_checksum=1, write_content_size=1)
            cctx = self._local.cctx = zstandard.ZstdCompressor(compression_params=params)
        return cctx.compress(payload)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None and not self._aborted:
                    self._write_frame(*job)
            except BaseException as e:  # handed to the caller's next call
                self._error = e
            finally:
                self._jobs.task_done()

    def _stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _write_frame(self, future, items: list[tuple[int, int]], n: int, buf: bytearray | None) -> None:
        frame = future.result()
        if buf is not None:  # compressed: the buffer can take the next bundle (list.append is atomic)
            self._spare.append(buf)
        if self._fd is None:
            self._open()
        offset = self._size
        _write_all(self._fd, frame, self._tmp)
        self._size += len(frame)
        self._raw += n
        self.raw_bytes += n
        self.frame_bytes += len(frame)
        at = 0
        for key, length in items:
            self._placed(key, self._name, (offset, len(frame), at))
            at += length
        if self._size >= self._pack_target:
            self._finish_pack()

    def _open(self) -> None:
        self._name = os.urandom(16).hex()
        self._tmp = os.path.join(self.root, "tmp", self._name + PACK_SUFFIX)
        try:
            self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as e:
            raise os_error(e, "create a pack", self._tmp) from None
        _write_all(self._fd, MAGIC, self._tmp)
        self._size = len(MAGIC)
        self._raw = 0

    def _finish_pack(self) -> None:
        """fsync the open pack, rename it into packs/, fsync the directories."""
        if self._fd is None:
            return
        fd, tmp, name = self._fd, self._tmp, self._name
        self._fd = self._tmp = None
        try:
            os.fsync(fd)
        except OSError as e:
            raise os_error(e, "sync a pack", tmp) from None
        finally:
            os.close(fd)
        final = pack_path(self.root, name)
        sub = os.path.dirname(final)
        try:
            new_dir = not os.path.isdir(sub)
            os.makedirs(sub, exist_ok=True)
            if new_dir:
                fsync_dir(os.path.dirname(sub))
            os.rename(tmp, final)
            fsync_dir(sub)
        except OSError as e:
            raise os_error(e, "store a pack", final) from None
        self.finished.append((name, self._size, self._raw))

    # ---- ending ---------------------------------------------------------------------

    def finish(self) -> list[tuple[str, int, int]]:
        """Write what is buffered and finish the open pack: every placed chunk is now durable."""
        self.flush_bundle()
        self._stop()
        self._raise()
        self._finish_pack()
        return self.finished

    def abort(self) -> None:
        """Drop the unfinished pack and the finished ones (nobody references them yet)."""
        self._aborted = True
        self._bundle, self._bundle_buf, self._bundle_len = [], None, 0
        self._stop()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            _unlink(self._tmp)
        for name, _size, _raw in self.finished:
            _unlink(pack_path(self.root, name))
        self.finished = []


def _workers() -> int:
    from ..sysinfo import usable_cpus

    return max(1, usable_cpus())


def _write_all(fd: int, data: bytes, where: str) -> None:
    view = memoryview(data)
    try:
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except OSError as e:
        raise os_error(e, "write a pack", where) from None


def _unlink(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


_dlocal = threading.local()


def _decompress_here(raw: bytes, offset: int, where: str) -> bytes:
    dctx = getattr(_dlocal, "dctx", None)
    if dctx is None:
        dctx = _dlocal.dctx = zstandard.ZstdDecompressor()
    return decompress_frame(dctx, raw, offset, where)


def decompress_frame(dctx: zstandard.ZstdDecompressor, raw: bytes, offset: int, where: str) -> bytes:
    """One frame's bytes; BadInputError (naming ``where``) for a frame that is damaged or claims to be huge."""
    try:
        size = zstandard.frame_content_size(raw)
        if not 0 <= size <= MAX_FRAME:
            raise BadInputError(f"frame at offset {offset} claims {size} bytes", where=where)
        return dctx.decompress(raw)
    except zstandard.ZstdError as e:
        raise BadInputError(f"frame at offset {offset} does not decompress ({e})", where=where) from None


class PackReader:
    """Frames out of packs, with the last few decompressed frames kept (export reads in order).

    Open files are kept too: a pack gc unlinks while it is open stays
    readable, and a pack moved by gc is looked up again by the caller.
    """

    def __init__(self, root: str, *, frames: int = 16, files: int = 32) -> None:
        self.root = root
        self._dctx = zstandard.ZstdDecompressor()
        self._frames: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._pending: dict[tuple[str, int], object] = {}  # frames being decompressed ahead (futures)
        self._pool = None
        self._max_frames = frames
        self._files: OrderedDict[str, int] = OrderedDict()
        self._max_files = files

    def prefetch(self, frames: list[tuple[str, int, int]]) -> None:
        """Start decompressing these frames (pack, offset, length) on worker threads: export reads
        a layer's frames in order, and one core decompressing was half its time."""
        for pack, offset, length in frames:
            key = (pack, offset)
            if key in self._frames or key in self._pending:
                continue
            raw = self.raw(pack, offset, length)  # read here: the open files are this thread's
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="layerscope-unzstd")
            self._pending[key] = self._pool.submit(_decompress_here, raw, offset, pack_path(self.root, pack))

    def frame(self, pack: str, offset: int, length: int) -> bytes:
        """The decompressed frame at ``offset`` of ``pack``; BadInputError naming the pack if it is not whole."""
        key = (pack, offset)
        got = self._frames.get(key)
        if got is not None:
            self._frames.move_to_end(key)
            return got
        pending = self._pending.pop(key, None)
        if pending is not None:
            got = pending.result()
        else:
            got = decompress_frame(self._dctx, self.raw(pack, offset, length), offset, pack_path(self.root, pack))
        self._frames[key] = got
        if len(self._frames) > self._max_frames:
            self._frames.popitem(last=False)
        return got

    def raw(self, pack: str, offset: int, length: int) -> bytes:
        fd = self._fd(pack)
        path = pack_path(self.root, pack)
        try:
            data = os.pread(fd, length, offset)
        except OSError as e:
            raise os_error(e, "read", path) from None
        if len(data) != length:
            raise BadInputError(f"truncated: frame at offset {offset} needs {length} bytes, got {len(data)}",
                                where=path)
        return data

    def _fd(self, pack: str) -> int:
        fd = self._files.get(pack)
        if fd is not None:
            self._files.move_to_end(pack)
            return fd
        path = pack_path(self.root, pack)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise  # the caller looks the chunk up again: gc may have moved it
        except OSError as e:
            raise os_error(e, "open", path) from None
        self._files[pack] = fd
        if len(self._files) > self._max_files:
            os.close(self._files.popitem(last=False)[1])
        return fd

    def forget(self, pack: str) -> None:
        fd = self._files.pop(pack, None)
        if fd is not None:
            os.close(fd)
        for key in [k for k in self._frames if k[0] == pack]:
            del self._frames[key]
        for key in [k for k in self._pending if k[0] == pack]:
            del self._pending[key]

    def close(self) -> None:
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()
        self._frames.clear()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
