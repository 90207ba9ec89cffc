"""JSON documents: a public contract. Fields are added, never renamed, within a schema version."""

from __future__ import annotations

import json
from typing import Any

from ..analysis.inspect import InspectReport

INSPECT_SCHEMA = "layerscope.inspect/1"


def inspect_doc(report: InspectReport) -> dict[str, Any]:
    return {
        "schema": INSPECT_SCHEMA,
        "image": {
            "ref": report.ref,
            "path": report.path,
            "format": report.format,
            "manifest_digest": report.manifest_digest,
            "config_digest": report.config_digest,
            "platform": report.platform,
            "size": report.size,
            "compressed_size": report.compressed_size,
            "verified": report.verified,
        },
        "layers": [
            {
                "index": layer.index,
                "digest": layer.digest,
                "diff_id": layer.diff_id,
                "media_type": layer.media_type,
                "compression": layer.compression,
                "size": layer.size,
                "compressed_size": layer.compressed_size,
                "created_by": layer.created_by,
                "entries": layer.entries,
                "foreign": layer.foreign,
                "urls": layer.urls,
            }
            for layer in report.layers
        ],
        "warnings": report.warnings,
    }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
