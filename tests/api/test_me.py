"""`/api/v1/me/` and `/api/v1/me/export/`: your profile, its changes, the data export and
account deletion through the API."""

from __future__ import annotations

import json
import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from rest_framework.test import APIClient

from governance.models import ApiToken, LedgerEntry, Membership, User
from governance.services.tokens import api_token_create
from tests.factories import PASSWORD, MembershipFactory
from tests.governance.test_accounts import current_code

ME = "/api/v1/me/"
EXPORT = "/api/v1/me/export/"
READ = "read:public"
WRITE = "write:account"
CONFIRM = {"confirm": "delete my account", "password": PASSWORD}


def bearer(user, *scopes) -> tuple[APIClient, ApiToken]:
    token, raw = api_token_create(
        user=user, name=" ".join(scopes) or READ, scopes=list(scopes) or [READ]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client, token


def session_client(user) -> APIClient:
    """A browser session (not `force_authenticate`), so signing out can be observed."""
    client = APIClient()
    client.force_login(user)
    return client


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


# --- Reading ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_your_own_profile_with_your_email(api_for, citizen):
    response = api_for(citizen).get(ME)
    assert response.status_code == 200
    assert response.json() == {
        "id": citizen.pk,
        "display_name": "Citizen Ada",
        "public_name": "Citizen Ada",
        "timezone": "",
        "email": "citizen@example.org",
        "mfa_enabled": False,
        "date_joined": response.json()["date_joined"],
    }


@pytest.mark.django_db
def test_it_shows_a_placeholder_public_name_never_the_email(api_for, citizen):
    citizen.display_name = ""
    citizen.save()
    body = api_for(citizen).get(ME).json()
    assert body["public_name"] == f"Member #{citizen.pk}"
    assert "citizen" not in body["public_name"]


@pytest.mark.django_db
def test_it_answers_anonymous_callers_with_401(api_for):
    for method in ("get", "patch", "delete"):
        error = assert_error(getattr(api_for(None), method)(ME), 401)
        assert error["code"] == "not_authenticated"
    assert_error(api_for(None).get(EXPORT), 401, "not_authenticated")


@pytest.mark.django_db
def test_it_refuses_an_unknown_token(api_for):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer orf_not-a-real-token")
    assert_error(client.get(ME), 401)


@pytest.mark.django_db
def test_it_lets_any_token_read_the_profile(citizen):
    client, _token = bearer(citizen, READ)
    assert client.get(ME).json()["id"] == citizen.pk


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "post"])
def test_it_refuses_other_methods(api_for, citizen, method):
    assert_error(getattr(api_for(citizen), method)(ME, {}, format="json"), 405)
    assert_error(getattr(api_for(citizen), method)(EXPORT, {}, format="json"), 405)


