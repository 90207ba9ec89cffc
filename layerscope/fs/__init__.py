"""The filesystem model: merged view (whiteouts applied), per-layer changes."""

from .overlay import ADDED, DELETED, METADATA, MODIFIED, OPAQUE, Change, LayerChanges, Overlay, Warning, stack
from .tree import LayerId, Node, Tree

__all__ = ["Overlay", "stack", "Tree", "Node", "LayerId", "Change", "LayerChanges", "Warning",
           "ADDED", "MODIFIED", "METADATA", "DELETED", "OPAQUE"]
