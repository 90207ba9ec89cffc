"""The repository: a directory of packs and one SQLite index (WAL), read and written by transactions.

Layout::

    index.sqlite        meta, packs, chunks, layers, blobs, images, image_layers, image_blobs
    lock                flock: adding transactions share it, gc holds it alone
    packs/XX/<name>.pack
    tmp/                packs being written

The engine knows chunks, blobs, layer records and image records; what a
layer's chunks and pairs mean is recipe.py's business.

The promises, and what keeps them (docs/store.md):

* **Crash safety.** Every pack a transaction wrote is fsynced and renamed
  into ``packs/`` before the one SQLite transaction that references it
  commits, so a kill at any point leaves an image wholly there or not at all;
  the leftovers are unreferenced packs and temp files, which gc removes.
* **Concurrent adds.** A transaction chunks and writes packs without holding
  the database; ``BEGIN IMMEDIATE`` is taken only at commit, where sha256
  uniqueness is checked again: a chunk another process committed meanwhile is
  deduplicated to its id and our copy becomes garbage. Chunk ids are handed
  out in ranges from a counter in ``meta`` (a short write of its own), so a
  transaction knows its ids before it commits and ids are never reused.
* **gc never races an add.** Transactions hold ``lock`` shared from start to
  end (they rely on chunks, layers and packs that exist when they look),
  gc holds it exclusively; flock dies with its process, so a killed add
  never blocks gc.
* **Readers** (WAL) never see a half-added image and are not blocked by
  writers; a chunk whose pack gc has just moved is looked up again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

from ..errors import BadInputError, DigestMismatchError, UsageError, os_error
from ..record import Record
from .indexerror import index_error
from .packs import PACK_SUFFIX, PackReader, PackWriter, fsync_dir, pack_path

FORMAT = "1"
INDEX = "index.sqlite"
REPACK_LIVE = 0.5  # gc rewrites a pack whose live chunks are less than this share of the chunk bytes written to it
_ID_BLOCK_MIN, _ID_BLOCK_MAX = 256, 1 << 16  # chunk ids reserved per trip to the counter
_BUSY_MS = 120_000
_BATCH = 500  # ids per "IN (...)" query (SQLite allows 32766 parameters; small batches keep reads streaming)

Progress = Callable[[int, int], None]  # (done, total)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE packs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
                    size INTEGER NOT NULL,   -- bytes on disk
                    raw INTEGER NOT NULL);   -- chunk bytes written into it (live or not: gc's yardstick)
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,          -- from meta next_chunk_id: never reused
    sha256 BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    pack INTEGER NOT NULL,           -- packs.id
    frame_offset INTEGER NOT NULL,
    frame_length INTEGER NOT NULL,
    offset INTEGER NOT NULL          -- inside the decompressed frame
);
CREATE INDEX chunks_pack ON chunks (pack, frame_offset);
CREATE TABLE layers (
    diff_id TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    pairs BLOB NOT NULL,
    structure_ids BLOB NOT NULL,     -- u64 little-endian
    content_ids BLOB NOT NULL,       -- u64 little-endian
    xxh3 BLOB                        -- XXH3-128 of the layer tar: export's check (verify --full rehashes the diff_id)
);
CREATE TABLE blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE images (name TEXT PRIMARY KEY, record TEXT NOT NULL, added TEXT NOT NULL);
CREATE TABLE image_layers (image TEXT NOT NULL, position INTEGER NOT NULL, diff_id TEXT NOT NULL,
                           PRIMARY KEY (image, position));
CREATE INDEX image_layers_layer ON image_layers (diff_id);
CREATE TABLE image_blobs (image TEXT NOT NULL, position INTEGER NOT NULL, digest TEXT NOT NULL,
                          PRIMARY KEY (image, position));
CREATE INDEX image_blobs_blob ON image_blobs (digest);
"""


def chunker_version() -> str:
    """The chunker's parameters as the repository records them: other cut points are another format."""
    from ..chunk.reference import DEFAULT_PARAMS as p

    return f"fastcdc2020-min{p.min_size}-avg{p.avg_size}-max{p.max_size}-level{p.level}"


# ---- records ----------------------------------------------------------------------

class ImageRow(Record):
    """An image as added: its record (JSON in the index) and the layers and blobs it keeps alive."""

    __slots__ = ("name", "record", "added", "layers", "blobs")

    def __init__(self, name: str, record: dict, added: str, layers: list[str], blobs: list[str]) -> None:
        self.name, self.record, self.added, self.layers, self.blobs = name, record, added, layers, blobs


