"""One error format for the API: `{"error": {"code", "message", "fields"}}`."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from governance.errors import DomainError

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail) -> tuple[str, dict]:
    """Turn DRF's nested `detail` into a message and a {field: [messages]} map."""
    if isinstance(detail, dict):
        fields = {}
        for name, value in detail.items():
            if isinstance(value, list | tuple):
                fields[name] = [str(v) if not isinstance(v, dict) else v for v in value]
            elif isinstance(value, dict):
                fields[name] = [value]
            else:
                fields[name] = [str(value)]
        general = fields.pop("non_field_errors", None)
        message = general[0] if general else "Some fields are not valid."
        return str(message), fields
    if isinstance(detail, list):
        return (str(detail[0]) if detail else "The request is not valid."), {}
    return str(detail), {}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        message = "; ".join(exc.messages) if not fields else "Some fields are not valid."
        return Response(error_body("invalid", message, fields), status=400)
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
