"""API authentication with personal tokens (`Authorization: Bearer orf_…`) and their scopes."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from governance.models import ApiToken
from governance.models.tokens import TOKEN_PREFIX

# last_used_at is written at most this often per token, so reads don't each cost a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _touch(token_pk: int, now) -> None:
    """Note when a token was last used. Bookkeeping, not a record: committed without waiting
    for the disk (a crash may lose the latest timestamp, never anything else), so a busy client
    does not pay a WAL flush on its requests."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        ApiToken.objects.filter(pk=token_pk).update(last_used_at=now)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        # The idempotency middleware authenticates before the view does: one lookup per request.
        django_request = getattr(request, "_request", request)
        cached = getattr(django_request, "_api_token_auth", None)
        if cached is not None and cached[0] == header:
            return cached[1]
        result = self._authenticate(header)
        django_request._api_token_auth = (header, result)
        return result

    def _authenticate(self, header: list[str]):
        if len(header) != 2 or not header[1].startswith(TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed("Malformed API token header.")
        token = (
            ApiToken.objects.select_related("user")
            .annotate(
                verified=Exists(
                    EmailAddress.objects.filter(user_id=OuterRef("user_id"), verified=True)
                )
            )
            .filter(key_sha256=hash_token(header[1]))
            .order_by()
            .first()
        )
        if token is None or not token.is_active:
            raise exceptions.AuthenticationFailed("This API token is unknown, expired or revoked.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This account is inactive.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            _touch(token.pk, now)
        token.user.has_verified_email = token.verified
        # Writes made with this user object are attributed to the token on the ledger
        # (ledger_append adds `via_token` to the entry's payload).
        token.user.api_token_id = token.pk
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


# What a token needs when a view declares nothing: reading needs `read:public`, writing needs
# `write:account`. A view narrows or widens this with `required_scopes = {"POST": "…", …}`
# (a method missing from that map falls back to these defaults; `None` means no scope needed).
DEFAULT_REQUIRED_SCOPES = dict.fromkeys(
    permissions.SAFE_METHODS, ApiToken.Scope.READ_PUBLIC.value
) | dict.fromkeys(("POST", "PUT", "PATCH", "DELETE"), ApiToken.Scope.WRITE_ACCOUNT.value)


def required_scope(view, method: str) -> str | None:
    declared = getattr(view, "required_scopes", None) or {}
    if method in declared:
        return declared[method]
    return DEFAULT_REQUIRED_SCOPES.get(method)


def token_scopes(request) -> frozenset[str] | None:
    """The scopes of the token a request was made with; None for a session or no credentials
    (whose access is decided by role alone)."""
    token = getattr(request, "auth", None)
    return frozenset(token.scopes) if isinstance(token, ApiToken) else None


class HasTokenScope(permissions.BasePermission):
    """Requests made with a personal token may do only what the token's scopes allow; requests
    made in a signed-in browser session are not limited by scopes."""

    code = "insufficient_scope"

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        scope = required_scope(view, request.method)
        if scope is None or scope in token.scopes:
            return True
        self.message = f"This API token lacks the “{scope}” scope needed for this request."
        return False


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "governance.api_auth.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (`orf_…`), created on your account's "
            "API tokens page or with `manage.py create_api_token`.",
        }
