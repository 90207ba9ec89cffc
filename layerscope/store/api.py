"""``layerscope.Store``: the dedup blob store as one object (what ``layerscope store`` runs).

The pieces: ``repo.py`` (the repository: index, packs, gc, verify), ``recipe.py``
(a layer <-> chunks), ``ingest.py`` (adding images), ``export.py`` (writing
them out). This module only joins them; see docs/store.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import BadInputError, UsageError

TYPE_CHECKING = False  # not from typing: start-up time (`store ls` needs none of the readers)
if TYPE_CHECKING:
    from .ingest import Added


def _repo_tags(name: str, ref: str | None) -> list[str]:
    """docker-archive RepoTags: the image's own reference when it is a tagged one (a docker-archive's,
    ``NAME:TAG``), else the store name when that is one; OCI ref names such as ``latest`` are not."""
    for candidate in (ref, name):
        if candidate and ":" in candidate.rsplit("/", 1)[-1] and "@" not in candidate:
            return [candidate]
    return []


def default_path() -> Path:
    """``LAYERSCOPE_STORE``, else ``$XDG_DATA_HOME/layerscope/store`` (``~/.local/share/...``)."""
    env = os.environ.get("LAYERSCOPE_STORE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "layerscope" / "store"


class Store:
    """A repository of images kept as deduplicated chunks, given back bit for bit.

    ``Store.init(path)`` makes one; ``Store(path)`` opens one (``None``: :func:`default_path`).
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        from .repo import Repository

        self.path = Path(path) if path is not None else default_path()
        self.repo = Repository.open(self.path)

    @classmethod
    def init(cls, path: str | os.PathLike | None = None) -> Store:
        from .repo import Repository

        target = Path(path) if path is not None else default_path()
        Repository.create(target).close()
        return cls(target)

    def close(self) -> None:
        self.repo.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, images: Iterable[str], *, name: str | None = None, all_images: bool = False,
            platform: str | None = None, progress: Callable[[int], None] | None = None) -> list[Added]:
        """Keep each image (one transaction each); layers the store holds are not read again."""
        from .ingest import add

        return add(self.repo, images, name=name, all_images=all_images, platform=platform, progress=progress)

    def images(self):
        """The images' rows, each record checked to be of the shape ingest writes."""
        rows = self.repo.images()
        for row in rows:
            _check_record(row.name, row.record, os.path.join(self.repo.root, "index.sqlite"))
        return rows

    def layer_bytes(self, diff_id: str):
        """The layer tar rebuilt from its chunks, in pieces (checked by whoever writes it out)."""
        from .recipe import Recipe, rebuild

        row = self.repo.layer(diff_id)
        if row is None:
            raise BadInputError(f"layer {diff_id} is not in the store", where=str(self.path))
        recipe = Recipe(row.size, row.pairs, row.structure_ids, row.content_ids, row.xxh3)
        return rebuild(recipe, self.repo.read)

    def export(self, name: str, out: str | os.PathLike, *, format: str = "docker-archive", compress: str = "none",
               overwrite: bool = False, progress: Callable[[int], None] | None = None):
        """Write image ``name`` to ``out``; its layers' sha256 are checked against their diff_ids."""
        from .export import ExportImage, ExportLayer, write_image

        row = self.repo.image(name)
        if row is None:
            raise UsageError(f"no image {name!r} in the store {self.path}")
        record = row.record
        _check_record(name, record, os.path.join(self.repo.root, "index.sqlite"))
        layers = []
        for entry in record["layers"]:
            diff_id = entry["diff_id"]
            layer = self.repo.layer(diff_id)
            if layer is None:
                raise BadInputError(f"layer {diff_id} of {name!r} is missing from the store", where=str(self.path))
            layers.append(ExportLayer(diff_id=diff_id, size=layer.size, open=lambda d=diff_id: self.layer_bytes(d),
                                      checked=layer.xxh3 is not None))
        image = ExportImage(config=self.repo.blob(record["config_digest"]), layers=layers,
                            repo_tags=_repo_tags(name, record.get("ref")), ref_name=record.get("ref") or name)
        return write_image(out, image, format=format, compress=compress, overwrite=overwrite, progress=progress)

    def remove(self, name: str) -> bool:
        return self.repo.remove(name)

    def gc(self, progress: Callable[[int], None] | None = None):
        return self.repo.gc(progress=progress)

    def verify(self, *, full: bool = False, progress: Callable[[int], None] | None = None):
        """Problems found, each naming the layers and images it breaks. Full: every chunk re-read
        and hashed (the repository), then every layer rebuilt and its sha256 matched to its diff_id."""
        problems = self.repo.verify(full=full, progress=progress)
        if full and not problems:
            problems = self._verify_layers()
        return problems

    def _verify_layers(self) -> list:
        import hashlib

        from ..errors import LayerscopeError
        from .repo import Problem

        users: dict[str, list[str]] = {}
        for row in self.repo.images():
            for diff_id in row.layers:
                users.setdefault(diff_id, []).append(row.name)
        problems = []
        for diff_id, names in sorted(users.items()):
            algo, _, want = diff_id.partition(":")
            h = hashlib.new(algo)
            try:
                for piece in self.layer_bytes(diff_id):
                    h.update(piece)
            except LayerscopeError as e:
                problems.append(Problem(f"layer {diff_id}", str(e), [diff_id], sorted(names)))
                continue
            if h.hexdigest() != want:
                problems.append(Problem(f"layer {diff_id}", f"rebuilt as {algo}:{h.hexdigest()}", [diff_id],
                                        sorted(names)))
        return problems

    def stats(self):
        return self.repo.stats()


def _check_record(name: str, rec: object, index: str) -> None:
    """An image record has the shape ingest writes (the index is a file anyone can edit: a wrong
    shape is one line naming the image, not a KeyError); its digests are parsed where used."""
    def text(v: object) -> bool:
        return isinstance(v, str)

    ok = (isinstance(rec, dict) and isinstance(rec.get("layers"), list)
          and all(isinstance(x, dict) and text(x.get("diff_id")) for x in rec["layers"])
          and all(text(rec.get(k)) for k in ("config_digest", "source", "format"))
          and (rec.get("ref") is None or text(rec.get("ref"))))
    if not ok:
        raise BadInputError(f"image {name!r}: its record is damaged (not the shape the store writes)", where=index)
