"""The job API as an OpenAPI 3.1 document (``GET /v1/openapi.json``), generated: the paths and
methods from the app's own routes, a job body's fields from the request's field specs (the
``GET /v1/schema`` document: types, ranges, choices, defaults) and the service's job fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute, Route

from plugin_core import __version__
from plugin_core.generation.request import MAX_SEED, MAX_TAKES, SCHEMA_VERSION, schema_document
from plugin_core.service.job_schema import (
    MAX_BATCH_SHOTS,
    REGENERATE_FIELDS,
    SHOT_NAME,
    job_fields,
)
from plugin_core.service.replies import API_VERSION

OPENAPI = "/v1/openapi.json"
_PARAMETER = re.compile(r"\{(\w+)\}")
_TYPES = {
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "str": "string",
    "path": "string",
    "direction_path": "object",
}
_CLIENT_KEY = {
    "type": "string",
    "minLength": 1,
    "maxLength": 128,
    "description": "the client's name for the job: the same key again returns the first job",
}
_PLACEMENT_HELP = {
    "output_dir": "absolute path of an existing folder the service's user owns, for the stem "
    "(left out: a fresh folder among the person's results)",
    "name": "the stem's file name: a plain name ending in .wav or .flac",
}
_UPLOAD = {"type": "string", "description": "an upload's id (POST /v1/uploads), not with video"}
_REGENERATE = {
    "stem": {"type": "string", "description": "absolute path of an omnifoa stem (with sidecar)"},
    "from": {"type": "number", "description": "start of the range to regenerate (s)"},
    "to": {"type": "number", "description": "end of the range to regenerate (s)"},
    "seed": {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_SEED,
        "description": "sampling seed (default: one no take used)",
    },
    "takes": {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_TAKES,
        "default": 1,
        "description": "new takes to make",
    },
    "client_key": _CLIENT_KEY,
}
_BODIES = {
    ("POST", "/v1/jobs"): "JobRequest",
    ("POST", "/v1/regenerate"): "RegenerateRequest",
    ("POST", "/v1/batches"): "BatchRequest",
    ("POST", "/v1/jobs/{job_id}/reaper"): "ReaperRequest",
}


def field_schema(doc: dict[str, Any]) -> dict[str, Any]:
    """One field of the ``GET /v1/schema`` document as a JSON Schema."""
    kind = _TYPES[doc["type"]]
    schema: dict[str, Any] = {"type": [kind, "null"] if doc["nullable"] else kind}
    unit = f" ({doc['unit']})" if "unit" in doc else ""
    schema["description"] = doc["help"] + unit
    for key, name in (("minimum", "minimum"), ("maximum", "maximum"), ("choices", "enum")):
        if key in doc:
            schema[name] = doc[key]
    if "default" in doc:
        schema["default"] = doc["default"]
    return schema


def job_request_schema() -> dict[str, Any]:
    """A generation job body (``POST /v1/jobs``): every job field, the required ones named."""
    specs = schema_document()["fields"]
    properties: dict[str, Any] = {}
    for name in job_fields():
        if name in specs:
            properties[name] = field_schema(specs[name])
        elif name == "client_key":
            properties[name] = _CLIENT_KEY
        else:
            properties[name] = {"type": "string", "description": _PLACEMENT_HELP.get(name, "")}
    properties["upload"] = _UPLOAD  # read by the file endpoints before the job fields
    return {
        "type": "object",
        "properties": properties,
        "required": ["name"],  # output_dir left out: a fresh folder among the person's results
        "oneOf": [{"required": ["video"]}, {"required": ["upload"]}],
        "additionalProperties": False,
    }


def _operation(method: str, path: str, summary: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "the answer", "content": _json("Answer")},
            "4XX": {"description": "refused, with one sentence", "content": _json("Error")},
            "503": {"description": "busy: ask again after Retry-After", "content": _json("Error")},
        },
    }
    if (method, path) in _BODIES:
        operation["requestBody"] = {"required": True, "content": _json(_BODIES[method, path])}
    if method == "POST" and path in ("/v1/jobs", "/v1/batches"):
        operation["responses"]["202"] = {"description": "queued", "content": _json("Answer")}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAMETER.findall(path)
    ]
    if parameters:
        operation["parameters"] = parameters
    return operation


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def batch_request_schema() -> dict[str, Any]:
    """A batch body (``POST /v1/batches``): shots, each a job body with an optional name and
    no client key of its own."""
    shot = job_request_schema()
    del shot["properties"]["client_key"]
    shot["properties"][SHOT_NAME] = {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "description": "the shot's name in the batch's record (default: the stem's name)",
    }
    return {
        "type": "object",
        "properties": {
            "shots": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_SHOTS, "items": shot},
            "client_key": _CLIENT_KEY,
        },
        "required": ["shots"],
        "additionalProperties": False,
    }


def openapi_document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of the service whose app has ``routes``."""
    paths: dict[str, Any] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        doc = (route.endpoint.__doc__ or "").strip().splitlines()
        path = route.path_format  # {name:path} written {name}, as OpenAPI names parameters
        for method in sorted((route.methods or set()) - {"HEAD"}):
            summary = doc[0] if doc else f"{method} {path}"
            paths.setdefault(path, {})[method.lower()] = _operation(method, path, summary)
    regenerate = {name: _REGENERATE[name] for name in REGENERATE_FIELDS}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "omnifoa service",
            "version": __version__,
            "description": f"API {API_VERSION}, job schema {SCHEMA_VERSION}.",
        },
        "paths": paths,
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "JobRequest": job_request_schema(),
                "BatchRequest": batch_request_schema(),
                "RegenerateRequest": {
                    "type": "object",
                    "properties": regenerate,
                    "required": ["stem", "from", "to"],
                    "additionalProperties": False,
                },
                "ReaperRequest": {
                    "type": "object",
                    "properties": {
                        "position": {"type": "number", "description": "where in REAPER (s)"},
                        "port": {"type": "integer", "description": "the bridge's OSC port"},
                    },
                    "additionalProperties": False,
                },
                "Answer": {
                    "type": "object",
                    "properties": {"api": {"type": "integer", "const": API_VERSION}},
                    "required": ["api"],
                },
                "Error": {
                    "type": "object",
                    "properties": {
                        "api": {"type": "integer", "const": API_VERSION},
                        "error": {"type": "string", "description": "one sentence"},
                    },
                    "required": ["api", "error"],
                },
            },
        },
    }
