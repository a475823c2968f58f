"""The one cattrs converter for coprolib records, and error messages with the path of each
bad field.

Structuring is strict: a number is not a string, a string is not a list, unknown fields are
errors. The fast converter is used first; only when it fails is the input structured again with
detailed validation to collect every problem with its path.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)

from coprolib.errors import CoprolibError
from coprolib.records import RecordError, enums

T = TypeVar("T")

_TYPE_WORDS = {str: "a string", int: "a whole number", bool: "true or false", float: "a number"}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _enum_word(cls: type[enum.Enum]) -> str:
    words: list[str] = []
    for ch in cls.__name__:
        if ch.isupper() and words:
            words.append(" ")
        words.append(ch.lower())
    text = "".join(words)
    return {"s a r domain": "SAR domain"}.get(text, text)


def _strict(kind: type[Any]) -> Callable[[Any, Any], Any]:
    def hook(value: Any, _: Any) -> Any:
        if type(value) is kind or (kind is float and type(value) is int):
            return value
        raise TypeError(f"expected {_TYPE_WORDS[kind]}, got {_describe(value)}")

    return hook


def _structure_date(value: Any, _: Any) -> dt.date:
    if not isinstance(value, str):
        raise TypeError(f"expected a date as text (YYYY-MM-DD), got {_describe(value)}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (use YYYY-MM-DD)") from None


def _structure_datetime(value: Any, _: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected a date and time as text, got {_describe(value)}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date and time (use 2025-03-01T10:00:00Z)") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} needs a time zone (for example 2025-03-01T10:00:00Z)")
    return parsed


def _unstructure_datetime(value: dt.datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _enum_hook_factory(cls: type[enum.Enum]) -> Callable[[Any, Any], Any]:
    by_value = {m.value: m for m in cls}
    word = _enum_word(cls)
    article = "an" if word[:1] in "aeiou" else "a"
    choices = ", ".join(str(m.value) for m in cls)

    def hook(value: Any, _: Any) -> Any:
        if not isinstance(value, bool):
            try:
                return by_value[value]
            except (KeyError, TypeError):
                pass
        raise ValueError(f"{_describe(value)} is not {article} {word} (one of: {choices})")

    return hook


def _enum_as_is(member: enum.Enum) -> Any:
    # Every coprolib enumeration subclasses str or int, so JSON writes its value as it is;
    # reading ``.value`` for each member would cost more than all other unstructuring.
    return member


_ENUMS: tuple[type[enum.Enum], ...] = tuple(
    v
    for v in vars(enums).values()
    if isinstance(v, type)
    and issubclass(v, enum.Enum)
    and v.__module__ == enums.__name__
    and not v.__name__.startswith("_")
)


def _is_tuple_type(t: Any) -> bool:
    return typing.get_origin(t) is tuple


def _tuple_hook_factory(t: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    elem = typing.get_args(t)[0]
    inner = conv.get_structure_hook(elem)
    detailed = conv.detailed_validation
    if not detailed and elem is str:
        return _str_tuple
    if not detailed and elem in _ENUMS and all(type(m.value) is str for m in elem):
        return _enum_tuple_hook(elem)

    def hook(value: Any, _: Any) -> tuple[Any, ...]:
        if type(value) is not list and type(value) is not tuple:
            raise TypeError(f"expected a list, got {_describe(value)}")
        if not value:
            return ()
        if not detailed:
            return tuple([inner(v, elem) for v in value])
        out = []
        errors: list[Exception] = []
        for i, v in enumerate(value):
            try:
                out.append(inner(v, elem))
            except Exception as exc:
                exc.__notes__ = [*getattr(exc, "__notes__", []), _Index(i)]
                errors.append(exc)
        if errors:
            raise IterableValidationError("list items failed", errors, t)
        return tuple(out)

    return hook


# The fast converter's hooks only have to be right when the input is: on any error the
# input is structured again by the detailed converter, which says what is wrong and where.


def _str_tuple(value: Any, _: Any) -> tuple[str, ...]:
    if type(value) is not list and type(value) is not tuple:
        raise TypeError("expected a list")
    for v in value:
        if type(v) is not str:
            raise TypeError("expected a string")
    return tuple(value)


def _enum_tuple_hook(cls: type[enum.Enum]) -> Callable[[Any, Any], tuple[Any, ...]]:
    by_value = {m.value: m for m in cls}

    def hook(value: Any, _: Any) -> tuple[Any, ...]:
        if type(value) is not list and type(value) is not tuple:
            raise TypeError("expected a list")
        # Every value is a string, so a number, true/false or null is a KeyError here.
        return tuple([by_value[v] for v in value])

    return hook


def _optional_record(t: Any) -> bool:
    args = typing.get_args(t)
    return (
        typing.get_origin(t) in (typing.Union, types.UnionType)
        and len(args) == 2
        and type(None) in args
        and any(attrs.has(a) for a in args)
    )


def _optional_record_unstructure(conv: cattrs.Converter, t: Any) -> Callable[[Any], Any]:
    cls = next(a for a in typing.get_args(t) if a is not type(None))
    inner = conv.get_unstructure_hook(cls)
    return lambda value: None if value is None else inner(value)


class _Index(str):
    """A note on an exception that records its list index."""

    position: int

    def __new__(cls, position: int) -> _Index:
        obj = super().__new__(cls, f"at index {position}")
        obj.position = position
        return obj


def _make(detailed: bool) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=detailed)
    for kind in (str, int, bool, float):
        conv.register_structure_hook(kind, _strict(kind))
    # Each enumeration by its own class: more specific than the str/int hooks above.
    for cls in _ENUMS:
        conv.register_structure_hook(cls, _enum_hook_factory(cls))
        conv.register_unstructure_hook(cls, _enum_as_is)
    conv.register_structure_hook(dt.date, _structure_date)
    conv.register_unstructure_hook(dt.date, dt.date.isoformat)
    conv.register_structure_hook(dt.datetime, _structure_datetime)
    conv.register_unstructure_hook(dt.datetime, _unstructure_datetime)
    conv.register_structure_hook_factory(_is_tuple_type, lambda t: _tuple_hook_factory(t, conv))
    # Later factories take precedence: tuples of records need each item unstructured.
    conv.register_unstructure_hook_factory(_is_tuple_type, lambda t: list)
    conv.register_unstructure_hook_factory(
        lambda t: _is_tuple_type(t) and _needs_unstructure(typing.get_args(t)[0]),
        lambda t: _tuple_unstructure(conv, typing.get_args(t)[0]),
    )
    # Without this, cattrs dispatches on the runtime class of every optional nested record.
    conv.register_unstructure_hook_factory(
        _optional_record, lambda t: _optional_record_unstructure(conv, t)
    )
    return conv


def _needs_unstructure(t: Any) -> bool:
    # Primitives and str/int enumerations are already JSON-ready.
    return not (isinstance(t, type) and issubclass(t, str | int | float))


def _tuple_unstructure(conv: cattrs.Converter, inner_t: Any) -> Callable[[Any], list[Any]]:
    inner = conv.get_unstructure_hook(inner_t)
    return lambda value: [inner(v) for v in value]


#: The converter used everywhere: fast, no detailed validation.
converter = _make(detailed=False)
_detailed = _make(detailed=True)


def unstructure(record: Any) -> Any:
    """A record as plain JSON-ready data (dicts, lists, strings, numbers)."""
    return converter.unstructure(record, type(record))


def structure(data: Any, cls: type[T], path: str = "$") -> T:
    """Build a ``cls`` from plain data, raising :class:`StructureError` with every problem."""
    try:
        return converter.structure(data, cls)
    except Exception:
        pass
    try:
        return _detailed.structure(data, cls)
    except Exception as exc:
        raise StructureError(list(explain(exc, path))) from None


@attrs.frozen
class Problem:
    """One thing wrong with some input, with the path to where it is."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class StructureError(CoprolibError, ValueError):
    """Input that could not become records; ``problems`` lists each with its path."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def _known_fields(cls: Any) -> str:
    try:
        return ", ".join(a.name for a in attrs.fields(cls))
    except (TypeError, attrs.exceptions.NotAnAttrsClassError):
        return ""


def explain(exc: BaseException, path: str) -> Iterator[Problem]:
    """Turn a (possibly nested) structuring error into problems with paths."""
    if isinstance(exc, ForbiddenExtraKeysError):
        known = _known_fields(exc.cl)
        for key in sorted(exc.extra_fields):
            yield Problem(_join(path, key), f"unknown field (known fields: {known})")
        return
    if isinstance(exc, ClassValidationError | IterableValidationError):
        for sub in exc.exceptions:
            sub_path = path
            for note in getattr(sub, "__notes__", []):
                if isinstance(note, _Index):
                    sub_path = _join(path, note.position)
                elif hasattr(note, "name"):
                    sub_path = _join(path, note.name)
                elif hasattr(note, "index"):
                    sub_path = _join(path, note.index)
            yield from explain(sub, sub_path)
        return
    if isinstance(exc, KeyError):
        yield Problem(path, "required field is missing")
        return
    if isinstance(exc, RecordError):
        yield Problem(_join(path, exc.field), exc.message)
        return
    if isinstance(exc, TypeError) and "__init__()" in str(exc):
        yield Problem(path, str(exc).split("__init__() ", 1)[1])
        return
    yield Problem(path, str(exc))


def make_converter() -> cattrs.Converter:
    """A new converter built as the records' one is (strict types, enumerations, dates, tuples,
    unknown fields refused, detailed errors), for other input read from files, such as
    ``coprolib.toml``: register that input's own hooks on it. Use it with
    :func:`structure_with`."""
    return _make(detailed=True)


def structure_with(conv: cattrs.Converter, data: Any, cls: type[T], path: str = "$") -> T:
    """:func:`structure` with a converter from :func:`make_converter`."""
    try:
        return conv.structure(data, cls)
    except Exception as exc:
        raise StructureError(list(explain(exc, path))) from None


def register_type_hooks(
    cls: type[T], structure_hook: Callable[[Any, Any], T], unstructure_hook: Callable[[T], Any]
) -> None:
    """Teach both converters (fast and detailed) how to build and flatten ``cls``."""
    for conv in (converter, _detailed):
        conv.register_structure_hook(cls, structure_hook)
        conv.register_unstructure_hook(cls, unstructure_hook)
