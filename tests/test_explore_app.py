"""`layerscope explore`: the Textual UI driven headless by Textual's pilot, the
command's error paths, and one run in a real terminal (tmux).

The UI tests run on the real model (layerscope.explore.model) over a test
image built here when it imports, else on tests/explore_fake.py over the
same hand-made layers. Screen snapshots always use the fake: fixed data.
``LAYERSCOPE_UPDATE_SNAPSHOTS=1`` rewrites them (and docs/img/explore.svg).
"""

from __future__ import annotations

import asyncio
import importlib
import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("textual")

import explore_fake as F  # noqa: E402
import images as I  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from rich.console import Console  # noqa: E402

from layerscope.cli import main  # noqa: E402
from layerscope.explore import keys as K  # noqa: E402
from layerscope.explore.app import CATEGORIES, FileTree, LayersTable, TableScreen, WastedTable, ExploreApp  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SNAP = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("LAYERSCOPE_UPDATE_SNAPSHOTS") == "1"


def _real_model():
    try:
        return importlib.import_module("layerscope.explore.model").Explore
    except ImportError:
        return None


REAL = _real_model()


# --------------------------------------------------------------------------
# a real image with the fake's layers (for the real model and the tmux test)
# --------------------------------------------------------------------------

def _layer_tar(ops: list, contents: dict[str, bytes], seed: int) -> bytes:
    """The fake's ops as a layer tar; ``contents`` carries file bytes across layers (metadata keeps them)."""
    entries: list[tuple] = []
    for k, (path, change, kind, size, *link) in enumerate(ops):
        if change == "deleted":
            entries.append(("whiteout", path))
        elif change == "opaque":
            entries += [("dir", path), ("opaque", path)]
        elif kind == "dir":
            entries.append(("dir", path))
        elif kind == "symlink":
            entries.append(("symlink", path, link[0]))
        elif change == "metadata":
            entries.append(("file", path, contents[path], 0o600))
        else:
            contents[path] = I.text_bytes(size, seed * 1000 + k)
            entries.append(("file", path, contents[path]))
    return I.make_tar(entries)


def build_layout(path: Path, layers: list) -> str:
    lay = I.OCILayout(path)
    contents: dict[str, bytes] = {}
    raws = [_layer_tar(ops, contents, n) for n, (_cb, ops) in enumerate(layers)]
    cfg = I.make_config([I.sha256(r) for r in raws], created_by=[cb for cb, _ops in layers])
    lay.add_ref(lay.image([lay.blob(r, I.OCI_LAYER) for r in raws], cfg), "explore")
    lay.finish()
    return str(path)


@pytest.fixture(scope="session")
def image_files(tmp_path_factory) -> dict[str, str]:
    """The fake's image, container layer and B side as real files."""
    w = tmp_path_factory.mktemp("explore")
    contents: dict[str, bytes] = {}
    for n, (_cb, ops) in enumerate(F.BASE):
        _layer_tar(ops, contents, n)  # the bytes the rw layer's ops start from
    (w / "rw.tar").write_bytes(_layer_tar(F.RW[1], contents, 99))
    return {"image": build_layout(w / "a", F.BASE), "rw": str(w / "rw.tar"),
            "other": build_layout(w / "b", [*F.BASE[:3], F.OTHER_TOP])}


@pytest.fixture(params=["plain", "rw", "compare"])
def model(request, image_files):
    """The model under test: real when it imports, else the fake; alone, with --rw, with --compare."""
    kw = {"rw": image_files["rw"] if request.param == "rw" else None,
          "compare": image_files["other"] if request.param == "compare" else None}
    return (REAL or F.Explore).load(image_files["image"], **kw)


@pytest.fixture
def plain(image_files):
    return (REAL or F.Explore).load(image_files["image"])


def drive(model, script, size=(100, 30), **kw):
    """Run the app headless, ``await script(pilot, app)`` in it; its result."""
    async def go():
        app = ExploreApp(model, **kw)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            return await script(pilot, app)
    return asyncio.run(go())


async def to_layer(pilot, app, n: int) -> None:
    """Layer n by keys, as a user would: top of the layers pane, then down n times."""
    app.query_one(LayersTable).focus()
    await pilot.press(*["up"] * len(app.model.layers), *["down"] * n)
    await pilot.pause()


async def everything(pilot, app) -> list[tuple[str, str | None]]:
    app.action_expand_all()
    await pilot.pause()
    return app.visible_rows()


def screen_text(app) -> str:
    w, h = app.size
    console = Console(width=w, height=h, file=io.StringIO(), record=True, force_terminal=True, color_system=None)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


