"""Who may do what in the core domain: predicates every app reuses, and the governance permissions.

Predicates take `(user, target)`; the target is an `Organization` or anything with an
`organization` (a policy, a report, a membership…), so other apps' `rules.py` can combine them.
"""

from __future__ import annotations

from typing import Any

import rules
from allauth.account.models import EmailAddress
from django.utils import timezone

from governance.models import Membership, Organization

MODERATORS_GROUP = "moderators"


def organization_of(target: Any) -> Organization | None:
    """The organization a permission target belongs to (None when it has none)."""
    if target is None:
        return None
    if isinstance(target, Organization):
        return target
    organization = getattr(target, "organization", None)
    return organization if isinstance(organization, Organization) else None


def _signed_in(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and bool(
        getattr(user, "is_active", False)
    )


def role_in(user: Any, target: Any) -> str | None:
    """The user's role in the target's organization, or None. One small indexed query."""
    organization = organization_of(target)
    if organization is None or organization.pk is None or not _signed_in(user):
        return None
    return (
        Membership.objects.filter(user=user, organization=organization)
        .values_list("role", flat=True)
        .first()
    )


# --- People -----------------------------------------------------------------------------------


@rules.predicate
def is_signed_in(user) -> bool:
    return _signed_in(user)


@rules.predicate
def is_staff(user) -> bool:
    return _signed_in(user) and bool(user.is_staff)


@rules.predicate
def is_moderator(user) -> bool:
    return _signed_in(user) and user.groups.filter(name=MODERATORS_GROUP).exists()


@rules.predicate
def is_verified_user(user) -> bool:
    """Has at least one e-mail address confirmed through allauth."""
    if not _signed_in(user):
        return False
    # Token authentication reads this with the token, in the same query.
    known = getattr(user, "has_verified_email", None)
    if known is not None:
        return known
    return EmailAddress.objects.filter(user=user, verified=True).exists()


# --- Roles in one organization (the target's) ------------------------------------------------


@rules.predicate
def is_org_owner(user, target) -> bool:
    return role_in(user, target) == Membership.Role.OWNER


@rules.predicate
def is_org_editor_or_owner(user, target) -> bool:
    return role_in(user, target) in {Membership.Role.OWNER, Membership.Role.EDITOR}


@rules.predicate
def is_org_member(user, target) -> bool:
    """Any role, owner and editor included."""
    return role_in(user, target) is not None


@rules.predicate
def is_organization_verified(user, target) -> bool:
    organization = organization_of(target)
    return organization is not None and organization.is_verified


# --- Roles anywhere: membership of a verified organization of a kind --------------------------


def _member_of_verified(user, kind: str, **extra) -> bool:
    if not _signed_in(user):
        return False
    return Membership.objects.filter(
        user=user,
        organization__kind=kind,
        organization__verified_at__isnull=False,
        **{f"organization__{k}": v for k, v in extra.items()},
    ).exists()


@rules.predicate
def is_developer(user) -> bool:
    """Belongs to a verified AI developer."""
    return _member_of_verified(user, Organization.Kind.DEVELOPER)


@rules.predicate
def is_accredited_auditor(user) -> bool:
    """Belongs to a verified auditor whose accreditation has not expired."""
    return _member_of_verified(
        user, Organization.Kind.AUDITOR, accreditation_expires_at__gt=timezone.now()
    )


@rules.predicate
def is_regulator(user) -> bool:
    return _member_of_verified(user, Organization.Kind.REGULATOR)


@rules.predicate
def is_panelist(user) -> bool:
    return _member_of_verified(user, Organization.Kind.PANEL)


# --- Permissions ------------------------------------------------------------------------------
# Object permissions take the organization as target. Staff can always act, so an organization
# whose owners have all gone can still be looked after.

rules.add_perm("governance.create_organization", is_verified_user)
rules.add_perm("governance.change_organization", is_staff | is_org_owner)
rules.add_perm("governance.verify_organization", is_staff)
rules.add_perm("governance.accredit_organization", is_staff)
rules.add_perm("governance.manage_members", is_staff | is_org_owner)
rules.add_perm("governance.invite_member", is_staff | is_org_owner)
rules.add_perm("governance.leave_organization", is_org_member)
rules.add_perm("governance.view_private_members", is_staff | is_org_member)


@rules.predicate
def is_webhook_owner(user, subscription) -> bool:
    return _signed_in(user) and getattr(subscription, "owner_id", None) == user.pk


# A subscription held for an organization is managed by its owners and editors too.
rules.add_perm("governance.create_webhook", is_verified_user)
rules.add_perm("governance.manage_webhook", is_staff | is_webhook_owner | is_org_editor_or_owner)

GOVERNANCE_PERMISSIONS = (
    "governance.create_organization",
    "governance.change_organization",
    "governance.verify_organization",
    "governance.accredit_organization",
    "governance.manage_members",
    "governance.invite_member",
    "governance.leave_organization",
    "governance.view_private_members",
)
# Their target is a webhook subscription, not an organization (tests/api/test_webhook_pages.py).
WEBHOOK_PERMISSIONS = ("governance.create_webhook", "governance.manage_webhook")

__all__ = [
    "GOVERNANCE_PERMISSIONS",
    "MODERATORS_GROUP",
    "WEBHOOK_PERMISSIONS",
    "is_accredited_auditor",
    "is_developer",
    "is_moderator",
    "is_org_editor_or_owner",
    "is_org_member",
    "is_org_owner",
    "is_organization_verified",
    "is_panelist",
    "is_regulator",
    "is_signed_in",
    "is_staff",
    "is_verified_user",
    "organization_of",
    "role_in",
]
