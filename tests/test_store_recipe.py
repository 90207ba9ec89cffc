"""A layer tar -> recipe -> the same bytes (layerscope/store/recipe.py), with either tar reader,
across a hand-over from the C scanner to the reference reader, for every member shape the
readers know and for bytes the tar format does not define (padding, what follows the end
marker): the store must give back every layer bit for bit."""

from __future__ import annotations

import hashlib
import io
import random
import shutil
import subprocess
import tarfile

import pytest

from layerscope.chunk import ChunkParams, cut_points
from layerscope.layer import tarscan
from layerscope.store.decompose import decompose
from layerscope.store.recipe import Recipe, rebuild

from test_tarscan import FORMATS, PieceStream, Stream, build, handovers, random_members  # noqa: F401 (a fixture)

PARAMS = ChunkParams(min_size=1024, avg_size=4096, max_size=16384)


class Chunks:
    """A tiny content-addressed chunk store for the tests (sha256 -> id)."""

    def __init__(self) -> None:
        self.ids: dict[bytes, int] = {}
        self.data: list[bytes] = []
        self.calls = 0

    def chunk(self, view) -> int:
        self.calls += 1
        b = bytes(view)
        key = hashlib.sha256(b).digest()
        if key not in self.ids:
            self.ids[key] = len(self.data)
            self.data.append(b)
        return self.ids[key]

    def chunks(self, pieces) -> list[int]:
        return [self.chunk(p) for p in pieces]

    def read(self, ids):
        return (self.data[i] for i in ids)


def round_trip(data: bytes, stream=None, store: Chunks | None = None) -> tuple[Recipe, Chunks]:
    store = store or Chunks()
    recipe = decompose(stream or Stream(data, as_memoryview=True), store.chunks, params=PARAMS)
    assert recipe.size == len(data)
    assert b"".join(rebuild(recipe, store.read)) == data
    return recipe, store


