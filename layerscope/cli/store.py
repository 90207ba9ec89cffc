"""``layerscope store ...``: the dedup blob store (layerscope/store/, docs/store.md)."""

from __future__ import annotations

import sys

import click

from .options import handle_errors, layer_limit_options, registry_options
from .output import Output, emit, output_options


def _bar(total: int | None, desc: str, enabled: bool | None, *, absolute: bool = False):
    """A bytes progress bar on stderr (only on a terminal unless asked): its update function
    takes bytes done since the last call, or with ``absolute`` (done, total) so far."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, file=sys.stderr, leave=False)
    if not absolute:
        return bar.update, bar.close

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return update, bar.close


_STORE = click.option("--store", "store_path", metavar="DIR", envvar="LAYERSCOPE_STORE",
                      help="The store (default: $LAYERSCOPE_STORE, else ~/.local/share/layerscope/store).")
_PROGRESS = click.option("--progress/--no-progress", default=None,
                         help="Progress bar on stderr (default: only on a terminal).")


def _open(path):
    from ..store.api import Store

    return Store(path)


@click.group()
def store() -> None:
    """Keep many images in little space; give them back bit for bit."""
    from ..sysinfo import keep_freed_buffers

    keep_freed_buffers()  # add and export stream a MiB at a time: reuse the buffers (sysinfo.py)


@store.command("init")
@_STORE
@handle_errors
def init(store_path: str | None) -> None:
    """Create an empty store."""
    from ..store.api import Store

    with Store.init(store_path) as s:
        click.echo(f"initialised a store at {s.path}")


@store.command("add")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--name", help="The name to keep one image under (default: its reference, or the file name).")
@click.option("--all-images", is_flag=True, help="Every image of a multi-image archive or OCI layout.")
@click.option("--platform", metavar="OS/ARCH[/VARIANT]", help="Platform to pick from multi-platform indexes.")
@_STORE
@_PROGRESS
@registry_options
@layer_limit_options
@handle_errors
def add(images: tuple[str, ...], name: str | None, all_images: bool, platform: str | None, store_path: str | None,
        progress: bool | None) -> None:
    """Add images (anything `inspect` reads); layers the store has are not read again."""
    tick, done = _bar(None, "add", progress)
    try:
        with _open(store_path) as s:
            added = s.add(list(images), name=name, all_images=all_images, platform=platform, progress=tick)
    finally:
        done()
    from ..units import human_size

    for a in added:
        click.echo(f"added {a.name}: {_n(a.layers, 'layer')}, {a.layers_read} read ({human_size(a.bytes_read)}), "
                   f"{a.layers - a.layers_read} already in the store")


@store.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print a layerscope.store.ls/1 JSON document.")
@_STORE
@handle_errors
def ls(as_json: bool, store_path: str | None) -> None:
    """The images in the store."""
    with _open(store_path) as s:
        rows = s.images()
        doc = {"schema": "layerscope.store.ls/1", "store": str(s.path),
               "images": [{"name": r.name, "added": r.added, "config_digest": r.record["config_digest"],
                           "layers": [x["diff_id"] for x in r.record["layers"]], "source": r.record["source"],
                           "format": r.record["format"]} for r in rows]}
    if as_json:
        from ..report.json_out import dumps

        click.echo(dumps(doc))
        return
    for r in doc["images"]:
        click.echo(f"{r['name']}  {r['config_digest'][:19]}  {_n(len(r['layers']), 'layer')}  (from {r['source']})")


@store.command("export")
@click.argument("name")
@click.option("-o", "--output", "out", required=True, metavar="OUT", help="The archive (or directory) to write.")
@click.option("--format", "fmt", type=click.Choice(["docker-archive", "oci-archive", "oci-dir"]),
              default="docker-archive", show_default=True)
@click.option("--compress", type=click.Choice(["none", "gzip", "zstd"]), default="none", show_default=True,
              help="Layer compression (gzip / zstd: new blob digests; the diff_ids and image ID stay).")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@_STORE
@_PROGRESS
@handle_errors
def export(name: str, out: str, fmt: str, compress: str, force: bool, store_path: str | None,
           progress: bool | None) -> None:
    """Write image NAME out; every layer is checked against its diff_id as it is written."""
    tick, done = _bar(None, "export", progress)
    try:
        with _open(store_path) as s:
            s.export(name, out, format=fmt, compress=compress, overwrite=force, progress=tick)
    finally:
        done()
    click.echo(f"exported {name} to {out} ({fmt}, {compress})")


@store.command("rm")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@_STORE
@handle_errors
def rm(names: tuple[str, ...], store_path: str | None) -> None:
    """Forget images (their space comes back with `store gc`)."""
    from ..errors import UsageError

    with _open(store_path) as s:
        missing = [n for n in names if not s.remove(n)]
    if missing:
        raise UsageError(f"not in the store: {', '.join(missing)}")


@store.command("gc")
@_STORE
@_PROGRESS
@handle_errors
def gc(store_path: str | None, progress: bool | None) -> None:
    """Remove what no image references."""
    tick, done = _bar(None, "gc", progress, absolute=True)
    try:
        with _open(store_path) as s:
            result = s.gc(progress=tick)
    finally:
        done()
    from ..units import human_size

    click.echo(f"gc: {_n(result.images, 'image')} kept; removed {_n(result.layers_removed, 'layer')}, "
               f"{_n(result.blobs_removed, 'blob')}, {_n(result.chunks_removed, 'chunk')}; "
               f"{_n(result.packs_deleted, 'pack')} deleted, "
               f"{result.packs_rewritten} rewritten; {human_size(result.bytes_freed)} freed")


@store.command("verify")
@click.option("--full", is_flag=True, help="Re-read every chunk and check its sha256 (else: the index and packs agree).")
@_STORE
@_PROGRESS
@handle_errors
def verify(full: bool, store_path: str | None, progress: bool | None) -> None:
    """Check the store; exit 1 naming what is damaged and which images it breaks."""
    tick, done = _bar(None, "verify", progress, absolute=True)
    try:
        with _open(store_path) as s:
            problems = s.verify(full=full, progress=tick)
    finally:
        done()
    for p in problems:
        click.echo(f"damaged: {p}")
    if problems:
        sys.exit(1)
    click.echo("ok")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


@store.command("stats")
@output_options
@_STORE
@handle_errors
def stats(out: Output, store_path: str | None) -> None:
    """What the store holds and what it takes on disk.

    --json prints a layerscope.store.stats/1 document (docs/json.md).
    """
    from ..report import store_out

    with _open(store_path) as s:
        doc = store_out.stats_doc(s.stats(), str(s.path))
    emit(out, lambda: doc, lambda _color, _all: store_out.stats_text(doc))
