"""`workload` as the ``layerscope.workload/1`` JSON document (a contract: docs/json.md).

Sizes are bytes: ``pulled`` the compressed blobs a node downloads (each
distinct blob once), ``stored`` the unpacked layers it keeps (each distinct
ChainID once), ``naive_*`` the same with nothing shared between the images
(per workload) or between the workloads (total, per node).
"""

from __future__ import annotations

from typing import Any

from ..analysis.workload import Cost, SharedLayer, WorkloadReport
from ..units import human_size
from .style import Paint, capped, finish
from .text import short_digest

WORKLOAD_SCHEMA = "layerscope.workload/1"


def _cost(c: Cost) -> dict[str, int]:
    return {"pulled": c.pulled, "stored": c.stored, "naive_pulled": c.naive_pulled, "naive_stored": c.naive_stored}


def _shared(s: SharedLayer, holders: str) -> dict[str, Any]:
    return {"chain_id": s.chain_id, "diff_id": s.diff_id, "size": s.size, "compressed": s.compressed,
            holders: s.holders}


def workload_doc(r: WorkloadReport) -> dict[str, Any]:
    return {
        "schema": WORKLOAD_SCHEMA,
        "files": r.files,
        "images": [
            {"index": i, "ref": im.ref, "source": im.source, "name": im.name, "manifest_digest": im.manifest_digest,
             "os_release": im.os_release, "compressed": im.compressed, "size": im.size,
             "layers": [{"blob": lay.blob, "diff_id": lay.diff_id, "chain_id": lay.chain_id,
                         "compressed": lay.compressed, "size": lay.size} for lay in im.layers]}
            for i, im in enumerate(r.images)
        ],
        "workloads": [
            {"index": k, "name": w.name, "kind": w.kind, "file": w.file, "document": w.document,
             "replicas": w.replicas, "node": w.node,
             "containers": [{"name": c.name, "role": c.role, "ref": c.ref, "image": c.image} for c in w.containers],
             "images": w.images, **_cost(w.cost),
             "shared_layers": [_shared(s, "images") for s in w.shared],
             "alone": [{"image": a.image, "pulled": a.pulled, "stored": a.stored} for a in w.alone]}
            for k, w in enumerate(r.workloads)
        ],
        "total": {**_cost(r.total), "shared_layers": [_shared(s, "workloads") for s in r.shared]},
        "rebase": {
            "saving": r.rebase.saving, "saving_compressed": r.rebase.saving_compressed,
            "stored_after": r.rebase.stored_after, "pulled_after": r.rebase.pulled_after,
            "groups": [
                {"images": g.images, "base": g.base, "saving": g.saving, "saving_compressed": g.saving_compressed,
                 "layers": [{"diff_id": lay.diff_id, "like": lay.like, "common": lay.common, "share": lay.share,
                             "cause": lay.cause, "saving": lay.saving, "saving_compressed": lay.saving_compressed,
                             "images": lay.images} for lay in g.layers]}
                for g in r.rebase.groups
            ],
        },
        "nodes": [{"name": n.name, "workloads": n.workloads, **_cost(n.cost)} for n in r.nodes],
        "warnings": r.warnings,
    }


LIMIT = 10  # rows per list in the text


def _pair(pulled: int, stored: int) -> str:
    return f"{human_size(pulled):>10} {human_size(stored):>10}"


def workload_text(r: WorkloadReport, *, color: bool = False, all_rows: bool = False) -> str:
    """Per workload the images with their roles, then the totals, nodes and the rebase estimate."""
    paint = Paint(color)
    limit = None if all_rows else LIMIT
    out = [f"{len(r.workloads)} workload{'s' if len(r.workloads) != 1 else ''}, {len(r.images)} "
           f"distinct image{'s' if len(r.images) != 1 else ''}", ""]
    out.append(paint(f"{'#':>3} {'pulled':>10} {'stored':>10} {'naive':>10}  workload", "bold"))
    for k, w in enumerate(r.workloads):
        out.append(f"{k:>3} {_pair(w.cost.pulled, w.cost.stored)} {human_size(w.cost.naive_stored):>10}  {w.name}")
        alone = {a.image: a for a in w.alone}
        for c in w.containers:
            if c.image is None:
                out.append(f"{'':>3} {paint.rjust('unresolved', 10, 'red')} {'':>10} {'':>10}    {c.role} {c.name}: {c.ref}")
                continue
            a = alone[c.image]
            out.append(f"{'':>3} {_pair(a.pulled, a.stored)} {'':>10}    {c.role} {c.name}: {c.ref} "
                       f"{paint(f'[image {c.image}]', 'dim')}")
        if w.shared:
            both = sum(s.size for s in w.shared)
            out.append(f"{'':>3} {'':>10} {human_size(both):>10} {'':>10}    "
                       f"{len(w.shared)} layer{'s' if len(w.shared) > 1 else ''} shared by its images")
    t = r.total
    out += ["", paint(f"{'':>3} {'pulled':>10} {'stored':>10} {'naive':>10}", "bold"),
            f"{'all':>3} {_pair(t.pulled, t.stored)} {human_size(t.naive_stored):>10}  every workload on one node "
            f"(naive: each on a node of its own)"]
    if r.shared:
        out += ["", "layers several workloads store"]
        out += capped([f"  {short_digest(s.chain_id)} {paint.rjust(human_size(s.size), 10, 'green')}  workloads "
                       f"{', '.join(map(str, s.holders))}" for s in r.shared[:limit]], len(r.shared), limit)
    if r.nodes:
        out += ["", paint(f"{'pulled':>14} {'stored':>10}  node: workloads", "bold")]
        out += [f"    {_pair(n.cost.pulled, n.cost.stored)}  {n.name}: {', '.join(map(str, n.workloads))}"
                for n in r.nodes]
    rb = r.rebase
    out.append("")
    if rb.groups:
        out.append(f"rebase: one common base would store {paint(human_size(rb.saving), 'yellow')} less "
                   f"({human_size(t.stored)} -> {human_size(rb.stored_after)}) and pull about "
                   f"{human_size(rb.saving_compressed)} less")
        rows = []
        for g in rb.groups:
            for lay in g.layers:
                rows.append(f"  images {', '.join(map(str, lay.images))}: {short_digest(lay.diff_id)} ~ "
                            f"{short_digest(lay.like)} {human_size(lay.saving)} ({lay.cause})")
        out += capped(rows[:limit], len(rows), limit)
    else:
        out.append("rebase: no near-miss layers between images of the same distro base")
    if r.warnings:
        out += ["", f"{len(r.warnings)} warning{'s' if len(r.warnings) > 1 else ''}"]
        out += capped([f"  {paint(w, 'yellow')}" for w in r.warnings[:limit]], len(r.warnings), limit)
    return finish(out)
