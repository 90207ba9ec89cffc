"""The optional C core (``layerscope._native``), asked for one function at a time.

An install without a C compiler has no ``_native``, and one built before a
component existed lacks its function: callers then take their pure-Python
path, so they ask here instead of importing ``_native`` themselves.
"""

from __future__ import annotations

from collections.abc import Callable


def function(name: str) -> Callable | None:
    """``layerscope._native.lib.<name>``, or None when this install does not have it."""
    try:
        from layerscope import _native
    except ImportError:
        return None
    return getattr(_native.lib, name, None)
