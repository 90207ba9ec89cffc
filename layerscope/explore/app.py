"""The explorer's Textual UI over an :class:`~layerscope.explore.model.Explore`.

Every answer comes from the model; this module only asks for what is on
screen: the tree loads one directory's children when it is expanded (a
100,000-file layer opens as fast as a 10-file one), and a directory with
more children than :data:`CHUNK` shows them a chunk at a time.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static, Tree
from textual.widgets.tree import TreeNode

from ..units import human_size
from .keys import KEYS, shown

CHUNK = 2000  # children added to a directory at a time; the rest behind a "… N more" row
EXPAND_ALL_LIMIT = 20_000  # rows `E` materialises at most
FIND_LIMIT = 10_000  # filter matches shown at most

# change -> (marker, style); the marker keeps the meaning without colour (NO_COLOR, --color never)
MARKS: dict[str | None, tuple[str, str]] = {
    "added": ("+", "green"), "modified": ("~", "yellow"), "metadata": ("m", "cyan"),
    "deleted": ("-", "red"), "opaque": ("O", "red"), None: (" ", ""),
}
# toggle name -> the changes it hides
CATEGORIES: dict[str, tuple[str | None, ...]] = {
    "added": ("added",), "deleted": ("deleted", "opaque"), "modified": ("modified", "metadata"),
    "unchanged": (None,),
}
OTHER_MARK = {"added": "≠ only here", "removed": "≠ only in other", "modified": "≠ differs"}


def layer_name(index: Any) -> str:
    """``3`` -> ``"L3"``, ``"rw"`` -> ``"rw"``: how the panes name a layer."""
    return index if isinstance(index, str) else f"L{index}"


def cut(text: str, width: int) -> str:
    """One line of at most ``width`` cells, an ellipsis where it was cut."""
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


class Keyed:
    """j/k as down/up, as dive and vi users expect."""

    BINDINGS: ClassVar = [Binding("j", "cursor_down", show=False), Binding("k", "cursor_up", show=False)]


class LayersTable(Keyed, DataTable):
    """The layers pane: moving its cursor moves the tree to that layer."""


class WastedTable(Keyed, DataTable):
    """Top wasted paths; ``w``/``enter`` jumps to the layer that wasted one."""

    BINDINGS: ClassVar = [*Keyed.BINDINGS, Binding("w", "select_cursor", show=False)]


class FileTree(Keyed, Tree):
    """The merged tree at the selected layer; node data is the path (None for a "more" row)."""

    BINDINGS: ClassVar = [*Keyed.BINDINGS]


class TableScreen(ModalScreen[None]):
    """A modal with a title and a table (history, help); any of esc/q/? closes it."""

    BINDINGS: ClassVar = [Binding("escape,q,question_mark,h", "dismiss_screen", show=False)]
    DEFAULT_CSS = """
    TableScreen { align: center middle; }
    TableScreen > Vertical { width: 90%; height: auto; max-height: 90%; border: round $accent; padding: 0 1; }
    TableScreen DataTable { height: auto; max-height: 40; }
    """

    def __init__(self, title: str, columns: list[str], rows: list[tuple], note: str = "") -> None:
        super().__init__()
        self.title_text, self.columns, self.rows, self.note = title, columns, rows, note

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            table = DataTable(cursor_type="row", zebra_stripes=False, id="modal-table")
            table.add_columns(*self.columns)
            table.add_rows(self.rows)
            yield table
            yield Static(self.note or "esc closes", id="modal-note")

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)


class ExploreApp(App[None]):
    """Layers, the tree at the selected layer, and where the bytes are wasted."""

    TITLE = "layerscope explore"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #title { height: 1; background: $primary; color: $text; padding: 0 1; }
    #main { height: 1fr; }
    #left { width: 45%; min-width: 30; }
    #layers { height: 1fr; border: round $secondary; overflow-x: hidden; }
    #details { height: 1fr; border: round $secondary; }
    #summary { height: auto; }
    #wasted { height: 1fr; overflow-x: hidden; }
    #tree { width: 1fr; border: round $secondary; }
    #layers:focus-within, #tree:focus, #details:focus-within { border: round $accent; }
    #layers, #tree, #details { border-title-color: $text; border-title-style: bold; }
    #filter { dock: bottom; display: none; border: none; height: 1; padding: 0 1; }
    #filter.shown { display: block; }
    #status { height: 1; dock: bottom; background: $panel; padding: 0 1; }
    ExploreApp.narrow #main { layout: vertical; }
    ExploreApp.narrow #left { width: 100%; height: 45%; layout: horizontal; }
    ExploreApp.narrow #layers { width: 55%; }
    ExploreApp.narrow #details { width: 1fr; }
    """
    BINDINGS: ClassVar = [
        Binding("q", "quit", "quit"),
        Binding("ctrl+c", "quit", show=False, priority=True),
        Binding("question_mark", "help", "help"),
        Binding("ctrl+f,slash", "filter", "filter"),
        Binding("ctrl+a", "toggle('added')", show=False),
        Binding("ctrl+r", "toggle('deleted')", show=False),
        Binding("ctrl+e", "toggle('modified')", show=False),
        Binding("ctrl+u", "toggle('unchanged')", show=False),
        Binding("ctrl+b", "toggle_attributes", show=False),
        Binding("ctrl+space,ctrl+@,c", "collapse_all", show=False),
        Binding("E", "expand_all", show=False),
        Binding("h", "history", show=False),
        Binding("v", "switch_view", show=False),
        Binding("x", "switch_side", show=False),
        Binding("escape", "clear_filter", show=False),
        Binding("tab", "pane(1)", show=False, priority=True),
        Binding("shift+tab", "pane(-1)", show=False, priority=True),
    ]
    PANES = ("#layers", "#tree", "#wasted")  # dive's order, whatever the layout's

    def __init__(self, model: Any, *, color: bool | None = None) -> None:
        # Textual reads (and drops) NO_COLOR when the app is made: --color never/always set it first
        if color is False:
            os.environ["NO_COLOR"] = "1"
        elif color is True:
            os.environ.pop("NO_COLOR", None)
        super().__init__()
        self.model = model
        self.layer: Any = model.layers[-1].index if model.layers else 0
        self.hidden: set[str] = set()
        self.attributes = True
        self.pattern = ""
        self.other: dict[str, str] | None = None
        # the image view may leave the container layer out: whether there is one is known now
        self.has_rw = model.view == "container" or any(r.index == "rw" for r in model.layers)

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                layers = LayersTable(cursor_type="row", id="layers")
                layers.border_title = "Layers"
                yield layers
                with Vertical(id="details"):
                    yield Static(id="summary")
                    yield WastedTable(cursor_type="row", id="wasted")
            tree = FileTree("/", data="", id="tree")
            tree.show_root = False
            tree.auto_expand = False
            yield tree
        yield Input(placeholder="filter: substring, or glob with * ? [  (esc clears)", id="filter")
        yield Static(id="status")

    def on_mount(self) -> None:
        self.query_one("#details").border_title = "Waste"
        self._reload_all()
        self.query_one("#layers").focus()
        self.call_after_refresh(self._refit)

    def on_resize(self) -> None:
        self.set_class(self.size.width < 100 and self.size.height >= 30, "narrow")
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        """The command column and the waste summary fit the panes' new widths."""
        self._fill_layers()
        self._fill_summary()
        self._fill_wasted()

    # ------------------------------------------------------------ the panes

    def _reload_all(self) -> None:
        """After a side or view switch: every pane asks the model again."""
        indexes = [r.index for r in self.model.layers]
        if self.layer not in indexes:
            self.layer = indexes[-1] if indexes else 0
        self.other = self.model.diff_against_other() if len(self.model.sides) > 1 else None
        self._fill_layers()
        self._fill_details()
        self._fill_tree()
        self._update_title()

    def _fill_layers(self) -> None:
        table = self.query_one(LayersTable)
        rows = [(layer_name(r.index), human_size(r.size), human_size(r.wasted) if r.wasted else "", r)
                for r in self.model.layers]
        taken = sum(max([len(h), *(len(row[k]) for row in rows)]) + 2 for k, h in enumerate(("#", "size", "wasted")))
        width = max(8, (table.scrollable_content_region.width or 60) - taken - 2)
        table.clear(columns=True)
        table.add_column("#", key="index")
        table.add_column("size", key="size")
        table.add_column("wasted", key="wasted")
        table.add_column("command", key="command")
        for name, size, wasted, r in rows:
            table.add_row(name, size, wasted, cut(r.created_by or (r.digest or "")[:19], width), key=str(r.index))
        indexes = [r.index for r in self.model.layers]
        if self.layer in indexes:
            table.move_cursor(row=indexes.index(self.layer), animate=False)

    def _fill_details(self) -> None:
        d = dict(self.model.details() or {})
        if isinstance(d.get("efficiency"), dict):  # inspect --json's nesting
            d.update(d.pop("efficiency"))
        dup = d.get("duplicate_content") or d.get("duplicates") or {}
        eff, ratio = d.get("efficiency"), d.get("user_wasted_ratio")
        items = [f"efficiency {eff * 100:.1f} %" if isinstance(eff, (int, float)) else "efficiency -",
                 f"wasted {human_size(d.get('wasted_bytes'))}"]
        if isinstance(ratio, (int, float)):
            items.append(f"user-wasted {ratio * 100:.1f} %")
        items += [f"{k} {human_size(v)}" for k, v in sorted((d.get("by_reason") or {}).items()) if v]
        if isinstance(dup, dict) and dup.get("savable_bytes"):
            items.append(f"duplicates {human_size(dup['savable_bytes'])} in {len(dup.get('groups') or ())} groups")
        self._summary_items = items
        self._fill_summary()
        self._fill_wasted()

    def _fill_wasted(self) -> None:
        table = self.query_one(WastedTable)
        row = table.cursor_row
        rows = [(human_size(w), layer_name(layer), path, layer) for path, w, layer, _r in self.model.wasted_paths(limit=200)]
        taken = sum(max([len(h), *(len(r[k]) for r in rows)]) + 2 for k, h in enumerate(("wasted", "layer")))
        width = max(8, (table.scrollable_content_region.width or 60) - taken - 2)
        table.clear(columns=True)
        table.add_columns("wasted", "layer", "path")
        for size, name, path, layer in rows:
            # the path's end says the most: cut at its start
            shown = "/" + path if len(path) < width else "…" + path[len(path) - width + 2:]
            table.add_row(size, name, shown, key=f"{layer}\0{path}")
        if 0 < row < len(rows):
            table.move_cursor(row=row, animate=False)

    def _fill_summary(self) -> None:
        """Lines break between items, never inside one ("132.6 / kB")."""
        width = self.query_one("#summary").size.width or 34
        lines: list[str] = []
        for item in getattr(self, "_summary_items", []):
            if lines and len(lines[-1]) + 2 + len(item) <= width:
                lines[-1] += "  " + item
            else:
                lines.append(item)
        self.query_one("#summary", Static).update(Text("\n".join(lines), no_wrap=True, overflow="ellipsis"))

    def _update_title(self) -> None:
        m = self.model
        bits = [m.name]
        if len(m.sides) > 1:
            bits.append(f"side {m.side} of {'/'.join(m.sides)}")
        bits.append(f"{m.view} view")
        self.query_one("#title", Static).update(Text(" · ".join(bits), no_wrap=True, overflow="ellipsis"))
        tree = self.query_one(FileTree)
        tree.border_title = f"Tree at {layer_name(self.layer)}" + (f"  filter: {self.pattern}" if self.pattern else "")
        hid = ", ".join(sorted(self.hidden))
        status = "q quit  ? help  tab pane  space dir  ^f filter  ^a ^r ^e ^u toggles  h history  w jump  v view  x side"
        if hid:
            status = f"hidden: {hid} │ " + status
        self.query_one("#status", Static).update(Text(status, no_wrap=True, overflow="ellipsis"))

    # --------------------------------------------------------------- the tree

    def _visible(self, row: Any) -> bool:
        """A row shows unless its kind of change is hidden; a directory with changes of
        this layer below still shows (as dive does), so those stay reachable."""
        for name in self.hidden:
            if row.change in CATEGORIES[name]:
                return bool(row.has_children and row.changed_below and row.change not in ("deleted",))
        return True

    def _label(self, row: Any) -> Text:
        mark, style = MARKS.get(row.change, ("?", "magenta"))
        text = Text()
        text.append(mark, style=f"bold {style}" if style else "")
        text.append(" ")
        name = row.name + ("/" if row.kind == "dir" else "")
        if row.kind == "symlink" and row.link:
            name += f" → {row.link}"
        text.append(name, style=style or ("bold" if row.kind == "dir" else ""))
        if self.attributes:
            text.append(f"  {human_size(row.size)}", style="dim")
            if row.source is not None:
                text.append(f"  {layer_name(row.source)}", style="dim")
        if self.other and row.path in self.other:
            text.append(f"  {OTHER_MARK.get(self.other[row.path], '≠')}", style="bold magenta")
        return text

    def _add_rows(self, node: TreeNode, rows: list, start: int = 0) -> None:
        """Add ``rows[start:start + CHUNK]`` under ``node``, and a "more" row for the rest."""
        for row in rows[start:start + CHUNK]:
            expandable = row.has_children and row.change != "deleted"
            child = node.add(self._label(row), data=row.path, allow_expand=expandable)
            child._change = row.change  # type: ignore[attr-defined]
        rest = len(rows) - start - CHUNK
        if rest > 0:
            more = node.add_leaf(Text(f"… {rest:,} more (enter shows them)", style="italic"), data=None)
            more._more = (rows, start + CHUNK)  # type: ignore[attr-defined]

    def _load(self, node: TreeNode) -> None:
        """A directory's children, asked for on its first expansion only."""
        if getattr(node, "_loaded", False):
            return
        node._loaded = True  # type: ignore[attr-defined]
        rows = [r for r in self.model.children(self.layer, node.data or "") if self._visible(r)]
        self._add_rows(node, rows)

    def _fill_tree(self) -> None:
        tree = self.query_one(FileTree)
        tree.clear()
        tree.root.data = ""
        tree.root._loaded = False  # type: ignore[attr-defined]
        if self.pattern:
            self._fill_filtered(tree)
        else:
            self._load(tree.root)
            tree.root.expand()
        self._update_title()

    def _fill_filtered(self, tree: FileTree) -> None:
        """Matches and their parents, expanded; nothing else is asked for. A matching
        directory with no match below stays collapsed and loads its children on expansion."""
        matches = set(self.model.find(self.layer, self.pattern, limit=FIND_LIMIT))
        wanted: set[str] = set()
        for p in matches:
            parts = p.split("/")
            wanted.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        parents = {p.rpartition("/")[0] for p in wanted}
        nodes: dict[str, TreeNode] = {"": tree.root}
        tree.root._loaded = True  # type: ignore[attr-defined]
        for path in sorted(wanted, key=lambda p: (p.count("/"), p)):
            parent = nodes.get(path.rpartition("/")[0])
            row = self.model.row(self.layer, path)
            if parent is None or row is None:
                continue
            node = parent.add(self._label(row), data=path, allow_expand=row.has_children and row.change != "deleted",
                              expand=path in parents)
            node._loaded = path in parents  # type: ignore[attr-defined]
            node._change = row.change  # type: ignore[attr-defined]
            nodes[path] = node
        tree.root.expand()

    @on(Tree.NodeExpanded, "#tree")
    def _expanded(self, event: Tree.NodeExpanded) -> None:
        self._load(event.node)

    @on(Tree.NodeSelected, "#tree")
    def _selected(self, event: Tree.NodeSelected) -> None:
        more = getattr(event.node, "_more", None)
        if more is not None:
            parent = event.node.parent
            event.node.remove()
            self._add_rows(parent, *more)

    def reveal(self, path: str) -> TreeNode | None:
        """Expand the parents of ``path`` and put the cursor on it (loading only that chain)."""
        tree = self.query_one(FileTree)
        node: TreeNode = tree.root
        if not path:
            return None
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            self._load(node)
            node.expand()
            want = "/".join(parts[:i])
            found = next((c for c in node.children if c.data == want), None)
            while found is None and node.children and getattr(node.children[-1], "_more", None):
                more = node.children[-1]
                more.remove()
                self._add_rows(node, *more._more)
                found = next((c for c in node.children if c.data == want), None)
            if found is None:
                return None
            node = found
        tree._tree_lines  # noqa: B018 - lays the lines out now, so the node has its line for the cursor
        tree.move_cursor(node)
        return node

    # ---------------------------------------------------------------- events

    @on(DataTable.RowHighlighted, "#layers")
    def _layer_moved(self, event: DataTable.RowHighlighted) -> None:
        row = event.data_table.cursor_row  # not the event's: a refill posts stale ones
        indexes = [r.index for r in self.model.layers]
        if 0 <= row < len(indexes) and indexes[row] != self.layer:
            self.layer = indexes[row]
            self._fill_tree()

    @on(DataTable.RowSelected, "#wasted")
    def _wasted_chosen(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        layer, _, path = key.partition("\0")
        self.jump(next((r.index for r in self.model.layers if str(r.index) == layer), self.layer), path)

    def jump(self, layer: Any, path: str) -> None:
        """To ``layer``, with ``path`` revealed and under the cursor in the tree."""
        if self.pattern:
            self.action_clear_filter()
        self.layer = layer
        self._fill_layers()
        self._fill_tree()
        tree = self.query_one(FileTree)
        if self.reveal(path) is None and self.hidden:  # a toggle hid it: show everything again
            self.hidden.clear()
            self._fill_tree()
            self.reveal(path)
        tree.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.pattern = event.value.strip().strip("/")
        self._fill_tree()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(FileTree).focus()

    # --------------------------------------------------------------- actions

    def action_pane(self, step: int) -> None:
        if isinstance(self.screen, ModalScreen):
            return
        panes = [self.query_one(p) for p in self.PANES]
        now = next((i for i, w in enumerate(panes) if w.has_focus), -1 if step > 0 else 0)
        panes[(now + step) % len(panes)].focus()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        was = bool(self.pattern) or box.has_class("shown")
        box.remove_class("shown")
        if box.value:
            with box.prevent(Input.Changed):
                box.value = ""
        if self.pattern:
            self.pattern = ""
            self._fill_tree()
        if was:
            self.query_one(FileTree).focus()

    def action_toggle(self, name: str) -> None:
        self.hidden ^= {name}
        self._fill_tree()

    def action_toggle_attributes(self) -> None:
        self.attributes = not self.attributes
        self._fill_tree()

    def action_collapse_all(self) -> None:
        tree = self.query_one(FileTree)
        for node in tree.root.children:
            node.collapse_all()

    def action_expand_all(self) -> None:
        """Every directory, breadth first, until :data:`EXPAND_ALL_LIMIT` rows."""
        tree = self.query_one(FileTree)
        todo, count = [tree.root], 0
        while todo and count < EXPAND_ALL_LIMIT:
            node = todo.pop(0)
            self._load(node)
            node.expand()
            count += len(node.children)
            todo.extend(c for c in node.children if c.allow_expand)

    def action_history(self) -> None:
        node = self.query_one(FileTree).cursor_node
        if node is None or not node.data:
            self.notify("select a path in the tree first", severity="warning")
            return
        rows = [(layer_name(layer), MARKS.get(change, (" ", ""))[0] + " " + (change or "unchanged"), human_size(size))
                for layer, change, size in self.model.history(node.data)]
        self.push_screen(TableScreen(f"History of /{node.data}", ["layer", "change", "size"], rows))

    def action_help(self) -> None:
        rows = [(shown(keys), what) for keys, _a, what in KEYS]
        note = ("markers: + added  ~ modified  m metadata only  - deleted  O opaque  ≠ differs from the other side"
                "   esc closes")
        self.push_screen(TableScreen("Keys", ["key", "does"], rows, note))

    def action_switch_view(self) -> None:
        if not self.has_rw:
            self.notify("no container layer: run with --rw UPPER", severity="warning")
            return
        view = "container" if self.model.view == "image" else "image"
        try:  # the interface documents the attribute; a setter method is taken too
            if hasattr(self.model, "set_view"):
                self.model.set_view(view)
            else:
                self.model.view = view
        except (AttributeError, ValueError) as e:
            self.notify(f"cannot switch to the {view} view: {e}", severity="warning")
            return
        self._reload_all()

    def action_switch_side(self) -> None:
        sides = self.model.sides
        if len(sides) < 2:
            self.notify("one image only: run with --compare OTHER", severity="warning")
            return
        self.model.set_side(sides[(sides.index(self.model.side) + 1) % len(sides)])
        self._reload_all()

    # ------------------------------------------------------ for tests and docs

    def visible_rows(self) -> list[tuple[str, str | None]]:
        """(path, change) of every row the tree shows now, top to bottom."""
        out: list[tuple[str, str | None]] = []

        def walk(node: TreeNode) -> None:
            for c in node.children:
                if c.data is not None:
                    out.append((c.data, getattr(c, "_change", None)))
                if c.is_expanded:
                    walk(c)
        walk(self.query_one(FileTree).root)
        return out
