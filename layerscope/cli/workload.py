"""`layerscope workload FILE...`: what Kubernetes pods, ECS tasks and compose projects pull and store.

Exit codes: 0 ok (images that could not be resolved are warnings), 2 bad input or usage.
"""

from __future__ import annotations

import click

from .options import handle_errors, layer_limit_options, registry_options, many_images_options, warning
from .output import Output, emit, output_options


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--images", "image_dirs", metavar="DIR", multiple=True,
              help="A directory of archives and layouts to take images from, matched by the names they carry "
                   "(repeatable).")
@click.option("--map", "mapping", metavar="REF=IMAGE", multiple=True,
              help="Read reference REF from IMAGE (anything inspect reads; repeatable).")
@click.option("--offline", is_flag=True,
              help="Never ask a registry: references not in --images or --map are warnings.")
@click.option("--node", "nodes", metavar="NAME=WORKLOAD[,...]", multiple=True,
              help="Place workloads on a node (repeatable); Pods with spec.nodeName place themselves.")
@many_images_options
@output_options
@registry_options
@layer_limit_options
@handle_errors
def workload(files: tuple[str, ...], out: Output, image_dirs: tuple[str, ...], mapping: tuple[str, ...],
             offline: bool, nodes: tuple[str, ...], platform: str | None, no_verify: bool, jobs: int | None,
             progress: bool | None, scheduler: str | None, work_dir: str | None) -> None:
    """What the workloads in FILES pull and store on a node, and what one base would save.

    FILES are Kubernetes manifests (kubectl and helm output), ECS task
    definitions and docker-compose files; `-` reads one from stdin. Images are
    read from their registries unless --images/--map name a local copy.
    --json prints a layerscope.workload/1 document (docs/json.md).
    """
    from ..analysis.workload import parse_placement
    from ..fleet.api import workload_report
    from ..workload.manifests import read_workloads
    from ..workload.resolve import Resolver, parse_map

    placement = parse_placement(nodes)
    resolver = Resolver(mapping=parse_map(mapping), image_dirs=image_dirs, platform=platform,
                        verify=not no_verify, offline=offline)
    parsed = read_workloads(files)
    report = workload_report(parsed, resolver, files=list(files), placement=placement, platform=platform,
                             verify=not no_verify, jobs=jobs, progress=progress, scheduler=scheduler,
                             work_dir=work_dir)
    if out.format != "text":
        for w in report.warnings:
            warning("workload", w)
    from ..report import workload_out

    emit(out, lambda: workload_out.workload_doc(report),
         lambda color, all_rows: workload_out.workload_text(report, color=color, all_rows=all_rows))
