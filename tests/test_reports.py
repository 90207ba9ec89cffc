"""Report formats of the analysis commands (issue 13): --format, --json, -o, --color, --all,
and snapshots of the text and Markdown renderings of two fixed images (report_images.py).

Regenerate the snapshots after a deliberate change of a rendering:
``LAYERSCOPE_UPDATE_SNAPSHOTS=1 python -m pytest -q tests/test_reports.py``.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import report_images as R
from layerscope.cli import main
from layerscope.cli.output import Output
from layerscope.report import markdown

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("LAYERSCOPE_UPDATE_SNAPSHOTS") == "1"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

RULES = """\
[ci]
lowest_efficiency = 0.9
highest_wasted_bytes = "1MB"
max_layers = 4
forbid_paths = ["**/*.pem", "srv/**"]
"""

#: command -> its arguments, run in the directory holding ``img`` (the layout) and ``rules.toml``
COMMANDS = {
    "inspect": ["inspect", "img:app:1"],
    "changes": ["changes", "img:app:1"],
    "compare": ["compare", "img:app:1", "img:app:2"],
    "savings": ["savings", "img:app:1", "img:app:2"],
    "ci": ["ci", "img:app:1", "--config", "rules.toml"],
    "workload": ["workload", "compose.yaml", "--offline", "--map", "example.com/shop/app:1=img:app:1",
                 "--map", "example.com/shop/app:2=img:app:2"],
}
COMPOSE = """\
name: shop
services:
  web: {image: example.com/shop/app:1}
  next: {image: example.com/shop/app:2}
  gone: {image: example.com/shop/missing:1}
  gone2: {image: example.com/shop/missing:2}
