"""setup.py exists only so cffi can compile the native core at install time.

The C core is optional: without a working C compiler (or Python headers) the
build prints one warning line and the package installs without
``layerscope._native``; ``layerscope.chunk`` then runs the pure-Python
FastCDC (same cut points, same digests, slower) and ``layerscope --version``
says so.  pip shows build output only with ``-v``.
"""
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, ExecError, PlatformError


class optional_build_ext(build_ext):
    """build_ext that degrades to "no C core" instead of failing the install."""

    def run(self):
        try:
            super().run()
        except PlatformError as e:  # no compiler configured at all
            _warn(e)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except (CCompilerError, ExecError, PlatformError, OSError) as e:  # CompileError, LinkError: CCompilerError
            _warn(e)


def _warn(error: BaseException) -> None:
    reason = " ".join(str(error).split()) or type(error).__name__
    if len(reason) > 160:  # a failed compiler command line; the compiler's own output is above
        reason = reason[:160] + "..."
    print(f"WARNING: layerscope: C core not built ({reason}); installing the pure-Python tar reader and chunker "
          "(same results, slower)", file=sys.stderr, flush=True)


# cffi wraps the build_ext it finds in cmdclass (it generates the C source, then calls ours)
setup(cffi_modules=["src_c/build_native.py:ffibuilder"], cmdclass={"build_ext": optional_build_ext})
