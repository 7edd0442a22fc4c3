"""ETag / If-None-Match on API reads: 304 with no body on a repeat, a new ETag once the data
changes, and Vary / Cache-Control so one reader's view is never served to another."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from governance.services.tokens import api_token_create
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

ORGS = "/api/v1/organizations/"


def vary(response) -> set[str]:
    return {v.strip().lower() for v in response.get("Vary", "").split(",")}


def test_a_repeat_read_with_the_etag_is_304_without_a_body(company):
    client = APIClient()
    first = client.get(ORGS)
    assert first.status_code == 200
    etag = first["ETag"]
    assert etag.startswith('"')  # strong, not W/"…"
    assert {"authorization", "cookie"} <= vary(first)
    assert "no-cache" in first["Cache-Control"]

    again = client.get(ORGS, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert {"authorization", "cookie"} <= vary(again)

    # HEAD too; and a stale tag gets the full answer.
    assert client.head(ORGS, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(ORGS, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_a_change_gives_a_new_etag(company):
    client = APIClient()
    etag = client.get(ORGS)["ETag"]
    OrganizationFactory(name="Newcomer Labs", slug="newcomer-labs")
    after = client.get(ORGS, HTTP_IF_NONE_MATCH=etag)
    assert after.status_code == 200
    assert after["ETag"] != etag
    assert "newcomer-labs" in after.content.decode()


def test_detail_reads_are_conditional_too(company):
    client = APIClient()
    url = f"{ORGS}{company.slug}/"
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_answers_to_credentials_are_private(citizen, company):
    _, raw = api_token_create(user=citizen, name="t", scopes=["read:public"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.get(ORGS)
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]
    assert "private" not in APIClient().get(ORGS)["Cache-Control"]


def test_errors_and_writes_carry_no_etag(citizen):
    client = APIClient()
    assert not client.get(f"{ORGS}no-such-org/").has_header("ETag")
    client.force_authenticate(citizen)
    response = client.post(ORGS, {"name": ""}, format="json")
    assert response.status_code == 400
    assert not response.has_header("ETag")
