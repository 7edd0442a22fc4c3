"""Personal API tokens: creating one (its secret is returned once) and revoking it."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from governance.api_auth import hash_token
from governance.errors import Conflict, Invalid, NotAllowed, NotFound
from governance.models import ApiToken, Membership, Organization, User
from governance.models.tokens import TOKEN_PREFIX
from governance.services.ledger import ledger_append

NAME_MAX_LENGTH = 100
# Enough for every script and integration a person runs; more is usually forgotten tokens.
MAX_ACTIVE_TOKENS = 50
# The prefix shown in lists: "orf_" and a few random characters, too few to guess the rest.
SHOWN_PREFIX_LENGTH = len(TOKEN_PREFIX) + 8


# Scopes only some people may put on a token. `read:embargoed` lets a token read what its
# owner's role shows before publication: members of verified regulators and of accredited
# auditors only.
RESTRICTED_SCOPES = frozenset({ApiToken.Scope.READ_EMBARGOED.value})


def allowed_scopes() -> list[str]:
    return list(ApiToken.Scope.values)


def may_read_embargoed(user: User) -> bool:
    """A member of a verified regulator, or of an auditor whose accreditation is running."""
    if not getattr(user, "is_authenticated", False):
        return False
    now = timezone.now()
    memberships = Membership.objects.filter(user=user, organization__verified_at__isnull=False)
    regulator = Q(organization__kind=Organization.Kind.REGULATOR)
    accredited = (
        Q(organization__kind=Organization.Kind.AUDITOR)
        & Q(organization__accredited_at__isnull=False)
        & (
            Q(organization__accreditation_expires_at__isnull=True)
            | Q(organization__accreditation_expires_at__gt=now)
        )
    )
    return memberships.filter(regulator | accredited).exists()


def scopes_for(user: User) -> list[str]:
    """The scopes `user` may put on a new token."""
    restricted = set() if may_read_embargoed(user) else RESTRICTED_SCOPES
    return [s for s in allowed_scopes() if s not in restricted]


def max_days() -> int:
    return settings.OPENREFUSAL["API_TOKEN_MAX_DAYS"]


def _clean_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise Invalid("Give the token a name.", fields={"name": ["Give the token a name."]})
    name = " ".join(name.split())
    if len(name) > NAME_MAX_LENGTH:
        message = f"Use at most {NAME_MAX_LENGTH} characters."
        raise Invalid(message, fields={"name": [message]})
    return name


def _clean_scopes(scopes) -> list[str]:
    if isinstance(scopes, str) or not isinstance(scopes, list | tuple | set | frozenset):
        raise Invalid("Scopes must be a list.", fields={"scopes": ["Scopes must be a list."]})
    if not scopes:
        message = "Choose at least one scope."
        raise Invalid(message, fields={"scopes": [message]})
    known = allowed_scopes()
    unknown = [str(s) for s in scopes if s not in known]
    if unknown:
        message = f"Unknown scope: {', '.join(unknown)}. Allowed: {', '.join(known)}."
        raise Invalid(message, fields={"scopes": [message]})
    return [s for s in known if s in scopes]  # de-duplicated, in a stable order


def _clean_expiry(expires_in_days) -> int | None:
    if expires_in_days is None:
        return None
    limit = max_days()
    message = f"Choose a whole number of days from 1 to {limit}, or no expiry."
    if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int):
        raise Invalid(message, fields={"expires_in_days": [message]})
    if not 1 <= expires_in_days <= limit:
        raise Invalid(message, fields={"expires_in_days": [message]})
    return expires_in_days


@transaction.atomic
def api_token_create(
    *, user: User, name: str, scopes: list[str], expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """Create a token; returns it with its raw secret, which is never stored nor shown again."""
    name = _clean_name(name)
    scopes = _clean_scopes(scopes)
    if ApiToken.Scope.READ_EMBARGOED.value in scopes and not may_read_embargoed(user):
        message = (
            "Only members of a verified regulator or an accredited auditor may give a token "
            "the “read:embargoed” scope."
        )
        raise NotAllowed(message, fields={"scopes": [message]}, code="scope_not_allowed")
    days = _clean_expiry(expires_in_days)
    # One creation at a time per person, so the name and count checks below cannot race.
    User.objects.select_for_update().filter(pk=user.pk).first()
    now = timezone.now()
    active = ApiToken.objects.filter(user=user, revoked_at__isnull=True).exclude(
        expires_at__lte=now
    )
    if active.filter(name__iexact=name).exists():
        message = "You already have an active token with this name."
        raise Invalid(message, fields={"name": [message]}, code="duplicate_name")
    if active.count() >= MAX_ACTIVE_TOKENS:
        raise Conflict(
            f"You have {MAX_ACTIVE_TOKENS} active tokens, the most allowed; revoke one first.",
            code="too_many_tokens",
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[:SHOWN_PREFIX_LENGTH],
        key_sha256=hash_token(raw),
        scopes=scopes,
        expires_at=now + timedelta(days=days) if days else None,
    )
    # The name is the owner's own label and may be personal: it stays off the public ledger.
    ledger_append(
        actor=user,
        action="api_token.created",
        subject=token,
        payload={"token_id": token.pk, "scopes": scopes},
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, user: User, token: ApiToken) -> ApiToken:
    """Revoke one of `user`'s tokens; it stops working at once."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.user_id != user.pk:
        # Selectors only hand out a person's own tokens; this guards any other caller.
        raise NotFound("There is no such token.")
    if token.revoked_at is not None:
        raise Conflict("This token is already revoked.", code="already_revoked")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    ledger_append(
        actor=user,
        action="api_token.revoked",
        subject=token,
        payload={"token_id": token.pk, "scopes": token.scopes},
    )
    return token
