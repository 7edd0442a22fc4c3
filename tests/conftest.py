"""Personas shared by every test: each role the platform knows, built once per test.

citizen · company_owner / company_editor / company_member (of `company`, a verified developer)
· outsider (editor of another developer) · auditor (member of an accredited auditor)
· regulator · panelist · moderator (staff group) · staff (an administrator) · anonymous.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from governance.models import Membership, Organization
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Throttle counters and cached pages never leak from one test into the next; passwords
    hash fast (the production hasher's cost is deliberate and tested nowhere else)."""
    from django.core.cache import cache

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def company(db):
    return OrganizationFactory(
        name="Acme AI", slug="acme-ai", kind=Organization.Kind.DEVELOPER, verified_at=timezone.now()
    )


@pytest.fixture
def other_company(db):
    return OrganizationFactory(
        name="Other Labs",
        slug="other-labs",
        kind=Organization.Kind.DEVELOPER,
        verified_at=timezone.now(),
    )


@pytest.fixture
def auditor_org(db):
    now = timezone.now()
    return OrganizationFactory(
        name="Independent Audit Co",
        slug="independent-audit",
        kind=Organization.Kind.AUDITOR,
        verified_at=now,
        accredited_at=now,
        accreditation_expires_at=now + timedelta(days=365),
    )


@pytest.fixture
def regulator_org(db):
    return OrganizationFactory(
        name="Digital Regulator",
        slug="digital-regulator",
        kind=Organization.Kind.REGULATOR,
        verified_at=timezone.now(),
    )


@pytest.fixture
def panel_org(db):
    return OrganizationFactory(
        name="Independent Appeals Panel",
        slug="appeals-panel",
        kind=Organization.Kind.PANEL,
        verified_at=timezone.now(),
    )


@pytest.fixture
def citizen(db):
    return UserFactory(email="citizen@example.org", display_name="Citizen Ada")


@pytest.fixture
def company_owner(company):
    return MembershipFactory(
        organization=company,
        role=Membership.Role.OWNER,
        user=UserFactory(email="owner@acme.example", display_name="Acme Owner"),
    ).user


@pytest.fixture
def company_editor(company):
    return MembershipFactory(
        organization=company,
        role=Membership.Role.EDITOR,
        user=UserFactory(email="editor@acme.example", display_name="Acme Editor"),
    ).user


@pytest.fixture
def company_member(company):
    return MembershipFactory(
        organization=company,
        role=Membership.Role.MEMBER,
        user=UserFactory(email="member@acme.example", display_name="Acme Member"),
    ).user


@pytest.fixture
def outsider(other_company):
    return MembershipFactory(
        organization=other_company,
        role=Membership.Role.EDITOR,
        user=UserFactory(email="editor@other.example", display_name="Other Editor"),
    ).user


@pytest.fixture
def auditor(auditor_org):
    return MembershipFactory(
        organization=auditor_org,
        role=Membership.Role.EDITOR,
        user=UserFactory(email="auditor@audit.example", display_name="Auditor Bo"),
    ).user


@pytest.fixture
def regulator(regulator_org):
    return MembershipFactory(
        organization=regulator_org,
        role=Membership.Role.MEMBER,
        user=UserFactory(email="analyst@regulator.example", display_name="Regulator Cy"),
    ).user


@pytest.fixture
def panelist(panel_org):
    return MembershipFactory(
        organization=panel_org,
        role=Membership.Role.MEMBER,
        user=UserFactory(email="panelist@panel.example", display_name="Panelist Di"),
    ).user


@pytest.fixture
def moderator(db):
    user = UserFactory(email="moderator@openrefusal.example", display_name="Moderator Ed")
    # A data migration makes the group; a transactional test's flush may have removed it since.
    user.groups.add(Group.objects.get_or_create(name="moderators")[0])
    return user


@pytest.fixture
def staff(db):
    return UserFactory(
        email="staff@openrefusal.example",
        display_name="Staff Flo",
        is_staff=True,
        is_superuser=True,
    )


@pytest.fixture
def client_for():
    """A browser-like client signed in as `user` (None: anonymous)."""

    def make(user=None) -> Client:
        c = Client()
        if user is not None:
            c.force_login(user)
        return c

    return make


@pytest.fixture
def api_for():
    """A DRF client authenticated as `user` (None: anonymous)."""

    def make(user=None) -> APIClient:
        c = APIClient()
        if user is not None:
            c.force_authenticate(user)
        return c

    return make
