"""Organizations, memberships and invitations: the services' rules and the pages built on them."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from governance.errors import Conflict, Invalid, NotAllowed, NotFound
from governance.models import Invitation, LedgerEntry, Membership, Organization
from governance.services import organizations as services
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def entries(organization: Organization, action: str | None = None) -> list[LedgerEntry]:
    qs = LedgerEntry.objects.filter(subject=f"organization:{organization.pk}")
    if action:
        qs = qs.filter(action=action)
    return list(qs.order_by("seq"))


def invite_link(message) -> str:
    match = re.search(r"https?://[^/\s]+(/organizations/invitations/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


@pytest.fixture
def invitee(db):
    return UserFactory(email="newcomer@acme.example", display_name="New Colleague")


# --- organization_create ----------------------------------------------------------------------


def test_it_creates_an_organization_whose_creator_is_owner_on_the_ledger(citizen):
    org = services.organization_create(
        actor=citizen,
        name="  Open   Models Lab ",
        kind="developer",
        description="We build models.",
        website="https://openmodels.example",
    )
    assert org.name == "Open Models Lab"
    assert org.slug == "open-models-lab"
    assert org.created_by == citizen
    assert not org.is_verified
    assert Membership.objects.get(organization=org, user=citizen).role == "owner"
    [entry] = entries(org)
    assert entry.action == "organization.created"
    assert entry.actor == f"user:{citizen.pk}"
    assert entry.payload["kind"] == "developer"
    assert entry.payload["owner"] == f"user:{citizen.pk}"


def test_it_suffixes_generated_slugs_on_collision(citizen):
    first = services.organization_create(actor=citizen, name="Acme Labs", kind="developer")
    second = services.organization_create(actor=citizen, name="Acme: Labs!", kind="auditor")
    third = services.organization_create(actor=citizen, name="ACME -- labs", kind="panel")
    assert [first.slug, second.slug, third.slug] == ["acme-labs", "acme-labs-2", "acme-labs-3"]


def test_it_never_generates_a_reserved_or_empty_slug(citizen):
    assert services.organization_create(actor=citizen, name="Admin", kind="panel").slug == (
        "admin-org"
    )
    assert services.organization_create(actor=citizen, name="株式会社", kind="developer").slug == (
        "organization"
    )


@pytest.mark.parametrize("slug", ["new", "admin", "api", "invitations"])
def test_it_refuses_reserved_slugs(citizen, slug):
    with pytest.raises(Invalid) as exc:
        services.organization_create(actor=citizen, name="Some Org", kind="developer", slug=slug)
    assert "slug" in exc.value.fields


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 1000}, "name"),
        ({"name": "acme ai"}, "name"),  # the `company` fixture is "Acme AI"
        ({"kind": "government"}, "kind"),
        ({"kind": None}, "kind"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"website": "not a url"}, "website"),
        ({"description": "d" * 5001}, "description"),
        ({"slug": "Bad Slug!"}, "slug"),
        ({"slug": "acme-ai"}, "slug"),
    ],
)
def test_it_rejects_bad_organization_input_with_field_errors(citizen, company, fields, field):
    data = {"name": "Valid Name", "kind": "developer", **fields}
    with pytest.raises(Invalid) as exc:
        services.organization_create(actor=citizen, **data)
    assert field in exc.value.fields
    assert Organization.objects.count() == 1


def test_it_refuses_registration_without_a_confirmed_address(db):
    user = UserFactory(verified=False)
    with pytest.raises(NotAllowed):
        services.organization_create(actor=user, name="Ghost Corp", kind="developer")
    assert not Organization.objects.filter(name="Ghost Corp").exists()


# --- organization_update, verify, unverify, accredit -----------------------------------------


def test_it_lets_owners_update_and_records_what_changed(company, company_owner):
    services.organization_update(
        actor=company_owner, organization=company, name="Acme AI Inc", description="New text"
    )
    company.refresh_from_db()
    assert company.name == "Acme AI Inc"
    [entry] = entries(company, "organization.updated")
    assert entry.actor == f"user:{company_owner.pk}"
    assert entry.payload["name"] == {"from": "Acme AI", "to": "Acme AI Inc"}
    assert entry.payload["description"] == {"from_length": 0, "to_length": 8}


def test_it_writes_nothing_when_an_update_changes_nothing(company, company_owner):
    services.organization_update(actor=company_owner, organization=company, name="Acme AI")
    assert entries(company, "organization.updated") == []


@pytest.mark.parametrize("persona", ["company_editor", "company_member", "outsider", "citizen"])
def test_it_refuses_updates_from_non_owners(request, company, persona):
    with pytest.raises(NotAllowed):
        services.organization_update(
            actor=request.getfixturevalue(persona), organization=company, name="Hijacked"
        )


def test_it_refuses_to_change_kind_or_slug(company, company_owner):
    with pytest.raises(Invalid) as exc:
        services.organization_update(
            actor=company_owner, organization=company, kind="auditor", slug="x"
        )
    assert set(exc.value.fields) == {"kind", "slug"}


def test_it_refuses_a_name_taken_by_another_organization_in_any_case(
    company, company_owner, other_company
):
    with pytest.raises(Invalid) as exc:
        services.organization_update(actor=company_owner, organization=company, name="OTHER LABS")
    assert "name" in exc.value.fields


def test_it_lets_staff_verify_and_records_it(staff):
    org = OrganizationFactory(kind="regulator")
    services.organization_verify(actor=staff, organization=org)
    org.refresh_from_db()
    assert org.verified_by == staff
    assert org.verified_at is not None
    [entry] = entries(org, "organization.verified")
    assert entry.actor == f"user:{staff.pk}"
    with pytest.raises(Conflict):
        services.organization_verify(actor=staff, organization=org)


@pytest.mark.parametrize("persona", ["company_owner", "moderator", "citizen"])
def test_it_refuses_verification_by_non_staff(request, persona):
    org = OrganizationFactory()
    with pytest.raises(NotAllowed):
        services.organization_verify(actor=request.getfixturevalue(persona), organization=org)
    assert entries(org) == []


def test_it_withdraws_verification_with_a_public_reason(staff, auditor_org):
    with pytest.raises(Invalid) as exc:
        services.organization_unverify(actor=staff, organization=auditor_org, reason="  ")
    assert "reason" in exc.value.fields
    services.organization_unverify(actor=staff, organization=auditor_org, reason="Shell company")
    auditor_org.refresh_from_db()
    assert auditor_org.verified_at is None
    assert auditor_org.accredited_at is None
    [entry] = entries(auditor_org, "organization.unverified")
    assert entry.payload == {"reason": "Shell company", "accreditation_ended": True}


def test_it_accredits_verified_auditors_only(staff, auditor_org, company):
    expires = timezone.now() + timedelta(days=200)
    services.organization_accredit(actor=staff, organization=auditor_org, expires_at=expires)
    auditor_org.refresh_from_db()
    assert auditor_org.accreditation_expires_at == expires
    assert entries(auditor_org, "organization.accredited")[0].actor == f"user:{staff.pk}"

    with pytest.raises(Invalid) as exc:
        services.organization_accredit(actor=staff, organization=company, expires_at=expires)
    assert "kind" in exc.value.fields
    company.refresh_from_db()
    assert company.accredited_at is None

    unverified = OrganizationFactory(kind="auditor")
    with pytest.raises(Conflict):
        services.organization_accredit(actor=staff, organization=unverified, expires_at=expires)


@pytest.mark.parametrize(
    "expires",
    [
        timezone.now() - timedelta(days=1),
        timezone.now() + timedelta(days=3000),
        (timezone.now() + timedelta(days=10)).replace(tzinfo=None),
    ],
)
def test_it_refuses_bad_accreditation_dates(staff, auditor_org, expires):
    with pytest.raises(Invalid) as exc:
        services.organization_accredit(actor=staff, organization=auditor_org, expires_at=expires)
    assert "expires_at" in exc.value.fields


def test_it_refuses_accreditation_by_non_staff(auditor, auditor_org):
    with pytest.raises(NotAllowed):
        services.organization_accredit(
            actor=auditor, organization=auditor_org, expires_at=timezone.now() + timedelta(1)
        )


# --- Memberships ------------------------------------------------------------------------------


def test_it_lets_owners_add_members_and_records_it(company, company_owner, citizen):
    membership = services.membership_add(
        actor=company_owner, organization=company, user=citizen, role="editor"
    )
    assert membership.role == "editor"
    [entry] = entries(company, "membership.added")
    assert entry.actor == f"user:{company_owner.pk}"
    assert entry.payload == {
        "membership": membership.pk,
        "user": f"user:{citizen.pk}",
        "role": "editor",
    }


def test_it_refuses_adding_twice_or_with_an_unknown_role(company, company_owner, company_member):
    with pytest.raises(Conflict):
        services.membership_add(
            actor=company_owner, organization=company, user=company_member, role="member"
        )
    with pytest.raises(Invalid) as exc:
        services.membership_add(
            actor=company_owner, organization=company, user=UserFactory(), role="boss"
        )
    assert "role" in exc.value.fields


@pytest.mark.parametrize("persona", ["company_editor", "company_member", "outsider"])
def test_it_refuses_adding_members_for_non_owners(request, company, citizen, persona):
    with pytest.raises(NotAllowed):
        services.membership_add(
            actor=request.getfixturevalue(persona),
            organization=company,
            user=citizen,
            role="member",
        )


def test_it_changes_roles_and_records_from_and_to(company, company_owner, company_member):
    membership = Membership.objects.get(user=company_member)
    services.membership_set_role(actor=company_owner, membership=membership, role="editor")
    assert Membership.objects.get(pk=membership.pk).role == "editor"
    [entry] = entries(company, "membership.role_changed")
    assert entry.payload["from"] == "member"
    assert entry.payload["to"] == "editor"
    assert entry.actor == f"user:{company_owner.pk}"


def test_it_never_demotes_the_last_owner(company, company_owner):
    membership = Membership.objects.get(user=company_owner)
    with pytest.raises(Conflict) as exc:
        services.membership_set_role(actor=company_owner, membership=membership, role="editor")
    assert exc.value.code == "last_owner"
    assert Membership.objects.get(pk=membership.pk).role == "owner"
    assert entries(company, "membership.role_changed") == []


def test_it_lets_an_owner_step_down_when_another_owner_remains(
    company, company_owner, company_editor
):
    services.membership_set_role(
        actor=company_owner, membership=Membership.objects.get(user=company_editor), role="owner"
    )
    services.membership_set_role(
        actor=company_owner, membership=Membership.objects.get(user=company_owner), role="member"
    )
    assert set(Membership.objects.filter(organization=company).values_list("role", flat=True)) == {
        "owner",
        "member",
    }


def test_it_never_removes_the_last_owner(company, company_owner, staff):
    membership = Membership.objects.get(user=company_owner)
    for actor in (company_owner, staff):
        with pytest.raises(Conflict):
            services.membership_remove(actor=actor, membership=membership)
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_it_lets_members_leave_and_owners_remove(
    company, company_owner, company_member, company_editor
):
    services.membership_remove(
        actor=company_member, membership=Membership.objects.get(user=company_member)
    )
    services.membership_remove(
        actor=company_owner, membership=Membership.objects.get(user=company_editor)
    )
    left, removed = entries(company, "membership.removed")
    assert left.payload["left"] is True
    assert left.actor == f"user:{company_member.pk}"
    assert removed.payload["left"] is False
    assert removed.actor == f"user:{company_owner.pk}"
    assert removed.payload["role"] == "editor"


@pytest.mark.parametrize("persona", ["company_editor", "outsider", "citizen"])
def test_it_refuses_removal_by_others(request, company, company_member, persona):
    with pytest.raises(NotAllowed):
        services.membership_remove(
            actor=request.getfixturevalue(persona),
            membership=Membership.objects.get(user=company_member),
        )


@pytest.mark.django_db(transaction=True)
def test_it_keeps_one_owner_when_two_owners_demote_each_other_at_once(django_db_blocker):
    org = OrganizationFactory()
    a = MembershipFactory(organization=org, role="owner")
    b = MembershipFactory(organization=org, role="owner")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(actor_membership, target_membership):
        try:
            barrier.wait(timeout=10)
            services.membership_set_role(
                actor=actor_membership.user,
                membership=Membership.objects.get(pk=target_membership.pk),
                role="member",
            )
            outcomes.append("ok")
        except (Conflict, NotAllowed) as error:
            outcomes.append(type(error).__name__)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=demote, args=(a, b)),
        threading.Thread(target=demote, args=(b, a)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes)[-1] == "ok"
    assert len(outcomes) == 2
    assert outcomes.count("ok") == 1
    assert Membership.objects.filter(organization=org, role="owner").count() == 1


# --- Invitations ------------------------------------------------------------------------------


def test_it_invites_by_email_with_a_working_link_and_no_address_on_the_ledger(
    company, company_owner, invitee, client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation, raw = services.invitation_create(
            actor=company_owner, organization=company, email="NewComer@Acme.example", role="editor"
        )
    assert invitation.email == "newcomer@acme.example"
    assert invitation.token_sha256 == services.hash_invitation_token(raw)
    assert raw not in invitation.token_sha256
    [entry] = entries(company, "invitation.created")
    assert "acme.example" not in str(entry.payload)
    assert raw not in str(entry.payload)
    assert entry.payload["role"] == "editor"

    [message] = mail.outbox
    assert message.to == ["newcomer@acme.example"]
    assert "Acme AI" in message.subject
    assert "Acme Owner" in message.body
    link = invite_link(message)
    assert link == reverse("organizations:invitation-accept", args=[raw])

    client = client_for(invitee)
    page = client.get(link)
    assert page.status_code == 200
    assert "Acme AI" in page.text
    assert "editor" in page.text
    response = client.post(link)
    assert response.status_code == 302
    assert Membership.objects.get(organization=company, user=invitee).role == "editor"
    accepted = entries(company, "invitation.accepted")[0]
    assert accepted.actor == f"user:{invitee.pk}"
    assert accepted.payload["role"] == "editor"


@pytest.mark.parametrize(
    ("email", "role", "field"),
    [
        ("not-an-address", "member", "email"),
        ("", "member", "email"),
        ("a" * 250 + "@x.org", "member", "email"),
        ("ok@example.org", "boss", "role"),
    ],
)
def test_it_rejects_bad_invitations(company, company_owner, email, role, field):
    with pytest.raises(Invalid) as exc:
        services.invitation_create(
            actor=company_owner, organization=company, email=email, role=role
        )
    assert field in exc.value.fields
    assert not Invitation.objects.exists()


def test_it_refuses_inviting_an_existing_member(company, company_owner, company_member):
    with pytest.raises(Invalid):
        services.invitation_create(
            actor=company_owner, organization=company, email="MEMBER@acme.example", role="editor"
        )


def test_it_keeps_one_pending_invitation_per_address(company, company_owner):
    services.invitation_create(
        actor=company_owner, organization=company, email="x@y.org", role="member"
    )
    with pytest.raises(Conflict):
        services.invitation_create(
            actor=company_owner, organization=company, email="X@Y.org", role="editor"
        )


def test_it_replaces_an_expired_invitation(company, company_owner):
    old, _ = services.invitation_create(
        actor=company_owner, organization=company, email="x@y.org", role="member"
    )
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(1))
    new, _ = services.invitation_create(
        actor=company_owner, organization=company, email="x@y.org", role="editor"
    )
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert entries(company, "invitation.created")[-1].payload["replaces"] == old.pk
    assert new.pk != old.pk


@pytest.mark.parametrize("persona", ["company_editor", "company_member", "outsider", "moderator"])
def test_it_refuses_invitations_from_non_owners(request, company, persona):
    with pytest.raises(NotAllowed):
        services.invitation_create(
            actor=request.getfixturevalue(persona),
            organization=company,
            email="a@b.org",
            role="member",
        )


def _invite(company, owner, email="newcomer@acme.example", role="member"):
    return services.invitation_create(actor=owner, organization=company, email=email, role=role)


def test_it_refuses_expired_revoked_and_used_invitations(company, company_owner, invitee, staff):
    invitation, raw = _invite(company, company_owner)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(1))
    with pytest.raises(Conflict) as exc:
        services.invitation_accept(user=invitee, raw_token=raw)
    assert exc.value.code == "invitation_expired"

    invitation, raw = _invite(company, company_owner)
    services.invitation_revoke(actor=company_owner, invitation=invitation)
    with pytest.raises(Conflict) as exc:
        services.invitation_accept(user=invitee, raw_token=raw)
    assert exc.value.code == "invitation_revoked"
    assert entries(company, "invitation.revoked")[0].actor == f"user:{company_owner.pk}"

    invitation, raw = _invite(company, company_owner)
    services.invitation_accept(user=invitee, raw_token=raw)
    with pytest.raises(Conflict) as exc:
        services.invitation_accept(user=invitee, raw_token=raw)
    assert exc.value.code == "invitation_used"
    with pytest.raises(Conflict):
        services.invitation_revoke(actor=company_owner, invitation=invitation)


def test_it_accepts_only_for_the_invited_confirmed_address(company, company_owner, citizen):
    _invitation, raw = _invite(company, company_owner, email="Ada@Example.ORG")
    with pytest.raises(NotAllowed) as exc:
        services.invitation_accept(user=citizen, raw_token=raw)
    assert exc.value.code == "email_mismatch"
    # The same address, unconfirmed, is not enough…
    EmailAddress.objects.create(user=citizen, email="ada@example.org", verified=False)
    with pytest.raises(NotAllowed):
        services.invitation_accept(user=citizen, raw_token=raw)
    # …confirmed, in any case, it is.
    EmailAddress.objects.filter(user=citizen, email="ada@example.org").update(verified=True)
    assert services.invitation_accept(user=citizen, raw_token=raw).role == "member"


@pytest.mark.parametrize("token", ["", "nope", "x" * 5000])
def test_it_says_unknown_tokens_are_not_found(citizen, token):
    with pytest.raises(NotFound):
        services.invitation_accept(user=citizen, raw_token=token)


def test_it_refuses_an_invitation_for_someone_already_in(company, company_owner, invitee):
    _, raw = _invite(company, company_owner)
    MembershipFactory(organization=company, user=invitee, role="member")
    with pytest.raises(Conflict):
        services.invitation_accept(user=invitee, raw_token=raw)


# --- Pages: directory -------------------------------------------------------------------------


def test_it_lists_organizations_with_badges_for_anyone(client, company, auditor_org):
    OrganizationFactory(name="Unverified Startup")
    response = client.get(reverse("organizations:list"))
    assert response.status_code == 200
    for name in ("Acme AI", "Independent Audit Co", "Unverified Startup"):
        assert name in response.text
    assert "Not verified" in response.text
    assert "Accredited" in response.text


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("?kind=auditor", "Independent Audit Co", "Acme AI"),
        ("?verified=no", "Unverified Startup", "Acme AI"),
        ("?verified=yes", "Acme AI", "Unverified Startup"),
        ("?q=acme", "Acme AI", "Independent Audit Co"),
    ],
)
def test_it_filters_the_directory(client, company, auditor_org, query, shown, hidden):
    OrganizationFactory(name="Unverified Startup")
    response = client.get(reverse("organizations:list") + query)
    assert response.status_code == 200
    assert shown in response.text
    assert hidden not in response.text


def test_it_explains_a_bad_filter_inline(client, company):
    response = client.get(reverse("organizations:list") + "?kind=government")
    assert response.status_code == 400
    assert "Select a valid choice" in response.text
    assert "Acme AI" in response.text  # the unfiltered list is still shown


def test_it_shows_empty_states(client, db):
    assert "No organizations yet" in client.get(reverse("organizations:list")).text
    OrganizationFactory(name="Something")
    assert "No organization matches" in client.get(reverse("organizations:list") + "?q=zzz").text


def test_it_paginates_and_answers_htmx_with_the_results_only(client, db):
    for i in range(30):
        OrganizationFactory(name=f"Org {i:02d}")
    first = client.get(reverse("organizations:list"))
    assert "Org 00" in first.text
    assert "Org 29" not in first.text
    assert 'rel="next"' in first.text
    second = client.get(reverse("organizations:list") + "?page=2")
    assert "Org 29" in second.text
    assert client.get(reverse("organizations:list") + "?page=junk").status_code == 200
    partial = client.get(reverse("organizations:list") + "?q=Org", HTTP_HX_REQUEST="true")
    assert "<html" not in partial.text
    assert 'id="organization-results"' in partial.text


def test_it_pins_the_directory_query_count(client_for, citizen, django_assert_max_num_queries):
    for i in range(25):
        OrganizationFactory(name=f"Org {i:02d}", verified_at=timezone.now())
    client = client_for(citizen)
    client.get(reverse("organizations:list"))
    with django_assert_max_num_queries(6):
        assert client.get(reverse("organizations:list")).status_code == 200


def test_it_refuses_writes_to_the_directory(client):
    assert client.post(reverse("organizations:list")).status_code == 405


# --- Pages: an organization ------------------------------------------------------------------


def test_it_shows_public_people_and_the_record_to_the_public(
    client, company, company_owner, company_editor, company_member, staff
):
    services.organization_unverify(actor=staff, organization=company, reason="Checking again")
    response = client.get(reverse("organizations:detail", args=["acme-ai"]))
    assert response.status_code == 200
    assert "Acme Owner" in response.text
    assert "Acme Editor" in response.text
    assert "Acme Member" not in response.text
    assert "owner@acme.example" not in response.text
    assert "organization.unverified" in response.text
    assert "Checking again" in response.text
    assert "Staff Flo" in response.text  # the actor's public name
    assert "Manage members" not in response.text


def test_it_shows_all_people_to_members(client_for, company, company_owner, company_member):
    response = client_for(company_member).get(reverse("organizations:detail", args=["acme-ai"]))
    assert "Acme Member" in response.text
    assert "Leave Acme AI" in response.text
    response = client_for(company_owner).get(reverse("organizations:detail", args=["acme-ai"]))
    assert "Manage members" in response.text
    assert "Edit details" in response.text


def test_it_escapes_hostile_descriptions(client, citizen):
    services.organization_create(
        actor=citizen,
        name="Evil <b>Corp</b>",
        kind="developer",
        description='<script>alert("x")</script><img src=x onerror=alert(1)>',
    )
    response = client.get(reverse("organizations:detail", args=["evil-bcorpb"]))
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;" in response.text
    assert "<img src=x" not in response.text
    assert "Evil &lt;b&gt;Corp&lt;/b&gt;" in response.text


def test_it_answers_404_for_unknown_organizations(client, db):
    assert client.get(reverse("organizations:detail", args=["nope"])).status_code == 404


def test_it_pins_the_organization_page_query_count(
    client, client_for, company, company_owner, company_editor, django_assert_max_num_queries
):
    for _ in range(10):
        MembershipFactory(organization=company, role="editor")
    for _ in range(12):
        services.organization_update(actor=company_owner, organization=company, description=f"v{_}")
    url = reverse("organizations:detail", args=["acme-ai"])
    # + 2 for the policies section the policies app composes into the page.
    with django_assert_max_num_queries(6):
        assert client.get(url).status_code == 200
    owner_client = client_for(company_owner)
    owner_client.get(url)
    with django_assert_max_num_queries(14):
        assert owner_client.get(url).status_code == 200


# --- Pages: create and edit -------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_sign_in(client, company):
    for name, args in [
        ("organizations:create", []),
        ("organizations:edit", ["acme-ai"]),
        ("organizations:members", ["acme-ai"]),
        ("organizations:invite", ["acme-ai"]),
    ]:
        url = reverse(name, args=args)
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
        assert "next=" in response["Location"]


def test_it_registers_an_organization_from_the_form(client_for, citizen):
    client = client_for(citizen)
    assert client.get(reverse("organizations:create")).status_code == 200
    response = client.post(
        reverse("organizations:create"),
        {"name": "Civic Audit", "kind": "auditor", "description": "Audits.", "website": ""},
    )
    assert response.status_code == 302
    org = Organization.objects.get(name="Civic Audit")
    assert response["Location"] == reverse("organizations:detail", args=[org.slug])
    assert entries(org)[0].actor == f"user:{citizen.pk}"


def test_it_asks_unconfirmed_people_to_confirm_first(client_for, db):
    response = client_for(UserFactory(verified=False)).get(reverse("organizations:create"))
    assert response.status_code == 403
    assert "Confirm your e-mail address" in response.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "kind": "developer"}, "This field is required"),
        ({"name": "x" * 1000, "kind": "developer"}, "at most 200 characters"),
        ({"name": "ACME ai", "kind": "developer"}, "already registered"),
        ({"name": "Fine", "kind": "government"}, "Select a valid choice"),
        ({"name": "Fine", "kind": "developer", "slug": "admin"}, "is reserved"),
        ({"name": "Fine", "kind": "developer", "website": "ftp://x"}, "Enter a valid URL"),
    ],
)
def test_it_shows_inline_errors_on_the_create_form(client_for, citizen, company, data, message):
    response = client_for(citizen).post(reverse("organizations:create"), data)
    assert response.status_code == 400
    assert message in response.text
    assert Organization.objects.count() == 1


def test_it_refuses_other_methods_on_the_create_form(client_for, citizen):
    assert client_for(citizen).put(reverse("organizations:create")).status_code == 405


def test_it_lets_owners_edit(client_for, company, company_owner):
    client = client_for(company_owner)
    url = reverse("organizations:edit", args=["acme-ai"])
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"name": "Acme AI", "description": "Now with <em>tags</em>", "website": "acme.example"}
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.website == "https://acme.example"
    bad = client.post(url, {"name": "", "description": "", "website": ""})
    assert bad.status_code == 400
    assert "This field is required" in bad.text


@pytest.mark.parametrize("persona", ["company_editor", "company_member", "outsider", "moderator"])
def test_it_forbids_editing_to_non_owners(request, client_for, company, persona):
    client = client_for(request.getfixturevalue(persona))
    url = reverse("organizations:edit", args=["acme-ai"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"name": "Hijacked"}).status_code == 403
    company.refresh_from_db()
    assert company.name == "Acme AI"


# --- Pages: members and invitations ----------------------------------------------------------


def test_it_shows_the_members_page_to_owners_only(
    request, client_for, company, company_owner, company_member
):
    url = reverse("organizations:members", args=["acme-ai"])
    response = client_for(company_owner).get(url)
    assert response.status_code == 200
    assert "Acme Member" in response.text
    assert "Invite someone" in response.text
    for persona in ("company_editor", "company_member", "outsider", "citizen"):
        assert client_for(request.getfixturevalue(persona)).get(url).status_code == 403


def test_it_changes_roles_from_the_members_page(client_for, company, company_owner, company_member):
    membership = Membership.objects.get(user=company_member)
    url = reverse("organizations:member-role", args=["acme-ai", membership.pk])
    client = client_for(company_owner)
    response = client.post(url, {"role": "editor"})
    assert response.status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == "editor"
    bad = client.post(url, {"role": "boss"})
    assert bad.status_code == 400
    assert "Choose owner, editor or member" in bad.text
    assert client.get(url).status_code == 405


def test_it_explains_inline_why_the_last_owner_stays(client_for, company, company_owner):
    membership = Membership.objects.get(user=company_owner)
    client = client_for(company_owner)
    response = client.post(
        reverse("organizations:member-role", args=["acme-ai", membership.pk]), {"role": "member"}
    )
    assert response.status_code == 409
    assert "last owner" in response.text
    response = client.post(reverse("organizations:member-remove", args=["acme-ai", membership.pk]))
    assert response.status_code == 409
    assert "last owner" in response.text
    assert Membership.objects.get(pk=membership.pk).role == "owner"


def test_it_removes_members_and_lets_members_leave(
    client_for, company, company_owner, company_member, company_editor
):
    editor = Membership.objects.get(user=company_editor)
    response = client_for(company_owner).post(
        reverse("organizations:member-remove", args=["acme-ai", editor.pk])
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=editor.pk).exists()
    response = client_for(company_member).post(reverse("organizations:leave", args=["acme-ai"]))
    assert response.status_code == 302
    assert not Membership.objects.filter(user=company_member).exists()


def test_it_forbids_removing_others_to_non_owners(
    client_for, company, company_owner, company_member
):
    owner = Membership.objects.get(user=company_owner)
    response = client_for(company_member).post(
        reverse("organizations:member-remove", args=["acme-ai", owner.pk])
    )
    assert response.status_code == 403
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_it_invites_from_the_members_page(
    client_for, company, company_owner, django_capture_on_commit_callbacks
):
    client = client_for(company_owner)
    url = reverse("organizations:invite", args=["acme-ai"])
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"email": "friend@example.org", "role": "editor"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["friend@example.org"]
    members_page = client.get(reverse("organizations:members", args=["acme-ai"]))
    assert "friend@example.org" in members_page.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not an address", "role": "member"}, "Enter a valid email address"),
        ({"email": "a@b.org", "role": "boss"}, "Select a valid choice"),
        ({"email": "member@acme.example", "role": "member"}, "already a member"),
    ],
)
def test_it_shows_inline_errors_on_the_invitation_form(
    client_for, company, company_owner, company_member, data, message
):
    response = client_for(company_owner).post(
        reverse("organizations:invite", args=["acme-ai"]), data
    )
    assert response.status_code == 400
    assert message in response.text
    assert not Invitation.objects.exists()


def test_it_forbids_inviting_to_non_owners(client_for, company, company_editor):
    response = client_for(company_editor).post(
        reverse("organizations:invite", args=["acme-ai"]), {"email": "x@y.org", "role": "owner"}
    )
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_it_withdraws_invitations_from_the_members_page(client_for, company, company_owner):
    invitation, _raw = _invite(company, company_owner)
    client = client_for(company_owner)
    url = reverse("organizations:invitation-revoke", args=["acme-ai", invitation.pk])
    assert client.post(url).status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    again = client.post(url, follow=True)
    assert "already withdrawn" in again.text


def test_it_sends_signed_out_invitees_to_sign_in_and_back(client, company, company_owner):
    _, raw = _invite(company, company_owner)
    url = reverse("organizations:invitation-accept", args=[raw])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert raw in response["Location"]


def test_it_explains_closed_and_mismatched_invitations(
    client_for, company, company_owner, citizen, invitee
):
    invitation, raw = _invite(company, company_owner)
    url = reverse("organizations:invitation-accept", args=[raw])
    wrong = client_for(citizen)
    assert "not confirmed on your account" in wrong.get(url).text
    response = wrong.post(url)
    assert response.status_code == 403
    assert not Membership.objects.filter(user=citizen, organization=company).exists()

    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(1))
    response = client_for(invitee).get(url)
    assert "expired" in response.text
    assert "Accept and join" not in response.text
    assert client_for(invitee).post(url).status_code == 409


def test_it_answers_404_for_unknown_invitation_links(client_for, citizen):
    response = client_for(citizen).get(reverse("organizations:invitation-accept", args=["nope"]))
    assert response.status_code == 404
    assert "Invitation not found" in response.text
