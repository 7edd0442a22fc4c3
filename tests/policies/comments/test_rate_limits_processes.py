"""Comment rate limits hold across several web processes: two gunicorn servers (each its own
process, its own Django) share the per-account and per-address counters in Redis, so posts sent
to both in turn are limited as one, and every refusal is a 429 with Retry-After."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from governance.services.tokens import api_token_create
from policies.models import Comment
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "redis" not in settings.CACHES["default"]["BACKEND"].lower(),
        reason="limits are shared across processes only when the cache is Redis",
    ),
]

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT_LIMIT, IP_LIMIT = 3, 7
DAY = 86400


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict  # the test database, which the servers must read too
    user = db.get("USER") or "postgres"
    auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{auth}@{host}/{db['NAME']}"


class _Gunicorn:
    """One gunicorn master with one worker, on a free loopback port."""

    def __init__(self, log: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DJANGO_ENV": "local",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.CACHES["default"]["LOCATION"],
            "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "1",
            "WEB_THREADS": "2",
            "ACCESS_LOG": "",
            "COMMENT_RATE_ACCOUNT": f"{ACCOUNT_LIMIT}/day",
            "COMMENT_RATE_IP": f"{IP_LIMIT}/day",
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        with open(self.log, "wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [str(gunicorn), "-c", str(ROOT / "governance/gunicorn.conf.py"), "governance.wsgi"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited early:\n{self.log.read_text()[-3000:]}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.3)
        pytest.fail(f"gunicorn did not answer within 90 s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def two_servers(tmp_path):
    servers = [_Gunicorn(tmp_path / f"gunicorn-{i}.log") for i in range(2)]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _token(user) -> str:
    _token, raw = api_token_create(user=user, name="Rate test", scopes=["write:comments"])
    return raw


def _post(server: _Gunicorn, token: str, period_id: int, body: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/comments/",
        json={"period": period_id, "body": body},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_the_limits_hold_across_two_web_processes(open_period, citizen, two_servers):
    day = int(time.time() // DAY)
    first, second = citizen, UserFactory()
    tokens = {first.pk: _token(first), second.pk: _token(second)}
    answers: list[tuple[int, int, httpx.Response]] = []  # (author, server, response)
    # One person posts five times, to each server in turn: the account limit is 3 a day.
    # Then another person, from the same address, posts three times: the address has 7 a day,
    # and the five attempts above count against it, accepted or not.
    plan = [first.pk] * 5 + [second.pk] * 3
    for n, author in enumerate(plan):
        server = n % 2
        answer = _post(two_servers[server], tokens[author], open_period.pk, f"Comment {n}")
        answers.append((author, server, answer))
    if int(time.time() // DAY) != day:
        pytest.skip("the run straddled the end of a day's window; the counts started over")

    codes = [answer.status_code for _, _, answer in answers]
    assert codes == [201, 201, 201, 429, 429, 201, 201, 429], [a.text for *_, a in answers]
    refused = [(server, answer) for _, server, answer in answers if answer.status_code == 429]
    assert {server for server, _ in refused} == {0, 1}  # both processes refuse
    for _server, answer in refused:
        assert answer.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(answer.headers["Retry-After"]) <= DAY
    assert f"at most {ACCOUNT_LIMIT} per day" in answers[3][2].json()["error"]["message"]
    assert f"at most {IP_LIMIT} per day" in answers[7][2].json()["error"]["message"]
    # Every accepted comment is stored once; nothing refused is.
    accepted = {answer.json()["id"] for *_, answer in answers if answer.status_code == 201}
    assert set(Comment.objects.values_list("id", flat=True)) == accepted
    assert Comment.objects.filter(author=first).count() == ACCOUNT_LIMIT
    assert Comment.objects.filter(author=second).count() == IP_LIMIT - 5
