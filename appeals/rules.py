"""Who may see and act on an appeal.

- Filing: anyone signed in with a verified e-mail address (`appeals.file_appeal`).
- Reading an appeal (its redacted transcript and timeline): the filer, members of the appealed
  company, the seated panelists, the panel's coordinators once it is escalated, regulators and
  staff (`appeals.view_appeal`). Everyone else sees only published decisions.
- The raw transcript: the filer, the company's reviewers (editors and owners) and the seated
  panel — nobody else, staff and regulators included (`appeals.view_raw_transcript`).
- Acting: the roles of `roles_of` against the rows of `appeals.workflow.TRANSITIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import rules

from governance.models import Membership, Organization
from governance.rules import is_org_editor_or_owner, is_org_member, is_regulator, is_staff
from governance.rules import is_verified_user as _is_verified_user

_ESCALATED = {"escalated", "panel_review", "panel_decided", "implemented", "closed"}
REVIEWER_ROLES = (Membership.Role.OWNER, Membership.Role.EDITOR)


def _signed_in(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and bool(
        getattr(user, "is_active", False)
    )


@rules.predicate
def is_filer(user, appeal) -> bool:
    return _signed_in(user) and appeal.filer_id == user.pk


@rules.predicate
def is_company_reviewer(user, appeal) -> bool:
    return (
        appeal.organization.kind == Organization.Kind.DEVELOPER
        and appeal.organization.is_verified
        and is_org_editor_or_owner(user, appeal.organization)
    )


@rules.predicate
def is_company_member(user, appeal) -> bool:
    return is_org_member(user, appeal.organization)


@rules.predicate
def is_seated_panelist(user, appeal) -> bool:
    if not _signed_in(user):
        return False
    seated = getattr(appeal, "_seated_ids", None)
    if seated is not None:
        return user.pk in seated
    return appeal.panel_seats.filter(panelist=user).exists()


def panel_admin_organizations(user: Any) -> list[Organization]:
    """The verified panels in which the user may assign seats (editor or owner)."""
    if not _signed_in(user):
        return []
    return list(
        Organization.objects.filter(
            kind=Organization.Kind.PANEL,
            verified_at__isnull=False,
            memberships__user=user,
            memberships__role__in=REVIEWER_ROLES,
        ).order_by("name")
    )


@rules.predicate
def is_panel_admin(user, appeal) -> bool:
    """Coordinates a verified panel and does not belong to the appealed company."""
    return bool(panel_admin_organizations(user)) and not is_org_member(user, appeal.organization)


@rules.predicate
def is_escalated(user, appeal) -> bool:
    return appeal.status in _ESCALATED


rules.add_perm("appeals.file_appeal", _is_verified_user)
rules.add_perm(
    "appeals.view_appeal",
    is_filer
    | is_company_member
    | is_seated_panelist
    | (is_escalated & is_panel_admin)
    | is_regulator
    | is_staff,
)
rules.add_perm("appeals.view_raw_transcript", is_filer | is_company_reviewer | is_seated_panelist)


@dataclass(frozen=True)
class Viewer:
    """What decides a person's roles on any appeal, read once (two queries) so a list of
    appeals costs no query per row."""

    user: Any
    roles_by_org: dict[int, str]
    coordinates_panel: bool

    @classmethod
    def of(cls, user: Any) -> Viewer:
        if not _signed_in(user):
            return cls(user, {}, False)
        roles = dict(Membership.objects.filter(user=user).values_list("organization_id", "role"))
        return cls(user, roles, bool(panel_admin_organizations(user)))


def _seated(user: Any, appeal: Any) -> bool:
    seated = getattr(appeal, "_seated_ids", None)
    if seated is None and "panel_seats" in getattr(appeal, "_prefetched_objects_cache", {}):
        seated = {seat.panelist_id for seat in appeal.panel_seats.all()}
    if seated is not None:
        return user.pk in seated
    return appeal.panel_seats.filter(panelist=user).exists()


def roles_for(viewer: Viewer, appeal: Any) -> set[str]:
    """The workflow roles the viewer holds on `appeal` (see appeals.workflow.ROLE_LABELS). A
    person of the appealed company never holds a panel role on its case, and a filer who works
    for the company does not review their own appeal."""
    user = viewer.user
    if not _signed_in(user):
        return set()
    roles: set[str] = set()
    filer = appeal.filer_id == user.pk
    if filer:
        roles.add("filer")
    company_role = viewer.roles_by_org.get(appeal.organization_id)
    reviewer = (
        company_role in REVIEWER_ROLES
        and appeal.organization.kind == Organization.Kind.DEVELOPER
        and appeal.organization.is_verified
    )
    if reviewer and not filer:
        roles.add("company")
    elif company_role is None:
        if _seated(user, appeal):
            roles.add("panel")
        if appeal.status in _ESCALATED and viewer.coordinates_panel and not filer:
            roles.add("panel_admin")
    return roles


def raw_for(viewer: Viewer, appeal: Any) -> bool:
    """The raw transcript: the filer, the company's reviewers and the seated panel."""
    return bool(roles_for(viewer, appeal) & {"filer", "company", "panel"})


def roles_of(user: Any, appeal: Any) -> set[str]:
    return roles_for(Viewer.of(user), appeal)


def can_view(user: Any, appeal: Any) -> bool:
    return _signed_in(user) and rules.has_perm("appeals.view_appeal", user, appeal)


def can_view_raw(user: Any, appeal: Any) -> bool:
    return _signed_in(user) and rules.has_perm("appeals.view_raw_transcript", user, appeal)


APPEAL_PERMISSIONS = (
    "appeals.file_appeal",
    "appeals.view_appeal",
    "appeals.view_raw_transcript",
)
