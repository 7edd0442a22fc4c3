"""The appeals API per role: filing with the redaction preview, moves through
`/actions/{name}/` with allowed actions listed, 400/403/409 errors, Idempotency-Key, scopes,
cursor pagination, public decisions, recommendations, transparency figures and the table."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from appeals.models import Appeal
from governance.models import ApiToken
from governance.services.tokens import api_token_create
from tests.appeals.conftest import DECISION, TRANSCRIPT

pytestmark = pytest.mark.django_db


def _filing(system, version, api, **over):
    source = (
        {"chat_export": over["chat_export"]}
        if "chat_export" in over
        else {"transcript": over.get("transcript", TRANSCRIPT)}
    )
    preview = api.post("/api/v1/appeals/redaction-preview/", source, format="json")
    assert preview.status_code == 200, preview.content
    body = {
        "system": system.pk,
        "policy_version": version.pk,
        "clause": "harmless.cooking",
        "kind": "over_refusal",
        "transcript": TRANSCRIPT,
        "redacted_transcript": preview.json()["redacted"],
        "requested_outcome": "Answer it.",
        "occurred_at": timezone.now().isoformat(),
        "consent_to_publish": True,
    }
    body.update(over)
    return body


def test_it_files_an_appeal_and_lists_allowed_actions(api_for, citizen, system, version):
    api = api_for(citizen)
    response = api.post("/api/v1/appeals/", _filing(system, version, api), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "submitted"
    assert "[email]" in data["transcript_redacted"]
    assert "nurse.jo@example.com" in data["transcript_raw"]
    assert data["allowed_actions"] == ["withdraw"]
    assert response["Location"] == f"/api/v1/appeals/{data['id']}/"


def test_a_chat_export_can_be_sent_as_json(api_for, citizen, system, version):
    api = api_for(citizen)
    export = [{"role": "user", "content": "mail a@b.org"}, {"role": "assistant", "content": "No"}]
    preview = api.post(
        "/api/v1/appeals/redaction-preview/", {"chat_export": export}, format="json"
    ).json()
    assert preview["redacted"] == "User: mail [email]\n\nAssistant: No"
    body = _filing(
        system,
        version,
        api,
        transcript=None,
        chat_export=export,
        redacted_transcript=preview["redacted"],
    )
    body.pop("transcript")
    assert api.post("/api/v1/appeals/", body, format="json").status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"clause": "no.such"}, "clause"),
        ({"redacted_transcript": "not what you saw"}, "confirmed_redaction"),
        ({"chat_export": {"not": "a list"}}, "chat_export"),
        ({"chat_export": [{"role": "user"}]}, "chat_export"),
        ({"kind": "nope"}, "kind"),
        ({"transcript": "x" * 100_001}, "transcript"),
        ({"policy_version": 999_999}, "policy_version"),
    ],
)
def test_bad_filings_get_field_errors(change, field, api_for, citizen, system, version):
    api = api_for(citizen)
    body = _filing(system, version, api)
    body.update(change)
    response = api.post("/api/v1/appeals/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Appeal.objects.exists()


def test_malformed_json_and_5_mb_bodies_are_refused(api_for, citizen):
    api = api_for(citizen)
    response = api.post("/api/v1/appeals/", "{nope", content_type="application/json")
    assert response.status_code == 400
    big = json.dumps({"transcript": "a" * (5 * 1024 * 1024)})
    response = api.post("/api/v1/appeals/", big, content_type="application/json")
    assert response.status_code in (400, 413)
    assert "error" in response.json()


def test_anonymous_cannot_file_or_list(api_for, appeal):
    api = api_for(None)
    assert api.post("/api/v1/appeals/", {}, format="json").status_code in (401, 403)
    assert api.get("/api/v1/appeals/").json()["results"] == []
    assert api.get(f"/api/v1/appeals/{appeal.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("who", "visible", "raw"),
    [
        ("citizen", True, True),
        ("company_editor", True, True),
        ("company_member", True, False),
        ("regulator", True, False),
        ("outsider", False, False),
        ("auditor", False, False),
        ("panelist", False, False),
    ],
)
def test_who_reads_an_appeal(who, visible, raw, request, api_for, appeal):
    api = api_for(request.getfixturevalue(who))
    response = api.get(f"/api/v1/appeals/{appeal.pk}/")
    assert response.status_code == (200 if visible else 404)
    if visible:
        assert (response.json()["transcript_raw"] is not None) is raw
    ids = [a["id"] for a in api.get("/api/v1/appeals/").json()["results"]]
    assert (appeal.pk in ids) is visible


def test_moves_and_errors_through_the_api(api_for, appeal, citizen, company_editor, regulator):
    company = api_for(company_editor)
    url = f"/api/v1/appeals/{appeal.pk}/actions/"
    # 409: an illegal move, with a clear message.
    response = company.post(url + "decide/", {"outcome": "upheld", **DECISION}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "illegal_transition"
    # 403: a regulator changing state.
    assert api_for(regulator).post(url + "acknowledge/", {}, format="json").status_code == 403
    # 403: the filer deciding their own appeal.
    assert api_for(citizen).post(url + "acknowledge/", {}, format="json").status_code == 403
    response = company.post(url + "acknowledge/", {"note": "Received."}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    assert "start_review" in response.json()["allowed_actions"]
    company.post(url + "start_review/", {}, format="json")
    # 400: a decision without a clause.
    bad = {**DECISION, "clause": "", "outcome": "upheld"}
    bad.pop("clause_key")
    response = company.post(url + "decide/", bad, format="json")
    assert response.status_code == 400
    assert "clause" in response.json()["error"]["fields"]
    good = {**DECISION, "clause": DECISION["clause_key"], "outcome": "upheld"}
    response = company.post(url + "decide/", good, format="json")
    assert response.status_code == 200
    assert response.json()["decisions"][0]["outcome"] == "upheld"
    assert company.post(url + "nonsense/", {}, format="json").status_code == 404


def test_escalation_after_the_window_is_a_conflict(api_for, appeal, advance, citizen):
    appeal = advance(appeal, "decided")
    Appeal.objects.filter(pk=appeal.pk).update(escalation_due_at=timezone.now() - timedelta(1))
    response = api_for(citizen).post(
        f"/api/v1/appeals/{appeal.pk}/actions/escalate/", {"note": "Please."}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "escalation_window_closed"


def test_the_panel_through_the_api(api_for, appeal, advance, panel_admin, panelists, panel_org):
    appeal = advance(appeal, "escalated")
    url = f"/api/v1/appeals/{appeal.pk}/actions/"
    response = api_for(panel_admin).post(
        url + "panel_assign/",
        {"panel": panel_org.slug, "panelists": [p.pk for p in panelists]},
        format="json",
    )
    assert response.status_code == 200, response.content
    for person, vote in zip(panelists, ["overturned", "overturned", "upheld"], strict=True):
        assert (
            api_for(person)
            .post(url + "panel_vote/", {"outcome": vote, "note": "n"}, format="json")
            .status_code
            == 200
        )
    decide = {
        **DECISION,
        "clause": DECISION["clause_key"],
        "recommendations": [
            {
                "text": "Clarify knives.",
                "priority": "high",
                "target_date": (timezone.now() + timedelta(days=30)).date().isoformat(),
            }
        ],
    }
    response = api_for(panelists[1]).post(url + "panel_decide/", decide, format="json")
    assert response.status_code == 200, response.content
    decision = response.json()["decisions"][-1]
    assert (decision["by"], decision["votes_for"], decision["votes_against"]) == ("panel", 2, 1)
    assert decision["dissent"]


def test_idempotency_key_files_once(api_for, citizen, system, version):
    api = api_for(citizen)
    body = _filing(system, version, api)
    first = api.post("/api/v1/appeals/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/v1/appeals/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert Appeal.objects.count() == 1


def test_a_token_needs_write_appeals(client, citizen, system, version, api_for):
    body = _filing(system, version, api_for(citizen))
    for scopes, expected in (
        ([ApiToken.Scope.READ_PUBLIC], 403),
        ([ApiToken.Scope.WRITE_APPEALS], 201),
    ):
        _, raw = api_token_create(
            user=citizen,
            name=f"t{expected}",
            scopes=[s.value for s in scopes],
            expires_in_days=None,
        )
        response = client.post(
            "/api/v1/appeals/",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        assert response.status_code == expected, response.content


def test_lists_are_cursor_paginated_with_filters(
    api_for, file_appeal, citizen, django_assert_max_num_queries
):
    for _ in range(3):
        file_appeal()
    api = api_for(citizen)
    with django_assert_max_num_queries(15):
        page = api.get("/api/v1/appeals/", {"page_size": 2}).json()
    assert len(page["results"]) == 2
    assert "cursor=" in page["next"]
    assert len(api.get(page["next"]).json()["results"]) == 1
    assert api.get("/api/v1/appeals/", {"status": "closed"}).json()["results"] == []
    assert len(api.get("/api/v1/appeals/", {"overdue": "false"}).json()["results"]) == 3


def test_public_decisions_follow_consent(api_for, file_appeal, advance):
    advance(file_appeal(consent=True), "decided")
    advance(file_appeal(consent=False), "decided")
    rows = api_for(None).get("/api/v1/appeal-decisions/").json()["results"]
    by_consent = {row["consented"]: row for row in rows}
    assert "[email]" in by_consent[True]["details"]["transcript_redacted"]
    assert by_consent[False]["details"] is None
    assert by_consent[False]["clause_key"] == "harmless.cooking"


def test_recommendations_are_answered_by_the_company(
    api_for, appeal, advance, panelists, company_editor, citizen
):
    from appeals import services

    appeal = advance(appeal, "panel_review")
    for person in panelists:
        services.appeal_panel_vote(actor=person, appeal=appeal, outcome="overturned")
    decision = services.appeal_panel_decide(
        actor=panelists[0],
        appeal=appeal,
        **DECISION,
        recommendations=[
            {
                "text": "x",
                "priority": "low",
                "target_date": timezone.now().date() + timedelta(days=3),
            }
        ],
    )
    rec = decision.recommendations.get()
    url = f"/api/v1/recommendations/{rec.pk}/answer/"
    body = {"answer": "assessing_feasibility", "text": "Looking."}
    assert api_for(citizen).post(url, body, format="json").status_code == 403
    response = api_for(company_editor).post(url, body, format="json")
    assert response.status_code == 200
    assert response.json()["answer"] == "assessing_feasibility"
    assert api_for(company_editor).post(url, {"answer": "maybe"}, format="json").status_code == 400


def test_the_workflow_table_and_transparency_figures(api_for, appeal, company):
    table = api_for(None).get("/api/v1/appeal-workflow/").json()
    assert {
        "state": "submitted",
        "action": "acknowledge",
        "next_state": "acknowledged",
    }.items() <= table["transitions"][0].items()
    assert table["deadlines"]["ack"]["days"] == 7
    figures = api_for(None).get(f"/api/v1/transparency-reports/{company.slug}/").json()
    assert figures["received"]["total"] == 1
    assert figures["overdue_now"] == []
    Appeal.objects.filter(pk=appeal.pk).update(ack_due_at=timezone.now() - timedelta(hours=1))
    figures = api_for(None).get(f"/api/v1/transparency-reports/{company.slug}/").json()
    assert [row["appeal"] for row in figures["overdue_now"]] == [appeal.pk]
    assert "filer" not in figures["overdue_now"][0]
    assert (
        api_for(None)
        .get(f"/api/v1/transparency-reports/{company.slug}/", {"quarter": "9"})
        .status_code
        == 400
    )
    assert api_for(None).get("/api/v1/transparency-reports/nobody/").status_code == 404