class LayerRow(Record):
    """A layer recipe: the chunk ids of its structure and content streams and the pairs that interleave them."""

    __slots__ = ("diff_id", "size", "pairs", "structure_ids", "content_ids", "xxh3")

    def __init__(self, diff_id: str, size: int, pairs: bytes, structure_ids: array, content_ids: array,
                 xxh3: bytes | None = None) -> None:
        self.diff_id, self.size, self.pairs = diff_id, size, pairs
        self.structure_ids, self.content_ids = structure_ids, content_ids
        self.xxh3 = xxh3


class Problem(Record):
    """What verify found: ``what`` is broken, and the layers and images that cannot be exported because of it."""

    __slots__ = ("what", "message", "layers", "images")

    def __init__(self, what: str, message: str, layers: list[str], images: list[str]) -> None:
        self.what, self.message, self.layers, self.images = what, message, layers, images

    def __str__(self) -> str:
        breaks = ""
        if self.layers or self.images:
            breaks = f" (breaks layers {', '.join(self.layers) or '-'}; images {', '.join(self.images) or '-'})"
        return f"{self.what}: {self.message}{breaks}"


class GcResult(Record):
    __slots__ = ("images", "layers_removed", "blobs_removed", "chunks_removed", "packs_deleted",
                 "packs_rewritten", "chunks_moved", "orphans_removed", "bytes_freed")

    def __init__(self, images: int, layers_removed: int, blobs_removed: int, chunks_removed: int,
                 packs_deleted: int, packs_rewritten: int, chunks_moved: int, orphans_removed: int,
                 bytes_freed: int) -> None:
        self.images, self.layers_removed, self.blobs_removed = images, layers_removed, blobs_removed
        self.chunks_removed, self.packs_deleted, self.packs_rewritten = chunks_removed, packs_deleted, packs_rewritten
        self.chunks_moved, self.orphans_removed, self.bytes_freed = chunks_moved, orphans_removed, bytes_freed


class Stats(Record):
    """Sizes in bytes. ``logical``: what the images weigh as layer tars and blobs (a layer counted once per
    image); ``unique``: distinct chunk and blob bytes; ``stored``: packs on disk plus the index."""

    __slots__ = ("images", "layers", "shared_layers", "blobs", "chunks", "shared_chunks", "packs",
                 "logical_bytes", "unique_bytes", "pack_bytes", "index_bytes", "stored_bytes",
                 "files", "shared_files")

    def __init__(self, images: int, layers: int, shared_layers: int, blobs: int, chunks: int, shared_chunks: int,
                 packs: int, logical_bytes: int, unique_bytes: int, pack_bytes: int, index_bytes: int,
                 stored_bytes: int, files: int = 0, shared_files: int = 0) -> None:
        self.images, self.layers, self.shared_layers, self.blobs = images, layers, shared_layers, blobs
        self.chunks, self.shared_chunks, self.packs = chunks, shared_chunks, packs
        self.files, self.shared_files = files, shared_files  # distinct file contents; those in several layers
        self.logical_bytes, self.unique_bytes, self.pack_bytes = logical_bytes, unique_bytes, pack_bytes
        self.index_bytes, self.stored_bytes = index_bytes, stored_bytes

    @property
    def ratio(self) -> float:
        """logical / stored: how many times over the store pays for itself."""
        return self.logical_bytes / self.stored_bytes if self.stored_bytes else 0.0

    @property
    def dedup_ratio(self) -> float:
        return self.logical_bytes / self.unique_bytes if self.unique_bytes else 0.0

    @property
    def compression_ratio(self) -> float:
        """Unique bytes / pack bytes: what zstd adds on top of dedup."""
        return self.unique_bytes / self.pack_bytes if self.pack_bytes else 0.0


# ---- u64 arrays ---------------------------------------------------------------------

def ids_to_blob(ids: Iterable[int]) -> bytes:
    a = ids if isinstance(ids, array) and ids.typecode == "Q" else array("Q", ids)
    if sys.byteorder == "big":
        a = array("Q", a)
        a.byteswap()
    return a.tobytes()