# --------------------------------------------------------------------------
# the tree at a layer
# --------------------------------------------------------------------------

def test_selecting_a_layer_shows_exactly_its_changes(model):
    for n, layer in enumerate(r.index for r in model.layers):
        async def script(pilot, app):
            await to_layer(pilot, app, n)
            assert app.layer == layer
            return {p: c for p, c in await everything(pilot, app) if c}
        assert drive(model, script) == {c.path: c.change for c in model.changes(layer)}, layer


@pytest.mark.skipif(REAL is None, reason="needs layerscope.explore.model")
@pytest.mark.parametrize("spec", ["sample", "test image"])
def test_each_layer_shows_what_the_changes_command_reports(image_files, spec):
    """The screen against the CLI itself (`layerscope changes --layer N --json`), not the model."""
    import json

    spec = str(REPO / "examples" / "sample.tar") if spec == "sample" else image_files["image"]
    model = REAL.load(spec)
    for n in range(len(model.layers)):
        res = CliRunner().invoke(main, ["changes", spec, "--layer", str(n), "--json"])
        assert res.exit_code == 0, res.output
        [doc] = json.loads(res.output)["layers"]
        want = {c["path"].lstrip("/"): c["change"] for c in doc["changes"]}

        async def script(pilot, app):
            await to_layer(pilot, app, n)
            return {p: c for p, c in await everything(pilot, app) if c}
        assert drive(model, script) == want, n


def test_the_tree_asks_only_for_expanded_directories(plain):
    asked: list[str] = []
    children = plain.children
    plain.children = lambda layer, path="": asked.append(path) or children(layer, path)

    async def script(pilot, app):
        await pilot.pause()
        first = list(asked)
        tree = app.query_one(FileTree)
        tree.focus()
        node = next(c for c in tree.root.children if c.data == "usr")
        tree.move_cursor(node)
        await pilot.press("space")
        return first, list(asked), node.is_expanded
    first, after, expanded = drive(plain, script)
    assert set(first) == {""} and set(after) == {"", "usr"} and expanded


def test_space_and_collapse_all(plain):
    async def script(pilot, app):
        tree = app.query_one(FileTree)
        tree.focus()
        await pilot.press("down", "space")  # the second root entry: etc
        opened = tree.cursor_node.is_expanded
        await everything(pilot, app)
        await pilot.press("c")
        return opened, [c.data for c in tree.root.children if c.is_expanded]
    opened, still = drive(plain, script)
    assert opened and still == []


@pytest.mark.parametrize("toggle,key", [("added", "ctrl+a"), ("deleted", "ctrl+r"), ("modified", "ctrl+e"),
                                        ("unchanged", "ctrl+u")])
def test_each_toggle_hides_and_shows_its_rows(plain, toggle, key):
    layers = [r.index for r in plain.layers]

    async def script(pilot, app):
        out = []
        for n in range(len(layers)):
            await to_layer(pilot, app, n)
            before = await everything(pilot, app)
            await pilot.press(key)
            hidden = await everything(pilot, app)
            await pilot.press(key)
            again = await everything(pilot, app)
            out.append((layers[n], before, hidden, again))
        return out

    for layer, before, hidden, again in drive(plain, script):
        assert again == before
        shown = dict(hidden)
        for path, change in before:
            parent = path.rpartition("/")[0]
            row = plain.row(layer, path)
            if change in CATEGORIES[toggle]:  # hidden, but a directory with changes below stays to reach them
                assert (path in shown) == bool(row.has_children and row.changed_below and change != "deleted"), path
            elif not parent or parent in shown:
                assert path in shown, path
        assert set(shown) <= {p for p, _c in before}


def test_the_filter_shows_matches_and_their_parents_and_esc_clears(plain):
    top = plain.layers[-1].index

    async def script(pilot, app):
        root = [c.data for c in app.query_one(FileTree).root.children]
        await pilot.press("ctrl+f", *"lib")
        await pilot.pause()
        substring = app.visible_rows()
        await pilot.press(*["backspace"] * 3, *"*.so")
        await pilot.pause()
        glob = app.visible_rows()
        await pilot.press("escape")
        await pilot.pause()
        return root, substring, glob, [c.data for c in app.query_one(FileTree).root.children], app.pattern

    root, substring, glob, cleared, pattern = drive(plain, script)
    for pat, rows in (("lib", substring), ("*.so", glob)):
        matches = plain.find(top, pat)
        assert matches
        parents = {"/".join(m.split("/")[:i]) for m in matches for i in range(1, m.count("/") + 1)}
        assert {p for p, _c in rows} == set(matches) | parents, pat
    assert cleared == root and pattern == ""