def _files(data: bytes) -> list[bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return [t.extractfile(m).read() for m in t if m.isreg() and m.size]


def test_content_chunks_are_each_file_cut_on_its_own(tar_backend):
    """Content chunks are the files' FastCDC chunks (the cut points the store is keyed by);
    everything else went to the structure stream."""
    rnd = random.Random(1)
    members = [(f"d/f{i}", rnd.randbytes(n)) for i, n in enumerate([5, 2000, 70_000, tarscan.SLICE + 3, 0])]
    data = build([(tarfile.TarInfo(name), body) for name, body in members], tarfile.PAX_FORMAT)
    recipe, store = round_trip(data)
    want = []
    for body in _files(data):
        start = 0
        for end in cut_points(body, params=PARAMS):
            want.append(body[start:end])
            start = end
    assert [store.data[i] for i in recipe.content_ids] == want
    structure = sum(len(store.data[i]) for i in recipe.structure_ids)
    assert structure + sum(map(len, want)) == len(data)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed", range(3))
def test_generated_archives_round_trip(tar_backend, fmt, seed):
    sizes = [0, 1, 511, 512, 513, 5000, 70_000, tarscan.SLICE - 100, tarscan.SLICE + 700]
    data = build(random_members(random.Random(seed), FORMATS[fmt], 30, sizes), FORMATS[fmt])
    round_trip(data)
    round_trip(data, PieceStream(data, seed))


@pytest.mark.parametrize("seed", range(3))
def test_a_hand_over_to_the_reference_reader(seed, handovers):
    """Base-256 uids make the C scanner hand the rest of the layer to the reference reader."""
    if not tarscan.BACKEND.native:
        pytest.skip("no C tar scanner in this install")
    data = build(random_members(random.Random(seed), tarfile.GNU_FORMAT, 40, [0, 700, 20_000, 90_000], odd=True),
                 tarfile.GNU_FORMAT)
    round_trip(data)
    round_trip(data, PieceStream(data, seed))
    assert handovers


def test_bytes_the_format_leaves_undefined(tar_backend):
    """Non-zero padding, a short final record, junk after the end marker: all kept."""
    body = random.Random(3).randbytes(3000)
    data = bytearray(build([(tarfile.TarInfo("a"), body), (tarfile.TarInfo("b"), b"xy")], tarfile.USTAR_FORMAT))
    data[512 + 3000:512 + 3072] = b"P" * 72  # padding after a's content
    round_trip(bytes(data))
    round_trip(bytes(data) + b"trailing bytes after the archive" * 100)
    end = data.rindex(b"xy") + 512  # the end marker starts at the next block
    round_trip(bytes(data[:end + 1024]))  # no record padding


def test_long_names_links_xattrs_and_hardlinks(tar_backend):
    infos = []
    for name, kind in [("n" * 300, tarfile.REGTYPE), ("dir/", tarfile.DIRTYPE), ("l" * 200, tarfile.SYMTYPE),
                       ("hard", tarfile.LNKTYPE)]:
        t = tarfile.TarInfo(name)
        t.type = kind
        if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
            t.linkname = "n" * 300
        t.pax_headers = {"SCHILY.xattr.user.k": "v", "mtime": "1700000000.5"}
        infos.append((t, b"c" * 5000 if kind == tarfile.REGTYPE else None))
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        round_trip(build(infos, fmt))


def test_sparse_members_are_structure(tmp_path):
    tar = shutil.which("tar")
    if not tar or "GNU tar" not in subprocess.run([tar, "--version"], capture_output=True, text=True).stdout:
        pytest.skip("needs GNU tar")
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        for i in range(30):
            f.seek(i * 100_000)
            f.write(b"run %d" % i)
    (src / "after").write_bytes(random.Random(4).randbytes(30_000))
    for fmt in ("gnu", "pax"):
        out = tmp_path / f"{fmt}.tar"
        subprocess.run([tar, f"--format={fmt}", "--sparse", "-cf", out, "-C", src, "sparse", "after"], check=True)
        data = out.read_bytes()
        recipe, store = round_trip(data)
        assert b"".join(store.data[i] for i in recipe.content_ids).endswith((src / "after").read_bytes())


def test_a_rebuilt_layer_shares_its_content_chunks(tar_backend):
    """New mtimes change the headers (structure), not a content chunk."""
    rnd = random.Random(5)
    bodies = [rnd.randbytes(n) for n in (100, 5000, 60_000, 200_000)]

    def layer(mtime: int) -> bytes:
        infos = []
        for i, body in enumerate(bodies):
            t = tarfile.TarInfo(f"f{i}")
            t.mtime = mtime
            infos.append((t, body))
        return build(infos, tarfile.PAX_FORMAT)

    first, store = round_trip(layer(1_000))
    before = len(store.data)
    second, store = round_trip(layer(2_000_000), store=store)
    assert list(second.content_ids) == list(first.content_ids)
    assert all(i < before for i in second.content_ids)  # nothing new but structure
    assert any(i >= before for i in second.structure_ids)


def test_a_damaged_recipe_is_bad_input():
    from layerscope.errors import BadInputError

    data = build([(tarfile.TarInfo("a"), b"x" * 5000)], tarfile.PAX_FORMAT)
    recipe, store = round_trip(data)
    short = Recipe(recipe.size, recipe.pairs, recipe.structure_ids, recipe.content_ids[:-1])
    with pytest.raises(BadInputError):
        b"".join(rebuild(short, store.read))
    extra = Recipe(recipe.size, recipe.pairs, recipe.structure_ids, recipe.content_ids + recipe.content_ids)
    with pytest.raises(BadInputError):
        b"".join(rebuild(extra, store.read))


def test_more_structure_than_the_chunker_is_fed_at_once(tar_backend):
    """Thousands of small members: several MiB of headers, fed to the structure chunker in pieces."""
    rnd = random.Random(6)
    infos = []
    for i in range(5000):
        t = tarfile.TarInfo(f"many/{i:05d}")
        t.mtime = rnd.randrange(1 << 30)
        infos.append((t, rnd.randbytes(rnd.choice([0, 10, 700]))))
    recipe, store = round_trip(build(infos, tarfile.PAX_FORMAT))
    assert sum(len(store.data[i]) for i in recipe.structure_ids) > 2 << 20
