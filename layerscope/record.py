"""Plain slotted record classes: what ``@dataclass(slots=True)`` gave, without its start-up cost.

A dataclass is generated at import: ``exec`` of its ``__init__``,
``__repr__`` and ``__eq__`` source, then the class is built again for
``__slots__`` (0.4-1.3 ms per class; the 16 on the ``inspect`` path cost
~11 ms of a ~90 ms run). A record instead writes its ``__slots__`` (the
fields, in order) and its ``__init__`` by hand, as a plain positional
function (``Entry`` is built 150,000 times by ``map(Entry, ...)``), and
inherits from :class:`Record` what a dataclass would have generated:

* ``__eq__`` over the fields (same class only), ``__hash__ = None``;
* ``__repr__`` as a dataclass's, ``Name(field=value, ...)``;
* :meth:`Record.replace`, as ``dataclasses.replace``.

``class R(Record, hidden=("f",))`` leaves field ``f`` out of ``__repr__``
and ``__eq__`` (a dataclass's ``field(repr=False, compare=False)``).
:class:`FrozenRecord` adds ``frozen=True``: assignment raises, the record
hashes by its fields, pickles and copies through ``__init__``; its
``__init__`` sets fields with ``object.__setattr__``.
"""

from __future__ import annotations

from operator import attrgetter

__all__ = ["FrozenInstanceError", "FrozenRecord", "Record", "fields"]


def fields(cls: type) -> tuple[str, ...]:
    """A record class's field names, in ``__init__`` order (``dataclasses.fields``, by name)."""
    return cls._fields


class Record:
    """Base of the slotted records: equality, repr and ``replace`` from the subclass's ``__slots__``."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()  # every field, in order (set per subclass from its __slots__)
    _shown: tuple[str, ...] = ()  # the fields repr shows and == compares
    _key = staticmethod(lambda record: ())  # -> the values of _shown, for == and hash

    def __init_subclass__(cls, hidden: tuple[str, ...] = (), **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        slots = cls.__dict__.get("__slots__", ())
        cls._fields = cls._fields + tuple(n for n in slots if not n.startswith("__"))  # not __weakref__
        cls._shown = tuple(n for n in cls._fields if n not in hidden)
        if cls._shown:
            cls._key = staticmethod(attrgetter(*cls._shown))

    __hash__ = None  # mutable and compared by value, as a dataclass with eq=True

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        key = self._key
        return key(self) == key(other)

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._shown)
        return f"{self.__class__.__qualname__}({shown})"

    def replace(self, **changes):
        """A new record of the same class with ``changes`` applied (as ``dataclasses.replace``)."""
        args = {n: getattr(self, n) for n in self._fields}
        unknown = changes.keys() - args.keys()
        if unknown:
            raise TypeError(f"{self.__class__.__qualname__} has no field {sorted(unknown)[0]!r}")
        args.update(changes)
        return self.__class__(**args)


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record (as ``dataclasses.FrozenInstanceError``)."""


class FrozenRecord(Record):
    """A record whose fields cannot be reassigned: hashable, as ``@dataclass(frozen=True)``."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(self._key(self))

    def __reduce__(self):
        # pickle and copy rebuild through __init__: the default would set the slots one by one
        return self.__class__, tuple(getattr(self, n) for n in self._fields)
