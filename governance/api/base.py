"""Shared API building blocks: the error body's schema, and a schema hook that documents the
conventions every endpoint follows (error format, Idempotency-Key on POST, throttling)."""

from __future__ import annotations

from governance.idempotency import HEADER as IDEMPOTENCY_HEADER
from governance.idempotency import REPLAYED_HEADER

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable."},
                "message": {"type": "string", "description": "For people."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Problems per input field (empty when none).",
                },
            },
        }
    },
}

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_COMMON_ERRORS = {
    "400": "Bad input: `fields` says what to fix (also malformed JSON, a bad Idempotency-Key).",
    "401": "Missing, unknown, expired or revoked API token (see `WWW-Authenticate`).",
    "403": "Not allowed, or the token lacks the scope this request needs.",
    "429": "Too many requests: wait the seconds in `Retry-After`.",
}
_POST_ERRORS = {
    "409": "A request with the same Idempotency-Key is still in flight, or a state conflict.",
    "413": "The request body is too large.",
    "415": "Unsupported content type: send `application/json`.",
    "422": "This Idempotency-Key was already used for a different request.",
}
# Changing or deleting something can meet a state that forbids it (the last owner, a token
# already revoked, …); the error's `code` says which.
_CHANGE_ERRORS = {
    "409": "A state conflict: what it is now does not allow this (`code` says why).",
}
IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": IDEMPOTENCY_HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": (
        "Send any unique value (e.g. a UUID) to make this POST safe to retry: the first request "
        "is processed, a repeat with the same key and body gets the stored response again "
        f"(with `{REPLAYED_HEADER}: true`). Keys are private to you and kept for 24 hours."
    ),
}


def add_api_conventions(result, generator, request, public):
    """drf-spectacular postprocessing hook: document what every endpoint shares."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorResponse", ERROR_SCHEMA)
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            extra = dict(_COMMON_ERRORS)
            if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                extra["404"] = "Nothing with this identifier (or nothing you may see)."
            if method == "post":
                extra |= _POST_ERRORS
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == IDEMPOTENCY_HEADER for p in parameters):
                    parameters.append(IDEMPOTENCY_PARAMETER)
            elif method in ("put", "patch", "delete"):
                extra |= _CHANGE_ERRORS
            for status, description in extra.items():
                operation["responses"].setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
    return result
