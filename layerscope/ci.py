"""CI gates, the public API: ``layerscope.ci.evaluate(report, rules)``.

    import layerscope, layerscope.ci
    rules = layerscope.ci.load_rules()                  # .layerscope.toml, pyproject.toml or .dive-ci
    results = layerscope.ci.evaluate(layerscope.inspect("app.tar"), rules)
    assert layerscope.ci.overall(results) == "PASS"

See ``docs/ci.md``; the implementation lives in ``layerscope.analysis.ci``.
"""

from __future__ import annotations

from .analysis.ci import *
from .analysis.ci import __all__  # noqa: F401 - re-exported
