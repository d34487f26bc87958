"""The HTTP API reference (docs/api.md), rendered from the services' own OpenAPI documents.

The documents are fetched from ``/openapi.json`` of the real apps (controller over a fresh
migrated SQLite file, dispatcher unstarted), so the page shows exactly what they serve.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx

from .markdown import GENERATED_NOTE, anchor, code, rst_to_markdown, table

Schema = dict[str, Any]

INTRO = """\
# HTTP API reference

{note}

Both services describe themselves at `GET /openapi.json` (OpenAPI 3.1); this page is that
document rendered. Paths and field names are the original Go service's
([migrating-from-go.md](migrating-from-go.md)); the route tables mark what was added.

Every error reply is JSON, `{{"error": "...", "code": "...", "field": "..."}}` (see
[`ErrorReply`](#controller-errorreply)): 400 bad input (`field` names it), 401 missing or wrong
bearer token, 404 unknown job or not subscribed, 409 conflict, 413 body too large, 503
unavailable (job stopped, back-pressure, broker or controller down). With a token configured
(`--token`), every route but `/health`, `/ready`, `/metrics` and `/openapi.json` needs
`Authorization: Bearer <token>`.

Try it against `jobqueue dev`:

<!-- doccheck: run -->
```sh
curl -s http://127.0.0.1:4000/openapi.json -o controller-openapi.json
curl -s http://127.0.0.1:4001/openapi.json -o dispatcher-openapi.json
curl -s http://127.0.0.1:4000/api/v1/job/
```
"""

# The routes of the Go service jobqueue keeps (ORIGINAL_API.md); the rest are additions.
ORIGINAL_ROUTES = frozenset(
    {
        "POST /api/v1/job/", "GET /api/v1/job/{name}/", "POST /api/v1/job/{name}/",
        "DELETE /api/v1/job/{name}/", "PUT /api/v1/job/{name}/start/",
        "PUT /api/v1/job/{name}/stop/", "POST /api/v1/dispatcher/register/",
        "POST /api/v1/dispatcher/deregister/", "POST /api/v1/dispatcher/gossip/",
        "POST /api/v1/worker/subscribe", "POST /api/v1/worker/unsubscribe",
        "POST /api/v1/worker/messages", "POST /api/v1/worker/messages/retry",
        "POST /api/v1/worker/messages/dlq", "POST /api/v1/worker/ack",
        "POST /api/v1/worker/nack", "POST /api/v1/worker/publish", "GET /health",
    }
)  # fmt: skip

SERVICES = (
    ("controller", "Controller", "`jobqueue controller`, default port 4000"),
    ("dispatcher", "Dispatcher (worker API)", "`jobqueue dispatcher`, default port 4001"),
)


async def _fetch(app: Any) -> Schema:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://docgen") as client:
        response = await client.get("/openapi.json")
        response.raise_for_status()
        document: Schema = response.json()
        return document


def fetch_documents() -> dict[str, Schema]:
    """``{"controller": ..., "dispatcher": ...}`` as the two apps serve them."""
    from jobqueue.controller.app import create_app as controller_app
    from jobqueue.controller.migrations import upgrade
    from jobqueue.dispatcher.app import create_app as dispatcher_app
    from jobqueue.dispatcher.service import DispatcherSettings

    with tempfile.TemporaryDirectory() as scratch:
        db_url = f"sqlite:///{Path(scratch) / 'controller.db'}"
        upgrade(db_url)
        controller = asyncio.run(_fetch(controller_app(db_url)))
        settings = DispatcherSettings(controller_url="http://127.0.0.1:4000", data_dir=scratch)
        dispatcher = asyncio.run(_fetch(dispatcher_app(settings)))
    return {"controller": controller, "dispatcher": dispatcher}


class _Renderer:
    def __init__(self, service: str, document: Schema) -> None:
        self.service = service
        self.document = document
        self.schemas: dict[str, Schema] = document.get("components", {}).get("schemas", {})

    def link(self, name: str) -> str:
        return f"[`{name}`](#{anchor(self.service, name)})"

    def type_of(self, schema: Schema) -> str:
        if "$ref" in schema:
            return self.link(schema["$ref"].rsplit("/", 1)[1])
        if "anyOf" in schema:
            return " | ".join(self.type_of(option) for option in schema["anyOf"])
        if "enum" in schema:
            return " | ".join(code(_json(value)) for value in schema["enum"])
        if "const" in schema:
            return code(_json(schema["const"]))
        kind = schema.get("type")
        if kind == "array":
            return "[" + self.type_of(schema.get("items", {})) + "]"
        if kind == "object":
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                return "{string: " + (self.type_of(extra) if extra else "any") + "}"
            return "object"
        if isinstance(kind, list):
            return " | ".join(kind)
        return str(kind) if kind else "any"

    def operation(self, path: str, method: str, op: Schema) -> list[str]:
        lines = [
            f'<a id="{anchor(self.service, method, path)}"></a>',
            "",
            f"### `{method.upper()} {path}`",
            "",
            rst_to_markdown(op.get("summary", "")),
            "",
        ]
        for param in op.get("parameters", []):
            where = "path" if param["in"] == "path" else "query"
            required = "required" if param.get("required") else "optional"
            lines.append(f"- {where} parameter `{param['name']}` ({required})")
        body = op.get("requestBody", {}).get("content", {})
        for media, content in body.items():
            lines.append(f"- request body ({media}): {self.type_of(content['schema'])}")
        for status, response in op.get("responses", {}).items():
            if status.startswith("2"):
                content = response.get("content", {})
                reply = ", ".join(
                    f"{self.type_of(c['schema'])}" if "schema" in c else media
                    for media, c in content.items()
                )
                lines.append(f"- reply {status}: {reply or response.get('description', '')}")
        errors = [
            f"{status} {response.get('description', '')}"
            for status, response in op.get("responses", {}).items()
            if not status.startswith("2")
        ]
        if errors:
            lines.append("- errors: " + "; ".join(errors))
        return [*lines, ""]

    def schema(self, name: str, schema: Schema) -> list[str]:
        lines = [f'<a id="{anchor(self.service, name)}"></a>', "", f"#### `{name}`", ""]
        if schema.get("description"):
            lines += [rst_to_markdown(schema["description"]), ""]
        properties: dict[str, Schema] = schema.get("properties", {})
        if not properties:
            return [*lines, f"Type: {self.type_of(schema)}.", ""]
        required = set(schema.get("required", []))
        rows = [
            [
                f"`{field}`",
                self.type_of(prop),
                "yes" if field in required else "no",
                _default(prop),
                _notes(prop),
            ]
            for field, prop in properties.items()
        ]
        lines += table(["field", "type", "required", "default", "notes"], rows)
        if schema.get("additionalProperties") is False:
            lines += ["", "Unknown fields are rejected (400)."]
        return [*lines, ""]

    def render(self, title: str, blurb: str) -> list[str]:
        paths: dict[str, Schema] = self.document["paths"]
        lines = [f"## {title}", "", f"{blurb}; OpenAPI version "
                 f"{self.document['info']['version']}.", ""]  # fmt: skip
        rows = [
            [
                f"[`{method.upper()} {path}`](#{anchor(self.service, method, path)})",
                rst_to_markdown(op.get("summary", "")),
                "yes" if f"{method.upper()} {path}" in ORIGINAL_ROUTES else "added",
            ]
            for path, methods in paths.items()
            for method, op in methods.items()
        ]
        lines += [*table(["route", "summary", "in the Go service"], rows), ""]
        for path, methods in paths.items():
            for method, op in methods.items():
                lines += self.operation(path, method, op)
        lines += ["### Schemas", ""]
        for name in sorted(self.schemas):
            lines += self.schema(name, self.schemas[name])
        return lines


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def _default(prop: Schema) -> str:
    return code(_json(prop["default"])) if "default" in prop else ""


def _bounds(prop: Schema, low: str, high: str, unit: str) -> list[str]:
    if low in prop and high in prop:
        return [f"{prop[low]} to {prop[high]} {unit}"]
    if low in prop:
        return [f"at least {prop[low]} {unit}"]
    if high in prop:
        return [f"at most {prop[high]} {unit}"]
    return []


def _notes(prop: Schema) -> str:
    notes = []
    if prop.get("description"):
        notes.append(rst_to_markdown(prop["description"]))
    notes += _bounds(prop, "minLength", "maxLength", "characters")
    notes += _bounds(prop, "minItems", "maxItems", "items")
    bounds = [("minimum", ">= {}"), ("maximum", "<= {}"),
              ("exclusiveMinimum", "> {}"), ("exclusiveMaximum", "< {}")]  # fmt: skip
    notes += [text.format(prop[key]) for key, text in bounds if key in prop]
    if "pattern" in prop:
        notes.append("pattern " + code(prop["pattern"]))
    return "; ".join(notes)


def render(documents: dict[str, Schema]) -> str:
    lines = [INTRO.format(note=GENERATED_NOTE.format(source="the services' /openapi.json"))]
    for key, title, blurb in SERVICES:
        lines += _Renderer(key, documents[key]).render(title, blurb)
    return "\n".join(lines).rstrip() + "\n"