def test_jump_from_a_wasted_path_selects_it_at_its_layer(model):
    wasted = model.wasted_paths(limit=200)
    assert wasted
    for i, (path, _bytes, layer, _reason) in enumerate(wasted):
        async def script(pilot, app):
            table = app.query_one(WastedTable)
            table.focus()
            await pilot.press(*["down"] * i, "w" if i % 2 else "enter")
            await pilot.pause()
            tree = app.query_one(FileTree)
            return app.layer, tree.cursor_node.data, tree.has_focus, app.query_one(LayersTable).cursor_row
        got_layer, selected, focused, row = drive(model, script)
        assert (got_layer, selected, focused) == (layer, path, True)
        assert [r.index for r in model.layers][row] == layer


def test_tab_goes_round_the_panes_in_dives_order(plain):
    async def script(pilot, app):
        seen = []
        for key in ["tab"] * 3 + ["shift+tab"]:
            await pilot.press(key)
            seen.append(app.focused.id)
        return seen
    assert drive(plain, script) == ["tree", "wasted", "layers", "wasted"]


def test_jump_shows_a_path_a_toggle_hid(plain):
    path, _bytes, layer, _reason = plain.wasted_paths(limit=1)[0]

    async def script(pilot, app):
        await pilot.press("ctrl+a", "ctrl+r", "ctrl+e", "ctrl+u")
        app.query_one(WastedTable).focus()
        await pilot.press("w")
        await pilot.pause()
        return app.layer, app.query_one(FileTree).cursor_node.data
    assert drive(plain, script) == (layer, path)


def test_history_modal_lists_the_path_history(plain):
    path = "usr/lib/libc.so"

    async def script(pilot, app):
        app.reveal(path)
        app.query_one(FileTree).focus()
        await pilot.press("h")
        await pilot.pause()
        screen = app.screen
        rows = [tuple(str(c) for c in screen.query_one("#modal-table").get_row_at(i))
                for i in range(screen.query_one("#modal-table").row_count)]
        await pilot.press("escape")
        await pilot.pause()
        return isinstance(screen, TableScreen), screen.title_text, rows, isinstance(app.screen, TableScreen)

    modal, title, rows, still = drive(plain, script)
    history = plain.history(path)
    assert modal and not still and path in title
    assert len(rows) == len(history) and len(history) >= 2
    for (layer, change, _size), row in zip(history, rows):
        assert row[0] == (layer if isinstance(layer, str) else f"L{layer}") and (change or "unchanged") in row[1]


def test_help_lists_every_key(plain):
    async def script(pilot, app):
        await pilot.press("question_mark")
        await pilot.pause()
        return app.screen.query_one("#modal-table").row_count, screen_text(app)
    count, text = drive(plain, script)
    assert count == len(K.KEYS) and "ctrl+f" in text and "history" in text


def test_side_switch_marks_what_differs(image_files):
    model = (REAL or F.Explore).load(image_files["image"], compare=image_files["other"])
    diff_a = model.diff_against_other()
    assert model.sides == ["A", "B"] and diff_a

    async def script(pilot, app):
        rows_a = dict(await everything(pilot, app))
        labels_a = {n.data: str(n.label) for n in _nodes(app)}
        await pilot.press("x")
        await pilot.pause()
        side, title = app.model.side, screen_text(app).splitlines()[0]
        labels_b = {n.data: str(n.label) for n in _nodes(app, expand=True)}
        await pilot.press("x")
        return rows_a, labels_a, side, title, labels_b, app.model.side
    rows_a, labels_a, side, title, labels_b, back = drive(model, script)
    assert side == "B" and "side B" in title and back == "A"
    for path in rows_a:
        assert ("≠" in labels_a[path]) == (path in diff_a), path
    model.set_side("B")
    diff_b = model.diff_against_other()
    for path, label in labels_b.items():
        assert ("≠" in label) == (path in diff_b), path


def _nodes(app, expand: bool = False):
    if expand:
        app.action_expand_all()
    out, todo = [], list(app.query_one(FileTree).root.children)
    while todo:
        n = todo.pop()
        if n.data is not None:
            out.append(n)
        todo.extend(n.children)
    return out


def test_one_side_and_no_rw_switch_nothing(plain):
    async def script(pilot, app):
        before = screen_text(app)
        await pilot.press("x", "v")
        await pilot.pause()
        return before, app.model.side, app.model.view
    _before, side, view = drive(plain, script)
    assert (side, view) == ("A", "image")


