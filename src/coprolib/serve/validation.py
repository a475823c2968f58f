"""Request bodies checked against the same JSON Schemas the OpenAPI document publishes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coprolib.serve.problems import Problem

#: A Standard Webhooks message this API acts on.
WEBHOOK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "data"],
    "properties": {
        "type": {"type": "string", "enum": ["consent.withdrawn"]},
        "timestamp": {"type": "string"},
        "data": {
            "type": "object",
            "required": ["contributor_id"],
            "properties": {
                "contributor_id": {"type": "string", "minLength": 1, "maxLength": 200},
                "story_id": {"type": "string", "minLength": 1, "maxLength": 200},
                "reason": {"type": "string", "maxLength": 2000},
                "purposes": {"type": "array", "items": {"type": "string"}},
                "audiences": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}


def _where(path: Any) -> str:
    parts = [str(p) if not isinstance(p, int) else f"[{p}]" for p in path]
    return ".".join(parts).replace(".[", "[") or "body"


def validate_body(schema: Mapping[str, Any], body: Any) -> None:
    """:class:`Problem` 422 naming the first field ``body`` gets wrong."""
    from jsonschema import Draft202012Validator, FormatChecker

    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    first = errors[0]
    field = _where(first.absolute_path)
    if first.validator == "required":
        missing = str(first.message).split("'")[1] if "'" in first.message else ""
        field = f"{field}.{missing}" if field != "body" else missing
    elif first.validator == "additionalProperties":
        extra = str(first.message).split("'")[1] if "'" in first.message else ""
        field = f"{field}.{extra}" if field != "body" else extra
    raise Problem(422, f"{field}: {first.message}", field=field)


def validate_value(schema: Mapping[str, Any], value: str, name: str) -> None:
    """:class:`Problem` 400 when a query parameter does not fit its schema."""
    from jsonschema import Draft202012Validator, FormatChecker

    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    for error in validator.iter_errors(value):
        raise Problem(400, f"{name}: {error.message}", field=name or "query")
