"""The output options of every analysis command and the one place that writes a report.

``--format text|json|html|markdown`` (``--json`` = ``--format json``),
``-o/--output FILE``, ``--color auto|always|never``, ``--all``. A report is
rendered whole before anything is written, and a file only appears, by
rename, once it is complete: an error never leaves a partial report, nor
touches a file that was there (docs/reports.md).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import click

from ..errors import LayerscopeError, UsageError, os_error
from .options import handle_errors

FORMATS = ("text", "json", "html", "markdown")


class Output(NamedTuple):  # not a dataclass: the module loads with the CLI, and dataclasses costs start-up
    """Where and how a command's report goes."""

    format: str = "text"
    path: str | None = None  # None: stdout
    color: str = "auto"
    all_rows: bool = False

    def colour(self) -> bool:
        """ANSI colour: ``always``; ``never``; ``auto`` only on a terminal (never into a file) and
        without ``NO_COLOR`` (https://no-color.org; ``--color always`` overrides it)."""
        if self.color != "auto":
            return self.color == "always"
        if self.path is not None or os.environ.get("NO_COLOR"):
            return False
        isatty = getattr(sys.stdout, "isatty", None)
        return bool(isatty and isatty())


def _output(fmt: str | None, as_json: bool, path: str | None, color: str, all_rows: bool) -> Output:
    if as_json and fmt not in (None, "json"):
        raise UsageError(f"--json and --format {fmt} ask for two formats: give one")
    if path == "-":
        path = None
    if path is not None:
        _check_writable(path)  # before the image is read: a long scan must not end in "cannot write"
    return Output("json" if as_json else fmt or "text", path, color, all_rows)


def _check_writable(path: str) -> None:
    if os.path.isdir(path):
        raise LayerscopeError("cannot write the report: is a directory", where=path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise LayerscopeError("cannot write the report: no such directory", where=path)
    if not os.access(parent, os.W_OK | os.X_OK):  # the new report is made beside the old one
        raise LayerscopeError("cannot write the report: permission denied", where=path)


def output_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--format``, ``--json``, ``-o``, ``--color`` and ``--all``; the command gets them as one
    ``out: Output`` keyword argument, to hand to :func:`emit`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, fmt: str | None, as_json: bool, output_path: str | None, color: str, all_rows: bool,
                **kw: Any) -> Any:
        out = handle_errors(_output)(fmt, as_json, output_path, color, all_rows)
        return fn(*args, out=out, **kw)

    for option in reversed((
        click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                     help="Report format: text (default), json (the document of docs/json.md), html, or "
                          "markdown (a summary for a PR comment or $GITHUB_STEP_SUMMARY)."),
        click.option("--json", "as_json", is_flag=True, help="The same as --format json."),
        click.option("-o", "--output", "output_path", metavar="FILE",
                     help="Write the report to FILE (replaced only once the report is complete) instead of stdout."),
        click.option("--color", "--colour", "color", type=click.Choice(["auto", "always", "never"]),
                     default="auto", show_default=True,
                     help="Colour in the text: auto is on a terminal only, and not when NO_COLOR is set."),
        click.option("--all", "all_rows", is_flag=True, help="List everything (the text elides long lists)."),
    )):
        wrapper = option(wrapper)
    return wrapper


def emit(out: Output, doc: Callable[[], dict[str, Any]], text: Callable[[bool, bool], str]) -> None:
    """Render the report in ``out.format`` and write it where ``out`` says.

    ``doc()`` makes the command's JSON document (what json, markdown and html
    render); ``text(color, all_rows)`` the text for a terminal.
    """
    colour = False
    if out.format == "text":
        colour = out.colour()
        rendered = text(colour, out.all_rows)
    elif out.format == "json":
        from ..report.json_out import dumps

        rendered = dumps(doc(), pretty=None if out.path is None else False)
    elif out.format == "markdown":
        from ..report.markdown import render

        rendered = render(doc())
    else:  # html
        from ..report.html import render

        rendered = render(doc())
    if out.path is None:
        click.echo(rendered, nl=False, color=colour)
    else:
        write_file(out.path, rendered)


def write_file(path: str, text: str, what: str = "report") -> None:
    """Write ``text`` to ``path`` whole or not at all: a temporary file beside it, renamed over it when
    complete (over a symlink's target, the link stays; a device or a pipe, which cannot be renamed
    over, is written straight)."""
    try:
        if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
            with open(path, "w", encoding="utf-8", newline="\n") as f:  # /dev/stdout, a FIFO
                f.write(text)
            return
        import tempfile

        target = os.path.realpath(path)
        mode = _mode(target)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp",
                                   dir=os.path.dirname(target))
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as e:
        raise os_error(e, f"write the {what}", path, cls=LayerscopeError) from None


def _mode(path: str) -> int:
    """The new file's permissions: the old file's, else what ``open`` would give (0666 less the umask)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
