"""OpenAPI documents built from the services' route tables and msgspec types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from jobqueue.models import ErrorReply

_ERROR_TEXT = {
    400: "bad input (names the field)",
    401: "missing or invalid bearer token",
    404: "not found",
    409: "conflict",
    413: "body too large",
    503: "unavailable",
}


@dataclass(frozen=True)
class Operation:
    """One route as the OpenAPI document describes it."""

    method: str
    path: str
    summary: str
    request: type | None = None
    response: type | None = None
    errors: tuple[int, ...] = ()
    params: tuple[str, ...] = field(default=())
    content_type: str = "application/json"
    # (param, msgspec type) for parameters the route validates beyond "a string": the
    # document then states the rule (and clients, fuzzers included, can know it).
    param_types: tuple[tuple[str, Any], ...] = ()


def build_openapi(title: str, version: str, operations: list[Operation]) -> dict[str, Any]:
    types: list[Any] = [ErrorReply]
    for op in operations:
        types.extend(t for t in (op.request, op.response) if t is not None)
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    by_type = dict(zip(types, schemas, strict=True))
    error_schema = by_type[ErrorReply]
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {"summary": op.summary, "operationId": _op_id(op)}
        if op.params:
            typed = dict(op.param_types)
            entry["parameters"] = [
                {
                    "name": name,
                    "in": "path" if "{" + name + "}" in op.path else "query",
                    "required": "{" + name + "}" in op.path,
                    "schema": _param_schema(typed.get(name)),
                }
                for name in op.params
            ]
        if op.request is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": by_type[op.request]}},
            }
        ok: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            ok["content"] = {op.content_type: {"schema": by_type[op.response]}}
        responses: dict[str, Any] = {"200": ok}
        for status in sorted(set(op.errors) | {500}):
            responses[str(status)] = {
                "description": _ERROR_TEXT.get(status, "error"),
                "content": {"application/json": {"schema": error_schema}},
            }
        entry["responses"] = responses
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _param_schema(type_: Any) -> dict[str, Any]:
    return {"type": "string"} if type_ is None else msgspec.json.schema(type_)


def _op_id(op: Operation) -> str:
    cleaned = op.path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
    return f"{op.method.lower()}_{cleaned or 'root'}"
