"""Who may do what with policies: the role-by-permission table is the documentation.

Each cell is `policies.rules.allowed(user, permission, target)` for the persona (see
tests/conftest.py): the target is Acme AI (a verified developer) for systems and policies, its
v1.1.0 draft for versions, its policy for following. `staff` (an administrator) moderates but
does not write a company's policy, so `allowed` deliberately skips Django's superuser shortcut.
"""

from __future__ import annotations

import pytest
import rules
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from governance.models import Organization
from policies import rules as policy_rules
from policies.rules import allowed, organization_of
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

PERMISSIONS = [
    "add_system",
    "change_system",
    "add_policy",
    "change_policy",
    "view_draft",
    "edit_draft",
    "publish_version",
    "withdraw_version",
    "follow_policy",
]

Y, N = True, False
# fmt: off
MATRIX = {
    #                 add_sys chg_sys add_pol chg_pol view_dr edit_dr publish withdraw follow
    "company_owner":  [Y,      Y,      Y,      Y,      Y,      Y,      Y,      Y,       Y],
    "company_editor": [Y,      Y,      Y,      Y,      Y,      Y,      Y,      Y,       Y],
    "company_member": [N,      N,      N,      N,      Y,      N,      N,      N,       Y],
    "outsider":       [N,      N,      N,      N,      N,      N,      N,      N,       Y],
    "citizen":        [N,      N,      N,      N,      N,      N,      N,      N,       Y],
    "auditor":        [N,      N,      N,      N,      N,      N,      N,      N,       Y],
    "regulator":      [N,      N,      N,      N,      N,      N,      N,      N,       Y],
    "panelist":       [N,      N,      N,      N,      N,      N,      N,      N,       Y],
    "moderator":      [N,      N,      N,      N,      N,      N,      N,      N,       Y],
    "staff":          [N,      N,      N,      N,      N,      N,      N,      N,       Y],
    "anonymous":      [N,      N,      N,      N,      N,      N,      N,      N,       N],
}
# fmt: on

CELLS = [
    pytest.param(persona, permission, expected, id=f"{persona}-{permission}")
    for persona, row in MATRIX.items()
    for permission, expected in zip(PERMISSIONS, row, strict=True)
]


def target_for(permission: str, *, company, system, policy, draft):
    return {
        "add_system": company,
        "change_system": system,
        "add_policy": company,
        "change_policy": policy,
        "view_draft": draft,
        "edit_draft": draft,
        "publish_version": draft,
        "withdraw_version": draft,
        "follow_policy": policy,
    }[permission]


def test_it_covers_every_policies_permission():
    assert {f"policies.{p}" for p in PERMISSIONS} == set(policy_rules.POLICY_PERMISSIONS)
    for permission in policy_rules.POLICY_PERMISSIONS:
        assert rules.perm_exists(permission)


@pytest.mark.parametrize(("persona", "permission", "expected"), CELLS)
def test_it_follows_the_role_matrix(
    request, company, system, policy, draft_version, persona, permission, expected
):
    user = AnonymousUser() if persona == "anonymous" else request.getfixturevalue(persona)
    target = target_for(
        permission, company=company, system=system, policy=policy, draft=draft_version
    )
    assert allowed(user, f"policies.{permission}", target) is expected


@pytest.mark.parametrize("target", ["organization", "policy", "version"])
def test_it_resolves_the_organization_of_every_target(company, policy, draft_version, target):
    obj = {"organization": company, "policy": policy, "version": draft_version}[target]
    assert organization_of(obj) == company
    assert organization_of(object()) is None
    assert organization_of(None) is None


def test_an_unverified_developer_writes_but_does_not_publish(
    company, company_editor, draft_version
):
    Organization.objects.filter(pk=company.pk).update(verified_at=None)
    draft_version.policy.organization.refresh_from_db()
    assert allowed(company_editor, "policies.edit_draft", draft_version)
    assert not allowed(company_editor, "policies.publish_version", draft_version)


def test_editors_of_other_kinds_of_organization_write_no_policies(db):
    for kind in ("auditor", "regulator", "panel"):
        organization = OrganizationFactory(kind=kind, verified_at=timezone.now())
        owner = MembershipFactory(organization=organization, role="owner").user
        assert not allowed(owner, "policies.add_system", organization)
        assert not allowed(owner, "policies.add_policy", organization)


def test_inactive_people_can_do_nothing(company, company_owner, policy, draft_version):
    company_owner.is_active = False
    company_owner.save()
    for permission in policy_rules.POLICY_PERMISSIONS:
        assert not allowed(company_owner, permission, draft_version)


def test_an_unconfirmed_address_cannot_follow(policy):
    assert not allowed(UserFactory(verified=False), "policies.follow_policy", policy)


def test_a_plain_staff_account_writes_no_policies_either(company):
    # The predicates themselves, without the superuser flag.
    staff = UserFactory(is_staff=True)
    assert not rules.has_perm("policies.add_policy", staff, company)
    assert not allowed(None, "policies.follow_policy")