def test_view_switch_between_container_and_image(image_files):
    model = (REAL or F.Explore).load(image_files["image"], rw=image_files["rw"])
    start = model.view
    with_rw = [r.index for r in model.layers]
    assert with_rw[-1] == "rw"

    async def script(pilot, app):
        await pilot.press("v")
        await pilot.pause()
        switched = app.model.view
        layers = [r.index for r in app.model.layers]
        table_rows = app.query_one(LayersTable).row_count
        await pilot.press("v")
        await pilot.pause()
        return switched, layers, table_rows, app.model.view
    switched, layers, table_rows, back = drive(model, script)
    assert {start, switched} == {"image", "container"} and back == start
    assert table_rows == len(layers)


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
def test_quit_keys_end_the_app(plain, key):
    async def script(pilot, app):
        await pilot.press(key)
        await pilot.pause()
        return app.is_running, app.return_code
    running, code = drive(plain, script)
    assert not running and code in (0, None)


def _open_and_scroll(model, dirname: str) -> tuple[float, float, int]:
    async def script(pilot, app):
        tree = app.query_one(FileTree)
        tree.focus()
        t0 = time.perf_counter()
        node = next(c for c in tree.root.children if c.data == dirname)
        tree.move_cursor(node)
        await pilot.press("space")
        await pilot.pause()
        opened = time.perf_counter() - t0
        t0 = time.perf_counter()
        await pilot.press(*["pagedown", "down", "down"] * 10)
        await pilot.pause()
        return opened, time.perf_counter() - t0, len(node.children)
    return drive(model, script)


def test_a_100k_file_layer_opens_and_scrolls_fast():
    """100,000 files in one directory: opened in well under a second, and a key costs what it
    costs in a 3-file directory (the pilot's own per-key time is most of both)."""
    opened, scrolled, shown = _open_and_scroll(F.Explore([*F.BASE, F.big_layer(100_000, per_dir=100_000)]), "big")
    _o, small, _n = _open_and_scroll(F.Explore(F.BASE), "usr")
    assert shown <= 2001  # a chunk and a "more" row, never 100,000 nodes
    assert opened < 1.5, opened  # generous: 2 shared cores, niced
    assert scrolled < 2 * small + 0.5, (scrolled, small)


# --------------------------------------------------------------------------
# snapshots (the fake: fixed data)
# --------------------------------------------------------------------------

async def _snapshot_state(pilot, app, layer: int = 2):
    await to_layer(pilot, app, layer)
    await everything(pilot, app)
    app.query_one(FileTree).focus()
    await pilot.press("down", "down", "down")
    await pilot.pause()


SAMPLE = REPO / "examples" / "sample.tar"


@pytest.mark.parametrize("data", ["fake", "sample"])
@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_screen_snapshot(size, data):
    """Fixed data: the fake with every feature on, and the real model on the shipped sample image."""
    if data == "sample" and REAL is None:
        pytest.skip("needs layerscope.explore.model")
    model = F.Explore.load("fake", rw=True, compare=True) if data == "fake" else REAL.load(str(SAMPLE))

    async def script(pilot, app):
        await _snapshot_state(pilot, app, 2 if data == "fake" else 1)
        return screen_text(app)
    got = drive(model, script, size=size)
    path = SNAP / f"explore-{size[0]}x{size[1]}{'' if data == 'fake' else '-sample'}.txt"
    if UPDATE:
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no snapshot {path.name}: run with LAYERSCOPE_UPDATE_SNAPSHOTS=1"
    assert got == path.read_text(encoding="utf-8"), (
        f"{path.name} differs (LAYERSCOPE_UPDATE_SNAPSHOTS=1 rewrites it if the change is meant)")


def test_every_line_fits_at_80x24():
    async def script(pilot, app):
        await _snapshot_state(pilot, app)
        return screen_text(app)
    text = drive(F.Explore.load("fake", rw=True), script, size=(80, 24))
    lines = text.splitlines()
    assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
    assert "Layers" in lines[1] and "Tree at L2" in lines[1] and "q quit" in lines[-1]


def test_color_never_draws_no_colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)

    async def script(pilot, app):
        return app.no_color
    assert drive(F.Explore.load("fake"), script, color=False) is True
    assert drive(F.Explore.load("fake"), script, color=True) is False


