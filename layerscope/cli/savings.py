"""`layerscope savings IMG...`: what layer, ChainID, file and chunk sharing store across images.

Exit codes: 0 ok, 2 bad input or usage.
"""

from __future__ import annotations

import click

from .options import handle_errors, layer_limit_options, registry_options, scheduler_options
from .output import Output, emit, output_options


@click.command()
@click.argument("images", nargs=-1, required=True)
@click.option("--all-images", is_flag=True,
              help="Every image of a multi-image archive or OCI layout (otherwise IMG names one).")
@click.option("--avg-chunk", type=int, default=65536, show_default=True, metavar="BYTES",
              help="Average chunk size of the content-defined chunking (min avg/4, max avg*4).")
@click.option("--compress-sample", "sample", type=click.FloatRange(0, 1, min_open=True), default=None,
              metavar="SHARE",
              help="Share of the chunks zstd-compressed to measure the compressed figures, and a sample of "
                   "each layer stream four times that; 1: everything, exact  [default: 1/32].")
@click.option("--platform", metavar="OS/ARCH[/VARIANT]",
              help="Platform to pick from multi-platform indexes (default: the host's).")
@click.option("--no-verify", is_flag=True, help="Skip blob digest and diff_id checks (faster).")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
              help="Layers read in parallel (default: CPUs available).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: only on a terminal).")
@scheduler_options
@output_options
@registry_options
@layer_limit_options
@handle_errors
def savings(images: tuple[str, ...], out: Output, all_images: bool, avg_chunk: int, sample: float | None,
            platform: str | None,
            no_verify: bool, jobs: int | None, progress: bool | None, scheduler: str | None,
            work_dir: str | None) -> None:
    """What sharing saves across IMAGES: by layer, ChainID, file and chunk.

    Each IMG is anything `inspect` reads, in any mix, or a directory of
    archives. Every unique layer is read once. --json prints a
    layerscope.savings/1 document (docs/json.md).
    """
    from ..fleet.api import savings as run_savings

    options = {} if sample is None else {"sample": sample}
    report = run_savings(list(images), all_images=all_images, platform=platform, avg_chunk=avg_chunk,
                         verify=not no_verify, jobs=jobs, progress=progress, scheduler=scheduler,
                         work_dir=work_dir, **options)
    from ..report import savings_out

    emit(out, lambda: savings_out.savings_doc(report),
         lambda color, all_rows: savings_out.savings_text(report, color=color, all_rows=all_rows))
