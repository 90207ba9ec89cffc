"""`layerscope savings IMG...`: what layer, ChainID, file and chunk sharing store across images.

Exit codes: 0 ok, 2 bad input or usage.
"""

from __future__ import annotations

import click

from .options import handle_errors, layer_limit_options, registry_options, many_images_options, warning
from .output import Output, emit, output_options


@click.command()
@click.argument("images", nargs=-1)
@click.option("--from-registry", "registries", metavar="docker://HOST[:PORT][/PREFIX]", multiple=True,
              help="Every repository of this registry (under PREFIX) from its catalog, with the tags --tags "
                   "picks (repeatable; docs/registry.md).")
@click.option("--repos", metavar="GLOB", multiple=True,
              help="With --from-registry: only repositories whose name matches GLOB (fnmatch; repeatable).")
@click.option("--tags", "tags", default="latest", show_default=True, metavar="all|latest|N",
              help="With --from-registry: every tag, the tag 'latest' (else the highest by a version-aware "
                   "sort), or the N highest by that sort.")
@click.option("--from-file", "files", metavar="FILE", multiple=True,
              help="Image specs listed in FILE, one a line ('#' lines and blank lines skipped; repeatable).")
@click.option("--all-images", is_flag=True,
              help="Every image of a multi-image archive or OCI layout (otherwise IMG names one).")
@click.option("--avg-chunk", type=int, default=65536, show_default=True, metavar="BYTES",
              help="Average chunk size of the content-defined chunking (min avg/4, max avg*4).")
@click.option("--compress-sample", "sample", type=click.FloatRange(0, 1, min_open=True), default=None,
              metavar="SHARE",
              help="Share of the chunks zstd-compressed to measure the compressed figures, and a sample of "
                   "each layer stream four times that; 1: everything, exact  [default: 1/32].")
@many_images_options
@output_options
@registry_options
@layer_limit_options
@handle_errors
def savings(images: tuple[str, ...], out: Output, registries: tuple[str, ...], repos: tuple[str, ...], tags: str,
            files: tuple[str, ...], all_images: bool, avg_chunk: int, sample: float | None,
            platform: str | None,
            no_verify: bool, jobs: int | None, progress: bool | None, scheduler: str | None,
            work_dir: str | None) -> None:
    """What sharing saves across IMAGES: by layer, ChainID, file and chunk.

    Each IMG is anything `inspect` reads, in any mix, or a directory of
    archives; --from-file and --from-registry add fleets of them. Every unique
    layer is read once. --json prints a layerscope.savings/1 document
    (docs/json.md).
    """
    from ..errors import UsageError
    from ..fleet.api import savings as run_savings

    if not images and not registries and not files:
        raise UsageError("name images: IMG..., --from-file FILE or --from-registry docker://HOST")
    if (repos or tags != "latest") and not registries:
        raise UsageError("--repos and --tags choose what --from-registry takes: name a registry")
    options = {} if sample is None else {"sample": sample}
    report = run_savings(list(images), all_images=all_images, platform=platform, avg_chunk=avg_chunk,
                         verify=not no_verify, jobs=jobs, progress=progress, from_file=files,
                         from_registry=registries, repos=repos, tags=tags, on_warning=warning,
                         scheduler=scheduler, work_dir=work_dir, **options)
    from ..report import savings_out

    emit(out, lambda: savings_out.savings_doc(report),
         lambda color, all_rows: savings_out.savings_text(report, color=color, all_rows=all_rows))
