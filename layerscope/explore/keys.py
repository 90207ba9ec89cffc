"""The explorer's keys: one table for the bindings, the help screen and docs/explore.md.

Dive's keys where a terminal can send them (dive's ctrl+m for "modified" is
Enter in a terminal, so modified is ctrl+e here).
"""

from __future__ import annotations

# (keys as Textual names them, action, what it does); the first key is the one shown
KEYS: list[tuple[str, str, str]] = [
    ("up,k", "", "move up in the focused pane"),
    ("down,j", "", "move down in the focused pane (in layers: the tree follows the layer)"),
    ("tab,shift+tab", "", "next / previous pane (layers, tree, wasted paths)"),
    ("space", "", "collapse / expand the directory"),
    ("ctrl+space,c", "collapse_all", "collapse every directory"),
    ("E", "expand_all", "expand every directory (bounded: large trees stop at 20,000 rows)"),
    ("ctrl+f,/", "filter", "filter the tree by path (substring, or glob with * ? [); esc clears"),
    ("ctrl+a", "toggle('added')", "hide / show added entries"),
    ("ctrl+r", "toggle('deleted')", "hide / show removed (deleted, opaque) entries"),
    ("ctrl+e", "toggle('modified')", "hide / show modified (content or metadata) entries"),
    ("ctrl+u", "toggle('unchanged')", "hide / show unchanged entries"),
    ("ctrl+b", "toggle_attributes", "hide / show sizes and providing layers in the tree"),
    ("w,enter", "", "on a wasted path: jump to the layer that wasted it and reveal the path"),
    ("h", "history", "history of the selected path across layers"),
    ("v", "switch_view", "image / container view (with --rw)"),
    ("x", "switch_side", "side A / B (with --compare); the tree marks paths that differ"),
    ("?", "help", "this help"),
    ("q,ctrl+c", "quit", "quit"),
]


def shown(keys: str) -> str:
    """``"ctrl+f,/"`` -> ``"ctrl+f  /"``: how the help and the docs write a key list."""
    return "  ".join(keys.split(","))


def markdown_table() -> str:
    """The key table of docs/explore.md (a test keeps the two the same)."""
    rows = ["| key | does |", "| --- | --- |"]
    rows += [f"| {' / '.join(f'`{k}`' for k in keys.split(','))} | {what} |" for keys, _a, what in KEYS]
    return "\n".join(rows) + "\n"
