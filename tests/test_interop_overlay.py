"""layerscope's merged filesystem view against ``umoci unpack``.

The images (``overlay_images.py``) are made with umoci; umoci's own unpack of
the same tag, walked with ``os.lstat`` (symlinks never followed), is the
oracle for ``layerscope ls -R --json``: the set of paths and, per path, type,
size, mode (permission bits incl. setuid/setgid/sticky), uid, gid, symlink
target and XXH3-128 content digest.  layerscope's ``hardlink`` entries are
compared as the entry they name -- a file, or whatever else a tar hardlink
may name (umoci's tree has no link entries, only shared inodes) -- with the
hardlink's own mode/owner, and hardlinked paths must share an inode in
umoci's tree iff layerscope links them.  Every disagreement is collected and reported with
its path and both values in one assertion.

What umoci 0.4.7 does with each edge case (all unpack without error; all
follow the OCI image-spec layer rules):

* opaque marker (``d/.wh..wh..opq``) before or after new entries in the same
  layer: everything from lower layers under ``d`` goes, the layer's own
  entries stay, whatever their tar order.
* ``x`` then ``.wh.x`` in one layer: ``x`` survives with the new content (a
  whiteout applies to lower layers only); ``.wh.y`` then ``y``: ``y`` too.
* whiteout of a path that never existed (parent present or absent): no-op;
  the absent parent is *not* created.
* hardlink to a lower-layer file: a second name for the same inode.
* ``link/f`` with ``link -> real`` (or ``alink -> /real``) in a lower layer:
  written to ``real/f`` (the path is resolved inside the rootfs); a whiteout
  ``link/.wh.old`` removes ``real/old``.
* implied parent dirs (``a/b/c/file`` without ``a``, ``a/b``, ``a/b/c``):
  created as ``MkdirAll(0777)``, i.e. 0777 & ~umask of the unpacking
  process, owned by the unpacking user.  The tests unpack with umask 022 as
  root, so umoci's implied dirs are 0755 0:0 -- Docker's and containerd's
  choice -- and layerscope's implied dirs are compared with that, strictly.
  A directory entry that comes *after* its children (``p/q/file2`` then
  ``p`` 0700 7:8) sets ``p``'s mode/owner when it comes.
* ``up/escaped`` with ``up -> ../../..``: lands at ``escaped`` in the root
  (``..`` is clamped at the root, as with chroot); ``link2/chained`` with
  ``link2 -> link -> real``: ``real/chained``.
* ``olink/.wh..wh..opq`` with ``olink -> d4``: ``d4`` is made opaque; a
  whiteout of a symlink to a dir (``.wh.wl``) removes the link only.
* ``d3/`` (0700) and ``d3/new``, then ``.wh.d3``, in one layer: the lower
  ``d3/old1`` goes, the layer's ``d3`` (0700) and ``d3/new`` stay.
* a dir with children replaced by a file or a symlink: the whole subtree
  goes; a file or a symlink-to-dir replaced by a dir entry: the file / the
  symlink itself is replaced (the symlink is not followed).
* a hardlink whose target is a symlink (``hls`` -> ``link``): ``link(2)``
  on the symlink itself, so ``hls`` is a symlink sharing ``link``'s inode;
  a hardlink target through a symlinked dir (``link/old``) is resolved like
  any path: ``hvia`` shares ``real/old``'s inode.
* whiteout of a hardlink's target: the other name keeps the content; a new
  file over a hardlink's target: the other name keeps the *old* content and
  the two are no longer linked.
* a hardlink entry whose header has its own mode/owner (0600 7:7) on a 0644
  0:0 target: umoci links and ignores the link's header -- both names show
  the target's inode (0644 0:0).
* the same path twice in one layer: the last entry wins; ``./dot/file`` and
  ``/slash/file`` land at ``dot/file`` and ``slash/file``.

What umoci repack writes (the ops image), which layerscope must read:

* a ``.`` entry for the root in every full layer;
* a deleted tree as one ``.wh.tree``; a chmod/chown as the whole file again;
* a changed name of a hardlink group as the whole group again (first name a
  file, the others hardlinks to it), also when only ``nlink`` changed;
* a directory replaced by a file as the file **followed by whiteouts under
  it** (``swap/d2f`` file, then ``swap/d2f/.wh.in1``, ``swap/d2f/.wh.sub``):
  umoci's own unpack treats those as no-ops and keeps the file.
* ``user.*`` xattrs as ``SCHILY.xattr.*`` PAX records (not in the ls
  contract, so not compared).
"""

