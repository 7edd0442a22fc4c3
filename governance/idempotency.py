"""Each POST is processed once: `Idempotency-Key` for the API, a form token for the browser.

API: `IdempotencyMiddleware` (in MIDDLEWARE) covers every POST under `/api/` of every app, with
nothing to inherit or declare: it identifies the caller with the view's own DRF authenticators,
then claims (caller, key) before the view runs and stores the final response after it. A view
written with plain DRF classes gets it for free. Browser forms: put `{% form_token %}` (from
`{% load form_tokens %}`) in the form and decorate the POST view with `@once_per_form_token`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.views import APIView

from governance.api_errors import error_body, json_error_response
from governance.models import ApiToken, IdempotencyRecord

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
API_PREFIX = "/api/"
# Visible ASCII only (no spaces or control characters), as in the IETF Idempotency-Key draft.
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
# A claim still unfinished after this long belongs to a request that died (a killed worker):
# the next attempt may take it over instead of waiting for a response that will never come.
IN_FLIGHT_TIMEOUT = timedelta(minutes=5)
FORM_TOKEN_FIELD = "form_token"  # noqa: S105 — a form field name, not a secret
FORM_KEY_PREFIX = "form:"


def retention() -> timedelta:
    return timedelta(hours=settings.OPENREFUSAL["IDEMPOTENCY_HOURS"])


def request_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _multipart_digest(request: HttpRequest) -> str:
    """Fields and files of a multipart upload, hashed without loading the files into memory
    (`request.body` would refuse uploads over DATA_UPLOAD_MAX_MEMORY_SIZE). DRF reuses the
    parsed `request.POST`/`request.FILES` afterwards."""
    digest = hashlib.sha256()
    for name, values in sorted(request.POST.lists()):
        digest.update(json.dumps(["field", name, values]).encode())
    for name, files in sorted(request.FILES.lists()):
        for upload in files:
            digest.update(json.dumps(["file", name, upload.name, upload.size]).encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return digest.hexdigest()


@dataclass(frozen=True)
class Claim:
    """This request owns the key: it must `complete` or `release` it."""

    record_id: int

    def complete(self, *, status: int, body, location: str = "") -> None:
        IdempotencyRecord.objects.filter(pk=self.record_id).update(
            response_status=status, response_body=body, response_location=location[:500]
        )

    def release(self) -> None:
        IdempotencyRecord.objects.filter(pk=self.record_id).delete()


@dataclass(frozen=True)
class Seen:
    """The key was used before: `record` is the earlier request (maybe still in flight)."""

    record: IdempotencyRecord

    @property
    def in_flight(self) -> bool:
        return self.record.response_status is None

    def same_request(self, *, method: str, path: str, digest: str) -> bool:
        r = self.record
        return (r.method, r.path, r.request_sha256) == (method, path, digest)


def _insert(*, owner: str, key: str, method: str, path: str, digest: str) -> int | None:
    """Insert the in-flight row unless (owner, key) exists; the new id, or None."""
    table = IdempotencyRecord._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} "  # noqa: S608 — the table name is ours, values are bound
            "(owner, key, method, path, request_sha256, response_location, created_at) "
            "VALUES (%s, %s, %s, %s, %s, '', %s) "
            "ON CONFLICT (owner, key) DO NOTHING RETURNING id",
            [owner, key, method, path[:500], digest, timezone.now()],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def claim(*, owner: str, key: str, method: str, path: str, digest: str) -> Claim | Seen:
    """Claim (owner, key) for this request, or report the earlier request that holds it."""
    for _attempt in range(3):
        record_id = _insert(owner=owner, key=key, method=method, path=path, digest=digest)
        if record_id is not None:
            return Claim(record_id)
        record = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
        if record is None:
            continue  # released between our insert and our read: try again
        now = timezone.now()
        if record.created_at < now - retention():
            # Expired but not purged yet: the key is free again.
            IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.response_status is None and record.created_at < now - IN_FLIGHT_TIMEOUT:
            taken = IdempotencyRecord.objects.filter(
                pk=record.pk, response_status__isnull=True, created_at=record.created_at
            ).update(method=method, path=path[:500], request_sha256=digest, created_at=now)
            if taken:
                logger.warning(
                    "idempotency key taken over from a request that never finished",
                    extra={"owner": owner, "path": path},
                )
                return Claim(record.pk)
            continue
        return Seen(record)
    raise RuntimeError("Could not claim an idempotency key after three attempts.")


def purge_expired_records(*, now=None) -> int:
    """Delete remembered responses older than the retention window; how many went."""
    cutoff = (now or timezone.now()) - retention()
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# --- API ----------------------------------------------------------------------------------------


def api_caller(request: HttpRequest, view_func) -> str | None:
    """Who sends this API request, by the view's own authenticators: "token:<id>" for a personal
    token, "user:<id>" for a session; None when anonymous or when authentication fails (the view
    itself then answers 401/403, and nothing is remembered)."""
    view_class = getattr(view_func, "cls", None)
    if view_class is not None and issubclass(view_class, APIView):
        view = view_class(**getattr(view_func, "initkwargs", {}))
        drf_request = Request(request, authenticators=view.get_authenticators())
        try:
            user, auth = drf_request.user, drf_request.auth
        except APIException:
            return None
    else:
        user, auth = getattr(request, "user", None), None
    if isinstance(auth, ApiToken):
        return f"token:{auth.pk}"
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def _stored_body(response: HttpResponse):
    """The body to replay. A view keeps secrets out of storage by naming top-level keys in
    `response.idempotency_redact`: they are replayed as null (e.g. a new token's secret)."""
    if not response.content:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return response.content.decode(response.charset or "utf-8", errors="replace")
    redact = getattr(response, "idempotency_redact", ())
    if redact and isinstance(body, dict):
        body = {k: (None if k in redact else v) for k, v in body.items()}
    return body


def replay(record: IdempotencyRecord) -> HttpResponse:
    if record.response_body is None:
        response = HttpResponse(status=record.response_status)
    else:
        response = JsonResponse(record.response_body, status=record.response_status, safe=False)
    if record.response_location:
        response["Location"] = record.response_location
    response[REPLAYED_HEADER] = "true"
    return response


class IdempotencyMiddleware:
    """Processes each API POST with an `Idempotency-Key` once per (caller, key).

    First request: an in-flight row is inserted, the view runs, its status, JSON body and
    Location are stored. Same key and same request (method, path, body SHA-256): the stored
    response is replayed with `Idempotent-Replayed: true`. Same key, other request: 422
    `idempotency_key_reused`. Same key while the first is running: 409 `idempotency_in_flight`.
    A 5xx, a 429 or an exception releases the key so the request can be retried. Records are
    kept `OPENREFUSAL["IDEMPOTENCY_HOURS"]` hours (then purged by the Celery beat task).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            response = self.get_response(request)
        except BaseException:
            held = getattr(request, "_idempotency_claim", None)
            if held is not None:
                held.release()
            raise
        held = getattr(request, "_idempotency_claim", None)
        if held is not None:
            self._finish(held, response)
        return response

    def _finish(self, held: Claim, response: HttpResponse) -> None:
        if response.status_code >= 500 or response.status_code == 429 or response.streaming:
            held.release()
            return
        held.complete(
            status=response.status_code,
            body=_stored_body(response),
            location=response.get("Location", ""),
        )

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or not request.path.startswith(API_PREFIX):
            return None
        key = request.headers.get(HEADER)
        if key is None:
            return None
        if not KEY_PATTERN.fullmatch(key):
            return JsonResponse(
                error_body(
                    "invalid_idempotency_key",
                    "The Idempotency-Key header must be 1 to 255 visible ASCII characters.",
                    {HEADER: ["Use 1 to 255 visible ASCII characters, e.g. a UUID."]},
                ),
                status=400,
            )
        owner = api_caller(request, view_func)
        if owner is None:
            return None  # keys belong to a known caller; the view answers 401/403 itself
        try:
            if request.content_type == "multipart/form-data":
                digest = _multipart_digest(request)
            else:
                digest = request_digest(request.body)
        except RequestDataTooBig:
            return json_error_response(
                413, "request_too_large", "The request body is larger than this API accepts."
            )
        except (MultiPartParserError, SuspiciousOperation):
            return json_error_response(400, "bad_request", "The multipart body could not be read.")
        path = request.get_full_path()
        outcome = claim(owner=owner, key=key, method=request.method, path=path, digest=digest)
        if isinstance(outcome, Claim):
            request._idempotency_claim = outcome
            return None
        if not outcome.same_request(method=request.method, path=path, digest=digest):
            return json_error_response(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was already used for a different request. "
                "Use a new key for each new request.",
            )
        if outcome.in_flight:
            response = json_error_response(
                409,
                "idempotency_in_flight",
                "A request with this Idempotency-Key is still being processed; retry in a moment.",
            )
            response["Retry-After"] = "1"
            return response
        return replay(outcome.record)


# --- Browser forms ------------------------------------------------------------------------------


def new_form_token() -> str:
    return str(uuid.uuid4())


def browser_owner(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    if request.session.session_key is None:
        request.session.save()
    return f"session:{request.session.session_key}"


def _form_token(request: HttpRequest) -> str | None:
    value = request.POST.get(FORM_TOKEN_FIELD, "")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def once_per_form_token(view):
    """Run a POST view once per `{% form_token %}`: a repeat (double click, reload after a slow
    answer) is sent where the first submission went, with a message instead of a second write.
    The view's success must be a redirect (POST/redirect/GET); any other answer (a form shown
    again with its errors) or an exception frees the token for another try."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        token = _form_token(request) if request.method == "POST" else None
        if token is None:
            return view(request, *args, **kwargs)
        # The form token names one rendering of one form, so the body is not compared.
        outcome = claim(
            owner=browser_owner(request),
            key=FORM_KEY_PREFIX + token,
            method="POST",
            path=request.path,
            digest="",
        )
        if isinstance(outcome, Seen):
            if outcome.in_flight:
                messages.info(request, "Your first submission of this form is still being saved.")
                return redirect(request.get_full_path())
            messages.info(request, "This form was already sent; here is the result.")
            return redirect(outcome.record.response_location or request.get_full_path())
        try:
            response = view(request, *args, **kwargs)
        except BaseException:
            outcome.release()
            raise
        if response.status_code in (301, 302, 303, 307, 308):
            outcome.complete(status=response.status_code, body=None, location=response["Location"])
        else:
            outcome.release()
        return response

    return wrapper