"""
EXIT = {"ci": 1}  # the rules above fail


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("reports")
    R.build(d / "img")
    (d / "rules.toml").write_text(RULES)
    (d / "compose.yaml").write_text(COMPOSE)
    return d


class Run:
    """The CLI in this process (click's runner: stdout is not a terminal), from ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        kw = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters else {}
        self.runner = CliRunner(**kw)
        self.workdir = workdir

    def __call__(self, *args: str, env: dict[str, str] | None = None, code: int | tuple[int, ...] = 0):
        res = self.runner.invoke(main, list(args), env={"NO_COLOR": None, **(env or {})})
        codes = code if isinstance(code, tuple) else (code,)
        assert res.exit_code in codes, f"{args}: exit {res.exit_code}\n{res.stderr}\n{res.exception!r}"
        assert "Traceback" not in res.stderr
        return res


@pytest.fixture
def run(workdir, monkeypatch) -> Run:
    monkeypatch.chdir(workdir)
    return Run(workdir)


def normalised(text: str, workdir: Path) -> str:
    """What depends on the machine, made constant: the temporary directory."""
    return text.replace(str(workdir), "<tmp>")


# ---- snapshots --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,ext", [("text", "txt"), ("markdown", "md")])
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_snapshot(run, workdir, name, fmt, ext):
    res = run(*COMMANDS[name], "--format", fmt, code=EXIT.get(name, 0))
    got = normalised(res.stdout, workdir)
    path = SNAPSHOTS / f"{name}.{ext}"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no snapshot {path.name}: run with LAYERSCOPE_UPDATE_SNAPSHOTS=1"
    assert got == path.read_text(encoding="utf-8"), (
        f"{path.name} differs (LAYERSCOPE_UPDATE_SNAPSHOTS=1 rewrites it if the change is meant)")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_line_ends_in_a_space(run, name):
    for fmt in ("text", "markdown"):
        for color in ("always", "never"):
            out = run(*COMMANDS[name], "--format", fmt, "--color", color, "--all", code=EXIT.get(name, 0)).stdout
            bad = [line for line in out.splitlines() if line != line.rstrip()]
            assert not bad, (fmt, color, bad)


# ---- formats ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_json_flag_and_format_json_agree(run, name):
    code = EXIT.get(name, 0)
    by_flag = json.loads(run(*COMMANDS[name], "--json", code=code).stdout)
    assert by_flag == json.loads(run(*COMMANDS[name], "--format", "json", code=code).stdout)
    assert by_flag["schema"].startswith(f"layerscope.{name}/")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_markdown_is_a_summary_of_the_document(run, name):
    md = run(*COMMANDS[name], "--format", "markdown", code=EXIT.get(name, 0)).stdout
    assert md.startswith(f"### layerscope {name}")
    assert "|" in md and "\x1b[" not in md


def test_two_formats_at_once_is_a_usage_error(run):
    res = run("inspect", "img:app:1", "--json", "--format", "markdown", code=2)
    assert res.stderr.strip().splitlines() == ["layerscope: error: --json and --format markdown ask for two formats: "
                                               "give one"]


def tables(md: str) -> list[list[str]]:
    """The Markdown's tables, each a list of its lines."""
    out: list[list[str]] = []
    current = None
    for line in md.splitlines():
        if line.startswith("| "):
            if current is None:
                current = []
                out.append(current)
            current.append(line)
        else:
            current = None
    return out


def test_markdown_escapes_cells(run):
    """The file named ``odd|name `x`.txt`` and the step with ``|`` and backticks keep every table row whole."""
    md = run("changes", "img:app:1", "--format", "markdown").stdout
    assert r"odd\|name \`x\`.txt" in md
    assert tables(md)
    for t in tables(md):  # as many cells in every row as in the header: an escaped pipe separates none
        assert len({len(re.split(r"(?<!\\)\|", row)) for row in t}) == 1, t


def test_ci_markdown_file_is_the_markdown_format(run, workdir):
    out = run("ci", "img:app:1", "--config", "rules.toml", "--markdown", "ci.md", "--format", "markdown", code=1)
    assert (workdir / "ci.md").read_text(encoding="utf-8") == out.stdout
    assert out.stdout.startswith("### layerscope ci: ❌ FAIL")


def test_store_stats_formats(run, workdir):
    store = str(workdir / "store")
    run("store", "init", "--store", store)
    run("store", "add", "img:app:1", "img:app:2", "--store", store, "--no-progress")
    doc = json.loads(run("store", "stats", "--store", store, "--json").stdout)
    assert doc["schema"] == "layerscope.store.stats/1" and doc["images"] == 2
    assert doc == json.loads(run("store", "stats", "--store", store, "--format", "json").stdout)
    text = run("store", "stats", "--store", store).stdout
    assert text.splitlines()[0] == "images    2"
    md = run("store", "stats", "--store", store, "--format", "markdown").stdout
    assert md.startswith("### layerscope store stats: ")
    assert "| Layers | 3 | 1 |" in md


# ---- --all ------------------------------------------------------------------------------

@pytest.mark.parametrize("name,module,attr", [
    ("changes", "layerscope.report.text", "CHANGES_LIMIT"),
    ("inspect", "layerscope.report.text", "LIMIT"),
    ("compare", "layerscope.report.compare_out", "LIMIT"),
    ("savings", "layerscope.report.savings_out", "LIMIT"),
    ("workload", "layerscope.report.workload_out", "LIMIT"),
])
def test_long_lists_are_elided_unless_all(run, monkeypatch, name, module, attr):
    monkeypatch.setattr(f"{module}.{attr}", 1)
    short = run(*COMMANDS[name]).stdout
    assert re.search(r"^ *… [0-9,]+ more \(--all shows them\)$", short, re.M), short
    full = run(*COMMANDS[name], "--all").stdout
    assert "--all shows" not in full
    assert len(full.splitlines()) > len([line for line in short.splitlines() if "--all shows" not in line])


# ---- colour -----------------------------------------------------------------------------

COLOURED = ["inspect", "changes", "compare", "savings", "ci", "workload"]


@pytest.mark.parametrize("name", COLOURED)
def test_colour_only_when_asked_or_on_a_terminal(run, name):
    code = EXIT.get(name, 0)
    plain = run(*COMMANDS[name], code=code).stdout  # the runner's stdout is no terminal: auto is off
    assert "\x1b[" not in plain
    assert "\x1b[" not in run(*COMMANDS[name], "--color", "never", code=code).stdout
    coloured = run(*COMMANDS[name], "--color", "always", code=code).stdout
    assert "\x1b[" in coloured
    assert ANSI.sub("", coloured) == plain  # colour changes nothing else, alignment included
    # an explicit --color always wins over NO_COLOR (https://no-color.org)
    assert "\x1b[" in run(*COMMANDS[name], "--color", "always", env={"NO_COLOR": "1"}, code=code).stdout


def test_ci_colours_the_verdicts(run):
    out = run(*COMMANDS["ci"], "--color", "always", code=1).stdout
    assert "\x1b[31mFAIL\x1b[0m  lowest_efficiency" in out
    assert "\x1b[32mPASS\x1b[0m  max_layers" in out


class _Tty:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty,no_color,path,want", [
    (True, None, None, True),
    (True, "", None, True),  # NO_COLOR set but empty: no-color.org says it is then ignored
    (True, "1", None, False),
    (False, None, None, False),
    (True, None, "report.txt", False),  # never into a file unless asked
])
def test_auto_colour(monkeypatch, tty, no_color, path, want):
    monkeypatch.setattr("sys.stdout", _Tty(tty))
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    assert Output("text", path, "auto").colour() is want
    assert Output("text", path, "always").colour() is True
    assert Output("text", path, "never").colour() is False


# ---- -o FILE ----------------------------------------------------------------------------

