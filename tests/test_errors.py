"""OSError -> the one-line message users see, built in one place (errors.os_error)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from layerscope.errors import BadInputError, LayerscopeError, NotAnImageError, os_error

PKG = Path(__file__).resolve().parent.parent / "layerscope"


def test_os_error_line():
    e = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/x/y")
    err = os_error(e, "read config file", "cfg.toml")
    assert type(err) is BadInputError and err.where == "cfg.toml"
    assert str(err) == "cfg.toml: cannot read config file: No such file or directory"
    err = os_error(e, "read", "img.tar", cls=NotAnImageError)
    assert type(err) is NotAnImageError and err.exit_code == 2
    assert str(err) == "img.tar: cannot read: No such file or directory"
    # without strerror: the exception's own text; without doing: the reason alone
    assert str(os_error(OSError("odd"), "stat", "p", cls=LayerscopeError)) == "p: cannot stat: odd"
    assert str(os_error(e, where=e.filename)) == "/x/y: No such file or directory"
    assert str(os_error(e)) == "No such file or directory"


@pytest.mark.parametrize("path", sorted(p for p in PKG.rglob("*.py") if p.name != "errors.py"),
                         ids=lambda p: str(p.relative_to(PKG)))
def test_no_local_copies_of_the_mapping(path):
    assert "strerror" not in path.read_text(), f"{path.relative_to(PKG)}: use errors.os_error"
