"""HTML reports: a JSON document (the one ``--json`` prints) in, one self-contained page out.

A renderer draws what the document holds and computes nothing else about the
image; see docs/reports-html.md for the page's safety rules and the layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import UsageError


def _renderers() -> dict[str, Callable[[dict[str, Any]], str]]:
    from .changes import render_changes
    from .ci import render_ci
    from .compare import render_compare
    from .inspect import render_inspect
    from .savings import render_savings
    from .stats import render_stats
    from .workload import render_workload

    return {
        "layerscope.inspect/2": render_inspect,
        "layerscope.changes/2": render_changes,
        "layerscope.compare/1": render_compare,
        "layerscope.savings/1": render_savings,
        "layerscope.ci/1": render_ci,
        "layerscope.store.stats/1": render_stats,
        "layerscope.workload/1": render_workload,
    }


def render(doc: dict[str, Any]) -> str:
    """The HTML page of a document, dispatched on its ``schema``."""
    schema = doc.get("schema") if isinstance(doc, dict) else None
    renderer = _renderers().get(schema)  # type: ignore[arg-type]
    if renderer is None:
        raise UsageError(f"no HTML report for a document of schema {schema!r}")
    return renderer(doc)
