"""The `layerscope` command: parse, call the public API, render. Nothing else.

Exit codes: 0 ok, 1 a gate/rule failed, 2 bad input or usage. Errors are one
line on stderr; a traceback only with LAYERSCOPE_DEBUG=1.
"""

from __future__ import annotations

import click

from ..errors import UsageError
from .options import handle_errors, image_options, warn
from .output import Output, emit, output_options


class _Commands(click.Group):
    """The command group; commands in modules of their own load when named.

    Every command module costs ~1 ms of start-up (click builds its options),
    which an ``inspect`` should not pay for ``ci``, ``compare`` and the ones
    to come; help and shell completion list them all the same.
    """

    LAZY = {"ci": "ci", "compare": "compare", "explore": "explore", "savings": "savings", "store": "store", "workload": "workload"}  # command name -> module in this package (same-named function)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.LAZY and name not in self.commands:
            from importlib import import_module

            self.add_command(getattr(import_module(f".{self.LAZY[name]}", __name__), name))
        return super().get_command(ctx, name)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``, with the chunker this install runs (the C core is optional at install)."""
    if not value or ctx.resilient_parsing:
        return
    from ..version import version_line

    click.echo(version_line())  # `layerscope -V` alone never gets here: entry.py answers it first
    ctx.exit()


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and the chunker in use, and exit.")
def main() -> None:
    """Look inside container images, layer by layer.

    IMAGE is a docker-archive (`docker save`), an oci-archive, or an OCI
    layout directory; append `:NAME` to pick one image (e.g. img.tar:app:1.0).
    """


@main.command()
@click.argument("image")
@click.option("--base-layers", type=click.IntRange(0), default=1, show_default=True,
              help="Layers counted as the base image for user_wasted_ratio (dive: 1).")
@output_options
@image_options
@handle_errors
def inspect(image: str, out: Output, base_layers: int, image_name: str | None, platform: str | None,
            no_verify: bool, use_cache: bool, jobs: int | None, progress: bool | None) -> None:
    """Layers, sizes, digests, history, and wasted bytes of IMAGE.

    --json prints a layerscope.inspect/2 document (docs/json.md).
    """
    from ..analysis.inspect import inspect as run_inspect

    report = run_inspect(image, image=image_name, platform=platform, verify=not no_verify,
                         jobs=jobs, progress=progress, base_layers=base_layers, cache=use_cache,
                         changes=False)

    def doc() -> dict:
        from ..report.json_out import inspect_doc

        return inspect_doc(report)

    def text(color: bool, all_rows: bool) -> str:
        from ..report.text import inspect_text

        return inspect_text(report, color=color, all_rows=all_rows)

    emit(out, doc, text)


def _scan_kw(platform, image_name, no_verify, use_cache, jobs, progress) -> dict:
    return {"image": image_name, "platform": platform, "verify": not no_verify, "jobs": jobs, "progress": progress,
            "cache": use_cache}


@main.command()
@click.argument("image")
@click.option("--layer", type=int, default=None, metavar="N", help="Only this layer's changes.")
@output_options
@image_options
@handle_errors
def changes(image: str, layer: int | None, out: Output, image_name: str | None, platform: str | None,
            no_verify: bool, use_cache: bool, jobs: int | None, progress: bool | None) -> None:
    """What each layer added, modified, re-wrote for metadata, deleted or made opaque.

    --json prints a layerscope.changes/2 document (docs/json.md).
    """
    from ..analysis.view import changes as run_changes

    report = run_changes(image, **_scan_kw(platform, image_name, no_verify, use_cache, jobs, progress))
    warn(report.image)
    if layer is not None and not any(d.index == layer for d in report.layers):
        raise UsageError(f"no layer {layer}: the image has layers 0..{len(report.layers) - 1}")

    def doc() -> dict:
        from ..report.json_out import changes_doc

        return changes_doc(report, layer)

    def text(color: bool, all_rows: bool) -> str:
        from ..report.text import changes_text

        return changes_text(report, layer, color=color, all_rows=all_rows)

    emit(out, doc, text)


@main.command(name="ls")
@click.argument("image")
@click.argument("path", required=False, default="/")
@click.option("--layer", type=int, default=None, metavar="N", help="The view after layer N (default: all layers).")
@click.option("-R", "--recursive", is_flag=True, help="List subdirectories recursively.")
@click.option("--rw", "rw", metavar="UPPER", help="A container's read/write layer on top: an overlayfs upper dir or a layer tar.")
@click.option("--json", "as_json", is_flag=True, help="Print a layerscope.ls/2 JSON document.")
@image_options
@handle_errors
def ls_cmd(image: str, path: str, layer: int | None, recursive: bool, rw: str | None, as_json: bool,
           image_name: str | None, platform: str | None, no_verify: bool, use_cache: bool, jobs: int | None, progress: bool | None) -> None:
    """The merged filesystem, like `ls -l`, with the layer that provides each entry."""
    from ..analysis.view import merged_view

    view = merged_view(image, upto=layer, rw=rw, **_scan_kw(platform, image_name, no_verify, use_cache, jobs, progress))
    warn(view.image)
    tree = view.tree
    target, _ok = tree.resolve(path.strip("/"), follow_last=True)
    node = tree.get(target)
    if node is None:
        raise UsageError(f"{path}: no such file or directory in the image")
    if node.kind == "dir":
        paths = tree.walk(target) if recursive else (
            f"{target}/{k}" if target else k for k in sorted(tree.children.get(target, ())))
        nodes = tree.nodes
        rows = [(p, nodes[p]) for p in paths]
    else:
        rows = [(target, node)]
    if as_json:
        from ..report.json_out import dumps, ls_doc

        click.echo(dumps(ls_doc(view, rows)), nl=False)
    else:
        from ..report.text import ls_text

        click.echo(ls_text(rows), nl=False)


@main.command()
@click.argument("image")
@click.option("--rw", "rw", required=True, metavar="UPPER",
              help="The container's read/write layer: an overlayfs upper dir or a layer tar.")
@click.option("--json", "as_json", is_flag=True, help="Print a layerscope.overlay/2 JSON document.")
@image_options
@handle_errors
def overlay(image: str, rw: str, as_json: bool, image_name: str | None, platform: str | None,
            no_verify: bool, use_cache: bool, jobs: int | None, progress: bool | None) -> None:
    """What a container changed (docker diff style: A, C, D) and what copy-up cost."""
    from ..analysis.view import container_diff

    diff = container_diff(image, rw, **_scan_kw(platform, image_name, no_verify, use_cache, jobs, progress))
    warn(diff.image)
    if as_json:
        from ..report.json_out import dumps, overlay_doc

        click.echo(dumps(overlay_doc(diff)), nl=False)
    else:
        from ..report.text import overlay_text

        click.echo(overlay_text(diff), nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
