"""Designed error pages (HTML for people, the API's JSON error format under /api/)."""

from __future__ import annotations

from django.shortcuts import render

from governance.api_errors import json_error_response


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception=None):
    if _wants_json(request):
        return json_error_response(400, "bad_request", "The request could not be understood.")
    return render(request, "errors/400.html", status=400)


def permission_denied(request, exception=None):
    if _wants_json(request):
        return json_error_response(403, "permission_denied", "You may not do this.")
    return render(request, "errors/403.html", status=403)


def page_not_found(request, exception=None):
    if _wants_json(request):
        return json_error_response(404, "not_found", "There is nothing at this address.")
    return render(request, "errors/404.html", status=404)


def server_error(request):
    if _wants_json(request):
        return json_error_response(500, "server_error", "Something went wrong on our side.")
    # No context processors that could fail again: a plain render of a static template.
    return render(request, "errors/500.html", status=500)


def csrf_failure(request, reason=""):
    if _wants_json(request):
        return json_error_response(403, "csrf_failed", "The CSRF check failed; reload the page.")
    return render(request, "errors/403_csrf.html", status=403)
