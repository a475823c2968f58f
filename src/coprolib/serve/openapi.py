"""The OpenAPI 3.0 document of the API, built from the operations table, and its 2.0 form.

Power Platform custom connectors import OpenAPI 2.0 ("Swagger"); :func:`to_openapi_v2`
converts the subset this document uses (paths, path/query/header parameters, one JSON request
body, JSON responses, a bearer security scheme, ``#/components/schemas`` references).
"""

from __future__ import annotations

import copy
import re
from importlib import metadata
from typing import Any

from coprolib.serve.operations import OPERATIONS, Operation
from coprolib.serve.problems import PROBLEM_JSON, PROBLEM_SCHEMA
from coprolib.serve.settings import ServeSettings
from coprolib.serve.validation import WEBHOOK_SCHEMA

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}}


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or {"type": "object"}}},
    }


def _refusals(*statuses: int) -> dict[str, Any]:
    words = {
        400: "The request is malformed",
        401: "No valid token",
        403: "The token lacks the scope",
        404: "Not in the ledger",
        413: "The body is too large",
        415: "Unsupported body media type",
        422: "The request cannot be acted on (the field is named)",
        501: "Not available in this coprolib",
        503: "The ledger cannot be used",
    }
    return {str(s): _problem(words[s]) for s in statuses}


def _path_params(path: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 200},
        }
        for name in re.findall(r"{([^}]+)}", path)
    ]


def _operation(op: Operation) -> dict[str, Any]:
    params = _path_params(op.path)
    params += [
        {"name": n, "in": "query", "required": False, "schema": dict(s)} for n, s in op.query
    ]
    params += [
        {"name": n, "in": "header", "required": False, "schema": dict(s)} for n, s in op.headers
    ]
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": params,
        "security": [{"bearer": [op.scope]}] if op.scope else [],
    }
    if op.body_schema is not None:
        content: dict[str, Any] = {"application/json": {"schema": copy.deepcopy(op.body_schema)}}
        for media in op.extra_media:
            content[media] = {"schema": {"type": "string"}}
        doc["requestBody"] = {"required": op.body_required, "content": content}
    statuses = [400, 401, 403, 404, 422] if op.scope else [400, 404, 422]
    if op.body_schema is not None:
        statuses += [413, 415]
    if op.operation_id == "contributorJourney":
        statuses.append(501)
    answer = dict(op.answer_schema) if op.answer_schema is not None else None
    doc["responses"] = {str(op.status): _json("Done", answer), **_refusals(*sorted(statuses))}
    return doc


