"""Checking a repository (``store verify``) and measuring it (``store stats``).

verify reports, never raises for what it finds: each :class:`~.repo.Problem`
names the broken thing (a pack, a chunk's frame, a layer, a blob) and the
layers and images that cannot be exported because of it, so a user knows
what to re-add. Fast mode compares the index with the pack files (present,
sizes, every frame inside its pack, every referenced id resolves, a layer's
chunks add up to its size); full mode also decompresses every frame (zstd
checks each frame's own checksum) and sha256s every chunk and blob.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from array import array
from collections import defaultdict

import zstandard

from ..errors import BadInputError, os_error
from .packs import MAGIC, PackReader, decompress_frame, pack_path
from .repo import INDEX, Problem, Progress, Repository, Stats, blob_to_ids


def verify(repo: Repository, full: bool, progress: Progress | None) -> list[Problem]:
    """The index's own pages first (SQLite's quick_check; integrity_check when ``full``): on a
    damaged index nothing else can be trusted, so that is then the one problem reported."""
    try:
        damage = _index_damage(repo, full)
        if not damage:
            return _verify(repo, full, progress)
    except sqlite3.DatabaseError as e:  # met while reading rows the page check passed
        damage = str(e)
    return [Problem(f"index {INDEX}", f"damaged ({damage}); re-add the images into a new store", [], [])]


def _index_damage(repo: Repository, full: bool) -> str:
    """SQLite's own check of the index's pages: '' when they are sound, else its first findings."""
    rows = [r[0] for r in repo._db.execute(f"PRAGMA {'integrity_check' if full else 'quick_check'}(5)")]
    return "" if rows == ["ok"] else "; ".join(rows)


def _verify(repo: Repository, full: bool, progress: Progress | None) -> list[Problem]:
    db = repo._db
    root = repo.root
    index = os.path.join(root, INDEX)
    problems: list[tuple[str, str, set[int], set[str]]] = []  # what, message, bad chunk ids, bad layers
    db.execute("BEGIN")  # one snapshot
    try:
        packs = {pid: (name, size) for pid, name, size in db.execute("SELECT id, name, size FROM packs")}
        chunk_size: dict[int, int] = {}
        by_pack: dict[int, list[tuple[int, bytes, int, int, int, int]]] = defaultdict(list)
        for cid, key, size, pid, fo, fl, off in db.execute(
                "SELECT id, sha256, size, pack, frame_offset, frame_length, offset FROM chunks "
                "ORDER BY pack, frame_offset, offset"):
            chunk_size[cid] = size
            by_pack[pid].append((cid, bytes(key), size, fo, fl, off))
        layers = []
        for diff_id, size, s, c in db.execute("SELECT diff_id, size, structure_ids, content_ids FROM layers"):
            where = f"{index}: layer {diff_id}"
            try:
                layers.append((diff_id, size, blob_to_ids(s, where), blob_to_ids(c, where)))
            except BadInputError as e:
                problems.append((f"layer {diff_id}", str(e), set(), {diff_id}))
        refs = list(db.execute("SELECT image, diff_id FROM image_layers"))
        blob_refs = list(db.execute("SELECT image, digest FROM image_blobs"))
        blobs = {d for (d,) in db.execute("SELECT digest FROM blobs")}
    finally:
        db.execute("COMMIT")

    # the packs and the frames in them
    total = sum(len(v) for v in by_pack.values())
    done = 0
    reader = PackReader(root, frames=2)
    try:
        for pid, chunks in sorted(by_pack.items(), key=lambda kv: packs.get(kv[0], ("", 0))[0]):
            if pid not in packs:
                problems.append((f"pack #{pid}", "chunks point at a pack the index does not list",
                                 {c[0] for c in chunks}, set()))
                continue
            name, recorded = packs[pid]
            path = pack_path(root, name)
            what = f"pack {os.path.relpath(path, root)}"
            try:
                actual = os.stat(path).st_size
            except FileNotFoundError:
                problems.append((what, "missing", {c[0] for c in chunks}, set()))
                continue
            except OSError as e:
                problems.append((what, str(os_error(e, "stat")), {c[0] for c in chunks}, set()))
                continue
            if actual != recorded:
                short = {c[0] for c in chunks if c[3] + c[4] > actual}
                problems.append((what, f"{actual} bytes, the index says {recorded}"
                                 + (f"; {len(short)} chunks lie past its end" if short else ""), short, set()))
            outside = {c[0] for c in chunks if c[3] < len(MAGIC) or c[3] + c[4] > recorded or c[4] <= 0}
            if outside:
                problems.append((what, f"{len(outside)} chunks have frames outside the pack", outside, set()))
            if full and actual:
                _check_pack(reader, name, what, chunks, outside, problems)
            done += len(chunks)
            if progress:
                progress(done, total)
            reader.forget(name)
    finally:
        reader.close()

    # the references
    for diff_id, size, structure, content in layers:
        missing = {i for i in structure if i not in chunk_size} | {i for i in content if i not in chunk_size}
        if missing:
            problems.append((f"layer {diff_id}", f"references {len(missing)} chunks the index does not have",
                             set(), {diff_id}))
            continue
        held = sum(chunk_size[i] for i in structure) + sum(chunk_size[i] for i in content)
        if held != size:
            problems.append((f"layer {diff_id}", f"its chunks hold {held} bytes, the layer is {size}", set(), {diff_id}))
    known_layers = {l[0] for l in layers}
    for image, diff_id in refs:
        if diff_id not in known_layers:
            problems.append((f"layer {diff_id}", "is not in the store", set(), {diff_id}))
    for image, digest in blob_refs:
        if digest not in blobs:
            problems.append((f"blob {digest}", f"is not in the store (image {image})", set(), set()))
    if full:
        for digest, data in db.execute("SELECT digest, data FROM blobs"):
            if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
                problems.append((f"blob {digest}", "does not match its digest", set(), set()))
    return _name_victims(problems, layers, refs, blob_refs)


def _check_pack(reader: PackReader, name: str, what: str, chunks: list, skip: set[int],
                problems: list) -> None:
    bad_frames: dict[int, str] = {}
    bad_chunks: set[int] = set()
    frame_of: dict[int, int] = {}
    dctx = zstandard.ZstdDecompressor()
    at, frame = -1, b""
    for cid, key, size, fo, fl, off in chunks:  # in frame order: each frame decompressed once
        if cid in skip:
            continue
        frame_of[cid] = fo
        if fo in bad_frames:
            bad_chunks.add(cid)
            continue
        if fo != at:
            try:
                frame = decompress_frame(dctx, reader.raw(name, fo, fl), fo, "")
                at = fo
            except (BadInputError, OSError) as e:
                bad_frames[fo] = str(e)
                bad_chunks.add(cid)
                continue
        data = memoryview(frame)[off:off + size]
        if len(data) != size or hashlib.sha256(data).digest() != key:
            bad_chunks.add(cid)
    if bad_frames:
        first = min(bad_frames)
        problems.append((what, f"{len(bad_frames)} damaged frames (first: {bad_frames[first]})",
                         {c for c in bad_chunks if frame_of[c] in bad_frames}, set()))
    wrong = {c for c in bad_chunks if frame_of[c] not in bad_frames}
    if wrong:
        problems.append((what, f"{len(wrong)} chunks do not match their sha256 (first: chunk {min(wrong)})",
                         wrong, set()))


def _name_victims(found: list, layers: list, refs: list, blob_refs: list) -> list[Problem]:
    """Each problem with the layers whose chunks it spoils and the images those (or its blob) belong to."""
    bad_ids: set[int] = set().union(*(f[2] for f in found)) if found else set()
    layers_of: dict[int, set[str]] = defaultdict(set)
    if bad_ids:
        for diff_id, _size, structure, content in layers:
            for ids in (structure, content):
                for i in bad_ids.intersection(ids):
                    layers_of[i].add(diff_id)
    images_of: dict[str, set[str]] = defaultdict(set)
    for image, diff_id in refs:
        images_of[diff_id].add(image)
    images_of_blob: dict[str, set[str]] = defaultdict(set)
    for image, digest in blob_refs:
        images_of_blob[digest].add(image)
    out = []
    for what, message, ids, direct in found:
        hit = set(direct)
        for i in ids:
            hit |= layers_of.get(i, set())
        images = set().union(*(images_of[d] for d in hit)) if hit else set()
        if what.startswith("blob "):
            images |= images_of_blob.get(what[5:], set())
        out.append(Problem(what, message, sorted(hit), sorted(images)))
    return out


def stats(repo: Repository) -> Stats:
    db = repo._db
    root = repo.root
    db.execute("BEGIN")
    try:
        images = db.execute("SELECT count(*) FROM images").fetchone()[0]
        logical = db.execute("SELECT coalesce(sum(l.size), 0) FROM image_layers r JOIN layers l "
                             "ON l.diff_id = r.diff_id").fetchone()[0]
        logical += db.execute("SELECT coalesce(sum(b.size), 0) FROM image_blobs r JOIN blobs b "
                              "ON b.digest = r.digest").fetchone()[0]
        n_layers = db.execute("SELECT count(*) FROM layers").fetchone()[0]
        shared_layers = db.execute("SELECT count(*) FROM (SELECT diff_id FROM image_layers GROUP BY diff_id "
                                   "HAVING count(DISTINCT image) > 1)").fetchone()[0]
        n_blobs, blob_bytes = db.execute("SELECT count(*), coalesce(sum(size), 0) FROM blobs").fetchone()
        n_chunks, chunk_bytes = db.execute("SELECT count(*), coalesce(sum(size), 0) FROM chunks").fetchone()
        n_packs = db.execute("SELECT count(*) FROM packs").fetchone()[0]
        sizes = dict(db.execute("SELECT id, size FROM chunks"))
        seen_once: set[int] = set()
        shared: set[int] = set()
        files_once: set[bytes] = set()
        files_shared: set[bytes] = set()
        for pairs, s, c in db.execute("SELECT pairs, structure_ids, content_ids FROM layers"):
            content = blob_to_ids(c, INDEX)
            ids = set(blob_to_ids(s, INDEX)) | set(content)
            shared |= ids & seen_once
            seen_once |= ids
            files = _files(blob_to_ids(pairs, INDEX), content, sizes)
            files_shared |= files & files_once
            files_once |= files
    finally:
        db.execute("COMMIT")
    pack_bytes = 0
    packs_dir = os.path.join(root, "packs")
    for dirpath, _dirs, files in os.walk(packs_dir):
        for f in files:
            try:
                pack_bytes += os.stat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    index_bytes = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            index_bytes += os.stat(os.path.join(root, INDEX + suffix)).st_size
        except OSError:
            pass
    return Stats(images, n_layers, shared_layers, n_blobs, n_chunks, len(shared), n_packs, logical,
                 chunk_bytes + blob_bytes, pack_bytes, index_bytes, pack_bytes + index_bytes,
                 len(files_once), len(files_shared))


def _files(lengths: array, content: array, sizes: dict[int, int]) -> set[bytes]:
    """A layer's distinct file contents, each named by its chunk ids (a file's content is chunked on
    its own, so equal ids are equal bytes): the recipe's pairs give each file's length."""
    files: set[bytes] = set()
    at = 0
    for k in range(1, len(lengths), 2):
        left = lengths[k]
        start = at
        while left > 0 and at < len(content):
            left -= sizes.get(content[at], left)
            at += 1
        if at > start:
            files.add(content[start:at].tobytes())
    return files
