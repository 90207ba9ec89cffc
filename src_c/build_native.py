"""Build ``layerscope._native`` from the C sources in src_c/ with cffi (API mode).

setup.py names ``src_c/build_native.py:ffibuilder`` in ``cffi_modules``, so
``pip install`` (editable or not) compiles the module.  API mode is used
because it compiles a real extension (no run-time compiler, no dlopen of a
loose .so) and because cffi releases the GIL around every call into it, so
chunking runs in parallel with other Python threads.

To add a C component: put ``foo.c`` and ``foo.h`` in src_c/ and append
``"foo"`` to ``COMPONENTS``.  The header's declarations between the
``/* cffi-cdef-begin */`` and ``/* cffi-cdef-end */`` markers are what Python
sees; they are read from the header so they are written only once.

For a quick in-tree build without pip: ``python src_c/build_native.py``.
"""
from __future__ import annotations

import os
import re
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

# One entry per C component: src_c/<name>.c with its header src_c/<name>.h.
COMPONENTS = ["fastcdc", "chunksink", "tarscan", "heap", "memeq", "chunkmerge"]

_CDEF = re.compile(r"/\*\s*cffi-cdef-begin\s*\*/(.*?)/\*\s*cffi-cdef-end\s*\*/", re.S)


def _rel(path: str) -> str:
    # setuptools wants source paths relative to the project root (setup.py's
    # directory, which is the working directory during a build).
    return os.path.relpath(path, os.getcwd())


def _cdef(header: str) -> str:
    with open(header, encoding="utf-8") as f:
        text = f.read()
    match = _CDEF.search(text)
    if match is None:
        raise RuntimeError(f"{header}: no cffi-cdef-begin/end section")
    return match.group(1)


def _compile_args() -> list[str]:
    if sys.platform == "win32" and "GCC" not in sys.version:
        return ["/O2"]
    # Portable wheels: optimise hard, but never for the build machine's CPU
    # (no -march/-mtune=native).
    return ["-O3", "-funroll-loops"]


ffibuilder = FFI()
for _name in COMPONENTS:
    ffibuilder.cdef(_cdef(os.path.join(HERE, _name + ".h")))

ffibuilder.set_source(
    "layerscope._native",
    "\n".join(f'#include "{name}.h"' for name in COMPONENTS),
    sources=[_rel(os.path.join(HERE, name + ".c")) for name in COMPONENTS],
    include_dirs=[_rel(HERE)],
    extra_compile_args=_compile_args(),
)

if __name__ == "__main__":
    # In-tree build: leaves layerscope/_native.*.so next to the package.
    ffibuilder.compile(tmpdir=os.path.dirname(HERE), verbose=True)
