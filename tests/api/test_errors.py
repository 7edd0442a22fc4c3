"""Every API failure answers in one format, `{"error": {"code", "message", "fields"}}`, with the
right status: bad input, bad JSON, wrong type, too large, 401, 403, 404, 405, 409, 429, 500."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from governance.errors import Conflict, Invalid, NotAllowed, NotFound

TOKENS = "/api/v1/me/tokens/"

# A test-only URLconf (this module): the real site plus views that fail in every way.
handler404 = "governance.views.errors.page_not_found"
handler500 = "governance.views.errors.server_error"


class FailingView(APIView):
    permission_classes = []

    def get(self, request, kind):
        failures = {
            "crash": RuntimeError("an unexpected bug"),
            "django-403": PermissionDenied(),
            "django-404": Http404(),
            "django-invalid": DjangoValidationError({"title": ["Too short."]}),
            "django-invalid-plain": DjangoValidationError("Plainly wrong."),
            "invalid": Invalid("Check the title.", fields={"title": ["Too short."]}),
            "not-allowed": NotAllowed("Only owners may do this."),
            "not-found": NotFound("No such policy."),
            "conflict": Conflict("Already published.", code="already_published"),
        }
        raise failures[kind]

    def post(self, request, kind):
        return Response({"received": request.data})


urlpatterns = [
    path("api/v1/test-fail/<slug:kind>/", FailingView.as_view()),
    path("", include("governance.urls")),
]


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def failing(settings):
    settings.ROOT_URLCONF = __name__


@pytest.fixture
def signed_in(citizen):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(citizen)
    return client


@pytest.mark.django_db
def test_validation_errors_name_each_field(signed_in):
    error = assert_error(
        signed_in.post(TOKENS, {"scopes": ["nope"]}, format="json"), 400, "invalid"
    )
    assert set(error["fields"]) == {"name", "scopes"}
    assert all(isinstance(m, str) for ms in error["fields"].values() for m in ms)
    assert error["fields"]["scopes"] == ['item 1: "nope" is not a valid choice.']


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", ['{"name": ', "not json", "\x00\xff", '{"name": "x"} trailing'], ids=repr
)
def test_malformed_json_is_a_400(signed_in, body):
    assert_error(signed_in.post(TOKENS, body, content_type="application/json"), 400, "parse_error")


@pytest.mark.django_db
def test_an_unsupported_content_type_is_a_415(signed_in):
    response = signed_in.post(TOKENS, "<x/>", content_type="application/xml")
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_body_too_large_is_a_413_not_a_500(signed_in, settings, content_type):
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10
    body = '{"name": "' + "x" * size + '"}' if "json" in content_type else "name=" + "x" * size
    assert_error(signed_in.post(TOKENS, body, content_type=content_type), 413, "request_too_large")


@pytest.mark.django_db
def test_a_body_too_large_with_an_idempotency_key_is_a_413(signed_in, settings):
    body = '{"name": "' + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + '"}'
    response = signed_in.post(
        TOKENS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big"
    )
    assert_error(response, 413, "request_too_large")


@pytest.mark.django_db
def test_a_bad_token_is_a_401_with_www_authenticate(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer orf_unknown")
    response = client.get("/api/v1/")
    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.django_db
def test_a_missing_sign_in_on_a_write_is_a_401_with_www_authenticate(db):
    response = APIClient().post(TOKENS, {"name": "x", "scopes": ["read:public"]}, format="json")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_a_session_post_without_csrf_is_a_403(citizen):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(citizen)
    response = client.post(TOKENS, {"name": "x", "scopes": ["read:public"]}, format="json")
    assert_error(response, 403, "permission_denied")


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/nothing-here/", "/api/nothing", "/api/v1/me/tokens/x/"])
def test_an_unknown_api_route_is_a_json_404(url, db):
    assert_error(APIClient().get(url), 404, "not_found")


@pytest.mark.django_db
def test_a_wrong_method_is_a_405(signed_in):
    response = signed_in.put(TOKENS, {}, format="json")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "status", "code", "field"),
    [
        ("django-403", 403, "permission_denied", None),
        ("django-404", 404, "not_found", None),
        ("django-invalid", 400, "invalid", "title"),
        ("django-invalid-plain", 400, "invalid", None),
        ("invalid", 400, "invalid", "title"),
        ("not-allowed", 403, "not_allowed", None),
        ("not-found", 404, "not_found", None),
        ("conflict", 409, "already_published", None),
    ],
)
def test_domain_and_django_errors_map_to_their_status(
    failing, signed_in, kind, status, code, field
):
    error = assert_error(signed_in.get(f"/api/v1/test-fail/{kind}/"), status, code)
    if field:
        assert field in error["fields"]


@pytest.mark.django_db
def test_an_unexpected_exception_is_a_json_500(failing, signed_in):
    error = assert_error(signed_in.get("/api/v1/test-fail/crash/"), 500, "server_error")
    assert "unexpected bug" not in error["message"]  # internals are logged, not shown


@pytest.mark.django_db
def test_the_anonymous_throttle_answers_429_with_retry_after(db, monkeypatch):
    # DRF copies the rates onto the throttle class when it is imported: set them there.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/min", "user": "5/min"})
    client = APIClient()
    statuses = [client.get("/api/v1/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/")
    assert_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60


@pytest.mark.django_db
def test_the_user_throttle_counts_per_person(citizen, outsider, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "100/min", "user": "2/min"})
    first, second = APIClient(), APIClient()
    first.force_authenticate(citizen)
    second.force_authenticate(outsider)
    assert [first.get(TOKENS).status_code for _ in range(3)] == [200, 200, 429]
    assert second.get(TOKENS).status_code == 200


@pytest.mark.django_db
def test_throttle_counters_live_in_the_shared_cache(db, monkeypatch, settings):
    from django.core.cache import caches

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "1/min", "user": "9/min"})
    assert APIClient().get("/api/v1/").status_code == 200
    # A second process (another client, same cache) sees the same counter.
    assert APIClient().get("/api/v1/").status_code == 429
    if settings.REDIS_URL:
        assert type(caches["default"]).__name__ == "RedisCache"
