"""Near misses: two layers with different diff_ids whose files are mostly the same.

A rebuilt base or a re-run ``apt-get`` gives a layer that stores the same
file contents again under a new diff_id; layer sharing misses it, file-level
dedup would not. Pairs are found through the file digests they have in
common (an inverted index: no pair of layers that shares no file is looked
at), and the likely cause is told from the layers' member lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .layer_digests import MTIME, LayerDigests

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .combos import Combo

#: A pair is a near miss when the file bytes they have in common are at least
#: this share of the bigger layer's file bytes.
MIN_SHARE = 0.5
#: ... and at least this many bytes (two tiny layers with one small file alike are no news).
MIN_BYTES = 64 << 10
#: A file content held by more layers than this does not pair them (k layers make k^2/2 pairs):
#: such a file is everywhere, so it tells no two layers apart.
MAX_HOLDERS = 256

SAME_BUT_MTIMES = "same files, new mtimes"
SAME_BUT_ORDER = "same files, different order"
SAME_BUT_METADATA = "same files, different metadata"
FILES_CHANGED = "a few files changed"


@dataclass
class NearMiss:
    a: str  # layer keys (diff_ids), a before b in the order the layers were met
    b: str
    common: int  # file-content bytes both layers store: what layer sharing lost here
    share: float  # common / the bigger layer's file bytes
    cause: str
    changed: int  # member paths added, removed or different (ignoring mtimes)


def near_misses(tables: dict[str, LayerDigests], *, min_share: float = MIN_SHARE,
                min_bytes: int = MIN_BYTES) -> list[NearMiss]:
    """Pairs of distinct layers whose common file bytes reach ``min_share`` and ``min_bytes``,
    most bytes first."""
    from .combos import file_combos

    keys = list(tables)
    return near_misses_from(keys, [sum(tables[k].files.values()) for k in keys],
                            file_combos([tables[k] for k in keys]), lambda k: tables[k].members,
                            min_share=min_share, min_bytes=min_bytes)


def near_misses_from(keys: Sequence[str], file_bytes: Sequence[int], combos: Iterable[Combo],
                     members: Callable[[str], list[tuple]], *, min_share: float = MIN_SHARE,
                     min_bytes: int = MIN_BYTES) -> list[NearMiss]:
    """:func:`near_misses` from the layers' file combos (``combos.file_combos``: sets of layers
    holding the same file contents, their bytes), each layer's file bytes, and its members
    (asked for the pairs found only, to tell the cause). No pair of layers that shares no
    file is looked at; a content held by more than :data:`MAX_HOLDERS` layers pairs none."""
    common: dict[tuple[int, int], int] = {}
    for lis, size, _csize, _n in combos:
        if not 2 <= len(lis) <= MAX_HOLDERS:
            continue
        for x in range(len(lis)):
            for y in range(x + 1, len(lis)):
                pair = (lis[x], lis[y])
                common[pair] = common.get(pair, 0) + size
    out = []
    for (x, y), both in common.items():
        share = both / max(file_bytes[x], file_bytes[y])
        if share >= min_share and both >= min_bytes:
            cause, changed = explain(members(keys[x]), members(keys[y]))
            out.append(NearMiss(keys[x], keys[y], both, round(share, 4), cause, changed))
    out.sort(key=lambda m: (-m.common, m.a, m.b))
    return out


def _no_mtime(m: tuple) -> tuple:
    return m[:MTIME]


def explain(a: list[tuple], b: list[tuple]) -> tuple[str, int]:
    """The likely cause of two layers differing (their member lists), and how many member paths
    differ beyond mtimes."""
    ma, mb = [_no_mtime(m) for m in a], [_no_mtime(m) for m in b]
    if ma == mb:
        return SAME_BUT_MTIMES, 0
    if sorted(ma, key=repr) == sorted(mb, key=repr):
        return SAME_BUT_ORDER, 0
    pa, pb = {m[0]: m for m in ma}, {m[0]: m for m in mb}
    content_a = {p: m[1:4] for p, m in pa.items()}  # kind, digest, size
    content_b = {p: m[1:4] for p, m in pb.items()}
    if content_a == content_b:
        return SAME_BUT_METADATA, sum(pa[p] != pb[p] for p in pa)
    changed = len(pa.keys() ^ pb.keys()) + sum(pa[p] != pb[p] for p in pa.keys() & pb.keys())
    return FILES_CHANGED, changed
