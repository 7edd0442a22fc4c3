"""Reads about one person's account: the sections of their data export and profile facts.

Every function returns JSON-serialisable data and never a secret: no password or token hash,
no MFA secret or recovery code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db.models import Q, QuerySet
from django.utils import timezone as dj_timezone

from governance.models import (
    ApiToken,
    Invitation,
    LedgerEntry,
    Membership,
    Organization,
    User,
)
from governance.services.ledger import actor_ref


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def user_profile_data(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "email": user.email,
        "display_name": user.display_name,
        "public_name": user.public_name,
        "timezone": user.timezone,
        "date_joined": iso(user.date_joined),
        "last_login": iso(user.last_login),
        "is_staff": user.is_staff,
        "groups": sorted(user.groups.values_list("name", flat=True)),
    }


def user_email_addresses(user: User) -> list[dict[str, Any]]:
    return [
        {"email": address.email, "verified": address.verified, "primary": address.primary}
        for address in EmailAddress.objects.filter(user=user).order_by("-primary", "email")
    ]


def user_memberships(user: User) -> list[dict[str, Any]]:
    memberships = Membership.objects.filter(user=user).select_related("organization")
    return [
        {
            "organization": {
                "id": m.organization_id,
                "name": m.organization.name,
                "slug": m.organization.slug,
                "kind": m.organization.kind,
            },
            "role": m.role,
            "since": iso(m.created_at),
        }
        for m in memberships.order_by("organization__name")
    ]


def user_invitations_sent(user: User) -> list[dict[str, Any]]:
    # The invitee's address is someone else's personal data, so it is left out; the secret
    # link is stored only as a hash and is never exported.
    invitations = Invitation.objects.filter(invited_by=user).select_related("organization")
    return [
        {
            "organization": {"id": i.organization_id, "name": i.organization.name},
            "role": i.role,
            "created_at": iso(i.created_at),
            "expires_at": iso(i.expires_at),
            "accepted_at": iso(i.accepted_at),
            "revoked_at": iso(i.revoked_at),
        }
        for i in invitations.order_by("created_at", "pk")
    ]


def user_api_tokens(user: User) -> list[dict[str, Any]]:
    return [
        {
            "name": token.name,
            "prefix": token.prefix,
            "scopes": list(token.scopes),
            "created_at": iso(token.created_at),
            "expires_at": iso(token.expires_at),
            "last_used_at": iso(token.last_used_at),
            "revoked_at": iso(token.revoked_at),
        }
        for token in ApiToken.objects.filter(user=user).order_by("created_at", "pk")
    ]


def user_authenticators(user: User) -> list[dict[str, Any]]:
    # `data` holds the encrypted TOTP secret and the recovery-code seed: never exported.
    return [
        {
            "type": authenticator.type,
            "created_at": iso(authenticator.created_at),
            "last_used_at": iso(authenticator.last_used_at),
        }
        for authenticator in Authenticator.objects.filter(user=user).order_by("created_at", "pk")
    ]


def user_ledger_entries(user: User) -> list[dict[str, Any]]:
    """Ledger entries this person made, in the form of the public export (with its hash)."""
    entries = LedgerEntry.objects.filter(actor=actor_ref(user)).order_by("seq")
    return [
        {
            "seq": e.seq,
            "at": iso(e.at),
            "action": e.action,
            "subject": e.subject,
            "payload": e.payload,
            "hash": e.hash,
        }
        for e in entries.iterator(chunk_size=2000)
    ]


def user_sole_owned_organizations(user: User) -> QuerySet[Organization]:
    """Organizations of which `user` is the only owner: deleting the account would orphan them."""
    co_owned = (
        Membership.objects.filter(role=Membership.Role.OWNER)
        .exclude(user=user)
        .values("organization_id")
    )
    return (
        Organization.objects.filter(memberships__user=user, memberships__role=Membership.Role.OWNER)
        .exclude(pk__in=co_owned)
        .order_by("name")
    )


def user_security_summary(user: User) -> dict[str, Any]:
    """What the profile page shows about sign-in security."""
    types = set(
        Authenticator.objects.filter(user=user)
        .filter(Q(type=Authenticator.Type.TOTP) | Q(type=Authenticator.Type.WEBAUTHN))
        .values_list("type", flat=True)
    )
    addresses = list(EmailAddress.objects.filter(user=user).values_list("verified", flat=True))
    return {
        "mfa_enabled": bool(types),
        "email_count": len(addresses),
        "unverified_email_count": sum(1 for verified in addresses if not verified),
        "active_token_count": ApiToken.objects.filter(user=user, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=dj_timezone.now()))
        .count(),
    }
