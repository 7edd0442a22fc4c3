"""The staff admin: its actions go through the services (so onto the ledger), secrets and
password hashes never show, and the ledger and idempotency records are read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from governance.models import (
    ApiToken,
    IdempotencyRecord,
    Invitation,
    LedgerEntry,
    Membership,
    Organization,
    User,
)
from governance.services.ledger import ledger_append
from governance.services.organizations import invitation_create
from governance.services.tokens import api_token_create
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

MODELS = [User, Organization, Membership, Invitation, ApiToken, LedgerEntry, IdempotencyRecord]


def changelist(model) -> str:
    return reverse(f"admin:governance_{model._meta.model_name}_changelist")


def change(model, pk) -> str:
    return reverse(f"admin:governance_{model._meta.model_name}_change", args=[pk])


def action(client, model, name, pks):
    return client.post(
        changelist(model),
        {"action": name, "_selected_action": [str(pk) for pk in pks]},
        follow=True,
    )


@pytest.fixture
def admin_client_for(client_for, staff):
    return client_for(staff)


def test_it_lists_every_governance_model_for_staff(
    admin_client_for, company, company_owner, auditor
):
    invitation_create(actor=company_owner, organization=company, email="a@b.org", role="member")
    api_token_create(user=company_owner, name="script", scopes=["read:public"])
    for model in MODELS:
        assert admin_client_for.get(changelist(model)).status_code == 200, model


@pytest.mark.parametrize("persona", ["company_owner", "moderator", "citizen"])
def test_it_keeps_people_without_staff_status_out(request, client_for, persona):
    response = client_for(request.getfixturevalue(persona)).get(changelist(Organization))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_it_verifies_through_the_service_and_writes_the_ledger(admin_client_for, staff):
    org = OrganizationFactory(name="New Regulator", kind="regulator")
    response = action(admin_client_for, Organization, "verify", [org.pk])
    assert response.status_code == 200
    assert "1 organization(s) verified" in response.text
    org.refresh_from_db()
    assert org.verified_by == staff
    entry = LedgerEntry.objects.get(action="organization.verified")
    assert entry.actor == f"user:{staff.pk}"
    assert entry.subject == f"organization:{org.pk}"


def test_it_reports_each_refused_verification(admin_client_for, company):
    response = action(admin_client_for, Organization, "verify", [company.pk])
    assert "already verified" in response.text
    assert not LedgerEntry.objects.exists()


def test_it_accredits_auditors_for_a_year_and_refuses_other_kinds(admin_client_for, company, staff):
    auditor = OrganizationFactory(
        name="Fresh Auditor", kind="auditor", verified_at=company.verified_at
    )
    response = action(
        admin_client_for, Organization, "accredit_for_one_year", [auditor.pk, company.pk]
    )
    assert "1 auditor(s) accredited" in response.text
    assert "Only auditors can be accredited" in response.text
    auditor.refresh_from_db()
    company.refresh_from_db()
    assert auditor.accredited_at is not None
    assert company.accredited_at is None
    assert LedgerEntry.objects.get(action="organization.accredited").actor == f"user:{staff.pk}"


def test_it_edits_organizations_through_the_service(admin_client_for, company):
    response = admin_client_for.post(
        change(Organization, company.pk),
        {
            "name": "Acme AI",
            "description": "Edited by staff",
            "website": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.text
    company.refresh_from_db()
    assert company.description == "Edited by staff"
    assert LedgerEntry.objects.get(action="organization.updated").payload["description"]


def test_it_offers_no_add_or_delete_for_organizations(admin_client_for, company):
    assert admin_client_for.get(reverse("admin:governance_organization_add")).status_code == 403
    delete = reverse("admin:governance_organization_delete", args=[company.pk])
    assert admin_client_for.post(delete, {"post": "yes"}).status_code == 403
    assert Organization.objects.filter(pk=company.pk).exists()


def test_it_keeps_the_last_owner_when_staff_edit_a_membership(
    admin_client_for, company, company_owner
):
    owner = Membership.objects.get(user=company_owner)
    response = admin_client_for.post(change(Membership, owner.pk), {"role": "member"}, follow=True)
    assert "last owner" in response.text
    assert "was changed successfully" not in response.text
    assert Membership.objects.get(pk=owner.pk).role == "owner"
    delete = reverse("admin:governance_membership_delete", args=[owner.pk])
    response = admin_client_for.post(delete, {"post": "yes"}, follow=True)
    assert "last owner" in response.text
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_it_adds_and_changes_memberships_on_the_record(admin_client_for, company, citizen, staff):
    response = admin_client_for.post(
        reverse("admin:governance_membership_add"),
        {"organization": company.pk, "user": citizen.pk, "role": "editor"},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=citizen, organization=company)
    added = LedgerEntry.objects.get(action="membership.added")
    assert added.actor == f"user:{staff.pk}"
    assert added.payload["role"] == "editor"
    admin_client_for.post(change(Membership, membership.pk), {"role": "member"})
    assert Membership.objects.get(pk=membership.pk).role == "member"
    assert LedgerEntry.objects.filter(action="membership.role_changed").count() == 1


def test_it_never_shows_password_hashes(admin_client_for, citizen):
    response = admin_client_for.get(change(User, citizen.pk))
    assert response.status_code == 200
    assert "citizen@example.org" in response.text  # staff may see the address
    assert citizen.password not in response.text
    assert "pbkdf2" not in response.text
    assert "argon2" not in response.text
    listing = admin_client_for.get(changelist(User))
    assert citizen.password not in listing.text


def test_it_grants_the_moderator_role_on_the_record(admin_client_for, citizen, staff):
    response = action(admin_client_for, User, "make_moderator", [citizen.pk])
    assert "1 moderator(s) set" in response.text
    assert citizen.groups.filter(name="moderators").exists()
    entry = LedgerEntry.objects.get(action="user.staff_roles_changed")
    assert entry.actor == f"user:{staff.pk}"
    assert entry.payload["groups"] == {"from": [], "to": ["moderators"]}
    assert "@" not in str(entry.payload)
    action(admin_client_for, User, "remove_moderator", [citizen.pk])
    assert not citizen.groups.filter(name="moderators").exists()


def test_it_keeps_staff_roles_out_of_the_change_form(admin_client_for, citizen):
    admin_client_for.post(
        change(User, citizen.pk),
        {
            "display_name": "Citizen Ada",
            "timezone": "",
            "is_active": "on",
            "is_staff": "on",
            "groups": [Group.objects.get(name="moderators").pk],
        },
    )
    citizen.refresh_from_db()
    assert not citizen.is_staff
    assert not citizen.groups.exists()


def test_it_never_shows_token_hashes(admin_client_for, citizen):
    token, raw = api_token_create(user=citizen, name="script", scopes=["read:public"])
    response = admin_client_for.get(change(ApiToken, token.pk))
    assert response.status_code == 200
    assert token.key_sha256 not in response.text
    assert raw not in response.text
    assert token.prefix in response.text
    assert admin_client_for.post(change(ApiToken, token.pk), {"name": "x"}).status_code == 403


def test_it_shows_invitations_without_their_token_hash(admin_client_for, company, company_owner):
    invitation, raw = invitation_create(
        actor=company_owner, organization=company, email="a@b.org", role="member"
    )
    response = admin_client_for.get(change(Invitation, invitation.pk))
    assert invitation.token_sha256 not in response.text
    assert raw not in response.text
    action(admin_client_for, Invitation, "revoke", [invitation.pk])
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert LedgerEntry.objects.filter(action="invitation.revoked").count() == 1


def test_it_keeps_the_ledger_read_only(admin_client_for, staff):
    from django.contrib import admin as django_admin
    from django.db import transaction

    with transaction.atomic():
        entry = ledger_append(actor=staff, action="test.did", subject="thing:1", payload={})
    model_admin = django_admin.site._registry[LedgerEntry]
    request = admin_client_for.get(changelist(LedgerEntry)).wsgi_request
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)

    page = admin_client_for.get(change(LedgerEntry, entry.seq))
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert admin_client_for.post(change(LedgerEntry, entry.seq), {"action": "x"}).status_code == 403
    delete = reverse("admin:governance_ledgerentry_delete", args=[entry.seq])
    assert admin_client_for.post(delete, {"post": "yes"}).status_code == 403
    assert admin_client_for.get(reverse("admin:governance_ledgerentry_add")).status_code == 403
    assert "delete_selected" not in model_admin.get_actions(request)
    assert LedgerEntry.objects.get(seq=entry.seq).action == "test.did"


def test_it_keeps_idempotency_records_read_only(admin_client_for):
    record = IdempotencyRecord.objects.create(
        owner="user:1", key="k", method="POST", path="/api/v1/x/", request_sha256="0" * 64
    )
    assert admin_client_for.get(change(IdempotencyRecord, record.pk)).status_code == 200
    delete = reverse("admin:governance_idempotencyrecord_delete", args=[record.pk])
    assert admin_client_for.post(delete, {"post": "yes"}).status_code == 403
    assert IdempotencyRecord.objects.filter(pk=record.pk).exists()


def test_it_lets_plain_staff_verify_only_with_the_view_permission(client_for, db):
    from django.contrib.auth.models import Permission

    plain = UserFactory(is_staff=True)
    plain.user_permissions.add(Permission.objects.get(codename="view_organization"))
    org = OrganizationFactory()
    client = client_for(plain)
    assert client.get(changelist(Organization)).status_code == 200
    response = action(client, Organization, "verify", [org.pk])
    assert response.status_code == 200
    org.refresh_from_db()
    assert org.verified_at is not None
