"""API rate limits for token requests: per token, and per token and scope, counted in Redis
(governance.ratelimit: atomic fixed windows shared by every web process). Anonymous requests are
limited per address and signed-in browser sessions per person (DRF's own throttles); over a
limit the API answers 429 with `Retry-After`.

The rates are settings (OPENREFUSAL["API_TOKEN_RATE"] and ["API_SCOPE_RATES"]), read on every
request, and are listed on the guide for regulators (documented_limits)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import BaseThrottle, UserRateThrottle

from governance.api_auth import required_scope
from governance.errors import RateLimited
from governance.models import ApiToken
from governance.ratelimit import hit_many


def _rates() -> tuple[str, dict[str, str]]:
    product = settings.OPENREFUSAL
    return product["API_TOKEN_RATE"], product["API_SCOPE_RATES"]


class SessionUserRateThrottle(UserRateThrottle):
    """DRF's per-person limit, for signed-in sessions; token requests have their own."""

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            return None
        return super().get_cache_key(request, view)


class TokenScopeRateThrottle(BaseThrottle):
    """A token's requests count against the token's limit and against the limit of the scope
    the request needs (reads `read:public`, each kind of write its own)."""

    def __init__(self):
        self.retry_after: int | None = None

    def allow_request(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        token_rate, scope_rates = _rates()
        limits = [(f"api-token:{token.pk}", token_rate)]
        scope = required_scope(view, request.method)
        if scope and scope in scope_rates:
            limits.append((f"api-token:{token.pk}:{scope}", scope_rates[scope]))
        try:
            hit_many(limits)
        except RateLimited as limited:
            self.retry_after = limited.retry_after
            return False
        return True

    def wait(self) -> int | None:
        return self.retry_after


def documented_limits() -> list[tuple[str, str]]:
    """(who or what, rate) for the guide page, from the live settings."""
    token_rate, scope_rates = _rates()
    drf = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    return [
        ("Anonymous requests, per IP address", drf["anon"]),
        ("Signed-in browser sessions, per person", drf["user"]),
        ("Each API token, all requests", token_rate),
        *(
            (f"Each API token, requests needing {scope}", rate)
            for scope, rate in scope_rates.items()
        ),
    ]