# --- Changing ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_changes_the_display_name_and_time_zone(api_for, citizen):
    response = api_for(citizen).patch(
        ME, {"display_name": " Quiet Heron ", "timezone": "America/Sao_Paulo"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["public_name"] == "Quiet Heron"
    assert response.json()["timezone"] == "America/Sao_Paulo"
    citizen.refresh_from_db()
    assert (citizen.display_name, citizen.timezone) == ("Quiet Heron", "America/Sao_Paulo")
    entry = LedgerEntry.objects.get()
    assert (entry.action, entry.payload) == (
        "user.display_name_changed",
        {"public_name": "Quiet Heron"},
    )


@pytest.mark.django_db
def test_it_changes_only_what_is_sent(api_for, citizen):
    response = api_for(citizen).patch(ME, {"timezone": "Asia/Kolkata"}, format="json")
    assert response.status_code == 200
    citizen.refresh_from_db()
    assert (citizen.display_name, citizen.timezone) == ("Citizen Ada", "Asia/Kolkata")
    assert not LedgerEntry.objects.exists()  # the time zone is private
    assert api_for(citizen).patch(ME, {}, format="json").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 81}, "display_name"),
        ({"display_name": "x" * 1_000_000}, "display_name"),
        ({"display_name": None}, "display_name"),
        ({"display_name": ["Ada"]}, "display_name"),
        ({"display_name": {"first": "Ada"}}, "display_name"),
        ({"display_name": "Ada\nLovelace"}, "display_name"),
        ({"display_name": "Ada\u200bAdmin"}, "display_name"),
        ({"display_name": "ada@example.org"}, "display_name"),
        ({"display_name": "http://example.org/x"}, "display_name"),
        ({"display_name": "Former Member"}, "display_name"),
        ({"display_name": "staff"}, "display_name"),
        ({"display_name": "OpenRefusal"}, "display_name"),
        ({"display_name": "moderator"}, "display_name"),
        ({"timezone": "Nowhere/Atlantis"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"email": "new@example.org"}, "email"),
        ({"id": 1}, "id"),
        ({"public_name": "Someone"}, "public_name"),
    ],
)
def test_it_answers_bad_changes_with_field_errors(api_for, citizen, body, field):
    error = assert_error(api_for(citizen).patch(ME, body, format="json"), 400, "invalid")
    assert error["fields"][field]
    citizen.refresh_from_db()
    assert citizen.display_name == "Citizen Ada"
    assert citizen.timezone == ""
    assert citizen.email == "citizen@example.org"
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
        ('"a string"', "application/json"),
        ("display_name=Ada", "text/plain"),
    ],
)
def test_it_answers_malformed_bodies_with_a_clear_error(api_for, citizen, payload, content_type):
    response = api_for(citizen).patch(ME, payload, content_type=content_type)
    assert response.status_code in (400, 415), response.content
    assert_error(response, response.status_code)


@pytest.mark.django_db
def test_it_needs_the_write_account_scope_to_change_anything(citizen):
    client, _token = bearer(citizen, READ)
    error = assert_error(client.patch(ME, {"display_name": "Quiet Heron"}, format="json"), 403)
    assert "write:account" in error["message"]
    client, _token = bearer(citizen, WRITE)
    assert client.patch(ME, {"display_name": "Quiet Heron"}, format="json").status_code == 200


@pytest.mark.django_db
def test_it_never_exposes_the_email_on_public_endpoints(api_for, citizen):
    api_for(citizen).patch(ME, {"display_name": "Quiet Heron"}, format="json")
    response = api_for(None).get("/api/v1/ledger/")
    assert response.status_code == 200
    assert "citizen@example.org" not in response.content.decode()
    assert "Quiet Heron" in response.content.decode()


# --- Export -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_exports_your_data_as_a_json_download(api_for, company_member):
    _client, token = bearer(company_member, READ)
    response = api_for(company_member).get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert re.fullmatch(
        r'attachment; filename="openrefusal-export-\d{4}-\d{2}-\d{2}\.json"',
        response["Content-Disposition"],
    )
    assert "no-store" in response["Cache-Control"]
    data = response.json()
    assert data["profile"]["email"] == "member@acme.example"
    assert data["email_addresses"] == [
        {"email": "member@acme.example", "verified": True, "primary": True}
    ]
    assert data["memberships"][0]["organization"]["slug"] == "acme-ai"
    assert data["api_tokens"][0]["prefix"] == token.prefix
    assert token.key_sha256 not in response.content.decode()
    assert company_member.password not in response.content.decode()


@pytest.mark.django_db
def test_it_serves_the_export_as_json_even_to_a_browser(api_for, citizen):
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = api_for(citizen).get(EXPORT, HTTP_ACCEPT=browser_accept)
    assert response.status_code == 200
    assert json.loads(response.content)["profile"]["id"] == citizen.pk


@pytest.mark.django_db
def test_it_needs_the_write_account_scope_to_export(citizen):
    client, _token = bearer(citizen, READ)
    assert_error(client.get(EXPORT), 403, "insufficient_scope")
    client, _token = bearer(citizen, READ, WRITE)
    assert client.get(EXPORT).status_code == 200


