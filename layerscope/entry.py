"""The ``layerscope`` executable: answers ``--version`` before loading the CLI.

``layerscope --version`` is what scripts and bug reports run first; loading
click and every command for it would cost several times Python's own start.
Everything else goes to :func:`layerscope.cli.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from .version import version_line

        sys.stdout.write(version_line() + "\n")
        return
    from .cli import main as cli
    from .cli.options import PROCESS

    PROCESS["one_shot"] = True  # this process ends with the command
    cli(prog_name="layerscope")
