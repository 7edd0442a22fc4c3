"""Who may write, publish and read policies: built from the core predicates in governance.rules.

Targets are an organization, an AI system, a policy or a version; `organization_of` resolves any
of them. Staff do not author a company's policies: call these through `allowed()` (or
`rules.has_perm`), which does not apply Django's superuser shortcut.
"""

from __future__ import annotations

from typing import Any

import rules

from governance.models import Organization
from governance.rules import (
    is_moderator,
    is_org_editor_or_owner,
    is_org_member,
    is_organization_verified,
    is_staff,
    is_verified_user,
)
from governance.rules import organization_of as governance_organization_of


def organization_of(target: Any) -> Organization | None:
    """The organization behind a permission target: itself, `.organization`, a version's
    `policy.organization`, or (for a comment period) its version's."""
    organization = governance_organization_of(target)
    if organization is not None:
        return organization
    policy = getattr(target, "policy", None)
    if policy is not None:
        return governance_organization_of(policy)
    version = getattr(target, "version", None)
    return organization_of(version) if version is not None else None


@rules.predicate
def is_developer_organization(user, target) -> bool:
    organization = organization_of(target)
    return organization is not None and organization.kind == Organization.Kind.DEVELOPER


@rules.predicate
def is_policy_editor(user, target) -> bool:
    """An editor or owner of the target's organization (governance predicates take anything
    with an `.organization`; a version has one only through its policy)."""
    return is_org_editor_or_owner(user, organization_of(target))


@rules.predicate
def is_policy_reader(user, target) -> bool:
    return is_org_member(user, organization_of(target))


@rules.predicate
def is_verified_organization(user, target) -> bool:
    return is_organization_verified(user, organization_of(target))


writes = is_developer_organization & is_policy_editor

rules.add_perm("policies.add_system", writes)
rules.add_perm("policies.change_system", writes)
rules.add_perm("policies.add_policy", writes)
rules.add_perm("policies.change_policy", writes)
rules.add_perm("policies.view_draft", is_developer_organization & is_policy_reader)
rules.add_perm("policies.edit_draft", writes)
# Publishing speaks for the company in public: only a verified developer may.
rules.add_perm("policies.publish_version", writes & is_verified_organization)
rules.add_perm("policies.withdraw_version", writes)
rules.add_perm("policies.follow_policy", is_verified_user)

# Public comment. Targets: a version (open a period), a period (extend, respond, publish the
# response document), an organization (comment on its behalf); the rest take no target.
rules.add_perm("policies.open_comment_period", writes & is_verified_organization)
rules.add_perm("policies.extend_comment_period", writes)
rules.add_perm("policies.post_comment", is_verified_user)
rules.add_perm(
    "policies.comment_on_behalf_of", is_verified_user & is_org_member & is_organization_verified
)
rules.add_perm("policies.endorse_comment", is_verified_user)
rules.add_perm("policies.flag_comment", is_verified_user)
rules.add_perm("policies.moderate_comments", is_moderator | is_staff)
rules.add_perm("policies.respond_to_comments", writes)
rules.add_perm("policies.publish_responses", writes & is_verified_organization)

COMMENT_PERMISSIONS = (
    "policies.open_comment_period",
    "policies.extend_comment_period",
    "policies.post_comment",
    "policies.comment_on_behalf_of",
    "policies.endorse_comment",
    "policies.flag_comment",
    "policies.moderate_comments",
    "policies.respond_to_comments",
    "policies.publish_responses",
)

POLICY_PERMISSIONS = (
    "policies.add_system",
    "policies.change_system",
    "policies.add_policy",
    "policies.change_policy",
    "policies.view_draft",
    "policies.edit_draft",
    "policies.publish_version",
    "policies.withdraw_version",
    "policies.follow_policy",
)


def allowed(user: Any, permission: str, target: Any = None) -> bool:
    """The permission for `user` on `target`, without the superuser shortcut of
    `user.has_perm` (administrators moderate; they do not write a company's policy)."""
    if user is None or not getattr(user, "is_active", False):
        return False
    return rules.has_perm(permission, user, target)


__all__ = [
    "COMMENT_PERMISSIONS",
    "POLICY_PERMISSIONS",
    "allowed",
    "is_developer_organization",
    "is_policy_editor",
    "is_policy_reader",
    "is_verified_organization",
    "organization_of",
]