from __future__ import annotations

import io
import os
import tarfile
from collections import defaultdict

import pytest

import overlay_images as O
from overlay_images import Change, Node

pytestmark = pytest.mark.interop

FIELDS = ("type", "size", "mode", "uid", "gid", "link", "digest")
KINDS = {"file", "dir", "symlink", "hardlink", "char", "block", "fifo"}


# --------------------------------------------------------------------------
# images (built once per session) and running layerscope
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def need_umoci() -> None:
    if not O.have_umoci():
        pytest.skip("umoci is needed for the overlay interop tests")


@pytest.fixture(scope="session")
def ops_image(need_umoci, tmp_path_factory) -> O.OverlayImage:
    return O.build_ops_image(tmp_path_factory.mktemp("overlay-ops"))


@pytest.fixture(scope="session")
def edge_image(need_umoci, tmp_path_factory) -> O.OverlayImage:
    return O.build_edge_image(tmp_path_factory.mktemp("overlay-edge"))


@pytest.fixture(scope="session")
def unpacked(need_umoci, tmp_path_factory) -> O.UnpackCache:
    return O.UnpackCache(tmp_path_factory.mktemp("overlay-unpack"))


@pytest.fixture(scope="session")
def lsj(ls):
    """``lsj(*args)`` -> parsed JSON of ``layerscope *args``, cached per session."""
    cache: dict[tuple[str, ...], dict] = {}
    for cmd in ("ls", "changes"):
        res = ls(cmd, "--help")
        if res.rc != 0:
            pytest.fail(f"layerscope has no `{cmd}` command (yet): {res.err.strip()[-200:]}")

    def run(*args) -> dict:
        key = tuple(str(a) for a in args)
        if key not in cache:
            cache[key] = ls(*key).json()
        return cache[key]
    return run


def rel(path) -> str:
    """A document's image path ("/etc/x", the contract's form) as umoci's tree and the tar
    names are compared here ("etc/x"; "" the root)."""
    assert isinstance(path, str) and path.startswith("/"), f"{path!r}: not an absolute image path"
    return path[1:]


def ls_doc(lsj, img: O.OverlayImage, tag: str, layer: int | None = None, path: str | None = None,
           recursive: bool = True) -> dict:
    args = ["ls", img.arg(tag), *([path] if path else []), *(["-R"] if recursive else []), "--json"]
    if layer is not None:
        args += ["--layer", str(layer)]
    doc = lsj(*args)
    assert doc.get("schema") == "layerscope.ls/2", doc.get("schema")
    return doc


# --------------------------------------------------------------------------
# the comparison
# --------------------------------------------------------------------------

def fmt_node(n: Node | dict) -> str:
    if isinstance(n, Node):
        n = {f: getattr(n, f) for f in FIELDS}
    parts = [n.get("type", "?")]
    for f in ("size", "mode", "uid", "gid", "link", "digest"):
        v = n.get(f)
        if v is None or (f == "size" and n.get("type") not in ("file", "hardlink")):
            continue
        parts.append(f"{f}={oct(v) if f == 'mode' else v!r}")
    return " ".join(parts)


