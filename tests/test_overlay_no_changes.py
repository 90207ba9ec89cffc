"""Stacking without the per-path change lists (inspect, ls, ci) gives the same tree and warnings."""

from __future__ import annotations

from layerscope import inspect


def _facts(report):
    tree = report.overlay.tree
    nodes = {p: (n.kind, n.layer, n.entry.size, n.entry.mode, n.entry.digest, tree.refs.get(n.inode))
             for p, n in tree.nodes.items()}
    warnings = [[(w.code, w.path, w.message) for w in d.warnings] for d in report.layer_changes]
    w = report.waste
    return nodes, warnings, (w.wasted_bytes, w.by_reason, w.dive_efficiency, [(d.digest, d.paths) for d in w.duplicates])


def test_same_tree_warnings_and_waste_without_changes(py_images, random_image):
    args = [exp.arg for exp in py_images.values() if not exp.extra_args]
    tags = sorted(random_image.tags)
    args += [random_image.arg(t) for t in tags[:: max(1, len(tags) // 20)]]
    for arg in args:
        full = inspect(arg, cache=False)
        lean = inspect(arg, cache=False, changes=False)
        assert _facts(full) == _facts(lean), arg
        assert all(not d.changes for d in lean.layer_changes), arg
    assert any(d.changes for d in full.layer_changes)
