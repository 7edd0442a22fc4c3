"""Who may do what, page by page and endpoint by endpoint: the parts the other tests do not
already go through role by role."""

from __future__ import annotations

import pytest
from django.urls import reverse

from appeals.models import Appeal, VersionResolution
from policies import services as policy_services
from tests.factories import UserFactory
from tests.policies.conftest import POLICY_MARKDOWN

pytestmark = pytest.mark.django_db


def test_an_unverified_person_is_asked_to_confirm_their_address(client_for):
    response = client_for(UserFactory(verified=False)).get(reverse("appeals:file"))
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email")


@pytest.mark.parametrize("name", ["appeals:mine", "appeals:review-queue", "appeals:panel-queue"])
def test_queues_need_a_sign_in(name, client):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_wrong_methods_are_refused(client_for, citizen, appeal):
    c = client_for(citizen)
    assert c.post(reverse("appeals:decisions")).status_code == 405
    assert c.post(reverse("appeals:detail", args=[appeal.pk])).status_code == 405
    assert c.get(reverse("appeals:cite", args=[appeal.pk])).status_code == 405
    assert c.put(reverse("appeals:file")).status_code == 405


def test_unknown_things_are_404(client, appeal):
    assert client.get(reverse("appeals:decision", args=[999_999])).status_code == 404
    assert client.get(reverse("appeals:transparency", args=["nobody"])).status_code == 404
    assert client.get(reverse("appeals:transparency", args=["appeals-panel"])).status_code == 404


def test_the_clause_picker_lists_only_published_clauses(client, version, policy, company_editor):
    response = client.get(reverse("appeals:clause-options"), {"version": version.pk, "q": "cook"})
    body = response.content.decode()
    assert 'value="harmless.cooking"' in body
    assert "weapons.bio.synthesis" not in body
    draft = policy_services.version_draft_create(
        actor=company_editor,
        policy=policy,
        number="1.1.0",
        body_markdown=POLICY_MARKDOWN,
        summary_of_changes="Draft.",
    )
    body = client.get(reverse("appeals:clause-options"), {"version": draft.pk}).content.decode()
    assert "harmless.cooking" not in body
    body = client.get(reverse("appeals:clause-options"), {"version": "x<script>"}).content
    assert b"<script>" not in body


@pytest.mark.parametrize(
    ("who", "answered"),
    [
        ("company_editor", True),
        ("company_owner", True),
        ("company_member", False),
        ("outsider", False),
        ("citizen", False),
        ("panelist", False),
        ("regulator", False),
    ],
)
def test_who_answers_a_recommendation(who, answered, request, client_for, recommendation_made):
    c = client_for(request.getfixturevalue(who))
    c.post(
        reverse("appeals:recommendation-answer", args=[recommendation_made.pk]),
        {"answer": "already_done", "text": "Done."},
    )
    recommendation_made.refresh_from_db()
    assert bool(recommendation_made.answer) is answered


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("company_editor", 201),
        ("citizen", 403),
        ("panelist", 403),
        ("regulator", 403),
        ("outsider", 403),
    ],
)
def test_who_cites_a_recommendation(
    who, status, request, api_for, recommendation_made, policy, company_editor
):
    later = policy_services.version_publish(
        actor=company_editor,
        version=policy_services.version_draft_create(
            actor=company_editor,
            policy=policy,
            number="1.1.0",
            body_markdown=POLICY_MARKDOWN.replace("answered normally", "always answered"),
            summary_of_changes="Cooking answered always.",
        ),
    )
    api = api_for(request.getfixturevalue(who))
    response = api.post(
        f"/api/v1/recommendations/{recommendation_made.pk}/cite/",
        {"version": later.pk},
        format="json",
    )
    assert response.status_code == status, response.content
    if status == 201:
        assert response.json()["clause_changed"] is True
    assert VersionResolution.objects.exists() is (status == 201)


