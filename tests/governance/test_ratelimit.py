"""Fixed-window rate limits counted in Redis: rates parse strictly, a window admits exactly its
limit and says when to retry, and several OS processes hitting one key together share it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from governance import ratelimit
from governance.errors import RateLimited

# 10 s into a minute (and 10 s into an hour): windows are aligned to the clock.
T0 = 1_800_000_000 + 10.0


def key() -> str:
    return f"test:{uuid.uuid4().hex}"


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [
        ("10/minute", (10, 60)),
        ("10/m", (10, 60)),
        ("60/minutes", (60, 60)),
        ("3/s", (3, 1)),
        ("3/second", (3, 1)),
        ("100/hour", (100, 3600)),
        ("100/h", (100, 3600)),
        ("1/day", (1, 86400)),
        ("1/d", (1, 86400)),
        (" 5 / Minute ", (5, 60)),
    ],
)
def test_it_parses_rates(rate, parsed):
    assert ratelimit.parse_rate(rate) == parsed


@pytest.mark.parametrize(
    "rate",
    [
        "",
        "10",
        "/minute",
        "ten/minute",
        "10/fortnight",
        "10/ms",
        "0/minute",
        "-1/s",
        "1.5/s",
        "10/minute/hour",
        "\u0661\u0660/minute",  # Arabic-Indic digits are not a count
        "10/minute\x00",
        "9999999999/s",
        None,
        10,
    ],
)
def test_it_refuses_malformed_rates(rate):
    with pytest.raises(ValueError, match="rate looks like"):
        ratelimit.parse_rate(rate)


def test_it_admits_the_limit_then_refuses_and_says_when_the_window_ends():
    k = key()
    for _ in range(3):
        ratelimit.hit(k, "3/minute", now=T0)
    with pytest.raises(RateLimited) as error:
        ratelimit.hit(k, "3/minute", now=T0 + 5)
    assert error.value.retry_after == 45  # the minute window ends 45 s later
    assert error.value.status == 429
    assert "at most 3 per minute" in error.value.message


def test_it_opens_a_fresh_window_at_the_boundary():
    k = key()
    ratelimit.hit(k, "1/minute", now=T0 + 49.5)
    with pytest.raises(RateLimited) as error:
        ratelimit.hit(k, "1/minute", now=T0 + 49.9)
    assert error.value.retry_after == 1  # rounded up, never 0
    ratelimit.hit(k, "1/minute", now=T0 + 50)  # the next minute has begun


def test_it_accepts_a_datetime_for_now():
    k = key()
    at = datetime.fromtimestamp(T0, tz=UTC)
    ratelimit.hit(k, "1/hour", now=at)
    with pytest.raises(RateLimited) as error:
        ratelimit.hit(k, "1/hour", now=at)
    assert error.value.retry_after == 3600 - 10


def test_it_counts_each_key_on_its_own():
    a, b = key(), key()
    ratelimit.hit(a, "1/minute", now=T0)
    ratelimit.hit(b, "1/minute", now=T0)
    with pytest.raises(RateLimited):
        ratelimit.hit(a, "1/minute", now=T0)


def test_it_keeps_counting_refused_requests_within_the_window():
    k = key()
    ratelimit.hit(k, "1/minute", now=T0)
    for _ in range(5):
        with pytest.raises(RateLimited):
            ratelimit.hit(k, "1/minute", now=T0)
    assert cache.get(f"ratelimit:{k}:60:{int(T0 // 60)}") == 6


def test_it_refuses_a_malformed_rate_before_counting():
    k = key()
    with pytest.raises(ValueError, match="rate looks like"):
        ratelimit.hit(k, "lots", now=T0)
    ratelimit.hit(k, "1/minute", now=T0)  # nothing was counted


# Each worker sets Django up, says "ready", waits for "go" on stdin, then hits the key as fast as
# it can with a fixed clock (so the run cannot straddle a window) and prints how many passed.
WORKER = """
import sys
import django
django.setup()
from governance import ratelimit
from governance.errors import RateLimited
key, attempts, now = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()
accepted = 0
for _ in range(attempts):
    try:
        ratelimit.hit(key, "50/hour", now=now)
        accepted += 1
    except RateLimited:
        pass
print(accepted, flush=True)
"""


@pytest.mark.skipif(
    "redis" not in settings.CACHES["default"]["BACKEND"].lower(),
    reason="a limit is shared across processes only when the cache is Redis",
)
def test_it_holds_across_processes_against_redis():
    k = key()
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "governance.settings",
        # The workers must count in the same Redis database (and under the same prefix) as
        # this test process.
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", ""),
        "PYTHONPATH": str(root),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, k, "40", str(T0)],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:  # release them together
            worker.stdin.write("go\n")
            worker.stdin.flush()
        accepted = [int(worker.communicate(timeout=120)[0].strip()) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    # 160 attempts at 50/hour across four processes: exactly 50 pass, however they interleave.
    assert sum(accepted) == 50
    assert all(worker.returncode == 0 for worker in workers)
    assert cache.get(f"ratelimit:{k}:3600:{int(T0 // 3600)}") == 160
