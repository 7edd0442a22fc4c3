"""`/healthz`: is this web node able to serve — database and Celery broker reachable?

Load balancers, Docker's HEALTHCHECK and `make run` poll it. It answers 200 when every check
passes and 503 otherwise, always as JSON, never cached and never as a 500.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import tomllib
from functools import cache
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger("openrefusal.health")

# A node that cannot reach its broker within this many seconds is reported degraded; the
# whole check must stay well under a load balancer's own timeout (commonly 2 to 5 s).
BROKER_TIMEOUT_SECONDS = 1.0


@cache
def app_version() -> str:
    """The deployed version: `APP_VERSION` when the image sets it, else pyproject's version."""
    if version := os.environ.get("APP_VERSION", ""):
        return version
    try:
        with open(Path(settings.BASE_DIR) / "pyproject.toml", "rb") as f:
            return str(tomllib.load(f)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def check_database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    # Any failure (refused, timed out, misconfigured) means "not ok"; the check reports, it
    # never raises.
    except Exception:
        logger.warning("healthz: database check failed", exc_info=True)
        return {"ok": False, "latency_ms": None}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def broker_transport(url: str) -> str:
    scheme = url.partition("://")[0].lower()
    return {"rediss": "redis", "": "unknown"}.get(scheme, scheme)


def _ping_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
        retry_on_timeout=False,
    )
    try:
        client.ping()
    finally:
        client.close()


def _check_folder_writable(folder: str) -> None:
    # Writing a real file is the only honest test: permissions, a full disk and a read-only
    # mount all show up here, where os.access() would miss the last two.
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".healthz-", delete=True) as f:
        f.write(b"ok")
        f.flush()


def _connect_kombu(url: str, options: dict) -> None:
    from kombu import Connection

    with Connection(url, transport_options=options, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)


def check_broker() -> dict:
    url = settings.CELERY_BROKER_URL
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    transport = broker_transport(url)
    started = time.perf_counter()
    try:
        if transport == "redis":
            _ping_redis(url)
        elif transport == "filesystem":
            for key in ("data_folder_in", "data_folder_out"):
                _check_folder_writable(options[key])
        else:
            _connect_kombu(url, options)
    # As for the database: every failure is a "not ok" answer, not an error page.
    except Exception:
        logger.warning("healthz: broker check failed (%s)", transport, exc_info=True)
        return {"ok": False, "transport": transport, "latency_ms": None}
    return {
        "ok": True,
        "transport": transport,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }


@require_safe
@never_cache
def health(request):
    database = check_database()
    broker = check_broker()
    healthy = database["ok"] and broker["ok"]
    return JsonResponse(
        {
            "status": "ok" if healthy else "degraded",
            "database": database,
            "broker": broker,
            "version": app_version(),
        },
        status=200 if healthy else 503,
    )
