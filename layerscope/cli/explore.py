"""`layerscope explore IMAGE`: the interactive explorer (issue #17).

The model is loaded before the UI starts, so a bad image fails as every
command does (one line, exit 2) and never half-draws a screen.
"""

from __future__ import annotations

import sys

import click

from ..errors import UsageError
from .options import handle_errors, layer_limit_options, registry_options

NO_TERMINAL = "explore needs a terminal; use inspect/changes for scripts"


@click.command()
@click.argument("image")
@click.option("--rw", "rw", metavar="UPPER",
              help="A container's read/write layer on top: an overlayfs upper dir or a layer tar (v: switch view).")
@click.option("--compare", "compare", metavar="OTHER", help="A second image to switch to with x; the tree marks "
                                                          "the paths that differ between the two.")
@click.option("--platform", metavar="OS/ARCH[/VARIANT]",
              help="Platform to pick from a multi-platform index (default: the host's).")
@click.option("--no-verify", is_flag=True, help="Skip blob digest and diff_id checks (faster).")
@click.option("--cache/--no-cache", "use_cache", default=True, show_default=True,
              help="Reuse layer scans from the layer cache (LAYERSCOPE_CACHE, else ~/.cache/layerscope).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr while loading "
                                                            "(default: only on a terminal).")
@click.option("--color", "--colour", "color", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour: auto honours NO_COLOR; never draws markers only.")
@layer_limit_options
@registry_options
@handle_errors
def explore(image: str, rw: str | None, compare: str | None, platform: str | None, no_verify: bool,
            use_cache: bool, progress: bool | None, color: str) -> None:
    """Browse IMAGE interactively: layers, the tree at each layer, what each layer changed and wasted.

    Keys as dive's (? lists them, docs/explore.md); append `:NAME` to IMAGE to pick one image of an archive.
    """
    from ..explore.model import Explore  # lazily: the model (and Textual) load only for this command

    if progress is None:
        progress = sys.stderr.isatty()
    model = Explore.load(image, rw=rw, compare=compare, platform=platform, verify=not no_verify,
                         cache=use_cache, progress=progress)
    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        raise UsageError(NO_TERMINAL)
    import gc

    from ..explore.app import ExploreApp

    # handle_errors paused the collector for the load; an interactive session makes cycles
    # (asyncio, widgets) for as long as it runs: the loaded model is frozen, the collector back on
    gc.freeze()
    gc.enable()
    try:
        ExploreApp(model, color={"auto": None, "always": True, "never": False}[color]).run()
    finally:
        gc.disable()  # the pause's own exit restores the caller's state
