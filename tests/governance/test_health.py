"""`/healthz`: 200 with every check passing, 503 (never 500) when the database or broker is down."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.urls import reverse

from governance.views import health as health_module

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def url():
    return reverse("healthz")


def test_it_has_no_trailing_slash(url):
    assert url == "/healthz"


@pytest.mark.django_db
def test_it_reports_ok_with_real_postgres_and_redis(client, settings, url):
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs REDIS_URL (the CI and the helpers' runs set it)")
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert isinstance(body["database"]["latency_ms"], float | int)
    assert body["broker"] == {
        "ok": True,
        "transport": "redis",
        "latency_ms": body["broker"]["latency_ms"],
    }
    assert body["version"] == health_module.app_version() != "unknown"


@pytest.mark.django_db
def test_it_is_never_cached(client, url):
    response = client.get(url)
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_answers_head(client, url):
    assert client.head(url).status_code in {200, 503}


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_it_refuses_writes(client, url, method):
    assert getattr(client, method)(url).status_code == 405


@pytest.mark.django_db
def test_it_reports_degraded_when_the_redis_broker_is_down(client, settings, url):
    settings.CELERY_BROKER_URL = CLOSED_PORT_REDIS
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False
    assert body["broker"]["transport"] == "redis"
    assert "no-store" in response["Cache-Control"]
    # A dead broker must not hold the load balancer's probe for long.
    assert elapsed < health_module.BROKER_TIMEOUT_SECONDS * 3


@pytest.mark.django_db
def test_it_checks_the_filesystem_broker_folder(client, settings, url, tmp_path):
    (tmp_path / "queue").mkdir()
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path / "queue"),
        "data_folder_out": str(tmp_path / "queue"),
    }
    response = client.get(url)
    assert response.status_code == 200
    assert response.json()["broker"]["transport"] == "filesystem"
    # The probe file is cleaned up, so the worker never sees it.
    assert list((tmp_path / "queue").iterdir()) == []


@pytest.mark.django_db
def test_it_reports_degraded_when_the_filesystem_broker_folder_is_missing(
    client, settings, url, tmp_path
):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path / "gone"),
        "data_folder_out": str(tmp_path / "gone"),
    }
    response = client.get(url)
    assert response.status_code == 503
    assert response.json()["broker"] == {
        "ok": False,
        "transport": "filesystem",
        "latency_ms": None,
    }


@pytest.fixture
def database_down(django_db_blocker):
    """Point the default connection at a closed port for the length of one test."""
    with django_db_blocker.unblock():
        connection.close()
        saved = dict(connection.settings_dict)
        connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)


def test_it_reports_degraded_when_the_database_is_down(client, settings, url, database_down):
    settings.CELERY_BROKER_URL = CLOSED_PORT_REDIS
    response = client.get(url)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"] == {"ok": False, "latency_ms": None}