def test_docs_screenshot_and_key_table():
    """docs/explore.md carries the key table of keys.py; docs/img/explore.svg is small."""
    svg = REPO / "docs" / "img" / "explore.svg"
    if UPDATE and REAL is not None:  # the shipped sample image, read by the real model
        async def script(pilot, app):
            await _snapshot_state(pilot, app, 1)
            return app.export_screenshot(title="layerscope explore examples/sample.tar", simplify=True)
        text = drive(REAL.load(str(SAMPLE)), script, size=(100, 30))
        prefix = re.search(r"terminal-[0-9]+", text).group(0)  # Rich's per-screenshot id: 1,000 times over
        svg.write_text(text.replace(prefix, "t"), encoding="utf-8")
    assert K.markdown_table() in (REPO / "docs" / "explore.md").read_text(encoding="utf-8")
    assert K.markdown_table() in (REPO / "README.md").read_text(encoding="utf-8")
    assert "docs/img/explore.svg" in (REPO / "README.md").read_text(encoding="utf-8")
    assert svg.stat().st_size < 60_000


# --------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------

def test_explore_is_a_lazy_command():
    from layerscope.cli import _Commands

    assert _Commands.LAZY["explore"] == "explore"
    out = CliRunner().invoke(main, ["explore", "--help"])
    assert out.exit_code == 0 and "--rw" in out.output and "--compare" in out.output and "--no-verify" in out.output


def test_without_a_terminal_it_refuses_with_exit_2(monkeypatch, image_files):
    if REAL is None:  # the command imports the model lazily: the fake stands in
        monkeypatch.setitem(sys.modules, "layerscope.explore.model", F)
    res = CliRunner().invoke(main, ["explore", image_files["image"]])
    assert res.exit_code == 2
    assert res.stderr.strip() == "layerscope: error: explore needs a terminal; use inspect/changes for scripts"


@pytest.mark.skipif(REAL is None, reason="needs layerscope.explore.model (the real model; not in this checkout)")
def test_not_an_image_fails_before_the_app(tmp_path):
    bad = tmp_path / "not-an-image.tar"
    bad.write_bytes(b"hello")
    res = subprocess.run([sys.executable, "-m", "layerscope", "explore", str(bad)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("layerscope: error: ") and res.stderr.count("\n") == 1


FAKE_CLI = ("import sys; sys.path.insert(0, 'tests'); import explore_fake; "
            "sys.modules['layerscope.explore.model'] = explore_fake; from layerscope.entry import main; "
            "sys.argv[0] = 'layerscope'; main()")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("which", ["real", "stand-in"])
def test_in_a_real_terminal(tmp_path, image_files, which):
    """The CLI in tmux: draw, navigate, help, quit with exit 0. "real" is the installed command on
    the real model; "stand-in" the same command with tests/explore_fake.py as its model."""
    if which == "real":
        if REAL is None:
            pytest.skip("needs layerscope.explore.model (the real model; not in this checkout)")
        exe = Path(sys.executable).with_name("layerscope")
        cmd = f"{exe} explore {image_files['image']}" if exe.exists() else \
            f"{sys.executable} -m layerscope explore {image_files['image']}"
    else:
        cmd = f"{sys.executable} -c \"{FAKE_CLI}\" explore {image_files['image']}"
    status = tmp_path / "status"
    session = f"layerscope-explore-{os.getpid()}-{which}"
    # pytest or a headless app may have set COLUMNS/LINES: the terminal, not they, says the size
    env_cmd = f"cd {REPO} && unset COLUMNS LINES && TERM=xterm-256color {cmd}; echo EXIT=$? > {status}"
    tmux = ["tmux", "-L", session, "-f", "/dev/null"]  # a server of its own: never the user's sessions
    subprocess.run([*tmux, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", "sh", "-c", env_cmd],
                   check=True, timeout=30)

    def screen() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                              timeout=30).stdout

    def wait_for(text: str, timeout: float = 30) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = screen()
            if text in s:
                return s
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never showed:\n{screen()}")

    def keys(*k: str) -> None:
        subprocess.run([*tmux, "send-keys", "-t", session, *k], check=True, timeout=30)
        time.sleep(0.3)

    try:
        first = wait_for("Tree at L3")
        assert "Layers" in first and "ADD rootfs" in first and max(map(len, first.splitlines())) > 80 and "usr/" in first
        keys("Up")
        wait_for("Tree at L2")
        keys("Tab", "Down", "Space")  # the tree: etc expands
        wait_for("passwd")
        keys("?")
        wait_for("history of the selected path")
        keys("Escape")
        keys("q")
        end = time.monotonic() + 30
        while not status.exists() and time.monotonic() < end:
            time.sleep(0.2)
        assert status.read_text().strip() == "EXIT=0"
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=30)