def blob_to_ids(data: bytes, where: str) -> array:
    if len(data) % 8:
        raise BadInputError(f"chunk id list of {len(data)} bytes is not a list of u64", where=where)
    a = array("Q")
    a.frombytes(data)
    if sys.byteorder == "big":
        a.byteswap()
    return a


def _index_errors(method):
    """An SQLite error from the index (corrupt pages, a full disk, a lock held too long) is one line naming it."""
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            root = self.root if isinstance(self, Repository) else self._repo.root
            raise index_error(e, os.path.join(root, INDEX)) from None

    return wrapper


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---- the repository ------------------------------------------------------------------

class Repository:
    """A store directory: open it, read from it, add to it in transactions, gc and verify it."""

    def __init__(self, root: str, db: sqlite3.Connection) -> None:
        """Use :meth:`create` or :meth:`open`."""
        self.root = root
        self._db = db
        self._reader = PackReader(root)
        self._open_tx: Transaction | None = None

    # ---- opening -----------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike) -> Repository:
        """Make a new, empty repository at ``path`` (an absent or empty directory)."""
        root = os.fspath(path)
        index = os.path.join(root, INDEX)
        if os.path.exists(index):
            raise UsageError("a store already exists here", where=root)
        try:
            os.makedirs(root, exist_ok=True)
            if any(n not in ("packs", "tmp", "lock") for n in os.listdir(root)):
                raise UsageError("not an empty directory: a store is created in an empty or new one", where=root)
            for d in ("packs", "tmp"):
                os.makedirs(os.path.join(root, d), exist_ok=True)
            open(os.path.join(root, "lock"), "ab").close()
            tmp = os.path.join(root, "tmp", INDEX + ".new")
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(tmp + suffix):
                    os.unlink(tmp + suffix)
            db = sqlite3.connect(tmp, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript("BEGIN;" + _SCHEMA + "COMMIT;")
                db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
                    ("format", FORMAT), ("chunker", chunker_version()), ("next_chunk_id", "1")])
            finally:
                db.close()
            # the index appears whole or not at all: "a store is here" means it is usable
            os.rename(tmp, index)
            fsync_dir(root)
        except OSError as e:
            raise os_error(e, "create a store", root) from None
        return cls.open(root)

    @classmethod
    def open(cls, path: str | os.PathLike) -> Repository:
        """Open the repository at ``path``; BadInputError (one line) if it is none or of another format."""
        root = os.fspath(path)
        index = os.path.join(root, INDEX)
        if not os.path.isfile(index):
            raise BadInputError("not a layerscope store (no index.sqlite)", where=root)
        try:
            db = sqlite3.connect(f"file:{_uri_path(index)}?mode=rw", uri=True, isolation_level=None,
                                 check_same_thread=False)
        except sqlite3.Error as e:
            raise index_error(e, index) from None
        try:
            db.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            meta = dict(db.execute("SELECT key, value FROM meta"))
        except sqlite3.Error as e:
            db.close()
            if getattr(e, "sqlite_errorname", "").startswith(("SQLITE_CORRUPT", "SQLITE_IOERR", "SQLITE_FULL")):
                raise index_error(e, index) from None
            raise BadInputError(f"not a store index ({e})", where=index) from None
        if meta.get("format") != FORMAT:
            db.close()
            raise BadInputError(f"store format {meta.get('format')!r}; this layerscope reads format {FORMAT!r}",
                                where=root)
        if meta.get("chunker") != chunker_version():
            db.close()
            raise BadInputError(f"store chunked with {meta.get('chunker')!r}; this layerscope chunks with "
                                f"{chunker_version()!r}", where=root)
        return cls(root, db)

    def close(self) -> None:
        if self._open_tx is not None:
            self._open_tx.rollback()
        self._reader.close()
        self._db.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self) -> Transaction:
        """One per image add: ``with repo.transaction() as tx: ...`` commits on success, rolls back on error."""
        if self._open_tx is not None:
            raise UsageError("a transaction is already open on this repository", where=self.root)
        self._open_tx = Transaction(self)
        return self._open_tx

    # ---- reading -----------------------------------------------------------------

    @_index_errors
    def images(self) -> list[ImageRow]:
        return self._image_rows(None)

    @_index_errors
    def image(self, name: str) -> ImageRow | None:
        rows = self._image_rows(name)
        return rows[0] if rows else None

    def _image_rows(self, name: str | None) -> list[ImageRow]:
        db = self._db
        db.execute("BEGIN")  # one snapshot: an image and its references together
        try:
            where, args = ("WHERE name = ?", (name,)) if name is not None else ("", ())
            out = []
            for n, record, added in db.execute(f"SELECT name, record, added FROM images {where} ORDER BY name", args):
                try:
                    rec = json.loads(record)
                except ValueError as e:
                    raise BadInputError(f"image {n!r}: record is not JSON ({e})", where=self._index) from None
                out.append(ImageRow(n, rec, added, [], []))
            for row in out:
                row.layers = [r[0] for r in db.execute(
                    "SELECT diff_id FROM image_layers WHERE image = ? ORDER BY position", (row.name,))]
                row.blobs = [r[0] for r in db.execute(
                    "SELECT digest FROM image_blobs WHERE image = ? ORDER BY position", (row.name,))]
        finally:
            db.execute("COMMIT")
        return out

    @_index_errors
    def layer(self, diff_id: str) -> LayerRow | None:
        row = self._db.execute("SELECT size, pairs, structure_ids, content_ids, xxh3 FROM layers WHERE diff_id = ?",
                               (diff_id,)).fetchone()
        if row is None:
            return None
        where = f"{self._index}: layer {diff_id}"
        return LayerRow(diff_id, row[0], bytes(row[1]), blob_to_ids(row[2], where), blob_to_ids(row[3], where),
                        None if row[4] is None else bytes(row[4]))

    @_index_errors
    def blob(self, digest: str) -> bytes:
        """A config or manifest as it was added (KeyError-free: BadInputError if absent)."""
        row = self._db.execute("SELECT data FROM blobs WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            raise BadInputError(f"blob {digest} is not in the store", where=self.root)
        return bytes(row[0])

    @_index_errors
    def has_blob(self, digest: str) -> bool:
        return self._db.execute("SELECT 1 FROM blobs WHERE digest = ?", (digest,)).fetchone() is not None

    def read(self, ids: Iterable[int]) -> Iterator[memoryview | bytes]:
        """Chunk contents in the order of ``ids``; each frame is decompressed once while it stays cached.

        Nothing is hashed here (verify does that); a pack that is missing,
        short or does not decompress is a BadInputError naming it.
        """
        it = iter(ids)
        while True:
            batch = list(islice(it, _BATCH))
            if not batch:
                return
            places = self._places(batch)
            try:
                self._reader.prefetch(list(dict.fromkeys((p[0], p[1], p[2]) for p in places.values())))
            except (FileNotFoundError, BadInputError):
                pass  # met again below, one chunk at a time, where it is named (or looked up again)
            for cid in batch:
                place = places.get(cid)
                if place is None:
                    raise BadInputError(f"chunk {cid} is not in the store", where=self._index)
                try:
                    yield self._chunk_at(cid, place)
                except FileNotFoundError:
                    # gc may have moved the chunk to a new pack since we looked
                    self._reader.forget(place[0])
                    again = self._places([cid]).get(cid)
                    try:
                        if again is None:
                            raise FileNotFoundError
                        yield self._chunk_at(cid, again)
                    except FileNotFoundError:
                        raise BadInputError(f"pack is missing (chunk {cid})",
                                            where=pack_path(self.root, place[0])) from None

    @_index_errors
    def _places(self, ids: list[int]) -> dict[int, tuple[str, int, int, int, int]]:
        q = ",".join("?" * len(ids))
        return {r[0]: r[1:] for r in self._db.execute(
            "SELECT c.id, p.name, c.frame_offset, c.frame_length, c.offset, c.size FROM chunks c "
            f"JOIN packs p ON p.id = c.pack WHERE c.id IN ({q})", ids)}

    def _chunk_at(self, cid: int, place: tuple[str, int, int, int, int]) -> memoryview | bytes:
        pack, frame_offset, frame_length, offset, size = place
        frame = self._reader.frame(pack, frame_offset, frame_length)
        if offset == 0 and size == len(frame):
            return frame
        if offset + size > len(frame):
            raise BadInputError(f"chunk {cid} lies outside its frame (offset {frame_offset})",
                                where=pack_path(self.root, pack))
        return memoryview(frame)[offset:offset + size]

    @property
    def _index(self) -> str:
        return os.path.join(self.root, INDEX)

    # ---- removing ----------------------------------------------------------------

    @_index_errors
    def remove(self, name: str) -> bool:
        """Drop an image; its space comes back with :meth:`gc`. False if there was no such image."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            gone = db.execute("DELETE FROM images WHERE name = ?", (name,)).rowcount
            db.execute("DELETE FROM image_layers WHERE image = ?", (name,))
            db.execute("DELETE FROM image_blobs WHERE image = ?", (name,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return gone > 0

    # ---- locking -----------------------------------------------------------------

    def _lock(self, mode: int) -> int:
        path = os.path.join(self.root, "lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, mode)
        except OSError as e:
            raise os_error(e, "lock", path) from None
        return fd

    # ---- gc ----------------------------------------------------------------------

    @_index_errors
    def gc(self, progress: Progress | None = None) -> GcResult:
        """Remove what no image references; rewrite packs whose live frames are under REPACK_LIVE of their bytes.

        Order makes it safe to kill: new packs are durable before the index
        points at them, and old packs are unlinked only after the index no
        longer does. Leftovers of a killed gc are removed by the next.
        """
        if self._open_tx is not None:
            raise UsageError("gc with a transaction open on this repository", where=self.root)
        lock = self._lock(fcntl.LOCK_EX)
        try:
            return _gc(self, progress)
        finally:
            os.close(lock)

    # ---- verify ------------------------------------------------------------------

    @_index_errors
    def verify(self, full: bool = False, progress: Progress | None = None) -> list[Problem]:
        """Fast: the index and the packs agree (files there, sizes and offsets in range, references resolve).
        ``full``: also decompress every frame and sha256 every chunk and blob."""
        from .verify import verify

        return verify(self, full, progress)

    @_index_errors
    def stats(self) -> Stats:
        from .verify import stats

        return stats(self)


def _uri_path(path: str) -> str:
    from urllib.parse import quote

    return quote(os.path.abspath(path))


# ---- transactions ---------------------------------------------------------------------

_LOOKUP_BATCH = 500  # sha256s per index query (SQLite allows 32,766 parameters)


class Transaction:
    """Chunks, layers, blobs and images of one add; nothing is visible to others until :meth:`commit`.

    Chunk data goes to packs as they fill (memory holds one bundle and the
    index rows); the index is written in one SQLite transaction at commit.
    """

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._db = repo._db
        self._lock = repo._lock(fcntl.LOCK_SH)
        self._known: dict[bytes, int] = {}  # sha256 -> id, chunks the index had
        self._new: dict[bytes, int] = {}  # sha256 -> id, chunks this transaction stores
        self._sizes: dict[int, int] = {}
        self._places: dict[int, tuple[str, int, int, int]] = {}  # id -> pack name, frame offset, length, offset
        self._writer = PackWriter(repo.root, self._placed)
        self._next_id = self._end_id = 0
        self._id_block = _ID_BLOCK_MIN
        self._layers: dict[str, tuple[int, bytes, bytes, bytes, bytes | None]] = {}
        self._blobs: dict[str, bytes] = {}
        self._images: dict[str, tuple[str, list[str], list[str]]] = {}
        self._done = False
        self.chunks_new = 0
        self.chunks_known = 0
        self.bytes_new = 0

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._done:
            return
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    def _check(self) -> None:
        if self._done:
            raise UsageError("the transaction is finished", where=self._repo.root)

    # ---- adding ------------------------------------------------------------------

    @_index_errors
    def chunk(self, data: bytes | memoryview) -> int:
        """The id of the chunk with these bytes, storing it unless the repository or this transaction has it."""
        self._check()
        key = hashlib.sha256(data).digest()
        cid = self._new.get(key)
        if cid is None:
            cid = self._known.get(key)
        if cid is not None:
            self.chunks_known += 1
            return cid
        row = self._db.execute("SELECT id FROM chunks WHERE sha256 = ?", (key,)).fetchone()
        if row is not None:
            self._known[key] = row[0]
            self.chunks_known += 1
            return row[0]
        return self._store(key, data)

    @_index_errors
    def chunks(self, pieces: list[bytes | memoryview]) -> list[int]:
        """:meth:`chunk` for a batch: the index is asked once for all of them (a query per chunk
        cost more than hashing it)."""
        self._check()
        keys = [hashlib.sha256(p).digest() for p in pieces]
        new, known = self._new, self._known
        ask = [k for k in keys if k not in new and k not in known]
        for at in range(0, len(ask), _LOOKUP_BATCH):
            part = ask[at:at + _LOOKUP_BATCH]
            rows = self._db.execute(f"SELECT sha256, id FROM chunks WHERE sha256 IN ({','.join('?' * len(part))})",
                                    part).fetchall()
            known.update(rows)
        ids = []
        for key, data in zip(keys, pieces):
            cid = new.get(key)
            if cid is None:
                cid = known.get(key)
            if cid is not None:
                self.chunks_known += 1
            else:
                cid = self._store(key, data)
            ids.append(cid)
        return ids

    def _store(self, key: bytes, data: bytes | memoryview) -> int:
        if self._next_id >= self._end_id:
            self._reserve_ids()
        cid = self._next_id
        self._next_id += 1
        self._new[key] = cid
        self._sizes[cid] = len(data)
        self.chunks_new += 1
        self.bytes_new += len(data)
        self._writer.add(cid, data)
        return cid

    def _reserve_ids(self) -> None:
        n = self._id_block
        self._id_block = min(n * 2, _ID_BLOCK_MAX)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            (start,) = db.execute("SELECT value FROM meta WHERE key = 'next_chunk_id'").fetchone()
            start = int(start)
            db.execute("UPDATE meta SET value = ? WHERE key = 'next_chunk_id'", (str(start + n),))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self._next_id, self._end_id = start, start + n

    def _placed(self, cid: int, pack: str, place: tuple[int, int, int]) -> None:
        self._places[cid] = (pack, *place)

    @_index_errors
    def has_layer(self, diff_id: str) -> bool:
        """True if the layer is stored (or added in this transaction): ``add`` need not read it again."""
        self._check()
        if diff_id in self._layers:
            return True
        return self._db.execute("SELECT 1 FROM layers WHERE diff_id = ?", (diff_id,)).fetchone() is not None

    def layer(self, diff_id: str, size: int, pairs: bytes, structure_ids: Iterable[int],
              content_ids: Iterable[int], xxh3: bytes | None = None) -> None:
        """Record a layer's recipe (a layer already stored is kept as it is: same diff_id, same bytes);
        ``xxh3``: the XXH3-128 of the layer tar, which export checks the rebuilt bytes against."""
        self._check()
        self._layers[diff_id] = (size, bytes(pairs), ids_to_blob(structure_ids), ids_to_blob(content_ids), xxh3)

    def blob(self, digest: str, data: bytes) -> None:
        """Keep a config or manifest as it is; its sha256 must be ``digest``."""
        self._check()
        algo, _, hexdigest = digest.partition(":")
        if algo != "sha256":
            raise UsageError(f"blob digest {digest!r} is not sha256:<hex>")
        got = hashlib.sha256(data).hexdigest()
        if got != hexdigest:
            raise DigestMismatchError(f"blob hashes to sha256:{got}, not {digest}", where=self._repo.root)
        self._blobs[digest] = bytes(data)

    @_index_errors
    def image(self, name: str, record: dict, layers: list[str], blobs: list[str]) -> None:
        """Name an image (replacing one of that name): its record and the layers and blobs it keeps alive."""
        self._check()
        try:
            text = json.dumps(record, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError) as e:
            raise UsageError(f"image {name!r}: record is not JSON-able ({e})") from None
        for d in layers:
            if not self.has_layer(d):
                raise UsageError(f"image {name!r}: layer {d} is neither stored nor added")
        for d in blobs:
            if d not in self._blobs and not self._repo.has_blob(d):
                raise UsageError(f"image {name!r}: blob {d} is neither stored nor added")
        self._images[name] = (text, list(layers), list(blobs))

    # ---- finishing ---------------------------------------------------------------

    @_index_errors
    def commit(self) -> None:
        """Make the packs durable, then write the index in one SQLite transaction."""
        self._check()
        try:
            finished = self._writer.finish()
        except BaseException:
            self.rollback()
            raise
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.rollback()
            raise
        committing = False
        try:
            self._write_index(db, finished)
            committing = True
            db.execute("COMMIT")
        except BaseException:
            if not committing or db.in_transaction:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                self._writer.abort()
            # a failed COMMIT statement: did it commit? leave the packs to gc rather than guess
            self._finish()
            raise
        self._finish()

    def _write_index(self, db: sqlite3.Connection, finished: list[tuple[str, int, int]]) -> None:
        pack_ids = {}
        for name, size, raw in finished:
            pack_ids[name] = db.execute("INSERT INTO packs (name, size, raw) VALUES (?, ?, ?)",
                                        (name, size, raw)).lastrowid
        rows = []
        for key, cid in self._new.items():
            pack, frame_offset, frame_length, offset = self._places[cid]
            rows.append((cid, key, self._sizes[cid], pack_ids[pack], frame_offset, frame_length, offset))
        before = db.total_changes
        db.executemany("INSERT INTO chunks (id, sha256, size, pack, frame_offset, frame_length, offset) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING", rows)
        remap: dict[int, int] = {}
        if db.total_changes - before != len(rows):
            # another process committed some of these bytes meanwhile: use its copies
            keys = list(self._new)
            for at in range(0, len(keys), _LOOKUP_BATCH):
                part = keys[at:at + _LOOKUP_BATCH]
                for key, cid in db.execute(f"SELECT sha256, id FROM chunks WHERE sha256 IN "
                                           f"({','.join('?' * len(part))})", part):
                    if cid != self._new[key]:
                        remap[self._new[key]] = cid
        for diff_id, (size, pairs, structure, content, xxh3) in self._layers.items():
            if remap:
                structure, content = _remap(structure, remap), _remap(content, remap)
            db.execute("INSERT INTO layers (diff_id, size, pairs, structure_ids, content_ids, xxh3) "
                       "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (diff_id) DO NOTHING",
                       (diff_id, size, pairs, structure, content, xxh3))
        for digest, data in self._blobs.items():
            db.execute("INSERT INTO blobs (digest, size, data) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                       (digest, len(data), data))
        now = _now()
        for name, (text, layers, blobs) in self._images.items():
            db.execute("DELETE FROM image_layers WHERE image = ?", (name,))
            db.execute("DELETE FROM image_blobs WHERE image = ?", (name,))
            db.execute("INSERT OR REPLACE INTO images (name, record, added) VALUES (?, ?, ?)", (name, text, now))
            db.executemany("INSERT INTO image_layers (image, position, diff_id) VALUES (?, ?, ?)",
                           [(name, i, d) for i, d in enumerate(layers)])
            db.executemany("INSERT INTO image_blobs (image, position, digest) VALUES (?, ?, ?)",
                           [(name, i, d) for i, d in enumerate(blobs)])

    def rollback(self) -> None:
        """Forget everything added; the packs written so far are deleted (nothing references them)."""
        if self._done:
            return
        self._writer.abort()
        self._finish()

    def _finish(self) -> None:
        self._done = True
        self._repo._open_tx = None
        os.close(self._lock)
        self._new.clear()
        self._known.clear()
        self._places.clear()
        self._blobs.clear()
        self._layers.clear()


def _remap(blob: bytes, remap: dict[int, int]) -> bytes:
    ids = blob_to_ids(blob, "transaction")
    return ids_to_blob(remap.get(i, i) for i in ids)


# ---- gc -------------------------------------------------------------------------------

def _gc(repo: Repository, progress: Progress | None) -> GcResult:
    db = repo._db
    root = repo.root
    db.execute("BEGIN")  # a snapshot to plan from; adds are locked out, only remove() may run beside us
    try:
        live_layers = {r[0] for r in db.execute("SELECT DISTINCT diff_id FROM image_layers")}
        live_blobs = {r[0] for r in db.execute("SELECT DISTINCT digest FROM image_blobs")}
        images = db.execute("SELECT count(*) FROM images").fetchone()[0]
        top = int(db.execute("SELECT value FROM meta WHERE key = 'next_chunk_id'").fetchone()[0])
        live = bytearray(top + 1)
        dead_layers = []
        for diff_id, s, c in db.execute("SELECT diff_id, structure_ids, content_ids FROM layers"):
            if diff_id not in live_layers:
                dead_layers.append(diff_id)
                continue
            where = f"{repo._index}: layer {diff_id}"
            for ids in (blob_to_ids(s, where), blob_to_ids(c, where)):
                for i in ids:
                    if i < len(live):
                        live[i] = 1
        dead_blobs = [r[0] for r in db.execute("SELECT digest FROM blobs") if r[0] not in live_blobs]
        packs = {pid: (name, size, raw)
                 for pid, name, size, raw in db.execute("SELECT id, name, size, raw FROM packs")}
        dead_chunks: list[int] = []
        live_bytes: dict[int, int] = dict.fromkeys(packs, 0)  # raw bytes of the live chunks in each pack
        moves: dict[int, list[tuple[int, bytes, int, int, int, int]]] = {}  # pack -> live chunks
        for cid, key, size, pid, fo, fl, off in db.execute(
                "SELECT id, sha256, size, pack, frame_offset, frame_length, offset FROM chunks ORDER BY pack, frame_offset"):
            if cid < len(live) and live[cid]:
                live_bytes[pid] = live_bytes.get(pid, 0) + size
                moves.setdefault(pid, []).append((cid, bytes(key), size, fo, fl, off))
            else:
                dead_chunks.append(cid)
    finally:
        db.execute("COMMIT")
    delete = [pid for pid in packs if live_bytes.get(pid, 0) == 0]
    rewrite = [pid for pid in packs if 0 < live_bytes.get(pid, 0) < REPACK_LIVE * packs[pid][2]]
    moved = sum(len(moves[pid]) for pid in rewrite)

    # 1. copy the live chunks of the packs to rewrite into new packs (durable, not yet referenced)
    places: dict[int, tuple[str, int, int, int]] = {}
    writer = PackWriter(root, lambda cid, pack, place: places.__setitem__(cid, (pack, *place)))
    reader = PackReader(root, frames=4)
    done = 0
    try:
        for pid in rewrite:
            name = packs[pid][0]
            for cid, key, size, fo, fl, off in moves[pid]:
                frame = reader.frame(name, fo, fl)
                data = memoryview(frame)[off:off + size]
                if len(data) != size or hashlib.sha256(data).digest() != key:
                    raise BadInputError(f"chunk {cid} does not match its sha256; gc stops (run verify)",
                                        where=pack_path(root, name))
                writer.add(cid, data)
                done += 1
                if progress:
                    progress(done, moved)
            reader.forget(name)
        finished = writer.finish()
    except FileNotFoundError as e:
        writer.abort()
        raise os_error(e, "read", e.filename) from None
    except BaseException:
        writer.abort()
        raise
    finally:
        reader.close()

    # 2. one index transaction: moved chunks, new packs in; garbage rows out
    db.execute("BEGIN IMMEDIATE")
    try:
        new_ids = {name: db.execute("INSERT INTO packs (name, size, raw) VALUES (?, ?, ?)", (name, size, raw)).lastrowid
                   for name, size, raw in finished}
        db.executemany("UPDATE chunks SET pack = ?, frame_offset = ?, frame_length = ?, offset = ? WHERE id = ?",
                       [(new_ids[p[0]], p[1], p[2], p[3], cid) for cid, p in places.items()])
        db.executemany("DELETE FROM chunks WHERE id = ?", [(c,) for c in dead_chunks])
        db.executemany("DELETE FROM layers WHERE diff_id = ? AND diff_id NOT IN (SELECT diff_id FROM image_layers)",
                       [(d,) for d in dead_layers])
        db.executemany("DELETE FROM blobs WHERE digest = ? AND digest NOT IN (SELECT digest FROM image_blobs)",
                       [(d,) for d in dead_blobs])
        db.executemany("DELETE FROM packs WHERE id = ?", [(pid,) for pid in delete + rewrite])
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise

    # 3. only now may the old files go; then whatever no row names (killed adds, killed gcs)
    freed = 0
    for pid in delete + rewrite:
        freed += _remove(pack_path(root, packs[pid][0]))
    known = {r[0] for r in db.execute("SELECT name FROM packs")}
    orphans = 0
    packs_dir = os.path.join(root, "packs")
    for sub in _listdir(packs_dir):
        d = os.path.join(packs_dir, sub)
        for f in _listdir(d):
            if f.endswith(PACK_SUFFIX) and f[:-len(PACK_SUFFIX)] in known:
                continue
            freed += _remove(os.path.join(d, f))
            orphans += 1
    tmp = os.path.join(root, "tmp")
    for f in _listdir(tmp):
        freed += _remove(os.path.join(tmp, f))
        orphans += 1
    for d in {os.path.dirname(pack_path(root, packs[pid][0])) for pid in delete + rewrite}:
        try:
            fsync_dir(d)
        except OSError:
            pass
    freed -= sum(size for _name, size, _raw in finished)
    return GcResult(images, len(dead_layers), len(dead_blobs), len(dead_chunks), len(delete), len(rewrite),
                    moved, orphans, freed)


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _remove(path: str) -> int:
    try:
        size = os.stat(path).st_size
        os.unlink(path)
        return size
    except OSError:
        return 0