def _listing(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_output_file_gets_the_report_and_stdout_nothing(run, workdir, tmp_path):
    target = tmp_path / "inspect.md"
    res = run("inspect", "img:app:1", "--format", "markdown", "-o", str(target))
    assert res.stdout == ""
    assert target.read_text(encoding="utf-8") == run("inspect", "img:app:1", "--format", "markdown").stdout
    assert _listing(tmp_path) == ["inspect.md"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_output_through_a_symlink_replaces_its_target(run, tmp_path):
    (tmp_path / "real.md").write_text("old\n")
    (tmp_path / "link.md").symlink_to("real.md")
    run("ci", "img:app:1", "--config", "rules.toml", "--format", "markdown", "-o", str(tmp_path / "link.md"), code=1)
    assert (tmp_path / "link.md").is_symlink()
    assert (tmp_path / "real.md").read_text(encoding="utf-8").startswith("### layerscope ci: ❌ FAIL")
    assert _listing(tmp_path) == ["link.md", "real.md"]


def test_output_file_has_no_colour_unless_always(run, tmp_path):
    run("changes", "img:app:1", "-o", str(tmp_path / "auto.txt"))
    assert "\x1b[" not in (tmp_path / "auto.txt").read_text(encoding="utf-8")
    run("changes", "img:app:1", "--color", "always", "-o", str(tmp_path / "always.txt"))
    assert "\x1b[" in (tmp_path / "always.txt").read_text(encoding="utf-8")


def test_a_bad_image_leaves_no_file_and_the_old_one_untouched(run, tmp_path):
    (tmp_path / "bad.tar").write_bytes(b"not an image at all" * 100)
    res = run("inspect", str(tmp_path / "bad.tar"), "-o", str(tmp_path / "new.txt"), code=2)
    assert len(res.stderr.strip().splitlines()) == 1
    (tmp_path / "old.txt").write_text("the previous report\n")
    run("inspect", str(tmp_path / "bad.tar"), "-o", str(tmp_path / "old.txt"), code=2)
    assert (tmp_path / "old.txt").read_text() == "the previous report\n"
    assert _listing(tmp_path) == ["bad.tar", "old.txt"]


def test_a_failing_renderer_leaves_no_file(run, tmp_path, monkeypatch):
    def broken(doc):
        raise RuntimeError("renderer bug")

    monkeypatch.setitem(markdown._RENDERERS, "layerscope.inspect", broken)
    (tmp_path / "old.md").write_text("kept\n")
    res = run("inspect", "img:app:1", "--format", "markdown", "-o", str(tmp_path / "old.md"), code=2)
    assert "renderer bug" in res.stderr
    assert (tmp_path / "old.md").read_text() == "kept\n"
    assert _listing(tmp_path) == ["old.md"]


def test_a_failing_write_removes_the_temporary_file(run, tmp_path, monkeypatch):
    def no_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", no_rename)
    (tmp_path / "old.txt").write_text("kept\n")
    res = run("inspect", "img:app:1", "-o", str(tmp_path / "old.txt"), code=2)
    assert res.stderr.strip().splitlines() == [
        f"layerscope: error: {tmp_path / 'old.txt'}: cannot write the report: No space left on device"]
    assert (tmp_path / "old.txt").read_text() == "kept\n"
    assert _listing(tmp_path) == ["old.txt"]


@pytest.mark.parametrize("where,why", [("no/such/dir/report.txt", "no such directory"), (".", "is a directory")])
def test_an_unwritable_output_is_one_line_and_exit_2_before_any_scan(run, tmp_path, monkeypatch, where, why):
    monkeypatch.chdir(tmp_path)
    # the image does not exist either: the output is checked first, so its error is the one shown
    res = run("inspect", "missing.tar", "-o", where, code=2)
    assert res.stderr.strip().splitlines() == [f"layerscope: error: {where}: cannot write the report: {why}"]
    assert _listing(tmp_path) == []


def test_every_analysis_command_takes_the_output_options():
    from layerscope.cli.ci import ci
    from layerscope.cli.compare import compare
    from layerscope.cli.savings import savings
    from layerscope.cli.store import stats
    from layerscope.cli.workload import workload

    for cmd in (main.commands["inspect"], main.commands["changes"], ci, compare, savings, stats, workload):
        opts = {o for p in cmd.params for o in p.opts}
        assert {"--format", "--json", "-o", "--output", "--color", "--all"} <= opts, cmd.name


@pytest.mark.parametrize("width", [20, 40, 80])
def test_a_long_path_is_cut_in_its_middle(width):
    """The file's name survives the cut (a table of paths ending in "…" names no file)."""
    from layerscope.report.markdown import path

    long = "/usr/lib/python3/dist-packages/pkg_resources/_vendor/pyparsing/" + "x" * 30 + "/core.py"
    shown = path(long, width)
    assert shown.startswith("`/usr/") and shown.endswith("/core.py`") and "…" in shown
    assert len(shown) == width + 2  # the backticks
    assert path("/etc/passwd", width) == "`/etc/passwd`"
    assert path("/a|b `c`" + "d" * 100, width).count("\\|") == 1  # still escaped after the cut
