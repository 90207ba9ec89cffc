"""setup.py exists only so cffi can compile the native core at install time."""
from setuptools import setup

setup(cffi_modules=["src_c/build_native.py:ffibuilder"])