def openapi_document(settings: ServeSettings | None = None) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document ``/v1/openapi.json`` serves."""
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    open_get = {"security": [], "tags": ["service"]}
    paths["/v1/health"] = {
        "get": {
            **open_get,
            "operationId": "health",
            "summary": "The process answers",
            "responses": {"200": _json("Alive")},
        }
    }
    paths["/v1/ready"] = {
        "get": {
            **open_get,
            "operationId": "ready",
            "summary": "The ledger can be used",
            "responses": {"200": _json("Ready"), **_refusals(503)},
        }
    }
    paths["/v1/metrics"] = {
        "get": {
            **open_get,
            "operationId": "metrics",
            "summary": "Prometheus metrics (counts only, no personal data)",
            "responses": {
                "200": {
                    "description": "Text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }
    paths["/v1/webhooks/{source}"] = {
        "post": {
            "operationId": "receiveWebhook",
            "summary": "A Standard Webhooks message from a case-management system",
            "tags": ["webhooks"],
            "security": [],
            "parameters": [
                *_path_params("/v1/webhooks/{source}"),
                *(
                    {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
                    for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
                ),
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": copy.deepcopy(WEBHOOK_SCHEMA)}},
            },
            "responses": {
                "200": _json("Acted on (or already acted on: replayed)"),
                **_refusals(400, 401, 404, 413, 422),
            },
        }
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "coprolib",
            "version": metadata.version("coprolib"),
            "description": "Consent events, records, explanations, feedback and outcomes "
            "over HTTP: the same functions as the coprolib commands.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Problem": copy.deepcopy(PROBLEM_SCHEMA)},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


# --- 2.0 --------------------------------------------------------------------------------------

#: JSON Schema keywords OpenAPI 2.0 schemas accept (the rest are dropped).
_V2_SCHEMA_KEYS = {
    "$ref", "format", "title", "description", "default", "multipleOf", "maximum",
    "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
    "maxItems", "minItems", "uniqueItems", "maxProperties", "minProperties", "required",
    "enum", "type", "items", "allOf", "properties", "additionalProperties", "example",
}  # fmt: skip
#: What a non-body 2.0 parameter may say about its value.
_V2_PARAM_KEYS = {
    "type", "format", "enum", "default", "maximum", "minimum", "maxLength", "minLength",
    "pattern", "items",
}  # fmt: skip


def _v2_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_v2_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _V2_SCHEMA_KEYS:
            continue
        if key == "$ref":
            out[key] = value.replace("#/components/schemas/", "#/definitions/")
        elif key == "properties":
            out[key] = {k: _v2_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "allOf"):
            out[key] = _v2_schema(value)
        else:
            out[key] = value
    return out


def _v2_parameter(param: dict[str, Any]) -> dict[str, Any]:
    schema = param.get("schema", {"type": "string"})
    out: dict[str, Any] = {
        k: param[k] for k in ("name", "in", "required", "description") if k in param
    }
    out.update({k: v for k, v in schema.items() if k in _V2_PARAM_KEYS})
    out.setdefault("type", "string")
    return out


def _v2_operation(op: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: op[k] for k in ("operationId", "summary", "description", "tags") if k in op
    }
    params = [_v2_parameter(p) for p in op.get("parameters", [])]
    consumes: list[str] = []
    body = op.get("requestBody")
    if body:
        content = body["content"]
        consumes = list(content)
        json_schema = content.get("application/json", next(iter(content.values()))).get(
            "schema", {}
        )
        params.append(
            {
                "name": "body",
                "in": "body",
                "required": bool(body.get("required")),
                "schema": _v2_schema(json_schema),
            }
        )
    out["parameters"] = params
    if consumes:
        out["consumes"] = consumes
    produces: list[str] = []
    responses: dict[str, Any] = {}
    for status, response in op["responses"].items():
        r: dict[str, Any] = {"description": response["description"]}
        for media, body_of in response.get("content", {}).items():
            if media not in produces:
                produces.append(media)
            r.setdefault("schema", _v2_schema(body_of.get("schema", {})))
        responses[status] = r
    out["responses"] = responses
    out["produces"] = produces
    security = op.get("security")
    if security is not None:
        out["security"] = [{"bearer": []} for _ in security]
    return out


def to_openapi_v2(doc: dict[str, Any], host: str | None = None) -> dict[str, Any]:
    """The OpenAPI 2.0 form of :func:`openapi_document` (for Power Platform custom connectors).
    ``host`` (``api.example.gov.uk``) is where the connector will call; HTTPS is assumed."""
    v2: dict[str, Any] = {
        "swagger": "2.0",
        "info": copy.deepcopy(doc["info"]),
        "basePath": "/",
        "schemes": ["https"],
        "paths": {
            path: {method: _v2_operation(op) for method, op in item.items()}
            for path, item in doc["paths"].items()
        },
        "definitions": {
            name: _v2_schema(schema)
            for name, schema in doc.get("components", {}).get("schemas", {}).items()
        },
        "securityDefinitions": {
            # Power Platform sends the token as the Authorization header, "Bearer ..." included.
            "bearer": {"type": "apiKey", "name": "Authorization", "in": "header"}
        },
    }
    if host:
        v2["host"] = host
    return v2
