"""Last-Modified / If-Modified-Since on API reads with a natural modification time (a policy
version, the change feed), next to the ETag: 304 for an unchanged resource, the full answer
once it changed, the ETag winning when both are sent, and no date at all while the resource
changed within the last seconds (HTTP dates count whole seconds)."""

from __future__ import annotations

import math
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django.utils.http import http_date, parse_http_date
from rest_framework.test import APIClient

from governance.api import conditional
from governance.models import LedgerEntry
from governance.services.ledger import ledger_append
from policies import services as policy_services
from tests.policies import conftest as policy_fixtures

system = policy_fixtures.system
policy = policy_fixtures.policy
policy_markdown = policy_fixtures.policy_markdown
publish = policy_fixtures.publish
published_version = policy_fixtures.published_version

pytestmark = pytest.mark.django_db

FEED = "/api/v1/changes/"


def version_url(version) -> str:
    return f"/api/v1/policy-versions/{version.pk}/"


@pytest.fixture
def an_hour_later(monkeypatch):
    """The API answers as if an hour had passed since the data was written (dates are only
    sent once their second is safely over)."""
    later = timezone.now() + timedelta(hours=1)
    monkeypatch.setattr(conditional, "_now", lambda: later)


def test_a_version_sends_its_last_change_and_an_unchanged_one_is_304(
    published_version, an_hour_later
):
    version = published_version
    client = APIClient()
    first = client.get(version_url(version))
    assert first.status_code == 200
    assert first["Last-Modified"] == http_date(math.floor(version.updated_at.timestamp()))

    same = client.get(version_url(version), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert same.status_code == 304
    assert same.content == b""
    assert same["Last-Modified"] == first["Last-Modified"]
    assert same["ETag"] == first["ETag"]

    earlier = http_date(parse_http_date(first["Last-Modified"]) - 1)
    assert client.get(version_url(version), HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200
    # Nonsense dates are ignored, not errors.
    assert client.get(version_url(version), HTTP_IF_MODIFIED_SINCE="yesterday").status_code == 200


def test_the_etag_wins_when_both_are_sent(published_version, an_hour_later):
    version = published_version
    client = APIClient()
    first = client.get(version_url(version))
    stale = client.get(
        version_url(version),
        HTTP_IF_MODIFIED_SINCE=first["Last-Modified"],
        HTTP_IF_NONE_MATCH='"stale"',
    )
    assert stale.status_code == 200
    assert stale.json()["id"] == version.pk


def test_a_change_gives_the_full_answer_to_the_old_date(
    published_version, company_editor, an_hour_later
):
    version = published_version
    client = APIClient()
    held = client.get(version_url(version))["Last-Modified"]
    time.sleep(1.05)  # the change in a later second
    policy_services.version_withdraw(
        actor=company_editor, version=version, reason="Replaced by a rewrite."
    )
    after = client.get(version_url(version), HTTP_IF_MODIFIED_SINCE=held)
    assert after.status_code == 200
    assert after.json()["status"] == "withdrawn"
    assert parse_http_date(after["Last-Modified"]) > parse_http_date(held)


def test_a_change_in_the_same_second_is_not_hidden_by_the_date(published_version, company_editor):
    """Read right after publication, the version has no date yet: a withdrawal within the
    same second cannot then be answered 304 to that date."""
    client = APIClient()
    first = client.get(version_url(published_version))
    assert not first.has_header("Last-Modified")
    policy_services.version_withdraw(
        actor=company_editor, version=published_version, reason="Replaced by a rewrite."
    )
    after = client.get(
        version_url(published_version), HTTP_IF_MODIFIED_SINCE=http_date(time.time())
    )
    assert after.status_code == 200
    assert after.json()["status"] == "withdrawn"


def test_a_version_changed_within_the_settle_window_has_no_date_yet(published_version):
    response = APIClient().get(version_url(published_version))
    assert response.status_code == 200
    assert response.has_header("ETag")
    assert not response.has_header("Last-Modified")
    assert (
        APIClient()
        .get(version_url(published_version), HTTP_IF_MODIFIED_SINCE=http_date(time.time() + 60))
        .status_code
        == 200
    )


def test_resources_without_a_modification_time_send_none(company):
    response = APIClient().get("/api/v1/organizations/", HTTP_IF_MODIFIED_SINCE=http_date())
    assert response.status_code == 200
    assert not response.has_header("Last-Modified")


def test_the_change_feed_is_dated_by_its_newest_entry(company, an_hour_later):
    with transaction.atomic():
        ledger_append(actor="system", action="test.happened", subject=company)
    client = APIClient()
    first = client.get(FEED)
    head = LedgerEntry.objects.order_by("-seq").first()
    assert first["Last-Modified"] == http_date(math.floor(head.at.timestamp()))
    assert client.get(FEED, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304

    time.sleep(1.05)  # the next entry in a later second
    with transaction.atomic():
        ledger_append(actor="system", action="test.happened", subject=company)
    after = client.get(FEED, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert after.status_code == 200
    assert after.json()["head"] == head.seq + 1
    assert parse_http_date(after["Last-Modified"]) > parse_http_date(first["Last-Modified"])


def test_set_last_modified_refuses_recent_and_future_times():
    from rest_framework.response import Response

    now = timezone.now()
    assert not conditional.set_last_modified(Response(), now).has_header("Last-Modified")
    assert not conditional.set_last_modified(Response(), now + timedelta(days=1)).has_header(
        "Last-Modified"
    )
    assert not conditional.set_last_modified(Response(), None).has_header("Last-Modified")
    old = now - timedelta(minutes=5)
    assert conditional.set_last_modified(Response(), old)["Last-Modified"] == http_date(
        math.floor(old.timestamp())
    )
    assert conditional.latest(None, old, [now, None]) == now
    assert conditional.latest(None, []) is None
