"""Request logging, NUL bytes in addresses, the reader's time zone and conditional API reads."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
import zoneinfo

from django.http import JsonResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import parse_http_date_safe, quote_etag

from governance.api_errors import error_body

request_logger = logging.getLogger("openrefusal.request")
TZ_COOKIE = "tz"


class RequestLogMiddleware:
    """One structured log line per request, with an id echoed in `X-Request-ID`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        request.request_id = request_id
        started = time.perf_counter()
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        user = getattr(request, "user", None)
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        request_logger.info(
            "%s %s %s %sms",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "user_id": user.pk if user is not None and user.is_authenticated else None,
            },
        )
        return response


class NulQueryMiddleware:
    """A NUL byte in an API query string is refused with 400 in the API's error format, naming
    the parameter, before any view sees it: PostgreSQL's text cannot hold one, so a filter
    carrying it would fail in the database instead. (Pages explain it inline on their forms.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        bad = sorted(
            {
                key.replace("\x00", "")[:100] or "?"
                for key, values in request.GET.lists()
                if "\x00" in key or any("\x00" in value for value in values)
            }
        )
        if not bad:
            return self.get_response(request)
        message = "Query parameters may not contain NUL characters."
        body = error_body("invalid", message, {name: [message] for name in bad})
        return JsonResponse(body, status=400)


class ReaderTimezoneMiddleware:
    """Show times in the reader's zone: their profile's choice, else their browser's
    (a cookie set by static/js/app.js), else UTC. Storage stays UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = ""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.timezone:
            name = user.timezone
        else:
            name = request.COOKIES.get(TZ_COOKIE, "")
        try:
            timezone.activate(zoneinfo.ZoneInfo(name)) if name else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class ApiConditionalGetMiddleware:
    """`ETag` / `If-None-Match` on every API read: a strong ETag (the SHA-256 of the rendered
    body) on each successful GET or HEAD under /api/, and `304 Not Modified` with no body when
    the client already holds it. What a reader sees depends on who asks (a regulator's token
    sees embargoed reports), so the answer varies on `Authorization` and `Cookie` and, when
    credentials were sent, is `private`: a shared cache never hands one reader's view to
    another. Streamed answers (exports, dumps) are left alone. Where a view sent
    `Last-Modified`, `If-Modified-Since` is honoured too."""

    PREFIX = "/api/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in ("GET", "HEAD") or not request.path.startswith(self.PREFIX):
            return response
        patch_vary_headers(response, ("Authorization", "Cookie"))
        if response.status_code != 200 or response.streaming:
            return response
        credentials = "HTTP_AUTHORIZATION" in request.META or bool(request.COOKIES)
        if credentials:
            patch_cache_control(response, private=True, no_cache=True)
        else:
            patch_cache_control(response, no_cache=True)
        if not response.has_header("ETag"):
            response["ETag"] = quote_etag(hashlib.sha256(response.content).hexdigest())
        # Set by views whose resource has a modification time (governance.api.conditional);
        # If-Modified-Since is judged on it only when no If-None-Match came.
        last_modified = parse_http_date_safe(response.get("Last-Modified", ""))
        return get_conditional_response(
            request,
            etag=response["ETag"],
            last_modified=last_modified,
            response=response,
        )
