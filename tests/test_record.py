"""The slotted records (layerscope/record.py) behave as the dataclasses they replaced."""

from __future__ import annotations

import copy
import inspect
import pickle

import pytest

import layerscope.analysis.inspect  # noqa: F401 -- loads every record class on the inspect path
from layerscope.analysis.waste import Waste
from layerscope.fs.overlay import LayerChanges
from layerscope.layer.entry import NO_XATTRS, Entry
from layerscope.layer.scan import LayerScan
from layerscope.record import FrozenInstanceError, FrozenRecord, Record, fields
from layerscope.source.platform import Platform


def _records(cls=Record):
    for sub in cls.__subclasses__():
        if sub is not FrozenRecord:
            yield sub
        yield from _records(sub)


RECORDS = sorted(_records(), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def test_the_inspect_path_has_its_records():
    names = {c.__qualname__ for c in RECORDS}
    assert {"Entry", "Node", "Change", "Warning", "LayerChanges", "Region", "Platform", "LayerRef", "Image",
            "Candidate", "LayerScan", "WastedPath", "Duplicate", "Waste", "LayerInfo", "InspectReport"} <= names


@pytest.mark.parametrize("cls", RECORDS, ids=[c.__qualname__ for c in RECORDS])
def test_fields_slots_annotations_and_init_agree(cls):
    """One order everywhere: __slots__, the annotated fields, the __init__ parameters."""
    names = fields(cls)
    assert names == tuple(n for n in cls.__slots__ if n != "__weakref__")
    assert names == tuple(cls.__annotations__)
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    assert params == list(names), "keyword callers need the field names"
    assert cls.__dictoffset__ == 0, "instances have no __dict__: every class in the chain has __slots__"


def _entry(**kw) -> Entry:
    return Entry("usr/bin/ls", "file", 10, 0o755, 0, 0, 1.0, **kw)


def test_equality_and_repr_as_a_dataclass():
    a, b = _entry(digest=b"x"), _entry(digest=b"x")
    assert a == b and a is not b
    assert a != _entry(digest=b"y")
    assert a != ("usr/bin/ls",) and (a == object()) is False
    with pytest.raises(TypeError):
        hash(a)
    assert repr(a).startswith("Entry(path='usr/bin/ls', kind='file', size=10, mode=493, uid=0, gid=0, mtime=1.0, link=None, ")
    assert repr(a).endswith(", defects=(), data_size=0)")


def test_defaults():
    e = Entry(path="", kind="dir", size=0, mode=0o755, uid=0, gid=0, mtime=0)
    assert e.xattrs is NO_XATTRS and e.link is None and e.digest is None and e.defects == () and e.data_size == 0
    # list defaults are a new list per record, as field(default_factory=list)
    one, two = LayerChanges(0), LayerChanges(1)
    one.changes.append("x")
    assert two.changes == [] and one.warnings is not two.warnings
    assert LayerScan(1, "none", 0, None, None).defects == []


def test_replace():
    a = _entry(link="x")
    b = a.replace(kind="hardlink", link=None)
    assert (b.kind, b.link, b.path, b.size) == ("hardlink", None, a.path, a.size) and (a.kind, a.link) == ("file", "x")
    with pytest.raises(TypeError, match="no field 'nope'"):
        a.replace(nope=1)


def test_hidden_fields_are_not_compared_or_shown():
    args = (10, 5, 5, {}, [], 0.0, 1, 0.5, 5, 0.0)
    a, b = Waste(*args, duplicates_of=[]), Waste(*args, duplicates_of=["other"])
    assert a == b
    assert "duplicates_of" not in repr(a) and repr(a).startswith("Waste(total_bytes=10, ")


def test_weakref_slot_kept():
    import weakref

    w = Waste(10, 5, 5, {}, [], 0.0, 1, 0.5, 5, 0.0)
    assert weakref.ref(w)() is w


def test_frozen():
    p = Platform("linux", "arm64", "v8")
    with pytest.raises(FrozenInstanceError):
        p.os = "windows"
    with pytest.raises(AttributeError):  # FrozenInstanceError is one, as dataclasses'
        del p.variant
    assert p == Platform("linux", "arm64", "v8") and hash(p) == hash(Platform("linux", "arm64", "v8"))
    assert {p: 1}[Platform("linux", "arm64", "v8")] == 1
    assert repr(p) == "Platform(os='linux', architecture='arm64', variant='v8')"
    assert p.replace(variant="") == Platform("linux", "arm64")


@pytest.mark.parametrize("make", [lambda: _entry(xattrs={"user.a": b"1"}, defects=("path-escape",)),
                                  lambda: Platform("linux", "amd64"),
                                  lambda: LayerChanges(3)], ids=["Entry", "Platform", "LayerChanges"])
def test_pickle_and_copy(make):
    r = make()
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(r, proto)) == r
    assert copy.copy(r) == r and copy.deepcopy(r) == r
