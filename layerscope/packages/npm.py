"""npm packages: ``node_modules/[@scope/]NAME/package.json`` at any depth.

A package is known by the directory it is installed in (npm installs
several versions of one name at different depths); its name comes from
``name``, or the directory when the file has none.
"""

from __future__ import annotations

import json

from . import BadDatabase, Package


def read_package_json(path: str, data: bytes) -> tuple[list[Package], list[str]]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadDatabase(f"not valid JSON ({e}); its package is not compared") from None
    if not isinstance(doc, dict):
        raise BadDatabase("not a JSON object; its package is not compared")
    where = path.rpartition("/")[0]
    name = doc.get("name")
    version = doc.get("version")
    if not isinstance(name, str) or not name:
        parent, _, base = where.rpartition("/")
        name = f"{parent.rpartition('/')[2]}/{base}" if parent.rpartition("/")[2].startswith("@") else base
    if not isinstance(version, str) or not version:
        return [], [f"/{path}: no version; its package is not compared"]
    return [Package("npm", name, version, f"/{where}", path)], []
