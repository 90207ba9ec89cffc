"""The packages installed in a stacked image, and what changed between two images.

The databases are read as the merged filesystem shows them: each database
path of the final tree, with the bytes its layer's scan kept for that
content (``LayerScan.captured``, by content digest, so a database a later
layer rewrote or deleted counts as the later layer left it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .. import packages
from ..fs.tree import Tree
from ..layer import capture
from ..layer.entry import CONTENT_KINDS
from ..layer.scan import LayerScan
from ..packages import Package
from ..units import human_size

_MISSING = object()


def kept_bytes(scans: Iterable[LayerScan | None]) -> dict[bytes, bytes | None]:
    """Every database content the scans of an image's layers kept, by digest."""
    out: dict[bytes, bytes | None] = {}
    for s in scans:
        if s is not None:
            out.update(s.captured)
    return out


def installed(tree: Tree, kept: dict[bytes, bytes | None], memo: dict | None = None) -> tuple[list[Package], list[str]]:
    """The packages the databases in ``tree`` list, and warnings (one line each).

    ``memo`` (shared between the trees of a comparison) reads a database the
    two images have in common (same path, same content) once."""
    memo = {} if memo is None else memo
    found: list[Package] = []
    warnings: list[str] = []
    for path, node in tree.nodes.items():
        if not capture.candidate(path) or node.entry.kind not in CONTENT_KINDS or capture.database_kind(path) is None:
            continue
        e = node.entry
        data = kept.get(e.digest, _MISSING) if e.digest is not None else _MISSING
        if data is _MISSING:
            warnings.append(f"/{path}: its content was not kept by the layer scan; its packages are not compared")
            continue
        if data is None:
            warnings.append(f"/{path}: {human_size(e.size)}, over the {human_size(capture.MAX_CAPTURE)} kept for a "
                            "package database; its packages are not compared")
            continue
        read = memo.get((path, e.digest))
        if read is None:
            read = memo[(path, e.digest)] = packages.read(path, data)
        pkgs, notes = read
        found.extend(pkgs)
        warnings.extend(notes)
    found.sort(key=_order)
    return found, sorted(warnings)


def _order(p: Package) -> tuple[str, str, str]:
    return p.type, p.name, p.key


@dataclass(slots=True)
class PackageComparison:
    added: list[Package]  # in B only
    removed: list[Package]  # in A only
    changed: list[tuple[Package, Package]]  # (A's, B's): same key, another version
    counts_a: dict[str, int]  # packages per type
    counts_b: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def compare_packages(a: list[Package], b: list[Package], warnings: list[str] | None = None) -> PackageComparison:
    ka = {(p.type, p.key): p for p in a}
    kb = {(p.type, p.key): p for p in b}
    return PackageComparison(
        added=sorted((p for k, p in kb.items() if k not in ka), key=_order),
        removed=sorted((p for k, p in ka.items() if k not in kb), key=_order),
        changed=sorted(((ka[k], p) for k, p in kb.items() if k in ka and ka[k].version != p.version),
                       key=lambda pair: _order(pair[1])),
        counts_a=dict(sorted(Counter(p.type for p in a).items())),
        counts_b=dict(sorted(Counter(p.type for p in b).items())),
        warnings=warnings or [],
    )
