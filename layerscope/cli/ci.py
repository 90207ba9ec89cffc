"""`layerscope ci`: hold an image to CI rules (dive's CI mode, plus size, layer, path and growth gates).

Exit codes: 0 every rule passed or was skipped, 1 a rule failed, 2 bad
input (image, config, or an output file that cannot be written).
"""

from __future__ import annotations

import sys

import click

from .options import handle_errors, image_options, warn, warning
from .output import Output, emit, output_options, write_file


def _inspect(spec: str, *, base_layers: int | None = None, **kw):
    from ..analysis.inspect import inspect as run_inspect

    if base_layers is not None:  # else inspect's default (1, like dive)
        kw["base_layers"] = base_layers
    return run_inspect(spec, changes=False, **kw)  # gates read the tree and figures, not per-path changes


@click.command()
@click.argument("image")
@click.option("--config", "--ci-config", "config_path", metavar="FILE",
              help="Rules file: .layerscope.toml-style TOML ([ci] or top-level keys), a pyproject.toml "
                   "([tool.layerscope.ci]) or a dive .dive-ci YAML file (--ci-config as dive spells it). "
                   "Default: the first of .layerscope.toml, pyproject.toml, .dive-ci in the current directory.")
@click.option("--baseline", metavar="IMAGE", help="Image to compare with for the max_growth rule.")
@click.option("--dive-defaults", is_flag=True,
              help="With no rules file found, apply dive's defaults (lowestEfficiency 0.9, "
                   "highestUserWastedPercent 0.1).")
@click.option("--base-layers", type=click.IntRange(0, None), default=None, metavar="N",
              help="Layers that belong to the base image (not counted as user layers; default 1, like dive).")
@click.option("--junit", "junit_path", metavar="FILE", help="Also write a JUnit XML report (one testcase per rule).")
@click.option("--markdown", "markdown_path", metavar="FILE",
              help="Also write the Markdown summary (PR comment, $GITHUB_STEP_SUMMARY).")
@output_options
@image_options
@handle_errors
def ci(image: str, config_path: str | None, baseline: str | None, dive_defaults: bool, base_layers: int | None,
       out: Output, junit_path: str | None, markdown_path: str | None, image_name: str | None,
       platform: str | None, no_verify: bool, use_cache: bool, jobs: int | None, progress: bool | None) -> None:
    """Check IMAGE against CI rules: efficiency, wasted bytes, size, layers, forbidden paths, growth.

    Exit 0 when every rule passes (skipped rules do not fail), 1 when one fails, 2 on bad input.
    --json prints a layerscope.ci/1 document (docs/ci.md).
    """
    from ..analysis.ci import evaluate, load_rules, overall
    from ..report import ci_out

    rules = load_rules(config_path, dive_defaults=dive_defaults)  # a bad config fails before any scan
    for w in rules.warnings:  # keys of a .dive-ci that dive ignores: ignored, but not silently
        warning(rules.source, w)
    scan = {"platform": platform, "verify": not no_verify, "jobs": jobs, "progress": progress, "cache": use_cache}
    # stack the layers only when a rule needs waste figures or the final paths; the baseline only gives its size
    report = _inspect(image, image=image_name, base_layers=base_layers, analyze=rules.needs_analysis, **scan)
    # a baseline that was asked for is read (and verified) even if no rule uses it: a wrong path must not pass
    base = _inspect(baseline, analyze=False, **scan) if baseline is not None else None
    for r in (report, base) if base is not None else (report,):
        warn(r)
    results = evaluate(report, rules, baseline=base)

    # every report is rendered before any is written: a failure leaves no file half made
    extra = [(p, render(report, rules, results, baseline=base), what) for p, render, what in (
        (junit_path, ci_out.ci_junit, "--junit file"), (markdown_path, ci_out.ci_markdown, "--markdown file"))
        if p is not None]
    emit(out, lambda: ci_out.ci_doc(report, rules, results, baseline=base),
         lambda color, _all: ci_out.ci_text(report, rules, results, baseline=base, baseline_spec=baseline,
                                            color=color))
    for path, text, what in extra:
        write_file(path, text, what)
    if overall(results) == "FAIL":
        sys.exit(1)