def ls_view(doc: dict) -> tuple[dict[str, Node], set[frozenset[str]], list[str]]:
    """layerscope's entries as Nodes (hardlinks as the file they name), its
    hardlink groups, and contract problems of the listing itself."""
    problems: list[str] = []
    raw: dict[str, dict] = {}

    def checked_rel(p, what: str):
        """As :func:`rel`, recording a contract problem instead of failing at once."""
        if not isinstance(p, str) or not p.startswith("/") or p == "/" or p[1:] != O.norm(p):
            problems.append(f"{what} {p!r}: not a normalised absolute image path")
            return p
        return p[1:]

    for e in doc["entries"]:
        p = checked_rel(e.get("path"), "path")
        if p in raw:
            problems.append(f"{p}: listed twice ({fmt_node(raw[p])} / {fmt_node(e)})")
        raw[p] = e
        if e.get("type") not in KINDS:
            problems.append(f"{p}: unknown type {e.get('type')!r}")
    nodes: dict[str, Node] = {}
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for p, e in raw.items():
        t = e.get("type")
        if t == "hardlink":
            tgt, seen = checked_rel(e.get("link"), f"{p}: hardlink target"), {p}
            while tgt in raw and raw[tgt].get("type") == "hardlink" and tgt not in seen:
                seen.add(tgt)
                tgt = checked_rel(raw[tgt].get("link"), f"{tgt}: hardlink target")
            link = None
            if tgt not in raw:
                problems.append(f"{p}: hardlink to {e.get('link')!r}, which is not in the listing")
                t = "file"
            else:
                te = raw[tgt]
                for f in ("size", "digest"):
                    if e.get(f) != te.get(f):
                        problems.append(f"{p}: hardlink {f} {e.get(f)!r} != its target {tgt}'s {te.get(f)!r}")
                parent[find(p)] = find(tgt)
                # compared as what it names (umoci's tree has only the shared inode)
                t = te.get("type")
                link = te.get("link") if t != "file" else None
        else:
            link = e.get("link")
        nodes[p] = Node(t, e.get("size"), e.get("mode"), e.get("uid"), e.get("gid"), link, e.get("digest"))
    groups: dict[str, set[str]] = defaultdict(set)
    for p in parent:
        groups[find(p)].add(p)
    for root in list(groups):
        groups[root].add(root)
    return nodes, {frozenset(g) for g in groups.values() if len(g) > 1}, problems


def compare(doc: dict, u_nodes: dict[str, Node], u_inodes: dict[str, tuple[int, int]], *,
            implied: set[str] = frozenset(), owners: bool = O.AS_ROOT) -> list[str]:
    """Every disagreement between ``ls -R --json`` and umoci's tree, one line each."""
    l_nodes, l_groups, out = ls_view(doc)
    out = [f"layerscope listing: {p}" for p in out]
    fields = [f for f in FIELDS if owners or f not in ("uid", "gid")]
    def note(p: str) -> str:
        return " (implied parent; umoci: 0755 0:0)" if p in implied else ""
    for p in sorted(set(l_nodes) | set(u_nodes)):
        a, b = l_nodes.get(p), u_nodes.get(p)
        if a is None:
            out.append(f"{p}: only in umoci: {fmt_node(b)}")
        elif b is None:
            out.append(f"{p}: only in layerscope: {fmt_node(a)}")
        else:
            for f in fields:
                va, vb = getattr(a, f), getattr(b, f)
                if va != vb:
                    if f == "mode" and isinstance(va, int):
                        va, vb = oct(va), oct(vb)
                    out.append(f"{p}: {f}: layerscope={va!r} umoci={vb!r}{note(p)}")
    # Inode sharing is compared for regular files. A tar hardlink to a symlink
    # (umoci: one inode) is listed by layerscope as the symlink it is, as
    # `ls -l` shows it; its type, target and mode are compared above.
    u_groups = O.hardlink_groups({p: ino for p, ino in u_inodes.items() if p in u_nodes and u_nodes[p].type == "file"})
    l_of = {p: g for g in l_groups for p in g}
    u_of = {p: g for g in u_groups for p in g}
    for p in sorted(set(l_of) | set(u_of)):
        lg, ug = l_of.get(p, frozenset({p})), u_of.get(p, frozenset({p}))
        if lg != ug and p == min(lg | ug):
            out.append(f"{p}: hardlinked with: layerscope={sorted(lg - {p})} umoci={sorted(ug - {p})}")
    return out


