"""``layerscope.workload/1`` documents for the renderers' tests, made by ``workload_doc`` from
report records (so their shape follows the contract), the figures counted by the analysis's own
``cost`` / ``_shared`` / ``_alone``.
"""

from __future__ import annotations

import hashlib

from layerscope.analysis.workload import (
    Container, ImageRow, LayerRow, NodeRow, Rebase, RebaseGroup, RebaseLayer, WorkloadReport, WorkloadRow,
    _alone, _shared, cost,
)
from layerscope.report.workload_out import workload_doc

MB = 1_000_000


def digest(tag: str) -> str:
    return "sha256:" + hashlib.sha256(tag.encode()).hexdigest()


def image(ref: str, layers: list[tuple[str, int, int]], os_release: str | None = "deb12") -> ImageRow:
    """An image of (diff tag, compressed, size) layers; blobs and ChainIDs follow from the stack."""
    rows, chain = [], ""
    for tag, comp, sz in layers:
        chain += tag + "/"
        rows.append(LayerRow(digest("b" + tag), digest("d" + tag), digest("c" + chain), comp, sz))
    return ImageRow(ref, f"docker://{ref}", ref, digest("m" + ref), rows, os_release)


def workload(name: str, kind: str, containers: list[Container], images: list[ImageRow], *,
             node: str | None = None, file: str = "k8s/app.yaml") -> WorkloadRow:
    mine = list(dict.fromkeys(c.image for c in containers if c.image is not None))
    members = [(i, images[i]) for i in mine]
    return WorkloadRow(name, kind, file, 0, 2, node, containers, mine, cost([im for _, im in members]),
                       _shared(members), [_alone(i, members) for i in mine])


def report(images: list[ImageRow], workloads: list[WorkloadRow], rebase_layers: list[RebaseLayer],
           nodes: dict[str, list[int]], warnings: list[str], files: list[str]) -> WorkloadReport:
    every = [images[i] for i in sorted({i for w in workloads for i in w.images})]
    total = cost(every, naive=(sum(w.cost.pulled for w in workloads), sum(w.cost.stored for w in workloads)))
    across = _shared([(k, images[i]) for k, w in enumerate(workloads) for i in w.images])
    saving = sum(lay.saving for lay in rebase_layers)
    saving_c = sum(lay.saving_compressed for lay in rebase_layers)
    held = {d for lay in rebase_layers for d in (lay.diff_id, lay.like)}
    groups = [RebaseGroup([i for i, im in enumerate(images) if any(r.diff_id in held for r in im.layers)],
                          rebase_layers[0].like, rebase_layers, saving, saving_c)] if rebase_layers else []
    node_rows = [NodeRow(n, ks, cost([images[i] for i in sorted({i for k in ks for i in workloads[k].images})],
                                     naive=(sum(workloads[k].cost.pulled for k in ks),
                                            sum(workloads[k].cost.stored for k in ks))))
                 for n, ks in sorted(nodes.items())]
    return WorkloadReport(files, images, workloads, total, across,
                          Rebase(saving, saving_c, total.stored - saving, total.pulled - saving_c, groups),
                          node_rows, warnings)


def small(web: str = "Deployment/shop/web", sidecar: str = "log") -> dict:
    """Two workloads over three images, one unresolved sidecar, one node, one near-miss layer.

    web (images 1, 0): base 40 MB (pulled 10 MB), web app 20 MB (5), migrate 8 MB (2)
    worker (images 2, 0): a rebuilt base 40 MB (10 MB) near web's, worker 12 MB (3)
    """
    images = [image("shop/web:1.0", [("base", 10 * MB, 40 * MB), ("web", 5 * MB, 20 * MB)]),
              image("shop/migrate:1.0", [("base", 10 * MB, 40 * MB), ("mig", 2 * MB, 8 * MB)]),
              image("shop/worker:2", [("base2", 10 * MB, 40 * MB), ("wrk", 3 * MB, 12 * MB)])]
    wls = [workload(web, "Deployment", [Container("migrate", "init", "shop/migrate:1.0", 1),
                                        Container("web", "container", "shop/web:1.0", 0),
                                        Container(sidecar, "container", "fluent/bit:3", None)], images,
                    node="node-a"),
           workload("compose/shop/worker", "compose", [Container("worker", "service", "shop/worker:2", 2),
                                                       Container("web", "service", "shop/web:1.0", 0)], images,
                    file="compose.yaml")]
    layer = RebaseLayer(digest("dbase2"), digest("dbase"), 36 * MB, 0.9, "same files, new mtimes", 36 * MB, 9 * MB, [2])
    return workload_doc(report(images, wls, [layer], {"node-a": [0, 1]},
                               [f"{web}: container {sidecar}: cannot resolve fluent/bit:3: not found"],
                               ["k8s/app.yaml", "compose.yaml"]))


def huge(n: int = 3000, hostile: str = "") -> dict:
    """Thousands of workloads, images, nodes and warnings, every name carrying ``hostile``."""
    base = [(f"base{k}", 10 * MB, 40 * MB) for k in range(3)]
    images = [image(f"reg.example/app{i}{hostile}:1", base + [(f"app{i}", MB, 4 * MB)]) for i in range(n)]
    wls = [workload(f"Deployment/ns/w{k}{hostile}", "Deployment",
                    [Container(f"c{k}{hostile}", "container", images[k].ref, k),
                     Container(f"side{hostile}", "container", images[(k + 1) % n].ref, (k + 1) % n),
                     Container(f"lost{hostile}", "init", f"gone/{k}{hostile}", None)], images,
                    node=f"node-{k % 500}{hostile}", file=f"k8s/{hostile}.yaml") for k in range(n)]
    layers = [RebaseLayer(digest(f"dapp{i}"), digest("dapp0"), MB, 0.5, f"cause{hostile}", MB, MB // 4, [i])
              for i in range(1, n)]
    nodes: dict[str, list[int]] = {}
    for k, w in enumerate(wls):
        nodes.setdefault(w.node or "", []).append(k)
    return workload_doc(report(images, wls, layers, nodes,
                               [f"{w.name}: init lost{hostile}: cannot resolve gone/{k}{hostile}: {hostile * 20}"
                                for k, w in enumerate(wls)], [f"f{i}{hostile}.yaml" for i in range(50)]))
