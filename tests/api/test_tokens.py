"""Personal API tokens through the API and the command line: created once, stored hashed,
scoped, revocable."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from governance.errors import Conflict, Invalid, NotFound
from governance.models import ApiToken, LedgerEntry
from governance.services.tokens import MAX_ACTIVE_TOKENS, api_token_create, api_token_revoke

URL = "/api/v1/me/tokens/"
READ = "read:public"
WRITE = "write:account"


def bearer(raw: str) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return c


def make_token(user, *, name="Script", scopes=(READ, WRITE), days=None):
    return api_token_create(user=user, name=name, scopes=list(scopes), expires_in_days=days)


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


# --- Creating --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_creates_a_token_and_shows_the_secret_once(citizen, api_for):
    client = api_for(citizen)
    response = client.post(
        URL, {"name": "Export", "scopes": [READ], "expires_in_days": 30}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    raw = body["token"]
    assert raw.startswith("orf_")
    assert len(raw) > 40
    assert body["prefix"] == raw[: len(body["prefix"])]
    assert body["status"] == "active"
    assert body["scopes"] == [READ]
    token = ApiToken.objects.get(pk=body["id"])
    assert token.key_sha256 == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(ApiToken.objects.filter(pk=token.pk).values().first())
    assert token.expires_at - timezone.now() > timedelta(days=29, hours=23)

    listed = client.get(URL).json()["results"]
    assert [t["id"] for t in listed] == [token.pk]
    assert "token" not in listed[0]
    assert "token" not in client.get(f"{URL}{token.pk}/").json()


@pytest.mark.django_db
def test_it_records_creation_and_revocation_on_the_ledger_without_the_name(citizen):
    token, _raw = make_token(citizen, name="My secret project name")
    api_token_revoke(user=citizen, token=token)
    entries = list(LedgerEntry.objects.filter(action__startswith="api_token.").order_by("seq"))
    assert [e.action for e in entries] == ["api_token.created", "api_token.revoked"]
    for entry in entries:
        assert entry.payload == {"token_id": token.pk, "scopes": [READ, WRITE]}
        assert "secret project" not in str(entry.payload)


@pytest.mark.django_db
def test_it_needs_a_signed_in_caller(api_for):
    assert_error(api_for(None).get(URL), 401, "not_authenticated")
    assert_error(api_for(None).post(URL, {"name": "x", "scopes": [READ]}), 401)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "", "scopes": [READ]}, "name"),
        ({"name": "   ", "scopes": [READ]}, "name"),
        ({"name": "x" * 101, "scopes": [READ]}, "name"),
        ({"scopes": [READ]}, "name"),
        ({"name": "ok", "scopes": []}, "scopes"),
        ({"name": "ok", "scopes": ["admin:everything"]}, "scopes"),
        ({"name": "ok", "scopes": "read:public"}, "scopes"),
        ({"name": "ok"}, "scopes"),
        ({"name": "ok", "scopes": [READ], "expires_in_days": 0}, "expires_in_days"),
        ({"name": "ok", "scopes": [READ], "expires_in_days": -1}, "expires_in_days"),
        ({"name": "ok", "scopes": [READ], "expires_in_days": 99999}, "expires_in_days"),
        ({"name": "ok", "scopes": [READ], "expires_in_days": "abc"}, "expires_in_days"),
        ({"name": "ok", "scopes": [READ], "expires_in_days": 1.5}, "expires_in_days"),
        ({"name": ["a"], "scopes": [READ]}, "name"),
    ],
)
def test_it_rejects_bad_input_with_field_errors(citizen, api_for, payload, field):
    response = api_for(citizen).post(URL, payload, format="json")
    error = assert_error(response, 400, "invalid")
    assert field in error["fields"]
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_duplicate_name_among_active_tokens(citizen, api_for):
    make_token(citizen, name="Export")
    response = api_for(citizen).post(URL, {"name": " export ", "scopes": [READ]}, format="json")
    error = assert_error(response, 400, "duplicate_name")
    assert "name" in error["fields"]
    # A revoked token's name is free again.
    api_token_revoke(user=citizen, token=ApiToken.objects.get())
    assert api_for(citizen).post(URL, {"name": "Export", "scopes": [READ]}).status_code == 201


@pytest.mark.django_db
def test_it_allows_the_same_name_for_different_people(citizen, outsider):
    make_token(citizen, name="Export")
    make_token(outsider, name="Export")
    assert ApiToken.objects.count() == 2


@pytest.mark.django_db
def test_it_caps_the_number_of_active_tokens(citizen):
    for n in range(MAX_ACTIVE_TOKENS):
        make_token(citizen, name=f"t{n}")
    with pytest.raises(Conflict):
        make_token(citizen, name="one too many")


@pytest.mark.django_db
@pytest.mark.parametrize("days", [0, -1, 99999, True, "3", 2.0])
def test_the_service_validates_expiry_itself(citizen, days):
    with pytest.raises(Invalid) as caught:
        make_token(citizen, days=days)
    assert "expires_in_days" in caught.value.fields


@pytest.mark.django_db
def test_it_rejects_malformed_json_and_wrong_content_type(citizen, api_for):
    client = api_for(citizen)
    assert_error(
        client.post(URL, data='{"name": ', content_type="application/json"), 400, "parse_error"
    )
    assert_error(
        client.post(URL, data="name=x", content_type="text/plain"), 415, "unsupported_media_type"
    )


# --- Authenticating with a token ---------------------------------------------------------------


@pytest.mark.django_db
def test_it_authenticates_with_a_bearer_token_and_notes_its_use(citizen):
    token, raw = make_token(citizen)
    response = bearer(raw).get(URL)
    assert response.status_code == 200
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    # Within a minute a second use does not write again.
    bearer(raw).get(URL)
    token.refresh_from_db()
    assert token.last_used_at == first_use
    # After a minute it does.
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - timedelta(minutes=5))
    bearer(raw).get(URL)
    token.refresh_from_db()
    assert token.last_used_at > first_use - timedelta(minutes=5)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "Bearer orf_not-a-real-token",
        "Bearer not-our-format",
        "Bearer",
        "Bearer orf_a orf_b",
        "Token orf_unknown",
    ],
)
def test_it_answers_401_with_www_authenticate_for_a_bad_token(header, db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(URL)
    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_a_revoked_token_stops_working_at_once(citizen):
    token, raw = make_token(citizen)
    assert bearer(raw).get(URL).status_code == 200
    api_token_revoke(user=citizen, token=token)
    response = bearer(raw).get(URL)
    assert_error(response, 401, "authentication_failed")
    assert "WWW-Authenticate" in response


@pytest.mark.django_db
def test_an_expired_token_stops_working(citizen):
    token, raw = make_token(citizen, days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(bearer(raw).get(URL), 401, "authentication_failed")
    listed = APIClient()
    listed.force_authenticate(citizen)
    assert listed.get(f"{URL}{token.pk}/").json()["status"] == "expired"


@pytest.mark.django_db
def test_a_token_of_an_inactive_account_stops_working(citizen):
    _token, raw = make_token(citizen)
    citizen.is_active = False
    citizen.save()
    assert_error(bearer(raw).get(URL), 401, "authentication_failed")


# --- Scopes ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_read_only_token_cannot_manage_tokens(citizen):
    _token, raw = make_token(citizen, scopes=[READ])
    assert_error(bearer(raw).get(URL), 403, "insufficient_scope")
    error = assert_error(bearer(raw).post(URL, {"name": "x", "scopes": [READ]}), 403)
    assert WRITE in error["message"]
    assert ApiToken.objects.count() == 1


@pytest.mark.django_db
def test_a_token_with_write_account_can_create_and_revoke(citizen):
    token, raw = make_token(citizen, scopes=[WRITE])
    created = bearer(raw).post(URL, {"name": "Second", "scopes": [READ]}, format="json")
    assert created.status_code == 201
    assert bearer(raw).delete(f"{URL}{created.json()['id']}/").status_code == 204
    # It can even revoke itself, after which it no longer works.
    assert bearer(raw).post(f"{URL}{token.pk}/revoke/").status_code == 200
    assert bearer(raw).get(URL).status_code == 401


@pytest.mark.django_db
def test_a_session_is_not_limited_by_scopes(citizen, client_for):
    client = client_for(citizen)
    assert client.get(URL).status_code == 200


@pytest.mark.django_db
def test_a_token_without_read_public_cannot_read_the_api_root(citizen):
    _token, raw = make_token(citizen, scopes=[WRITE])
    assert_error(bearer(raw).get("/api/v1/"), 403, "insufficient_scope")
    _token, raw = make_token(citizen, name="reader", scopes=[READ])
    assert bearer(raw).get("/api/v1/").status_code == 200


# --- Revoking ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_revokes_with_delete_and_with_post(citizen, api_for):
    first, _ = make_token(citizen, name="one")
    second, _ = make_token(citizen, name="two")
    client = api_for(citizen)
    assert client.delete(f"{URL}{first.pk}/").status_code == 204
    response = client.post(f"{URL}{second.pk}/revoke/")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_revoking_twice_is_a_conflict(citizen, api_for):
    token, _ = make_token(citizen)
    client = api_for(citizen)
    assert client.delete(f"{URL}{token.pk}/").status_code == 204
    assert_error(client.delete(f"{URL}{token.pk}/"), 409, "already_revoked")
    assert_error(client.post(f"{URL}{token.pk}/revoke/"), 409, "already_revoked")


@pytest.mark.django_db
def test_others_cannot_see_or_revoke_my_tokens(citizen, outsider, api_for):
    token, raw = make_token(citizen)
    client = api_for(outsider)
    assert client.get(URL).json()["results"] == []
    assert_error(client.get(f"{URL}{token.pk}/"), 404, "not_found")
    assert_error(client.delete(f"{URL}{token.pk}/"), 404, "not_found")
    assert_error(client.post(f"{URL}{token.pk}/revoke/"), 404, "not_found")
    with pytest.raises(NotFound):
        api_token_revoke(user=outsider, token=token)
    assert bearer(raw).get(URL).status_code == 200


@pytest.mark.django_db
def test_it_answers_404_for_unknown_or_malformed_ids_and_405_for_wrong_methods(citizen, api_for):
    client = api_for(citizen)
    assert_error(client.get(f"{URL}999999/"), 404)
    assert_error(client.get(f"{URL}abc/"), 404)
    assert_error(client.put(URL, {}), 405, "method_not_allowed")
    token, _ = make_token(citizen)
    assert_error(client.patch(f"{URL}{token.pk}/", {"name": "x"}), 405)
    assert_error(client.get(f"{URL}{token.pk}/revoke/"), 405)


@pytest.mark.django_db
def test_the_list_is_paginated_and_its_queries_are_bounded(
    citizen, api_for, django_assert_max_num_queries
):
    for n in range(12):
        make_token(citizen, name=f"t{n}")
    client = api_for(citizen)
    with django_assert_max_num_queries(3):
        page = client.get(URL, {"page_size": 5}).json()
    assert len(page["results"]) == 5
    assert page["next"]
    names = [t["name"] for t in page["results"]]
    rest = client.get(page["next"]).json()
    assert not set(names) & {t["name"] for t in rest["results"]}


# --- Command line ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_prints_only_the_raw_token(citizen):
    out = StringIO()
    call_command(
        "create_api_token",
        "CITIZEN@example.org",
        "--name",
        "cli",
        "--scope",
        READ,
        "--scope",
        WRITE,
        "--expires-days",
        "7",
        stdout=out,
    )
    raw = out.getvalue().strip()
    assert raw.startswith("orf_")
    assert "\n" not in raw
    token = ApiToken.objects.get(key_sha256=hashlib.sha256(raw.encode()).hexdigest())
    assert token.user == citizen
    assert token.name == "cli"
    assert token.scopes == [READ, WRITE]
    assert token.expires_at is not None
    assert bearer(raw).get(URL).status_code == 200


@pytest.mark.django_db
def test_the_command_defaults_to_read_only_without_expiry(citizen):
    out = StringIO()
    call_command("create_api_token", citizen.email, "--name", "cli", stdout=out)
    token = ApiToken.objects.get()
    assert token.scopes == [READ]
    assert token.expires_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody@example.org", "--name", "x"], "No account"),
        (["citizen@example.org", "--name", ""], "name"),
        (["citizen@example.org", "--name", "x", "--expires-days", "0"], "days"),
        (["citizen@example.org", "--name", "x", "--expires-days", "99999"], "days"),
    ],
)
def test_the_command_explains_bad_input(citizen, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", *args, stdout=StringIO())
    assert not ApiToken.objects.exists()
