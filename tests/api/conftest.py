"""Fixtures for the API tests that call every operation many times."""

from __future__ import annotations

import pytest
from rest_framework.throttling import SimpleRateThrottle

UNLIMITED = "100000/minute"


@pytest.fixture
def unthrottled(settings, monkeypatch):
    """The rates in settings are production's; the thousands of requests of the schemathesis
    run and the permission matrix, from one address in a few minutes, would hit them, and a 429
    is not what those tests are about (tests/api/test_throttling is)."""
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {"anon": UNLIMITED, "user": UNLIMITED}
    )
    product = settings.OPENREFUSAL
    settings.OPENREFUSAL = {
        **product,
        "API_TOKEN_RATE": UNLIMITED,
        "API_SCOPE_RATES": dict.fromkeys(product["API_SCOPE_RATES"], UNLIMITED),
        "COMMENT_RATE_ACCOUNT": UNLIMITED,
        "COMMENT_RATE_IP": UNLIMITED,
    }
