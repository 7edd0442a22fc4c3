"""Reading a person's own API tokens (nobody else ever sees them)."""

from __future__ import annotations

from django.db.models import QuerySet

from governance.errors import NotFound
from governance.models import ApiToken, User


def api_tokens_of(*, user: User) -> QuerySet[ApiToken]:
    """Every token of `user`, newest first (revoked and expired ones too, for the record)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")


def api_token_of(*, user: User, token_id) -> ApiToken:
    """One of `user`'s tokens; another person's token is indistinguishable from none."""
    try:
        token_id = int(token_id)
    except (TypeError, ValueError):
        raise NotFound("There is no such token.") from None
    token = api_tokens_of(user=user).filter(pk=token_id).first()
    if token is None:
        raise NotFound("There is no such token.")
    return token
