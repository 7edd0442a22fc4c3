"""Structured logs: one line per request with its id and timing, JSON when LOG_FORMAT=json,
and gunicorn's own configuration and access log in the same shape."""

from __future__ import annotations

import io
import json
import logging
import os
import runpy
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.utils.module_loading import import_string

BASE_DIR = Path(__file__).resolve().parents[2]
GUNICORN_CONF = BASE_DIR / "governance" / "gunicorn.conf.py"
REQUEST_FIELDS = {"request_id", "method", "path", "status", "duration_ms"}


def request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "openrefusal.request"]


@pytest.mark.django_db
def test_it_logs_one_line_per_request_with_its_fields(client, caplog):
    with caplog.at_level(logging.INFO, logger="openrefusal.request"):
        response = client.get("/healthz?probe=1")
    [record] = request_records(caplog)
    assert record.method == "GET"
    assert record.path == "/healthz"
    assert record.status == response.status_code
    assert isinstance(record.duration_ms, float)
    assert record.duration_ms >= 0
    assert record.request_id == response["X-Request-ID"]
    assert len(record.request_id) == 32
    assert record.user_id is None


@pytest.mark.django_db
def test_it_logs_the_signed_in_user_by_id_only(client, citizen, caplog):
    client.force_login(citizen)
    with caplog.at_level(logging.INFO, logger="openrefusal.request"):
        client.get("/healthz")
    [record] = request_records(caplog)
    assert record.user_id == citizen.pk
    assert citizen.email not in record.getMessage()


@pytest.mark.django_db
def test_it_keeps_an_incoming_request_id_and_caps_its_length(client, caplog):
    with caplog.at_level(logging.INFO, logger="openrefusal.request"):
        first = client.get("/healthz", headers={"X-Request-ID": "lb-1234"})
        second = client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert first["X-Request-ID"] == "lb-1234"
    assert second["X-Request-ID"] == "x" * 64
    assert [r.request_id for r in request_records(caplog)] == ["lb-1234", "x" * 64]


@pytest.mark.django_db
def test_it_renders_the_request_fields_as_json_keys(client):
    # The formatter exactly as settings.LOGGING configures it for LOG_FORMAT=json.
    spec = dict(django_settings.LOGGING["formatters"]["json"])
    formatter = import_string(spec.pop("()"))(**spec)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("openrefusal.request")
    logger.addHandler(handler)
    try:
        client.get("/healthz")
    finally:
        logger.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    document = json.loads(line)
    assert document.keys() >= REQUEST_FIELDS
    assert document["path"] == "/healthz"
    assert document["level"] == "INFO"
    assert document["logger"] == "openrefusal.request"
    assert "time" in document


def test_it_writes_one_json_object_per_line_with_log_format_json():
    # A fresh process with the real LOGGING configuration, as a production node runs it.
    env = {
        **os.environ,
        "DJANGO_ENV": "local",
        "LOG_FORMAT": "json",
        "DJANGO_SETTINGS_MODULE": "governance.settings",
    }
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "c = Client(HTTP_HOST='127.0.0.1')\n"
        "c.get('/healthz'); c.post('/healthz')\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    requests = [r for r in records if r.get("logger") == "openrefusal.request"]
    assert [(r["method"], r["path"]) for r in requests] == [
        ("GET", "/healthz"),
        ("POST", "/healthz"),
    ]
    assert requests[1]["status"] == 405
    for record in requests:
        assert record.keys() >= REQUEST_FIELDS


# --- gunicorn -----------------------------------------------------------------------------------


def load_gunicorn_conf(monkeypatch, **env: str) -> dict:
    for key in (
        "BIND",
        "HOST",
        "PORT",
        "WEB_CONCURRENCY",
        "WEB_THREADS",
        "LOG_FORMAT",
        "ACCESS_LOG",
        "FORWARDED_ALLOW_IPS",
        "GUNICORN_CONTROL_SOCKET",
    ):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(GUNICORN_CONF))


def test_it_binds_gunicorn_to_loopback_by_default(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch)
    assert conf["bind"] == "127.0.0.1:8000"
    assert conf["worker_class"] == "gthread"
    assert conf["preload_app"] is True
    assert 3 <= conf["workers"] <= 12
    assert conf["max_requests"] > 0
    assert conf["max_requests_jitter"] > 0
    assert conf["control_socket_disable"] is True


def test_it_reads_gunicorn_settings_from_the_environment(monkeypatch):
    conf = load_gunicorn_conf(
        monkeypatch, PORT="9000", WEB_CONCURRENCY="3", FORWARDED_ALLOW_IPS="10.0.0.2"
    )
    assert conf["bind"] == "127.0.0.1:9000"
    assert conf["workers"] == 3
    assert conf["forwarded_allow_ips"] == "10.0.0.2"
    assert load_gunicorn_conf(monkeypatch, BIND="0.0.0.0:8000")["bind"] == "0.0.0.0:8000"


def test_it_refuses_a_malformed_worker_count(monkeypatch):
    with pytest.raises(SystemExit, match="WEB_CONCURRENCY"):
        load_gunicorn_conf(monkeypatch, WEB_CONCURRENCY="lots")


def test_it_writes_gunicorn_access_lines_as_json(monkeypatch):
    from gunicorn.config import Config

    conf = load_gunicorn_conf(monkeypatch, LOG_FORMAT="json")
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("errorlog", "-")
    access_logger = conf["JsonLogger"](cfg)
    stream = io.StringIO()
    for handler in access_logger.access_log.handlers:
        handler.setStream(stream)
    response = SimpleNamespace(
        status="404 Not Found", headers=[("X-Request-ID", "abc123")], sent=12
    )
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/ledger/",
        "QUERY_STRING": "action=x",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_USER_AGENT": 'agent "quoted"',
    }
    access_logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=7))
    [line] = stream.getvalue().splitlines()
    document = json.loads(line)
    assert document["logger"] == "gunicorn.access"
    assert document["request_id"] == "abc123"
    assert document["status"] == 404
    assert document["path"] == "/ledger/"
    assert document["duration_ms"] == 7.0
    assert document["user_agent"] == 'agent "quoted"'
