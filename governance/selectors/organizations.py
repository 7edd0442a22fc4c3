"""Reads of organizations, their members, invitations and ledger history (pages and API)."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db.models import QuerySet
from django.utils import timezone

from governance.models import Invitation, LedgerEntry, Membership, Organization, User
from governance.selectors.ledger import ledger_actor_names

# Owners and editors speak for the organization, so who they are is part of the public record.
# Plain members are listed only to the organization's own members and to staff.
PUBLIC_ROLES = (Membership.Role.OWNER, Membership.Role.EDITOR)
ROLE_ORDER = {Membership.Role.OWNER: 0, Membership.Role.EDITOR: 1, Membership.Role.MEMBER: 2}


def organization_list(
    *, kind: str | None = None, verified: bool | None = None, query: str | None = None
) -> QuerySet[Organization]:
    qs = Organization.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    if verified is True:
        qs = qs.filter(verified_at__isnull=False)
    elif verified is False:
        qs = qs.filter(verified_at__isnull=True)
    if query:
        qs = qs.filter(name__icontains=query.strip())
    return qs.order_by("name", "pk")


def organization_get(*, slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def organization_is_accredited(organization: Organization) -> bool:
    expires = organization.accreditation_expires_at
    return organization.accredited_at is not None and (expires is None or expires > timezone.now())


def organization_members(*, organization: Organization, include_private: bool) -> list[Membership]:
    """Owners first, then editors, then (when allowed) members; each by public name."""
    qs = Membership.objects.filter(organization=organization).select_related("user")
    if not include_private:
        qs = qs.filter(role__in=PUBLIC_ROLES)
    return sorted(qs, key=lambda m: (ROLE_ORDER[m.role], m.user.public_name.lower(), m.pk))


def membership_public_queryset(
    *, organization: Organization, include_private: bool
) -> QuerySet[Membership]:
    """The same rows as `organization_members`, as a queryset for API pagination."""
    qs = Membership.objects.filter(organization=organization).select_related("user", "organization")
    if not include_private:
        qs = qs.filter(role__in=PUBLIC_ROLES)
    return qs


def organization_invitations(
    *, organization: Organization, pending_only: bool = False
) -> QuerySet[Invitation]:
    qs = Invitation.objects.filter(organization=organization).select_related("invited_by")
    if pending_only:
        qs = qs.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
    return qs.order_by("-created_at", "-pk")


def user_memberships(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name")
    )


def user_has_verified_email(*, user: User, email: str) -> bool:
    """Whether `email` is one of the user's confirmed addresses (case-insensitive)."""
    if not user.is_authenticated:
        return False
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


def organization_ledger(*, organization: Organization, limit: int = 10) -> list[LedgerEntry]:
    """The latest entries about this organization, newest first, each with `actor_name`."""
    entries = list(
        LedgerEntry.objects.filter(subject=f"organization:{organization.pk}").order_by("-seq")[
            :limit
        ]
    )
    names = ledger_actor_names(e.actor for e in entries)
    for entry in entries:
        entry.actor_name = names.get(entry.actor, entry.actor)
        entry.summary = ledger_summary(entry)
    return entries


def _role(value) -> str:
    return str(dict(Membership.Role.choices).get(value, value or "")).lower()


def ledger_summary(entry: LedgerEntry) -> str:
    """A sentence for people. Members are not named: plain memberships stay private here."""
    p = entry.payload if isinstance(entry.payload, dict) else {}
    action = entry.action
    if action == "organization.created":
        kind = dict(Organization.Kind.choices).get(p.get("kind"), p.get("kind"))
        return f"Registered as {kind} “{p.get('name', '')}”"
    if action == "organization.updated":
        return "Changed " + ", ".join(sorted(p)) if p else "Updated"
    if action == "organization.verified":
        return "Verified by staff"
    if action == "organization.unverified":
        return f"Verification withdrawn: {p.get('reason', '')}"
    if action == "organization.accredited":
        return f"Accredited as an auditor until {str(p.get('expires_at', ''))[:10]}"
    if action == "membership.added":
        return f"Added someone as {_role(p.get('role'))}"
    if action == "membership.role_changed":
        return f"Changed someone's role from {_role(p.get('from'))} to {_role(p.get('to'))}"
    if action == "membership.removed":
        verb = "left" if p.get("left") else "was removed"
        return f"A {_role(p.get('role'))} {verb}"
    if action == "invitation.created":
        return f"Invited someone as {_role(p.get('role'))}"
    if action == "invitation.accepted":
        return f"An invitation was accepted; joined as {_role(p.get('role'))}"
    if action == "invitation.revoked":
        return "Withdrew an invitation"
    return action
