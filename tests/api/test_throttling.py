"""Rate limits per API token and per token and scope (Redis), with 429 and Retry-After, and the
limits as the guide for regulators lists them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from governance.services.tokens import api_token_create

pytestmark = pytest.mark.django_db

FEED = "/api/v1/changes/"


def token_client(user, name, scopes=("read:public", "write:webhooks")):
    _, raw = api_token_create(user=user, name=name, scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def rates(settings):
    def set_rates(each="1000/minute", **scopes):
        settings.OPENREFUSAL = {
            **settings.OPENREFUSAL,
            "API_TOKEN_RATE": each,
            "API_SCOPE_RATES": {"read:public": "1000/minute", "write:webhooks": "1000/minute"}
            | {k.replace("_", ":", 1): v for k, v in scopes.items()},
        }

    return set_rates


def test_each_token_has_its_own_limit(regulator, rates):
    rates(each="3/minute")
    first, second = token_client(regulator, "a"), token_client(regulator, "b")
    assert [first.get(FEED).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert second.get(FEED).status_code == 200
    response = first.get(FEED)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_each_scope_has_its_own_limit(regulator, rates):
    rates(read_public="2/minute")
    client = token_client(regulator, "a")
    assert [client.get(FEED).status_code for _ in range(3)] == [200, 200, 429]
    # The same token's requests needing another scope are counted apart.
    assert client.get("/api/v1/webhooks/").status_code == 200


def test_a_write_scope_is_limited_apart_from_reads(regulator, rates):
    rates(write_webhooks="1/minute")
    client = token_client(regulator, "a")
    assert client.get("/api/v1/webhooks/").status_code == 200
    assert client.get("/api/v1/webhooks/").status_code == 429
    assert client.get(FEED).status_code == 200


def test_token_requests_do_not_use_the_session_limit(regulator, rates, monkeypatch):
    rates()
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "100/min", "user": "1/min"})
    client = token_client(regulator, "a")
    assert [client.get(FEED).status_code for _ in range(3)] == [200, 200, 200]
    session = APIClient()
    session.force_authenticate(regulator)
    assert [session.get(FEED).status_code for _ in range(2)] == [200, 429]


def test_the_counters_are_shared_through_the_cache(regulator, rates, settings):
    from django.core.cache import caches

    rates(each="1/minute")
    raw_client = token_client(regulator, "a")
    assert raw_client.get(FEED).status_code == 200
    # Another client object (another process, same cache) sees the same count.
    other = APIClient()
    other._credentials = dict(raw_client._credentials)
    assert other.get(FEED).status_code == 429
    if settings.REDIS_URL:
        assert type(caches["default"]).__name__ == "RedisCache"


def test_the_guide_lists_the_limits(client_for, rates):
    rates(each="777/minute", read_public="555/minute")
    response = client_for().get("/regulators/")
    assert response.status_code == 200
    assert b"777/minute" in response.content
    assert b"555/minute" in response.content
    assert b"Each API token, requests needing read:public" in response.content