# --- Deleting ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_deletes_the_account_and_signs_the_session_out(citizen):
    client = session_client(citizen)
    response = client.delete(ME, CONFIRM, format="json")
    assert response.status_code == 204, response.content
    citizen.refresh_from_db()
    assert citizen.deleted_at is not None
    assert not citizen.is_active
    assert citizen.public_name == "Former member"
    assert citizen.email == f"deleted-{citizen.pk}@invalid.openrefusal"
    assert not EmailAddress.objects.filter(user=citizen).exists()
    assert LedgerEntry.objects.get(action="user.deleted").payload == {}
    assert_error(client.get(ME), 401)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"confirm", "password"}),
        ({"password": PASSWORD}, {"confirm"}),
        ({"confirm": "delete my account"}, {"password"}),
        ({"confirm": "yes", "password": PASSWORD}, {"confirm"}),
        ({"confirm": "delete my acount", "password": PASSWORD}, {"confirm"}),
        ({"confirm": "delete my account", "password": "wrong"}, {"password"}),
        ({"confirm": "delete my account", "password": ""}, {"password"}),
        ({"confirm": ["delete my account"], "password": PASSWORD}, {"confirm"}),
        ({"confirm": "delete my account", "password": "x" * 100_000}, {"password"}),
    ],
)
def test_it_refuses_deletion_without_the_phrase_and_password(api_for, citizen, body, fields):
    error = assert_error(api_for(citizen).delete(ME, body, format="json"), 400, "invalid")
    assert set(error["fields"]) == fields
    citizen.refresh_from_db()
    assert citizen.deleted_at is None
    assert citizen.is_active
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_it_stops_password_guessing_through_deletion(api_for, citizen):
    client = api_for(citizen)
    statuses = [
        client.delete(ME, {**CONFIRM, "password": f"guess {n}"}, format="json").status_code
        for n in range(7)
    ]
    assert statuses[:5] == [400] * 5
    assert statuses[-1] == 429
    # Even the right password waits now.
    assert_error(client.delete(ME, CONFIRM, format="json"), 429, "throttled")
    citizen.refresh_from_db()
    assert citizen.deleted_at is None


@pytest.mark.django_db
def test_it_refuses_deletion_by_the_only_owner_with_409(api_for, company_owner):
    error = assert_error(api_for(company_owner).delete(ME, CONFIRM, format="json"), 409)
    assert error["code"] == "sole_owner"
    assert "Acme AI" in error["message"]
    company_owner.refresh_from_db()
    assert company_owner.deleted_at is None
    assert Membership.objects.filter(user=company_owner).exists()

    MembershipFactory(organization=company_owner.memberships.get().organization, role="owner")
    assert api_for(company_owner).delete(ME, CONFIRM, format="json").status_code == 204


@pytest.mark.django_db
def test_it_asks_for_the_two_factor_code_when_it_is_on(settings, api_for, citizen):
    settings.MFA_TOTP_TOLERANCE = 1
    secret = generate_totp_secret()
    TOTP.activate(citizen, secret)
    client = api_for(citizen)
    assert client.get(ME).json()["mfa_enabled"] is True

    error = assert_error(client.delete(ME, CONFIRM, format="json"), 400)
    assert set(error["fields"]) == {"code"}
    error = assert_error(client.delete(ME, {**CONFIRM, "code": "000000"}, format="json"), 400)
    assert set(error["fields"]) == {"code"}
    citizen.refresh_from_db()
    assert citizen.deleted_at is None

    response = client.delete(ME, {**CONFIRM, "code": current_code(secret, 1)}, format="json")
    assert response.status_code == 204
    assert not Authenticator.objects.filter(user=citizen).exists()


@pytest.mark.django_db
def test_it_needs_the_write_account_scope_and_the_password_to_delete(citizen):
    client, _token = bearer(citizen, READ)
    assert_error(client.delete(ME, CONFIRM, format="json"), 403)

    client, _token = bearer(citizen, WRITE)
    assert_error(
        client.delete(ME, {**CONFIRM, "password": "leaked token only"}, format="json"), 400
    )
    assert client.delete(ME, CONFIRM, format="json").status_code == 204
    assert not ApiToken.objects.filter(user=citizen).exists()
    assert_error(client.get(ME), 401)  # the token died with the account
    assert User.objects.get(pk=citizen.pk).deleted_at is not None
