"""Fixed-window rate limits counted in the Django cache: Redis in production and tests, so one
limit holds across every web process (the embedded development default counts per process)."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime

from django.core.cache import cache

from governance.errors import RateLimited

UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
UNITS.update({f"{name}s": seconds for name, seconds in list(UNITS.items()) if len(name) > 1})
UNIT_NAMES = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
_RATE = re.compile(r"([0-9]{1,9})\s*/\s*([a-z]+)")
KEY_PREFIX = "ratelimit"


def parse_rate(rate: str) -> tuple[int, int]:
    """`"10/minute"` → (10, 60). Units: second, minute, hour, day (plurals accepted) or s, m,
    h, d. Anything else, or a count below 1, is a ValueError naming the bad rate."""
    match = _RATE.fullmatch(rate.strip().lower()) if isinstance(rate, str) else None
    if match is None or match[2] not in UNITS or int(match[1]) < 1:
        raise ValueError(f"A rate looks like '10/minute' (units s, m, h, d), not {rate!r}.")
    return int(match[1]), UNITS[match[2]]


def _timestamp(now: float | datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        return now.timestamp()
    return float(now)


def _count(key: str, timeout: int) -> int:
    """Add the key at 0 if it is new, then increment it: both are single atomic Redis commands,
    so concurrent processes never lose a count."""
    for _ in range(3):
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:
            # The key expired between the add and the incr (the window just ended): start again.
            continue
    raise RuntimeError(f"The rate-limit counter {key!r} could not be incremented.")


def _count_many(keys: list[tuple[str, int]]) -> list[int]:
    """Increment several counters. On Redis in one round trip (INCR, then EXPIRE NX so the first
    increment of a window sets its lifetime); elsewhere one counter at a time."""
    backend = getattr(cache, "_cache", None)
    if not hasattr(backend, "get_client"):
        return [_count(key, timeout) for key, timeout in keys]
    client = backend.get_client(write=True)
    pipe = client.pipeline(transaction=False)
    for key, timeout in keys:
        full = cache.make_and_validate_key(key)
        pipe.incr(full)
        pipe.expire(full, timeout, nx=True)
    replies = pipe.execute()
    return [int(count) for count in replies[0::2]]


def hit(key: str, rate: str, *, now: float | datetime | None = None) -> None:
    """Count one request against `key`; raise RateLimited when it is more than `rate` allows in
    the current window. Windows are aligned to the clock, so every process counts in the same
    one; `retry_after` is the number of seconds until that window ends."""
    hit_many([(key, rate)], now=now)


def hit_many(limits: list[tuple[str, str]], *, now: float | datetime | None = None) -> None:
    """`hit` for several (key, rate) pairs counted together (one Redis round trip); the first
    pair over its limit raises."""
    at = _timestamp(now)
    counted = []
    for key, rate in limits:
        limit, seconds = parse_rate(rate)
        window = int(at // seconds)
        # The counter outlives its window by a second so a late incr never recreates it.
        counted.append((f"{KEY_PREFIX}:{key}:{seconds}:{window}", seconds + 1, limit, window))
    counts = _count_many([(key, timeout) for key, timeout, _, _ in counted])
    for (_key, timeout, limit, window), count in zip(counted, counts, strict=True):
        if count > limit:
            seconds = timeout - 1
            retry_after = max(1, math.ceil((window + 1) * seconds - at))
            unit = UNIT_NAMES.get(seconds, f"{seconds} seconds")
            raise RateLimited(
                f"Too many requests: at most {limit} per {unit}. Try again in {retry_after} "
                f"second{'s' if retry_after != 1 else ''}.",
                retry_after=retry_after,
            )


__all__ = ["hit", "hit_many", "parse_rate"]
