"""The organizations API: directory, registration, staff verification and accreditation,
memberships (with their privacy rule) and invitations."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from governance.models import Invitation, LedgerEntry, Membership, Organization
from governance.services.organizations import invitation_create
from governance.services.tokens import api_token_create
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

ORGS = "/api/v1/organizations/"


def org_url(slug: str, rest: str = "") -> str:
    return f"{ORGS}{slug}/{rest}"


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


def token_client(user, scopes) -> APIClient:
    _, raw = api_token_create(user=user, name="script " + "+".join(scopes), scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


# --- Directory --------------------------------------------------------------------------------


def test_it_lists_organizations_for_anyone(api_for, company, auditor_org):
    OrganizationFactory(name="Unverified Startup", slug="unverified-startup")
    response = api_for(None).get(ORGS)
    assert response.status_code == 200
    by_slug = {o["slug"]: o for o in response.json()["results"]}
    assert set(by_slug) == {"acme-ai", "independent-audit", "unverified-startup"}
    assert by_slug["acme-ai"]["verified"] is True
    assert by_slug["independent-audit"]["accredited"] is True
    assert by_slug["unverified-startup"]["verified"] is False
    assert by_slug["acme-ai"]["html_url"].endswith("/organizations/acme-ai/")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=auditor", {"independent-audit"}),
        ("verified=false", {"unverified-startup"}),
        ("verified=true", {"acme-ai", "independent-audit"}),
        ("q=ACME", {"acme-ai"}),
    ],
)
def test_it_filters_the_directory(api_for, company, auditor_org, query, expected):
    OrganizationFactory(name="Unverified Startup", slug="unverified-startup")
    response = api_for(None).get(f"{ORGS}?{query}")
    assert {o["slug"] for o in response.json()["results"]} == expected


def test_it_rejects_an_unknown_kind_filter(api_for, company):
    response = api_for(None).get(f"{ORGS}?kind=government")
    assert response.status_code == 400
    assert "kind" in error(response)["fields"]


def test_it_pins_the_directory_query_count(api_for, db, django_assert_max_num_queries):
    for i in range(30):
        OrganizationFactory(name=f"Org {i}")
    with django_assert_max_num_queries(3):
        assert api_for(None).get(ORGS).status_code == 200


def test_it_shows_one_organization_by_slug(api_for, company):
    response = api_for(None).get(org_url("acme-ai"))
    assert response.status_code == 200
    assert response.json()["name"] == "Acme AI"
    assert api_for(None).get(org_url("nope")).status_code == 404


# --- Registration and editing -----------------------------------------------------------------


def test_it_registers_an_organization_and_makes_the_caller_owner(api_for, citizen):
    response = api_for(citizen).post(
        ORGS, {"name": "Civic Audit", "kind": "auditor", "website": "https://civic.example"}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "civic-audit"
    assert body["verified"] is False
    assert response["Location"] == org_url("civic-audit")
    org = Organization.objects.get(slug="civic-audit")
    assert Membership.objects.get(organization=org).user == citizen
    assert LedgerEntry.objects.get(action="organization.created").actor == f"user:{citizen.pk}"


def test_it_needs_a_signed_in_confirmed_caller_to_register(api_for, db):
    assert api_for(None).post(ORGS, {"name": "X", "kind": "developer"}).status_code == 401
    response = api_for(UserFactory(verified=False)).post(ORGS, {"name": "X", "kind": "developer"})
    assert response.status_code == 403
    assert error(response)["code"] == "not_allowed"
    assert not Organization.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "", "kind": "developer"}, "name"),
        ({"name": "x" * 1000, "kind": "developer"}, "name"),
        ({"name": "acme AI", "kind": "developer"}, "name"),
        ({"name": "Fine", "kind": "government"}, "kind"),
        ({"name": "Fine"}, "kind"),
        ({"name": "Fine", "kind": "developer", "slug": "api"}, "slug"),
        ({"name": "Fine", "kind": "developer", "slug": "no spaces"}, "slug"),
        ({"name": "Fine", "kind": "developer", "website": "javascript:alert(1)"}, "website"),
        ({"name": ["a", "b"], "kind": "developer"}, "name"),
    ],
)
def test_it_rejects_bad_registrations_with_field_errors(api_for, citizen, company, payload, field):
    response = api_for(citizen).post(ORGS, payload, format="json")
    assert response.status_code == 400
    assert field in error(response)["fields"]
    assert Organization.objects.count() == 1


def test_it_rejects_malformed_json(api_for, citizen):
    response = api_for(citizen).post(ORGS, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert error(response)["code"] == "parse_error"


def test_it_registers_once_per_idempotency_key(api_for, citizen):
    client = api_for(citizen)
    payload = {"name": "Retry Labs", "kind": "developer"}
    first = client.post(ORGS, payload, HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(ORGS, payload, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert Organization.objects.filter(name="Retry Labs").count() == 1


def test_it_lets_owners_edit_with_patch(api_for, company, company_owner):
    response = api_for(company_owner).patch(
        org_url("acme-ai"), {"description": "<b>Bold</b> claims"}
    )
    assert response.status_code == 200
    assert response.json()["description"] == "<b>Bold</b> claims"  # data, escaped by readers
    assert LedgerEntry.objects.filter(action="organization.updated").count() == 1


@pytest.mark.parametrize(
    ("persona", "status"),
    [("company_editor", 403), ("company_member", 403), ("outsider", 403), (None, 401)],
)
def test_it_refuses_edits_by_others(request, api_for, company, persona, status):
    user = request.getfixturevalue(persona) if persona else None
    response = api_for(user).patch(org_url("acme-ai"), {"name": "Hijacked"})
    assert response.status_code == status
    company.refresh_from_db()
    assert company.name == "Acme AI"


def test_it_refuses_changes_to_fixed_fields_and_put(api_for, company, company_owner):
    client = api_for(company_owner)
    response = client.patch(org_url("acme-ai"), {"kind": "auditor", "slug": "x"})
    assert response.status_code == 400
    assert set(error(response)["fields"]) == {"kind", "slug"}
    assert client.put(org_url("acme-ai"), {"name": "X"}).status_code == 405
    assert client.delete(org_url("acme-ai")).status_code == 405


def test_it_respects_token_scopes(company, company_owner):
    reader = token_client(company_owner, ["read:public"])
    assert reader.get(ORGS).status_code == 200
    response = reader.patch(org_url("acme-ai"), {"description": "x"})
    assert response.status_code == 403
    writer = token_client(company_owner, ["read:public", "write:account"])
    assert writer.patch(org_url("acme-ai"), {"description": "x"}).status_code == 200


# --- Staff: verify, unverify, accredit --------------------------------------------------------


def test_it_lets_staff_verify_and_records_it(api_for, staff):
    org = OrganizationFactory(slug="new-regulator", kind="regulator")
    response = api_for(staff).post(org_url("new-regulator", "verify/"))
    assert response.status_code == 200
    assert response.json()["verified"] is True
    entry = LedgerEntry.objects.get(action="organization.verified")
    assert entry.actor == f"user:{staff.pk}"
    assert entry.subject == f"organization:{org.pk}"
    again = api_for(staff).post(org_url("new-regulator", "verify/"))
    assert again.status_code == 409
    assert error(again)["code"] == "already_verified"


@pytest.mark.parametrize(
    ("persona", "status"), [("company_owner", 403), ("moderator", 403), (None, 401)]
)
def test_it_refuses_verification_by_non_staff(request, api_for, persona, status):
    OrganizationFactory(slug="new-regulator", kind="regulator")
    user = request.getfixturevalue(persona) if persona else None
    for action in ("verify/", "accredit/", "unverify/"):
        assert api_for(user).post(org_url("new-regulator", action)).status_code == status
    assert not LedgerEntry.objects.exists()


def test_it_unverifies_with_a_reason(api_for, staff, company):
    missing = api_for(staff).post(org_url("acme-ai", "unverify/"), {})
    assert missing.status_code == 400
    assert "reason" in error(missing)["fields"]
    response = api_for(staff).post(org_url("acme-ai", "unverify/"), {"reason": "Impostor"})
    assert response.status_code == 200
    assert response.json()["verified"] is False


def test_it_accredits_auditors_for_a_year_by_default(api_for, staff):
    OrganizationFactory(slug="new-auditor", kind="auditor", verified_at=timezone.now())
    response = api_for(staff).post(org_url("new-auditor", "accredit/"))
    assert response.status_code == 200
    body = response.json()
    assert body["accredited"] is True
    org = Organization.objects.get(slug="new-auditor")
    assert org.accreditation_expires_at - timezone.now() > timedelta(days=364)


def test_it_refuses_to_accredit_other_kinds_or_past_dates(api_for, staff, company, auditor_org):
    response = api_for(staff).post(org_url("acme-ai", "accredit/"))
    assert response.status_code == 400
    assert "kind" in error(response)["fields"]
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = api_for(staff).post(org_url("independent-audit", "accredit/"), {"expires_at": past})
    assert response.status_code == 400
    assert "expires_at" in error(response)["fields"]
    response = api_for(staff).post(
        org_url("independent-audit", "accredit/"), {"expires_at": "next tuesday"}
    )
    assert response.status_code == 400
    assert "expires_at" in error(response)["fields"]


# --- Memberships ------------------------------------------------------------------------------


def _names(response) -> set[str]:
    return {m["user"]["public_name"] for m in response.json()["results"]}


def test_it_lists_owners_and_editors_publicly_and_members_privately(
    request, api_for, company, company_owner, company_editor, company_member
):
    url = org_url("acme-ai", "memberships/")
    public = api_for(None).get(url)
    assert public.status_code == 200
    assert _names(public) == {"Acme Owner", "Acme Editor"}
    assert "email" not in str(public.json())
    assert "@" not in str(public.json())
    for persona in ("outsider", "citizen", "moderator"):
        assert _names(api_for(request.getfixturevalue(persona)).get(url)) == {
            "Acme Owner",
            "Acme Editor",
        }
    everyone = {"Acme Owner", "Acme Editor", "Acme Member"}
    for persona in ("company_member", "company_owner", "staff"):
        assert _names(api_for(request.getfixturevalue(persona)).get(url)) == everyone
    member = Membership.objects.get(user=company_member)
    assert api_for(None).get(f"{url}{member.pk}/").status_code == 404
    assert api_for(company_member).get(f"{url}{member.pk}/").status_code == 200
    assert api_for(None).get(org_url("nope", "memberships/")).status_code == 404


def test_it_pins_the_membership_list_query_count(api_for, company, django_assert_max_num_queries):
    for _ in range(20):
        MembershipFactory(organization=company, role="editor")
    with django_assert_max_num_queries(3):
        assert api_for(None).get(org_url("acme-ai", "memberships/")).status_code == 200


def test_it_changes_roles_for_owners_only(api_for, company, company_owner, company_member):
    member = Membership.objects.get(user=company_member)
    url = org_url("acme-ai", f"memberships/{member.pk}/")
    assert api_for(company_member).patch(url, {"role": "owner"}).status_code == 403
    bad = api_for(company_owner).patch(url, {"role": "boss"})
    assert bad.status_code == 400
    assert "role" in error(bad)["fields"]
    response = api_for(company_owner).patch(url, {"role": "editor"})
    assert response.status_code == 200
    assert response.json()["role"] == "editor"
    assert api_for(company_owner).put(url, {"role": "member"}).status_code == 405


def test_it_keeps_the_last_owner(api_for, company, company_owner):
    owner = Membership.objects.get(user=company_owner)
    url = org_url("acme-ai", f"memberships/{owner.pk}/")
    demote = api_for(company_owner).patch(url, {"role": "member"})
    assert demote.status_code == 409
    assert error(demote)["code"] == "last_owner"
    leave = api_for(company_owner).delete(url)
    assert leave.status_code == 409
    assert error(leave)["code"] == "last_owner"


def test_it_lets_members_leave_and_refuses_outsiders(
    api_for, company, company_member, company_editor, outsider
):
    editor = Membership.objects.get(user=company_editor)
    assert (
        api_for(outsider).delete(org_url("acme-ai", f"memberships/{editor.pk}/")).status_code == 403
    )
    assert api_for(None).delete(org_url("acme-ai", f"memberships/{editor.pk}/")).status_code == 401
    member = Membership.objects.get(user=company_member)
    response = api_for(company_member).delete(org_url("acme-ai", f"memberships/{member.pk}/"))
    assert response.status_code == 204
    assert LedgerEntry.objects.get(action="membership.removed").payload["left"] is True


# --- Invitations ------------------------------------------------------------------------------


def test_it_invites_by_email_for_owners(
    api_for, company, company_owner, django_capture_on_commit_callbacks
):
    url = org_url("acme-ai", "invitations/")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(company_owner).post(url, {"email": "New@Example.org", "role": "editor"})
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new@example.org"
    assert body["status"] == "pending"
    assert "token" not in body
    assert len(mail.outbox) == 1
    listed = api_for(company_owner).get(url)
    assert [i["id"] for i in listed.json()["results"]] == [body["id"]]
    again = api_for(company_owner).post(url, {"email": "new@example.org", "role": "member"})
    assert again.status_code == 409
    assert error(again)["code"] == "already_invited"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "nope", "role": "member"}, "email"),
        ({"role": "member"}, "email"),
        ({"email": "a@b.org", "role": "boss"}, "role"),
        ({"email": "x" * 300 + "@b.org", "role": "member"}, "email"),
    ],
)
def test_it_rejects_bad_invitations(api_for, company, company_owner, payload, field):
    response = api_for(company_owner).post(org_url("acme-ai", "invitations/"), payload)
    assert response.status_code == 400
    assert field in error(response)["fields"]
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("persona", "status"),
    [("company_editor", 403), ("company_member", 403), ("outsider", 403), (None, 401)],
)
def test_it_keeps_invitations_to_owners(request, api_for, company, company_owner, persona, status):
    invitation_create(actor=company_owner, organization=company, email="a@b.org", role="member")
    user = request.getfixturevalue(persona) if persona else None
    client = api_for(user)
    url = org_url("acme-ai", "invitations/")
    assert client.get(url).status_code == status
    assert client.post(url, {"email": "c@d.org", "role": "owner"}).status_code == status
    assert Invitation.objects.count() == 1


def test_it_withdraws_invitations(api_for, company, company_owner):
    invitation, _ = invitation_create(
        actor=company_owner, organization=company, email="a@b.org", role="member"
    )
    url = org_url("acme-ai", f"invitations/{invitation.pk}/revoke/")
    response = api_for(company_owner).post(url)
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    again = api_for(company_owner).post(url)
    assert again.status_code == 409
    assert error(again)["code"] == "invitation_revoked"


def test_it_accepts_an_invitation_by_token(
    api_for, company, company_owner, django_capture_on_commit_callbacks
):
    invitee = UserFactory(email="new@example.org", display_name="Newcomer")
    with django_capture_on_commit_callbacks(execute=True):
        api_for(company_owner).post(
            org_url("acme-ai", "invitations/"), {"email": "new@example.org", "role": "editor"}
        )
    raw = re.search(r"/organizations/invitations/([^/\s]+)/", mail.outbox[0].body).group(1)
    url = "/api/v1/invitations/accept/"
    assert api_for(None).post(url, {"token": raw}).status_code == 401
    wrong = api_for(UserFactory()).post(url, {"token": raw})
    assert wrong.status_code == 403
    assert error(wrong)["code"] == "email_mismatch"
    response = api_for(invitee).post(url, {"token": raw})
    assert response.status_code == 201
    assert response.json()["role"] == "editor"
    assert response.json()["user"]["public_name"] == "Newcomer"
    used = api_for(invitee).post(url, {"token": raw})
    assert used.status_code == 409
    assert error(used)["code"] == "invitation_used"
    unknown = api_for(invitee).post(url, {"token": "nope"})
    assert unknown.status_code == 404
    assert api_for(invitee).post(url, {}).status_code == 400


def test_it_refuses_expired_invitations(api_for, company, company_owner):
    invitee = UserFactory(email="late@example.org")
    invitation, raw = invitation_create(
        actor=company_owner, organization=company, email="late@example.org", role="member"
    )
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(1))
    response = api_for(invitee).post("/api/v1/invitations/accept/", {"token": raw})
    assert response.status_code == 409
    assert error(response)["code"] == "invitation_expired"


def test_it_documents_the_endpoints_and_the_privacy_rule(api_for, db):
    schema = api_for(None).get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/organizations/",
        "/api/v1/organizations/{slug}/verify/",
        "/api/v1/organizations/{slug}/accredit/",
        "/api/v1/organizations/{organization_slug}/memberships/",
        "/api/v1/organizations/{organization_slug}/invitations/",
        "/api/v1/invitations/accept/",
    ):
        assert path in paths, path
    listing = paths["/api/v1/organizations/{organization_slug}/memberships/"]["get"]
    assert "Plain members are private" in listing["description"]
