"""Who may do what to an organization: the role-by-permission table is the documentation.

Each cell is `user.has_perm(permission, company)` for the persona (see tests/conftest.py), with
`company` ("Acme AI", a verified developer) as the target of object permissions. `staff` is an
administrator (a superuser), for whom Django allows every permission.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import rules
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from governance import rules as governance_rules
from governance.models import Membership
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

PERMISSIONS = [
    "create_organization",
    "change_organization",
    "verify_organization",
    "accredit_organization",
    "manage_members",
    "invite_member",
    "leave_organization",
    "view_private_members",
]

Y, N = True, False
# fmt: off
MATRIX = {
    #                 create change verify accredit manage invite leave view_private
    "citizen":        [Y,     N,     N,     N,       N,     N,     N,    N],
    "company_owner":  [Y,     Y,     N,     N,       Y,     Y,     Y,    Y],
    "company_editor": [Y,     N,     N,     N,       N,     N,     Y,    Y],
    "company_member": [Y,     N,     N,     N,       N,     N,     Y,    Y],
    "outsider":       [Y,     N,     N,     N,       N,     N,     N,    N],
    "auditor":        [Y,     N,     N,     N,       N,     N,     N,    N],
    "regulator":      [Y,     N,     N,     N,       N,     N,     N,    N],
    "panelist":       [Y,     N,     N,     N,       N,     N,     N,    N],
    "moderator":      [Y,     N,     N,     N,       N,     N,     N,    N],
    "staff":          [Y,     Y,     Y,     Y,       Y,     Y,     Y,    Y],
    "anonymous":      [N,     N,     N,     N,       N,     N,     N,    N],
}
# fmt: on

CELLS = [
    pytest.param(persona, permission, allowed, id=f"{persona}-{permission}")
    for persona, row in MATRIX.items()
    for permission, allowed in zip(PERMISSIONS, row, strict=True)
]


def test_it_covers_every_governance_permission():
    assert {f"governance.{p}" for p in PERMISSIONS} == set(governance_rules.GOVERNANCE_PERMISSIONS)
    for permission in governance_rules.GOVERNANCE_PERMISSIONS:
        assert rules.perm_exists(permission)


@pytest.mark.parametrize(("persona", "permission", "allowed"), CELLS)
def test_it_follows_the_role_matrix(request, company, persona, permission, allowed):
    user = AnonymousUser() if persona == "anonymous" else request.getfixturevalue(persona)
    target = None if permission == "create_organization" else company
    assert user.has_perm(f"governance.{permission}", target) is allowed


def test_it_gives_staff_their_powers_without_superuser_status(company):
    # The predicates, not the superuser shortcut: a plain staff account.
    staff = UserFactory(is_staff=True)
    assert rules.has_perm("governance.verify_organization", staff, company)
    assert rules.has_perm("governance.accredit_organization", staff, company)
    assert rules.has_perm("governance.manage_members", staff, company)
    assert not rules.has_perm("governance.leave_organization", staff, company)


def test_it_denies_inactive_people_everything(company, company_owner):
    company_owner.is_active = False
    company_owner.save()
    for permission in governance_rules.GOVERNANCE_PERMISSIONS:
        assert not rules.has_perm(permission, company_owner, company)


def test_it_refuses_to_register_organizations_for_unconfirmed_people(db):
    assert not UserFactory(verified=False).has_perm("governance.create_organization")


def test_it_resolves_the_organization_of_related_objects(company, company_owner, company_member):
    class Policy:  # what another app's object looks like to the predicates
        organization = company

    assert governance_rules.is_org_owner(company_owner, Policy())
    assert governance_rules.is_org_editor_or_owner(company_owner, Policy())
    assert not governance_rules.is_org_editor_or_owner(company_member, Policy())
    assert governance_rules.is_org_member(company_member, Policy())
    membership = Membership.objects.get(user=company_member)
    assert governance_rules.is_org_member(company_member, membership)
    assert not governance_rules.is_org_member(company_member, object())
    assert not governance_rules.is_org_member(company_member, None)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("citizen", set()),
        ("company_member", {"is_developer"}),
        ("outsider", {"is_developer"}),
        ("auditor", {"is_accredited_auditor"}),
        ("regulator", {"is_regulator"}),
        ("panelist", {"is_panelist"}),
        ("moderator", {"is_moderator"}),
        ("staff", {"is_staff"}),
        ("anonymous", set()),
    ],
)
def test_it_recognises_roles_anywhere(request, persona, expected):
    user = AnonymousUser() if persona == "anonymous" else request.getfixturevalue(persona)
    names = [
        "is_developer",
        "is_accredited_auditor",
        "is_regulator",
        "is_panelist",
        "is_moderator",
        "is_staff",
    ]
    assert {n for n in names if getattr(governance_rules, n)(user)} == expected


def test_it_counts_only_verified_and_current_organizations(db):
    unverified = MembershipFactory(organization=OrganizationFactory(kind="regulator")).user
    assert not governance_rules.is_regulator(unverified)
    now = timezone.now()
    lapsed = OrganizationFactory(
        kind="auditor",
        verified_at=now,
        accredited_at=now - timedelta(days=400),
        accreditation_expires_at=now - timedelta(days=35),
    )
    assert not governance_rules.is_accredited_auditor(MembershipFactory(organization=lapsed).user)
