"""Wall time of one layerscope command line, for the side-by-side scripts."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def byte_compile() -> None:
    """Write layerscope's .pyc files, as ``pip install`` does: a checkout run with
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module in every process
    (~80 ms a start)."""
    import compileall

    import layerscope

    compileall.compile_dir(os.path.dirname(layerscope.__file__), quiet=1)


def layerscope_exe() -> str:
    """The ``layerscope`` installed next to this Python (install it non-editable for figures)."""
    return os.path.join(os.path.dirname(sys.executable), "layerscope")


def timed(cmd: list[str], cache: str = "off") -> float:
    """Seconds ``cmd`` took, with ``LAYERSCOPE_CACHE=cache``; stdout dropped, failure raised."""
    env = dict(os.environ, LAYERSCOPE_CACHE=cache)
    t = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t
