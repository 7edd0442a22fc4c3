"""One error format for the API: `{"error": {"code", "message", "fields"}}`."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from governance.errors import DomainError, RateLimited

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _messages(value, where: str = "") -> list[str]:
    """Every message under `value` as plain strings; nested positions ("item 2", "city") are
    folded into the text, so `fields` is always {field: [str, …]}."""
    prefix = f"{where}: " if where else ""
    if isinstance(value, dict):
        out = []
        for key, inner in value.items():
            label = f"item {key + 1}" if isinstance(key, int) else str(key)
            out += _messages(inner, f"{where} {label}".strip() if where else label)
        return out
    if isinstance(value, list | tuple):
        return [m for v in value for m in _messages(v, where)]
    return [prefix + str(value)]


def _flatten(detail) -> tuple[str, dict]:
    """Turn DRF's nested `detail` into a message and a {field: [messages]} map."""
    if isinstance(detail, dict):
        fields = {str(name): _messages(value) for name, value in detail.items()}
        general = fields.pop("non_field_errors", None)
        message = general[0] if general else "Some fields are not valid."
        return str(message), fields
    if isinstance(detail, list):
        messages = _messages(detail)
        return (messages[0] if messages else "The request is not valid."), {}
    return str(detail), {}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        response = Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        message = "; ".join(exc.messages) if not fields else "Some fields are not valid."
        return Response(error_body("invalid", message, fields), status=400)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"The request body is larger than this API accepts ({limit} bytes at most)."
        return Response(error_body("request_too_large", message), status=413)
    if isinstance(exc, SuspiciousOperation):
        # Too many form fields or files, a malformed multipart body, …: the client's fault.
        return Response(error_body("bad_request", "The request could not be understood."), 400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling logs it
    if isinstance(exc, exceptions.ValidationError):
        message, fields = _flatten(exc.detail)
        code = "invalid"
    else:
        message, fields = _flatten(exc.detail)
        code = getattr(exc, "default_code", "error")
        if isinstance(exc.detail, exceptions.ErrorDetail):
            code = exc.detail.code or code
    response.data = error_body(code, message, fields)
    return response


def json_error_response(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


__all__ = ["error_body", "exception_handler", "json_error_response", "status"]