def check_against_umoci(lsj, unpacked, img: O.OverlayImage, tag: str, layer: int | None, oracle_tag: str,
                        implied: set[str] = frozenset()) -> None:
    u_nodes, u_inodes, err = unpacked(img, oracle_tag)
    if err:
        pytest.skip(f"umoci refuses {oracle_tag}: {err}")
    doc = ls_doc(lsj, img, tag, layer)
    problems = compare(doc, u_nodes, u_inodes, implied=implied)
    cmd = f"layerscope ls -R --json {img.layout.name}:{tag}" + (f" --layer {layer}" if layer is not None else "")
    assert not problems, (f"{len(problems)} disagreement(s) between `{cmd}` and `umoci unpack "
                          f"{img.layout.name}:{oracle_tag}`:\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------
# ls vs umoci unpack
# --------------------------------------------------------------------------

# (tag given to layerscope, --layer, umoci tag with exactly those layers)
OPS_VIEWS = [("ops3", None, "ops3"), ("ops3", 0, "ops1"), ("ops3", 1, "ops2"), ("ops3", 2, "ops3"),
             ("ops1", None, "ops1"), ("ops2", None, "ops2"), ("ops2c", None, "ops2c"), ("ops2c", 1, "ops2")]


@pytest.mark.parametrize("tag,layer,oracle", OPS_VIEWS,
                         ids=[f"{t}{'' if n is None else f'-layer{n}'}" for t, n, _ in OPS_VIEWS])
def test_ops_ls_matches_umoci(tag, layer, oracle, ops_image, unpacked, lsj):
    check_against_umoci(lsj, unpacked, ops_image, tag, layer, oracle)


EDGE = [c.name for c in O.edge_cases()]
CASE_LAYER = 1  # an edge case's layer: edge-base is layer 0


@pytest.mark.parametrize("case", EDGE)
def test_edge_ls_matches_umoci(case, edge_image, unpacked, lsj):
    c = edge_image.cases[case]
    check_against_umoci(lsj, unpacked, edge_image, c.tag, None, c.tag, implied=c.implied_dirs)


def test_edge_base_and_layer0(edge_image, unpacked, lsj):
    check_against_umoci(lsj, unpacked, edge_image, "edge-base", None, "edge-base")
    check_against_umoci(lsj, unpacked, edge_image, "e-opaque-first", 0, "edge-base")


def test_umoci_premises(ops_image, edge_image, unpacked):
    """What the comparisons assume umoci does (see the module docstring);
    if a umoci version changes any of it, this says which."""
    n, ino, _ = unpacked(edge_image, "e-implied-parents")
    for d in ("a", "a/b", "a/b/c", "p/q"):
        assert (n[d].type, n[d].mode, n[d].uid, n[d].gid) == ("dir", 0o755, 0, 0), (d, n[d])
    assert (n["p"].mode, n["p"].uid, n["p"].gid) == (0o700, 7, 8)
    n, ino, _ = unpacked(edge_image, "e-hardlink-own-mode")
    assert ino["hm/l"] == ino["hm/t"] and n["hm/l"].mode == 0o644 and n["hm/l"].uid == 0
    n, _, _ = unpacked(edge_image, "e-through-symlink")
    assert "real/f" in n and "link/f" not in n and n["link"].type == "symlink"
    n, _, _ = unpacked(edge_image, "e-opaque-last")
    assert {"d2/new", "d2/nsub/f"} <= set(n) and "d2/old" not in n
    n, _, _ = unpacked(edge_image, "e-whiteout-recreate")
    assert n["w/x"].size == 5 and n["w/y"].size == 6
    n, _, _ = unpacked(edge_image, "e-noop-whiteout-no-parent")
    assert "nodir" not in n
    # umoci repack: whiteouts under a file that replaced a directory, kept as a file
    names = O.layer_paths(O.layer_tars(ops_image.layout, "ops2")[1])
    assert "swap/d2f" in names[0] and {"swap/d2f/in1", "swap/d2f/sub"} <= names[1]
    n, _, _ = unpacked(ops_image, "ops2")
    assert n["swap/d2f"].type == "file"


# --------------------------------------------------------------------------
# ls: PATH, non-recursive, layer attribution
# --------------------------------------------------------------------------

def test_ls_path_and_recursion(ops_image, lsj):
    full = {rel(e["path"]): e for e in ls_doc(lsj, ops_image, "ops3")["entries"]}
    problems = []
    for path in ("etc", "swap", "hl", O.LONG255.rsplit("/", 2)[0]):
        under = {p for p in full if p.startswith(path + "/")}
        got_r = {rel(e["path"]) for e in ls_doc(lsj, ops_image, "ops3", path=path)["entries"]}
        if got_r != under:
            problems.append(f"ls -R {path}: missing {sorted(under - got_r)}, extra {sorted(got_r - under)}")
        direct = {p for p in under if "/" not in p[len(path) + 1:]}
        got = {rel(e["path"]) for e in ls_doc(lsj, ops_image, "ops3", path=path, recursive=False)["entries"]}
        if got != direct:
            problems.append(f"ls {path}: missing {sorted(direct - got)}, extra {sorted(got - direct)}")
    top = {p for p in full if "/" not in p}
    got = {rel(e["path"]) for e in ls_doc(lsj, ops_image, "ops3", recursive=False)["entries"]}
    if got != top:
        problems.append(f"ls (root): missing {sorted(top - got)}, extra {sorted(got - top)}")
    assert not problems, "\n".join(problems)


def test_ls_text_output(ops_image, ls, lsj):
    res = ls("ls", ops_image.arg("ops3"), "etc")
    assert res.rc == 0, res.err
    for e in ls_doc(lsj, ops_image, "ops3", path="etc", recursive=False)["entries"]:
        assert os.path.basename(e["path"]) in res.out, e["path"]


def expected_layers(img: O.OverlayImage, tag: str, upto: int | None,
                    case: O.Case | None = None) -> dict[str, int]:
    """path -> index of the last layer with an entry for it (tar names,
    resolved through the case's symlinked dirs; implied dirs -> the layer
    implying them).  Dirs made opaque after their last entry are left out
    (whether the opaque layer "provides" them is open)."""
    exp: dict[str, int] = {}
    opaque_after: dict[str, int] = {}
    for i, raw in enumerate(O.layer_tars(img.layout, tag)):
        if upto is not None and i > upto:
            break
        entries, wh = O.layer_paths(raw)
        last = case is not None and i == CASE_LAYER
        for p in entries:
            exp[case.resolve.get(p, p) if last else p] = i
        if last:
            for d in case.implied_dirs:
                exp[d] = i
        for p in wh:
            opaque_after[p] = i
    return {p: i for p, i in exp.items() if not (p in opaque_after and opaque_after[p] > i)}


@pytest.mark.parametrize("tag,layer", [("ops3", None), ("ops3", 0), ("ops3", 1), ("e-implied-parents", None),
                                       ("e-through-symlink", None), ("e-hardlink-target-replaced", None)])
def test_layer_attribution(tag, layer, ops_image, edge_image, lsj):
    img = ops_image if tag.startswith("ops") else edge_image
    case = next((c for c in img.cases.values() if c.tag == tag), None)
    exp = expected_layers(img, tag, layer, case)
    problems = []
    for e in ls_doc(lsj, img, tag, layer)["entries"]:
        p = rel(e["path"])
        if layer is not None and not (isinstance(e.get("layer"), int) and e["layer"] <= layer):
            problems.append(f"{p}: layer={e.get('layer')!r} > --layer {layer}")
        elif p in exp and e.get("layer") != exp[p]:
            problems.append(f"{p}: layer: layerscope={e.get('layer')!r} expected={exp[p]}")
    assert not problems, f"{len(problems)} wrong layer attribution(s):\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------
# changes, known by construction
# --------------------------------------------------------------------------

def changes_doc(lsj, img: O.OverlayImage, tag: str, layer: int | None = None) -> dict:
    doc = lsj("changes", img.arg(tag), "--json", *(["--layer", str(layer)] if layer is not None else []))
    assert doc.get("schema") == "layerscope.changes/2", doc.get("schema")
    return doc


def warning_codes(layer: dict) -> list[str]:
    out = []
    for w in layer.get("warnings") or []:
        out.append(w.get("code") if isinstance(w, dict) else str(w))
    return out


def check_changes(got: list[dict], want: list[Change], where: str) -> list[str]:
    by: dict[str, list[dict]] = defaultdict(list)
    for c in got:
        by[rel(c.get("path"))].append(c)
    out = []
    for w in want:
        cands = by.get(w.path)
        if not cands:
            out.append(f"{where} {w.path}: no change listed, want {w.change}")
            continue
        c = cands[-1]
        ok_change = w.change if isinstance(w.change, tuple) else (w.change,)
        if c.get("change") not in ok_change:
            out.append(f"{where} {w.path}: change={c.get('change')!r}, want {' or '.join(ok_change)}")
        for f in ("type", "size", "removed_bytes"):
            v = getattr(w, f)
            if v is not None and c.get(f) != v:
                out.append(f"{where} {w.path} ({c.get('change')}): {f}={c.get(f)!r}, want {v!r}")
    return out


def allowed_paths(raw: bytes, resolve: dict[str, str], implied: set[str]) -> tuple[set[str], set[str], set[str]]:
    entries, wh = O.layer_paths(raw)
    entries = {resolve.get(p, p) for p in entries} | set(implied)
    wh = {resolve.get(p, p) for p in wh}
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        nondirs = {resolve.get(O.norm(ti.name), O.norm(ti.name)) for ti in tf if not ti.isdir()}
    return entries, wh, nondirs


def untouched(got: list[dict], raw: bytes, resolve: dict[str, str] | None = None,
              implied: set[str] = frozenset()) -> list[str]:
    """Changes must name paths the layer's tar touches: an entry, a whiteout
    / opaque target or something below one, or the subtree of a directory
    the layer replaces by a non-directory."""
    entries, wh, nondirs = allowed_paths(raw, resolve or {}, implied)
    out = []
    for c in got:
        p = rel(c.get("path"))
        anc = {"/".join(p.split("/")[:i]) for i in range(1, p.count("/") + 1)}
        if p in entries or p in wh or anc & wh or anc & nondirs:
            continue
        out.append(f"{p}: {c.get('change')} listed, but the layer has no entry or whiteout for it")
    return out


def test_ops_changes(ops_image, lsj):
    img = ops_image
    doc = changes_doc(lsj, img, "ops3")
    man = O.manifest_of(img.layout, "ops3")
    raws = O.layer_tars(img.layout, "ops3")
    layers = doc["layers"]
    assert [l.get("index") for l in layers] == [0, 1, 2]
    problems = []
    for i, l in enumerate(layers):
        if l.get("digest") != man["layers"][i]["digest"]:
            problems.append(f"layer {i}: digest {l.get('digest')} != {man['layers'][i]['digest']}")
        if l.get("created_by") != img.created_by[i]:   # the empty_layer ENV entry is not a layer
            problems.append(f"layer {i}: created_by {l.get('created_by')!r} != {img.created_by[i]!r}")
        for c in l.get("changes", []):
            if c.get("change") not in ("added", "modified", "metadata", "deleted", "opaque"):
                problems.append(f"layer {i} {c.get('path')}: unknown change {c.get('change')!r}")
            if c.get("change") == "added" and c.get("removed_bytes") != 0:
                problems.append(f"layer {i} {c.get('path')}: added with removed_bytes={c.get('removed_bytes')}")
        problems += check_changes(l.get("changes", []), img.changes[i], f"layer {i}")
        problems += [f"layer {i} {p}" for p in untouched(l.get("changes", []), raws[i])]
    # layer 0 adds everything: no deletions, nothing hidden
    for c in layers[0].get("changes", []):
        if c.get("change") != "added":
            problems.append(f"layer 0 {c.get('path')}: {c.get('change')} in the first layer")
    if "noop-whiteout" in warning_codes(layers[2]):
        problems.append(f"layer 2: noop-whiteout warning, but it whites out existing paths: {layers[2]['warnings']}")
    assert not problems, f"{len(problems)} problem(s) in `changes --json ops3`:\n  " + "\n  ".join(problems)


def test_changes_layer_option(ops_image, lsj):
    full = changes_doc(lsj, ops_image, "ops3")["layers"]
    for n in range(3):
        one = changes_doc(lsj, ops_image, "ops3", n)["layers"]
        assert len(one) == 1 and one[0] == full[n], f"--layer {n}"


@pytest.mark.parametrize("case", EDGE)
def test_edge_changes(case, edge_image, lsj):
    c = edge_image.cases[case]
    doc = changes_doc(lsj, edge_image, c.tag)
    assert len(doc["layers"]) == 2
    top = doc["layers"][1]
    raw = O.layer_tars(edge_image.layout, c.tag)[1]
    problems = check_changes(top.get("changes", []), c.changes, f"layer 1 ({case})")
    listed = {w.path for w in c.changes}
    for ch in top.get("changes", []):  # nothing was below an added path
        if ch.get("change") == "added" and ch.get("removed_bytes") != 0 and rel(ch.get("path")) not in listed:
            problems.append(f"{ch.get('path')}: added with removed_bytes={ch.get('removed_bytes')}")
    problems += untouched(top.get("changes", []), raw, c.resolve, c.implied_dirs)
    codes = warning_codes(top)
    for w in c.warnings:
        if w not in codes:
            problems.append(f"warning {w!r} missing; warnings: {top.get('warnings')}")
    if not c.warnings and "noop-whiteout" in codes:
        problems.append(f"unexpected noop-whiteout warning: {top.get('warnings')}")
    base = doc["layers"][0]
    if base.get("warnings"):
        problems.append(f"layer 0 (umoci repack) warnings: {base['warnings']}")
    assert not problems, f"{len(problems)} problem(s) in `changes --json edge:{c.tag}`:\n  " + "\n  ".join(problems)
