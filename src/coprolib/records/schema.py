"""The JSON Schema of the bundle format, generated from the record types.

The committed copy lives at ``docs/schema/bundle.schema.json``; a test fails when it is stale.
Regenerate it with ``coprolib schema > docs/schema/bundle.schema.json``.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import types
import typing
from typing import Any

import attrs

from coprolib.records import BUNDLE_TYPES
from coprolib.records.bundle import BUNDLE_VERSION

SCHEMA_ID = "urn:coprolib:bundle:1"


def _type_schema(t: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(t) if a is not type(None)]
        inner = _type_schema(options[0], defs)
        return {"anyOf": [inner, {"type": "null"}]}
    if origin is tuple:
        return {"type": "array", "items": _type_schema(typing.get_args(t)[0], defs)}
    if isinstance(t, type) and issubclass(t, enum.Enum):
        return {"$ref": f"#/$defs/{_define_enum(t, defs)}"}
    if attrs.has(t):
        return {"$ref": f"#/$defs/{_define_record(t, defs)}"}
    if t is bool:
        return {"type": "boolean"}
    if t is int:
        return {"type": "integer"}
    if t is float:
        return {"type": "number"}
    if t is str:
        return {"type": "string"}
    if t is dt.datetime:
        return {"type": "string", "format": "date-time"}
    if t is dt.date:
        return {"type": "string", "format": "date"}
    raise TypeError(f"no JSON Schema for {t!r}")


def _define_enum(cls: type[enum.Enum], defs: dict[str, Any]) -> str:
    if cls.__name__ not in defs:
        values = [m.value for m in cls]
        defs[cls.__name__] = {
            "type": "integer" if isinstance(values[0], int) else "string",
            "enum": values,
            "description": (cls.__doc__ or "").strip(),
        }
    return cls.__name__


def _define_record(cls: type[Any], defs: dict[str, Any]) -> str:
    name = cls.__name__
    if name in defs:
        return name
    defs[name] = {}  # placeholder against recursion
    hints = typing.get_type_hints(cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    for a in attrs.fields(cls):
        props[a.name] = _type_schema(hints[a.name], defs)
        if a.default is attrs.NOTHING:
            required.append(a.name)
    defs[name] = {
        "type": "object",
        "description": " ".join((cls.__doc__ or "").split()),
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }
    return name


def bundle_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that every valid bundle satisfies."""
    defs: dict[str, Any] = {}
    props: dict[str, Any] = {"coprolib_bundle": {"const": BUNDLE_VERSION}}
    for key, cls in BUNDLE_TYPES.items():
        props[key] = {"type": "array", "items": {"$ref": f"#/$defs/{_define_record(cls, defs)}"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "coprolib bundle",
        "description": "Contributors, stories, consents, insights, outcomes, feedback, "
        "co-production activities, professionals' proposals and what lived experience said of "
        "them, and involvement over time, as exchanged by coprolib.",
        "type": "object",
        "properties": props,
        "required": ["coprolib_bundle"],
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }


def bundle_schema_text() -> str:
    """The bundle schema as stable, indented JSON text."""
    return json.dumps(bundle_schema(), indent=2, ensure_ascii=False) + "\n"
