"""The OpenAPI 3.1 document of /api/v1, built from the pydantic models the views validate with."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from portal.api import schemas as s

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(name: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(name)}},
    }
    if headers:
        response["headers"] = headers
    return response


def _errors(*statuses: int) -> dict[str, Any]:
    described = {
        400: "The body is not JSON.",
        401: "No token, or an unknown or revoked one.",
        403: "The token's role does not allow this.",
        404: "No such case.",
        409: "The case's lifecycle does not allow this now.",
        412: "If-Match does not match the case's current version.",
        413: "The body is too large.",
        415: "The body has the wrong media type.",
        422: "Values are missing or not valid; `details.fields` says which.",
    }
    responses = {str(code): _json("Error", described[code]) for code in statuses}
    responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    # Every operation that takes a token is throttled per token (THROTTLE_API_TOKEN).
    responses["429"] = _json(
        "Error",
        "Too many requests with this token; `Retry-After` says in how many seconds to try again.",
        {"Retry-After": {"schema": {"type": "integer"}}},
    )
    return responses


ETAG = {"ETag": {"description": "The case's version, for If-Match.", "schema": {"type": "string"}}}
NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "description": "The case number.",
    "schema": {"type": "string", "maxLength": 20, "pattern": r"^[A-Za-z0-9_.-]+$"},
    "example": "AS-100231",
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "The ETag of the case as you last read it; the change is refused with 412 if it moved on.",
    "schema": {"type": "string", "maxLength": 100, "pattern": r"^[\x21-\x7e]+$"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique string; a retry with the same key and body returns the case created first.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[\x21-\x7e]+$"},
}
ACCEPT_LANGUAGE = {
    "name": "Accept-Language",
    "in": "header",
    "required": False,
    "description": "en or zh: the language of explanations and error messages.",
    "schema": {"type": "string", "enum": ["en", "zh", "zh-CN", "en-US"]},
}


def _query_parameters(model_schema: dict[str, Any]) -> list[dict[str, Any]]:
    """One query parameter per field of the filter model (without the JSON `null` query strings lack)."""
    parameters = []
    for name, prop in model_schema["properties"].items():
        schema = copy.deepcopy(prop)
        description = schema.pop("description", None)
        schema.pop("title", None)
        if "anyOf" in schema:
            branches = [b for b in schema.pop("anyOf") if b != {"type": "null"}]
            schema.pop("default", None)
            schema = {**branches[0], **schema}
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


@cache
def document() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "validation") for m in s.REQUEST_MODELS] + [(m, "serialization") for m in s.RESPONSE_MODELS],
        ref_template=REF,
    )
    components = defs["$defs"]
    list_query = components.pop("CaseListQuery")
    case_headers = {**ETAG}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Aftersales Desk API",
            "version": "1",
            "description": (
                "Cases, business events, evidence and policy decisions for ERPs and scripts. "
                "Authenticate with `Authorization: Bearer <token>` (an admin creates tokens); "
                "the token's role decides what it may do. Times are ISO 8601 in UTC; "
                "money is a decimal string with its currency. "
                'Errors are JSON: {"error": {"code", "message", "details"}}.'
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/cases": {
                "get": {
                    "operationId": "listCases",
                    "summary": "Find cases (newest first unless sorted otherwise), a page at a time",
                    "parameters": _query_parameters(list_query),
                    "responses": {"200": _json("CasePage", "A page of cases."), **_errors(401, 403, 422)},
                },
                "post": {
                    "operationId": "createCase",
                    "summary": "Open a case on an existing order; the market's policy decides its first step",
                    "parameters": [IDEMPOTENCY_KEY],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("CaseCreate")}},
                    },
                    "responses": {
                        "201": _json(
                            "CaseDetail",
                            "The case (also when an Idempotency-Key retry returns the one created before).",
                            {**case_headers, "Location": {"schema": {"type": "string"}}},
                        ),
                        **_errors(400, 401, 403, 413, 415, 422),
                    },
                },
            },
            "/cases/{number}": {
                "get": {
                    "operationId": "getCase",
                    "summary": "One case with its items, returns, refunds, deadlines and evidence",
                    "parameters": [NUMBER],
                    "responses": {
                        "200": _json("CaseDetail", "The case.", case_headers),
                        **_errors(401, 403, 404),
                    },
                }
            },
            "/cases/{number}/events": {
                "post": {
                    "operationId": "recordEvent",
                    "summary": "Record a business event on the case",
                    "parameters": [NUMBER, IF_MATCH, ACCEPT_LANGUAGE],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("EventIn")}},
                    },
                    "responses": {
                        "200": _json("EventResult", "The event was recorded.", case_headers),
                        **_errors(400, 401, 403, 404, 409, 412, 413, 415, 422),
                    },
                }
            },
            "/cases/{number}/evidence": {
                "post": {
                    "operationId": "addEvidence",
                    "summary": "Upload a photo, video or PDF (same checks and limits as the case page)",
                    "parameters": [NUMBER, IF_MATCH],
                    "requestBody": {
                        "required": True,
                        "content": {"multipart/form-data": {"schema": s.EVIDENCE_UPLOAD_SCHEMA}},
                    },
                    "responses": {
                        "201": _json("EvidenceOut", "The evidence was added.", case_headers),
                        **_errors(401, 403, 404, 412, 413, 415, 422),
                    },
                }
            },
            "/cases/{number}/decisions": {
                "get": {
                    "operationId": "listDecisions",
                    "summary": "The policy's decisions on the case, oldest first, explained",
                    "parameters": [NUMBER, ACCEPT_LANGUAGE],
                    "responses": {"200": _json("DecisionList", "The decisions."), **_errors(401, 403, 404)},
                }
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
