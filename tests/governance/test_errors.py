"""Designed error pages for people, the API's JSON error format under /api/."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client
from django.urls import include, path, reverse

pytestmark = pytest.mark.django_db


def _boom(request):
    raise RuntimeError("the database fell over")


def _forbidden(request):
    raise PermissionDenied


def _suspicious(request):
    raise SuspiciousOperation("tampered")


def _api_boom(request):
    raise RuntimeError("api exploded")


# The real site plus a few views that fail on demand, with the real handlers.
urlpatterns = [
    path("boom/", _boom),
    path("forbidden/", _forbidden),
    path("suspicious/", _suspicious),
    path("api/v1/boom/", _api_boom),
    path("", include("governance.urls")),
]
handler400 = "governance.views.errors.bad_request"
handler403 = "governance.views.errors.permission_denied"
handler404 = "governance.views.errors.page_not_found"
handler500 = "governance.views.errors.server_error"


@pytest.fixture
def crashing_client():
    """A client that gets the 500 response instead of re-raising the view's exception."""
    return Client(raise_request_exception=False)


def test_it_serves_the_designed_404_with_debug_off(client, settings):
    settings.DEBUG = False
    response = client.get("/this-does-not-exist")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html
    assert "Skip to main content" in html
    assert reverse("home") in html
    assert "css/app.css" in html


def test_it_serves_the_designed_404_to_signed_in_people(client_for, citizen, settings):
    settings.DEBUG = False
    response = client_for(citizen).get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert "Citizen Ada" in html


def test_it_answers_api_404s_in_the_json_error_format(client, settings):
    settings.DEBUG = False
    response = client.get("/api/v1/this-does-not-exist/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {"code": "not_found", "message": "There is nothing at this address.", "fields": {}}
    }


def test_it_escapes_hostile_paths_in_the_404(client):
    response = client.get("/<script>alert(1)</script>")
    assert response.status_code == 404
    assert b"<script>alert(1)</script>" not in response.content


def test_it_renders_the_designed_csrf_failure_page(citizen, password):
    c = Client(enforce_csrf_checks=True)
    response = c.post(reverse("account_login"), {"login": citizen.email, "password": password})
    assert response.status_code == 403
    html = response.content.decode()
    assert "Your form could not be sent" in html
    assert "nothing was saved" in html
    assert "Skip to main content" in html


def test_it_answers_api_csrf_failures_in_json(client):
    from governance.views.errors import csrf_failure

    request = client.get("/").wsgi_request
    request.path = "/api/v1/things/"
    response = csrf_failure(request, reason="CSRF cookie not set.")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.content.startswith(b'{"error": {"code": "csrf_failed"')


@pytest.mark.urls("tests.governance.test_errors")
def test_it_renders_a_self_contained_500_without_touching_the_database(
    crashing_client, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = crashing_client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Sorry, something went wrong on our side" in html
    assert "the database fell over" not in html  # never leak internals
    assert 'href="/"' in html
    assert "css/app.css" in html


@pytest.mark.urls("tests.governance.test_errors")
def test_it_answers_api_500s_in_json(crashing_client):
    response = crashing_client.get("/api/v1/boom/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert "api exploded" not in response.content.decode()


@pytest.mark.urls("tests.governance.test_errors")
def test_it_renders_the_designed_403(client):
    response = client.get("/forbidden/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You do not have permission to do this" in html
    assert "Sign in" in html


@pytest.mark.urls("tests.governance.test_errors")
def test_it_tells_a_signed_in_person_why_403(client_for, citizen):
    response = client_for(citizen).get("/forbidden/")
    assert response.status_code == 403
    assert "You are signed in as Citizen Ada" in response.content.decode()


@pytest.mark.urls("tests.governance.test_errors")
def test_it_renders_the_designed_400(client):
    response = client.get("/suspicious/")
    assert response.status_code == 400
    assert "This request could not be understood" in response.content.decode()


def test_it_renders_the_designed_400_for_a_disallowed_host(client, settings):
    settings.DEBUG = False
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "This request could not be understood" in response.content.decode()