def test_the_appeal_page_cites_for_the_company(
    client_for, company_editor, citizen, appeal, advance, policy
):
    appeal = advance(appeal, "decided")
    later = policy_services.version_publish(
        actor=company_editor,
        version=policy_services.version_draft_create(
            actor=company_editor,
            policy=policy,
            number="1.0.1",
            body_markdown=POLICY_MARKDOWN,
            summary_of_changes="Nothing changes.",
        ),
    )
    assert (
        "Cite from that version"
        not in client_for(citizen).get(reverse("appeals:detail", args=[appeal.pk])).content.decode()
    )
    response = client_for(company_editor).post(
        reverse("appeals:cite", args=[appeal.pk]), {"version": later.pk}, follow=True
    )
    assert "did not change" in response.content.decode()
    assert VersionResolution.objects.get().clause_changed is False
    assert (
        client_for(citizen)
        .post(reverse("appeals:cite", args=[appeal.pk]), {"version": later.pk})
        .status_code
        == 400
    )


def test_the_seated_panel_reads_the_raw_transcript_and_the_coordinator_does_not(
    api_for, appeal, advance, panelists, panel_admin
):
    appeal = advance(appeal, "panel_review")
    seated = api_for(panelists[0]).get(f"/api/v1/appeals/{appeal.pk}/").json()
    assert "nurse.jo@example.com" in seated["transcript_raw"]
    assert "panel_vote" in seated["allowed_actions"]
    coordinator = api_for(panel_admin).get(f"/api/v1/appeals/{appeal.pk}/").json()
    assert coordinator["transcript_raw"] is None
    assert coordinator["allowed_actions"] == []


def test_a_panelist_of_the_appealed_company_is_never_a_panelist_on_it(
    api_for, appeal, advance, panelists, company
):
    from governance.models import Membership
    from tests.factories import MembershipFactory

    appeal = advance(appeal, "panel_review")
    MembershipFactory(organization=company, user=panelists[1], role=Membership.Role.MEMBER)
    response = api_for(panelists[1]).post(
        f"/api/v1/appeals/{appeal.pk}/actions/panel_vote/", {"outcome": "upheld"}, format="json"
    )
    assert response.status_code == 403


def test_the_api_offers_no_update_or_delete(api_for, citizen, appeal):
    api = api_for(citizen)
    assert api.put(f"/api/v1/appeals/{appeal.pk}/", {}, format="json").status_code == 405
    assert api.delete(f"/api/v1/appeals/{appeal.pk}/").status_code == 405
    assert Appeal.objects.filter(pk=appeal.pk).exists()


def test_the_company_cites_a_recommendation_from_its_page(
    client_for, company_editor, citizen, recommendation_made, policy
):
    later = policy_services.version_draft_create(
        actor=company_editor,
        policy=policy,
        number="1.1.0",
        body_markdown=POLICY_MARKDOWN.replace("answered normally", "always answered"),
        summary_of_changes="Cooking answered always.",
    )
    url = reverse("appeals:recommendation-cite", args=[recommendation_made.pk])
    client_for(citizen).post(url, {"version": later.pk})
    assert not VersionResolution.objects.exists()
    page = client_for(company_editor).get(reverse("appeals:recommendations")).content.decode()
    assert "Cite it from a later version" in page
    client_for(company_editor).post(url, {"version": later.pk})
    resolution = VersionResolution.objects.get()
    assert resolution.clause_changed is None  # a draft: settled when it is published
    policy_services.version_publish(actor=company_editor, version=later)
    from appeals.services import resolutions_settle

    assert resolutions_settle() == 1
    recommendation_made.refresh_from_db()
    assert recommendation_made.implemented_version_id == later.pk


@pytest.mark.parametrize("raw", ["abc", "", "-1", "1e9", "\x00"])
def test_the_recommendation_page_refuses_a_malformed_version_with_a_message(
    client_for, company_editor, recommendation_made, raw
):
    # A non-numeric id reached the ORM's integer lookup (a 500).
    response = client_for(company_editor).post(
        f"/appeals/recommendations/{recommendation_made.pk}/cite/", {"version": raw}
    )
    assert response.status_code == 302
    assert not VersionResolution.objects.exists()
