"""`layerscope compare A B`: what differs between two images, from layers down to packages.

Exit codes: 0 whether or not they differ (``--exit-code``: 1 when they do, as
``git diff --exit-code``), 2 bad input or usage.
"""

from __future__ import annotations

import sys

import click

from .options import handle_errors, image_options
from .output import Output, emit, output_options


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--only", metavar="SECTIONS",
              help="Compare only these (comma-separated): layers, config, history, files, packages. "
                   "config and history alone read no layer.")
@click.option("--mtime", is_flag=True, help="Count modification times as differences (ignored by default).")
@click.option("--exit-code", is_flag=True, help="Exit 1 when the images differ, 0 when they do not.")
@click.option("--image-a", metavar="NAME|N", help="Which image of A's archive (overrides --image).")
@click.option("--image-b", metavar="NAME|N", help="Which image of B's archive (overrides --image).")
@click.option("--platform-a", metavar="OS/ARCH[/VARIANT]", help="A's platform (overrides --platform).")
@click.option("--platform-b", metavar="OS/ARCH[/VARIANT]", help="B's platform (overrides --platform).")
@output_options
@image_options  # --image and --platform apply to both
@handle_errors
def compare(a: str, b: str, out: Output, only: str | None, mtime: bool, exit_code: bool,
            image_a: str | None, image_b: str | None, platform_a: str | None, platform_b: str | None,
            image_name: str | None, platform: str | None, no_verify: bool, use_cache: bool, jobs: int | None,
            progress: bool | None) -> None:
    """Everything that differs between images A and B: layers, config, history, files, packages.

    A and B are any images `inspect` reads, in any mix (a docker-archive
    against an OCI layout, two tags of one archive: img.tar:v1 img.tar:v2).
    Layers the two share are read once. --json prints a layerscope.compare/1
    document (docs/json.md).
    """
    from ..analysis.compare import compare as run_compare
    from ..analysis.compare import parse_only

    parse_only(only)  # a bad --only fails before any image is read
    report = run_compare(a, b, image_a=image_a or image_name, image_b=image_b or image_name,
                         platform_a=platform_a or platform, platform_b=platform_b or platform,
                         verify=not no_verify, jobs=jobs, progress=progress, cache=use_cache, only=only, mtime=mtime)
    from ..report import compare_out

    emit(out, lambda: compare_out.compare_doc(report),
         lambda color, all_rows: compare_out.compare_text(report, all_rows=all_rows, color=color))
    if exit_code and report.differ:
        sys.exit(1)
