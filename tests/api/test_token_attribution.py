"""Every write made through an API token is attributed on the ledger: the entries it appends
name the token (`via_token`, its id) next to the person who owns it. Session writes don't."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from governance.models import LedgerEntry
from governance.selectors.ledger import ledger_verify
from governance.services.tokens import api_token_create

pytestmark = pytest.mark.django_db


def token_client(user, scopes):
    token, raw = api_token_create(user=user, name="script " + "+".join(scopes), scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return token, client


def entries_after(seq: int) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(seq__gt=seq).order_by("seq"))


def last_seq() -> int:
    return LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


WRITES = [
    (
        ["write:account"],
        "post",
        "/api/v1/organizations/",
        {"name": "Civic Audit", "kind": "auditor"},
        "organization.created",
    ),
    (
        ["write:account"],
        "post",
        "/api/v1/me/tokens/",
        {"name": "child", "scopes": ["read:public"]},
        "api_token.created",
    ),
]


@pytest.mark.parametrize(("scopes", "method", "url", "body", "action"), WRITES)
def test_a_token_write_names_the_token_on_the_ledger(citizen, scopes, method, url, body, action):
    token, client = token_client(citizen, scopes)
    before = last_seq()
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code in (200, 201), response.content
    new = entries_after(before)
    assert action in [e.action for e in new]
    for entry in new:
        assert entry.actor == f"user:{citizen.pk}"
        assert entry.payload["via_token"] == token.pk
    # The attribution is part of the hashed entry: the chain still verifies.
    assert ledger_verify().ok


def test_a_webhook_subscription_through_a_token_is_attributed(regulator):
    token, client = token_client(regulator, ["write:webhooks"])
    before = last_seq()
    response = client.post(
        "/api/v1/webhooks/", {"target_url": "http://127.0.0.1:9/h"}, format="json"
    )
    assert response.status_code == 201, response.content
    (entry,) = [e for e in entries_after(before) if e.action.startswith("webhook")]
    assert entry.payload["via_token"] == token.pk


def test_a_session_write_is_not_attributed_to_any_token(api_for, citizen):
    before = last_seq()
    response = api_for(citizen).post(
        "/api/v1/organizations/", {"name": "Civic Audit", "kind": "auditor"}, format="json"
    )
    assert response.status_code == 201
    entries = entries_after(before)
    assert entries
    assert all("via_token" not in e.payload for e in entries)
