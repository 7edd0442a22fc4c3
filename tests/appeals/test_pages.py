"""Appeal pages per role: the happy path, anonymous and outsiders, bad and hostile input, the
filing steps without JavaScript and with htmx, and query counts on the list pages."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from appeals import services
from appeals.models import Appeal
from tests.appeals.conftest import DECISION, TRANSCRIPT

pytestmark = pytest.mark.django_db

PUBLIC = [
    "appeals:index",
    "appeals:decisions",
    "appeals:recommendations",
    "appeals:workflow",
    "appeals:transparency-index",
]


@pytest.mark.parametrize("name", PUBLIC)
@pytest.mark.parametrize("who", [None, "citizen", "regulator"])
def test_public_pages_answer_everyone(name, who, request, client_for, appeal):
    user = request.getfixturevalue(who) if who else None
    response = client_for(user).get(reverse(name))
    assert response.status_code == 200


def test_the_index_states_the_deadlines_from_the_settings(client, settings):
    days = {"APPEAL_ACK_DAYS": 5, "APPEAL_DECISION_DAYS": 21}
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, **days}
    page = client.get(reverse("appeals:index")).content.decode()
    assert "acknowledge within 5 days and decide within 21 days" in page


def test_the_workflow_page_renders_the_table(client):
    from appeals.workflow import TRANSITIONS

    body = client.get(reverse("appeals:workflow")).content.decode()
    assert body.count("<tr>") >= len(TRANSITIONS)
    assert "Reverse the decision (summary decision)" in body


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 404),
        ("citizen", 200),
        ("company_editor", 200),
        ("company_member", 200),
        ("outsider", 404),
        ("auditor", 404),
        ("panelist", 404),
        ("regulator", 200),
    ],
)
def test_who_reads_an_appeal(who, status, request, client_for, appeal):
    user = request.getfixturevalue(who) if who else None
    response = client_for(user).get(reverse("appeals:detail", args=[appeal.pk]))
    assert response.status_code == status
    if status == 200:
        body = response.content.decode()
        assert "[email]" in body
        raw_visible = who in ("citizen", "company_editor")
        assert ("nurse.jo@example.com" in body) is raw_visible


def test_the_company_acts_from_the_page_and_the_filer_sees_the_timeline(
    client_for, appeal, company_editor, citizen
):
    c = client_for(company_editor)
    page = c.get(reverse("appeals:detail", args=[appeal.pk])).content.decode()
    assert "Acknowledge" in page
    assert "Withdraw" not in page
    response = c.post(reverse("appeals:act", args=[appeal.pk, "acknowledge"]), {"note": "Got it."})
    assert response.status_code == 302
    appeal.refresh_from_db()
    assert appeal.status == "acknowledged"
    page = client_for(citizen).get(reverse("appeals:detail", args=[appeal.pk])).content.decode()
    assert "Got it." in page
    assert "Withdraw the appeal" in page


def test_an_action_not_allowed_is_refused_without_change(client_for, appeal, citizen, regulator):
    for user in (citizen, regulator):
        response = client_for(user).post(reverse("appeals:act", args=[appeal.pk, "acknowledge"]))
        assert response.status_code == 302
    appeal.refresh_from_db()
    assert appeal.status == "submitted"
    assert (
        client_for(None).post(reverse("appeals:act", args=[appeal.pk, "acknowledge"])).status_code
        == 302
    )
    assert (
        client_for(citizen).get(reverse("appeals:act", args=[appeal.pk, "acknowledge"])).status_code
        == 405
    )


def test_a_decision_without_rationale_is_an_inline_error(
    client_for, appeal, advance, company_editor
):
    appeal = advance(appeal, "under_review")
    response = client_for(company_editor).post(
        reverse("appeals:act", args=[appeal.pk, "decide"]),
        {
            "outcome": "upheld",
            "clause_key": "harmless.cooking",
            "rationale": "",
            "facts": "x",
            "automation_used": "no",
        },
    )
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    appeal.refresh_from_db()
    assert appeal.status == "under_review"


def _step(c, data, **extra):
    return c.post(reverse("appeals:file"), data, **extra)


def _filing_data(system, version, **over):
    data = {
        "system": system.pk,
        "system_version": "2026-10",
        "version": version.pk,
        "clause": "harmless.cooking",
        "kind": "over_refusal",
        "occurred_at": (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "requested_outcome": "Answer kitchen-safety questions.",
        "transcript": TRANSCRIPT,
        "names": "",
        "consent_to_publish": "on",
    }
    data.update(over)
    return data


def test_filing_without_javascript_goes_step_by_step(client_for, citizen, system, version):
    c = client_for(citizen)
    assert c.get(reverse("appeals:file")).status_code == 200
    data = _filing_data(system, version)
    page = _step(c, {**data, "step": 1, "go": "next"})
    assert page.status_code == 200
    assert "Step 2 of 4" in page.content.decode()
    page = _step(c, {**data, "step": 3, "go": "next"})
    body = page.content.decode()
    assert "Step 4 of 4" in body
    assert "[email]" in body
    redacted = services.appeal_redaction_preview(transcript=TRANSCRIPT)["redacted"]
    # Without the confirmation box ticked nothing is filed.
    page = _step(c, {**data, "step": 4, "go": "next", "confirmed_redaction": redacted})
    assert page.status_code == 400
    assert not Appeal.objects.exists()
    response = _step(
        c, {**data, "step": 4, "go": "next", "confirm": "on", "confirmed_redaction": redacted}
    )
    appeal = Appeal.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("appeals:detail", args=[appeal.pk])
    assert appeal.consent_to_publish
    assert appeal.clause_key == "harmless.cooking"


def test_filing_with_htmx_returns_the_step_alone(client_for, citizen, system, version):
    c = client_for(citizen)
    page = _step(
        c, {**_filing_data(system, version), "step": 1, "go": "next"}, HTTP_HX_REQUEST="true"
    )
    body = page.content.decode()
    assert "Step 2 of 4" in body
    assert "<html" not in body


def test_step_one_requires_a_version(client_for, citizen, system):
    page = _step(client_for(citizen), {"system": system.pk, "step": 1, "go": "next"})
    assert page.status_code == 400
    assert "Choose the policy version" in page.content.decode()


def test_a_chat_export_upload_becomes_the_transcript(client_for, citizen, system, version):
    export = json.dumps(
        [
            {"role": "user", "content": "Call me on 0049 30 1234567"},
            {"role": "assistant", "content": [{"type": "text", "text": "No."}]},
        ]
    )
    data = _filing_data(system, version, transcript="")
    data["transcript_file"] = SimpleUploadedFile("chat.json", export.encode(), "application/json")
    page = _step(client_for(citizen), {**data, "step": 3, "go": "next"})
    body = page.content.decode()
    assert page.status_code == 200
    assert "Step 4 of 4" in body
    preview = body.split('aria-label="Redacted transcript">')[1].split("</pre>")[0]
    assert preview == "User: Call me on [phone]\n\nAssistant: No."


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"a": 1}', "Expected a list of messages"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "Message 1"),
    ],
)
def test_a_malformed_export_is_an_inline_error(
    content, message, client_for, citizen, system, version
):
    data = _filing_data(system, version, transcript="")
    data["transcript_file"] = SimpleUploadedFile("chat.json", content, "application/json")
    page = _step(client_for(citizen), {**data, "step": 3, "go": "next"})
    assert page.status_code == 400
    assert message in page.content.decode()


def test_an_oversized_export_is_refused(client_for, citizen, system, version, settings):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "APPEAL_EXPORT_MAX_BYTES": 1024}
    data = _filing_data(system, version, transcript="")
    data["transcript_file"] = SimpleUploadedFile("chat.json", b"[" + b" " * 2048 + b"]")
    page = _step(client_for(citizen), {**data, "step": 3, "go": "next"})
    assert page.status_code == 400
    assert "larger than 1 KB" in page.content.decode()


def test_a_5_mb_transcript_is_a_clear_error_not_a_500(client_for, citizen, system, version):
    data = _filing_data(system, version, transcript="a" * (5 * 1024 * 1024))
    response = _step(client_for(citizen), {**data, "step": 3, "go": "next"})
    assert response.status_code in (400, 413)
    assert not Appeal.objects.exists()


def test_a_long_transcript_gets_an_inline_message(client_for, citizen, system, version):
    data = _filing_data(system, version, transcript="a" * 100_001)
    redacted = "a" * 100_001
    response = _step(
        client_for(citizen),
        {**data, "step": 4, "go": "next", "confirm": "on", "confirmed_redaction": redacted},
    )
    assert response.status_code == 400
    assert "At most 100,000 characters" in response.content.decode()


def test_hostile_html_is_shown_as_text(file_appeal, client_for, citizen):
    appeal = file_appeal(transcript='User: <script>alert(1)</script><img src=x onerror="x()">')
    body = client_for(citizen).get(reverse("appeals:detail", args=[appeal.pk])).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_anonymous_people_are_sent_to_sign_in_to_file(client):
    response = client.get(reverse("appeals:file"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("company_editor", 200),
        ("company_owner", 200),
        ("company_member", 404),
        ("citizen", 404),
        ("panelist", 404),
    ],
)
def test_the_review_queue_is_for_company_reviewers(who, status, request, client_for, appeal):
    response = client_for(request.getfixturevalue(who)).get(reverse("appeals:review-queue"))
    assert response.status_code == status
    if status == 200:
        assert f"#{appeal.pk}" in response.content.decode()


def test_the_panel_queue(client_for, appeal, advance, panel_admin, panelists, citizen):
    assert client_for(citizen).get(reverse("appeals:panel-queue")).status_code == 404
    appeal = advance(appeal, "escalated")
    body = client_for(panel_admin).get(reverse("appeals:panel-queue")).content.decode()
    assert f"#{appeal.pk}" in body
    page = client_for(panel_admin).get(reverse("appeals:detail", args=[appeal.pk])).content.decode()
    assert "Assign the panel" in page
    assert "nurse.jo@example.com" not in page


def test_published_decisions_follow_consent(file_appeal, advance, client):
    consented = advance(file_appeal(consent=True), "decided")
    private = advance(file_appeal(consent=False), "decided")
    for appeal, shown in ((consented, True), (private, False)):
        decision = appeal.decisions.get()
        body = client.get(reverse("appeals:decision", args=[decision.pk])).content.decode()
        assert ("[email]" in body) is shown
        assert (DECISION["rationale"] in body) is shown
        assert "harmless.cooking" in body
        assert "nurse.jo@example.com" not in body


def test_list_pages_have_a_bounded_number_of_queries(
    file_appeal, advance, client, client_for, citizen, django_assert_max_num_queries
):
    for _ in range(4):
        advance(file_appeal(), "decided")
    with django_assert_max_num_queries(12):
        assert client.get(reverse("appeals:decisions")).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(reverse("appeals:recommendations")).status_code == 200
    c = client_for(citizen)
    with django_assert_max_num_queries(14):
        assert c.get(reverse("appeals:mine")).status_code == 200


def test_the_transparency_report_has_csv_and_json(appeal, advance, client, company):
    advance(appeal, "decided")
    url = reverse("appeals:transparency", args=[company.slug])
    page = client.get(url)
    assert page.status_code == 200
    assert "<svg" in page.content.decode()
    data = client.get(url, {"format": "json"}).json()
    assert data["received"]["total"] == 1
    csv_text = client.get(url, {"format": "csv"}).content.decode()
    assert "received.total,1" in csv_text
    assert client.get(url, {"year": "abc"}).status_code == 404


def test_the_version_page_shows_appeal_counts(appeal, advance, client, company, policy, version):
    advance(appeal, "decided", outcome="partly_overturned")
    url = reverse("policies:version", args=[company.slug, policy.slug, version.number])
    body = client.get(url).content.decode()
    assert "Appeals: " in body
    assert "1 filed, 1 decided, 100 % overturned" in body


def test_the_company_answers_a_recommendation_on_its_page(
    client_for, company_editor, appeal, advance, panelists
):
    appeal = advance(appeal, "panel_review")
    for person in panelists:
        services.appeal_panel_vote(actor=person, appeal=appeal, outcome="overturned")
    decision = services.appeal_panel_decide(
        actor=panelists[0],
        appeal=appeal,
        recommendations=[
            {
                "text": "Say knives are cooking.",
                "priority": "low",
                "target_date": timezone.now().date() + timedelta(days=10),
            }
        ],
        **DECISION,
    )
    rec = decision.recommendations.get()
    c = client_for(company_editor)
    assert "Answer" in c.get(reverse("appeals:recommendations")).content.decode()
    response = c.post(
        reverse("appeals:recommendation-answer", args=[rec.pk]),
        {"answer": "already_done", "text": "Done in 1.0.1."},
    )
    assert response.status_code == 302
    rec.refresh_from_db()
    assert rec.answer == "already_done"


def test_clause_counts_are_cached_and_cleared_by_a_new_appeal(
    appeal, file_appeal, client, company, policy, version, django_capture_on_commit_callbacks
):
    url = reverse("policies:version", args=[company.slug, policy.slug, version.number])
    assert "1 filed, 0 decided" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        file_appeal()
    assert "2 filed, 0 decided" in client.get(url).content.decode()
