"""Appeal services: filing, each move of the table, the panel, deadlines, recommendations and
citations — the happy paths, each role, bad input and wrong states."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from appeals import services, workflow
from appeals.models import Appeal, AppealEvent, DeadlineNotice, Decision, Recommendation
from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import LedgerEntry, Membership
from policies import services as policy_services
from tests.appeals.conftest import DECISION, TRANSCRIPT
from tests.factories import MembershipFactory, UserFactory
from tests.policies.conftest import POLICY_MARKDOWN

pytestmark = pytest.mark.django_db


def test_it_files_with_the_redacted_copy_and_deadlines(appeal, citizen):
    assert appeal.status == "submitted"
    assert appeal.filer == citizen
    assert "nurse.jo@example.com" in appeal.transcript_raw
    assert "nurse.jo@example.com" not in appeal.transcript_redacted
    assert "[email]" in appeal.transcript_redacted
    assert "[phone]" in appeal.transcript_redacted
    assert appeal.redaction_counts == {"email": 1, "phone": 1}
    assert appeal.ack_due_at - appeal.submitted_at == timedelta(days=7)
    assert appeal.decision_due_at - appeal.submitted_at == timedelta(days=30)
    entry = LedgerEntry.objects.get(action="appeal.filed")
    assert entry.actor == "appeal-filer"  # the public ledger does not name the filer
    assert "nurse" not in str(entry.payload)
    assert AppealEvent.objects.get(appeal=appeal).action == "file"


def test_it_e_mails_the_company_on_filing(
    django_capture_on_commit_callbacks, file_appeal, company_editor, company_owner
):
    with django_capture_on_commit_callbacks(execute=True):
        file_appeal()
    assert sorted(mail.outbox[0].to) == sorted([company_editor.email, company_owner.email])


def test_it_accepts_i_dont_know_which_clause(file_appeal):
    appeal = file_appeal(clause_key=None)
    assert appeal.clause is None
    assert appeal.clause_key == ""


def test_it_redacts_names_the_filer_marks(file_appeal):
    appeal = file_appeal(
        transcript="User: my colleague Jane Doe asked. Jane agreed.", names=["Jane Doe"]
    )
    assert "Jane" not in appeal.transcript_redacted
    assert appeal.redaction_marked_names == ["Jane Doe"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"clause_key": "no.such.clause"}, "clause"),
        ({"kind": "angry"}, "kind"),
        ({"transcript": ""}, "transcript"),
        ({"transcript": "x" * 100_001}, "transcript"),
        ({"transcript": "nul\x00byte"}, "transcript"),
        ({"confirmed_redaction": "something else"}, "confirmed_redaction"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"requested_outcome": ""}, "requested_outcome"),
    ],
)
def test_it_refuses_bad_filings(change, field, citizen, system, version):
    preview = services.appeal_redaction_preview(transcript=TRANSCRIPT)
    kwargs = {
        "actor": citizen,
        "system": system,
        "version": version,
        "clause_key": "harmless.cooking",
        "kind": "over_refusal",
        "transcript": TRANSCRIPT,
        "confirmed_redaction": preview["redacted"],
        "requested_outcome": "Answer.",
        "occurred_at": timezone.now(),
        "consent_to_publish": False,
    }
    kwargs.update(change)
    if change.get("occurred_at") is None and "occurred_at" not in change:
        pass
    with pytest.raises(Invalid) as error:
        services.appeal_file(**kwargs)
    assert field in error.value.fields
    assert not Appeal.objects.exists()


def test_it_refuses_a_future_occurrence(file_appeal, citizen, system, version):
    preview = services.appeal_redaction_preview(transcript=TRANSCRIPT)
    with pytest.raises(Invalid) as error:
        services.appeal_file(
            actor=citizen,
            system=system,
            version=version,
            clause_key=None,
            kind="other",
            transcript=TRANSCRIPT,
            confirmed_redaction=preview["redacted"],
            requested_outcome="x",
            occurred_at=timezone.now() + timedelta(days=2),
            consent_to_publish=False,
        )
    assert "occurred_at" in error.value.fields


def test_it_refuses_an_appeal_on_a_draft(citizen, system, version, policy, company_editor):
    draft = policy_services.version_draft_create(
        actor=company_editor,
        policy=policy,
        number="1.1.0",
        body_markdown=POLICY_MARKDOWN,
        summary_of_changes="Next.",
    )
    preview = services.appeal_redaction_preview(transcript=TRANSCRIPT)
    with pytest.raises(Invalid) as error:
        services.appeal_file(
            actor=citizen,
            system=system,
            version=draft,
            clause_key=None,
            kind="other",
            transcript=TRANSCRIPT,
            confirmed_redaction=preview["redacted"],
            requested_outcome="x",
            occurred_at=timezone.now(),
            consent_to_publish=False,
        )
    assert "version" in error.value.fields


def test_an_unverified_person_cannot_file(file_appeal):
    with pytest.raises(NotAllowed):
        file_appeal(actor=UserFactory(verified=False))


def test_it_walks_the_whole_path_with_a_panel_and_dissent(appeal, advance, panelists):
    appeal = advance(appeal, "closed")
    assert appeal.status == "closed"
    panel = appeal.decisions.get(by="panel")
    assert panel.outcome == "overturned"
    assert (panel.votes_for, panel.votes_against) == (2, 1)
    assert "I see it differently." in panel.dissent
    assert panel.decided_by == panelists[0]
    actions = list(appeal.events.values_list("action", flat=True))
    assert actions[:4] == ["file", "acknowledge", "start_review", "decide"]
    assert actions[-2:] == ["implement", "close"]
    ledger = set(LedgerEntry.objects.values_list("action", flat=True))
    assert {"appeal.decide", "appeal.panel_assign", "appeal.panel_decide"} <= ledger


def test_needs_info_pauses_the_clock(appeal, advance, company_editor, citizen):
    appeal = advance(appeal, "under_review")
    due = appeal.decision_due_at
    services.appeal_request_info(actor=company_editor, appeal=appeal, question="Which day?")
    appeal.refresh_from_db()
    assert appeal.status == "needs_info"
    assert appeal.paused_at is not None
    # Three days pass while the filer thinks.
    Appeal.objects.filter(pk=appeal.pk).update(paused_at=timezone.now() - timedelta(days=3))
    services.appeal_provide_info(actor=citizen, appeal=appeal, answer="Tuesday.")
    appeal.refresh_from_db()
    assert appeal.status == "under_review"
    assert appeal.paused_at is None
    assert timedelta(days=3) <= appeal.decision_due_at - due < timedelta(days=3, minutes=1)
    assert appeal.paused_seconds >= 3 * 86400


def test_an_illegal_move_is_a_conflict_with_a_clear_message(appeal, company_editor):
    with pytest.raises(Conflict) as error:
        services.appeal_decide(actor=company_editor, appeal=appeal, outcome="upheld", **DECISION)
    assert error.value.code == "illegal_transition"
    assert "submitted" in error.value.message
    assert "acknowledge" in error.value.message
    appeal.refresh_from_db()
    assert appeal.status == "submitted"


@pytest.mark.parametrize("who", ["regulator", "outsider", "auditor", "panelist", "moderator"])
def test_others_cannot_move_an_appeal(who, request, appeal):
    with pytest.raises(NotAllowed):
        services.appeal_acknowledge(actor=request.getfixturevalue(who), appeal=appeal)
    appeal.refresh_from_db()
    assert appeal.status == "submitted"


def test_a_filer_who_works_for_the_company_cannot_decide_their_own_appeal(
    file_appeal, company_editor, advance
):
    appeal = file_appeal(actor=company_editor)
    with pytest.raises(NotAllowed):
        services.appeal_acknowledge(actor=company_editor, appeal=appeal)


def test_a_decision_needs_a_clause_and_a_rationale(appeal, advance, company_editor):
    appeal = advance(appeal, "under_review")
    for change, field in (
        ({"clause_key": ""}, "clause"),
        ({"rationale": " "}, "rationale"),
        ({"automation_used": None}, "automation_used"),
    ):
        with pytest.raises(Invalid) as error:
            services.appeal_decide(
                actor=company_editor, appeal=appeal, outcome="upheld", **(DECISION | change)
            )
        assert field in error.value.fields
    assert not Decision.objects.exists()


def test_no_program_decides_alone(appeal, advance):
    appeal = advance(appeal, "under_review")
    with pytest.raises(NotAllowed):
        services.appeal_decide(actor="system", appeal=appeal, outcome="upheld", **DECISION)


def test_escalating_before_a_decision_or_after_the_window_is_refused(appeal, advance, citizen):
    with pytest.raises(Conflict):
        services.appeal_escalate(actor=citizen, appeal=appeal, reason="Please.")
    appeal = advance(appeal, "decided")
    Appeal.objects.filter(pk=appeal.pk).update(escalation_due_at=timezone.now() - timedelta(1))
    with pytest.raises(Conflict) as error:
        services.appeal_escalate(actor=citizen, appeal=appeal, reason="Please.")
    assert error.value.code == "escalation_window_closed"


def test_a_full_overturn_cannot_be_escalated(appeal, advance, citizen):
    appeal = advance(appeal, "decided", outcome="overturned")
    with pytest.raises(Conflict):
        services.appeal_escalate(actor=citizen, appeal=appeal, reason="More.")


def test_the_panel_needs_three_independent_members(
    appeal, advance, panel_admin, panel_org, panelists, company
):
    appeal = advance(appeal, "escalated")
    with pytest.raises(Invalid):
        services.appeal_panel_assign(
            actor=panel_admin, appeal=appeal, panel=panel_org, panelists=panelists[:2]
        )
    MembershipFactory(organization=company, user=panelists[2], role=Membership.Role.MEMBER)
    with pytest.raises(Invalid) as error:
        services.appeal_panel_assign(
            actor=panel_admin, appeal=appeal, panel=panel_org, panelists=panelists
        )
    assert "cannot sit on its case" in error.value.message


def test_a_panelist_not_seated_cannot_vote(appeal, advance, panel_org):
    appeal = advance(appeal, "panel_review")
    stranger = MembershipFactory(organization=panel_org).user
    with pytest.raises(NotAllowed):
        services.appeal_panel_vote(actor=stranger, appeal=appeal, outcome="upheld")


def test_the_panel_decides_only_with_a_majority(appeal, advance, panelists):
    appeal = advance(appeal, "panel_review")
    services.appeal_panel_vote(actor=panelists[0], appeal=appeal, outcome="upheld")
    services.appeal_panel_vote(actor=panelists[1], appeal=appeal, outcome="overturned")
    with pytest.raises(Conflict) as error:
        services.appeal_panel_decide(actor=panelists[0], appeal=appeal, **DECISION)
    assert error.value.code == "no_majority"


def test_a_panel_that_upholds_leaves_nothing_to_implement(appeal, advance, citizen):
    appeal = advance(appeal, "panel_decided", panel_outcome="upheld")
    assert appeal.implement_due_at is None
    services.appeal_close(actor=citizen, appeal=appeal)
    appeal.refresh_from_db()
    assert appeal.status == "closed"


def test_the_company_may_reverse_itself_before_the_panel_decides(appeal, advance, company_editor):
    appeal = advance(appeal, "panel_review")
    with pytest.raises(Invalid):
        services.appeal_summary_decision(
            actor=company_editor, appeal=appeal, outcome="upheld", **DECISION
        )
    decision = services.appeal_summary_decision(
        actor=company_editor, appeal=appeal, outcome="overturned", **DECISION
    )
    appeal.refresh_from_db()
    assert appeal.status == "panel_decided"
    assert decision.summary
    assert decision.by == "company"


def test_the_filer_can_withdraw_from_any_open_state_but_not_after(appeal, citizen, advance):
    services.appeal_withdraw(actor=citizen, appeal=appeal)
    appeal.refresh_from_db()
    assert appeal.status == "withdrawn"
    with pytest.raises(Conflict):
        services.appeal_withdraw(actor=citizen, appeal=appeal)


def test_rejection_needs_a_listed_reason(appeal, company_editor):
    with pytest.raises(Invalid):
        services.appeal_reject_out_of_scope(
            actor=company_editor, appeal=appeal, reason="bored", note="x"
        )
    services.appeal_reject_out_of_scope(
        actor=company_editor, appeal=appeal, reason="duplicate", note="Same as #1."
    )
    appeal.refresh_from_db()
    assert appeal.status == "rejected_out_of_scope"
    assert appeal.rejection_reason == "duplicate"


def test_deadlines_notify_the_responsible_side_once(
    appeal, company_editor, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    later = appeal.ack_due_at + timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deadlines_due(now=later)["notified"] == 1
    assert [m.to for m in mail.outbox] == [[company_editor.email]]
    assert "overdue" in mail.outbox[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        assert services.deadlines_due(now=later + timedelta(hours=1))["notified"] == 0
    assert len(mail.outbox) == 1
    assert DeadlineNotice.objects.get().deadline == "ack"
    assert workflow.is_overdue(appeal, later)
    assert not workflow.is_overdue(appeal, appeal.ack_due_at - timedelta(minutes=1))


def test_the_periodic_task_closes_an_appeal_whose_window_ended(appeal, advance):
    appeal = advance(appeal, "decided")
    assert services.deadlines_due(now=appeal.escalation_due_at + timedelta(1))["closed"] == 1
    appeal.refresh_from_db()
    assert appeal.status == "closed"
    assert appeal.events.last().role == "system"


@pytest.fixture
def recommendation(appeal, advance, panelists):
    appeal = advance(appeal, "panel_review")
    for person in panelists:
        services.appeal_panel_vote(actor=person, appeal=appeal, outcome="overturned")
    decision = services.appeal_panel_decide(
        actor=panelists[0],
        appeal=appeal,
        recommendations=[
            {
                "text": "Name kitchen knives as cooking.",
                "priority": "high",
                "target_date": timezone.now().date() + timedelta(days=60),
            }
        ],
        **DECISION,
    )
    return decision.recommendations.get()


def test_the_company_answers_a_recommendation(recommendation, company_editor, citizen):
    assert recommendation.answer_due_at - recommendation.created_at == timedelta(days=30)
    with pytest.raises(NotAllowed):
        services.recommendation_answer(
            actor=citizen, recommendation=recommendation, answer="already_done", text="x"
        )
    services.recommendation_answer(
        actor=company_editor,
        recommendation=recommendation,
        answer="implementing_fully",
        text="In 1.1.0.",
    )
    recommendation.refresh_from_db()
    assert recommendation.answer == "implementing_fully"


def test_implemented_is_checked_against_the_diff(recommendation, policy, company_editor):
    same = policy_services.version_draft_create(
        actor=company_editor,
        policy=policy,
        number="1.1.0",
        body_markdown=POLICY_MARKDOWN,
        summary_of_changes="No change to cooking.",
    )
    same = policy_services.version_publish(actor=company_editor, version=same)
    resolution = services.version_cite(
        actor=company_editor, version=same, recommendation=recommendation
    )
    assert resolution.clause_changed is False
    recommendation.refresh_from_db()
    assert recommendation.implemented_version is None
    changed = policy_services.version_draft_create(
        actor=company_editor,
        policy=policy,
        number="1.2.0",
        body_markdown=POLICY_MARKDOWN.replace("kitchen safety", "kitchen and knife safety"),
        summary_of_changes="Knives are cooking.",
    )
    # Cited while a draft: settled when published.
    pending = services.version_cite(
        actor=company_editor, version=changed, recommendation=recommendation
    )
    assert pending.clause_changed is None
    policy_services.version_publish(actor=company_editor, version=changed)
    assert services.resolutions_settle() == 1
    recommendation.refresh_from_db()
    assert recommendation.implemented_version_id == changed.pk
    with pytest.raises(Conflict):
        services.version_cite(actor=company_editor, version=changed, recommendation=recommendation)


def test_only_the_company_cites_and_only_later_versions(
    recommendation, version, citizen, company_editor
):
    with pytest.raises(NotAllowed):
        services.version_cite(actor=citizen, version=version, recommendation=recommendation)
    with pytest.raises(Invalid):
        services.version_cite(actor=company_editor, version=version, recommendation=recommendation)
    assert Recommendation.objects.count() == 1


def test_the_account_export_holds_the_filers_appeals(appeal, citizen):
    from governance.services.accounts import user_export

    exported = user_export(user=citizen)["appeals"]
    assert [a["id"] for a in exported] == [appeal.pk]
    assert "nurse.jo@example.com" in exported[0]["transcript"]


def test_deleting_the_account_erases_the_raw_transcript_and_withdraws_in_the_nightly_batch(
    file_appeal, citizen, advance
):
    from governance.services.accounts import user_delete

    open_one = file_appeal(names=["Jo"])
    closed_one = advance(file_appeal(), "closed")
    head = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    user_delete(user=citizen)
    for appeal in (open_one, closed_one):
        appeal.refresh_from_db()
        assert "nurse.jo@example.com" not in appeal.transcript_raw
        assert appeal.transcript_raw == appeal.transcript_redacted
        assert appeal.redaction_marked_names == []
    # Nothing about the appeals sits beside `user.deleted` on the public ledger.
    written = list(LedgerEntry.objects.filter(seq__gt=head).values_list("action", flat=True))
    assert "user.deleted" in written
    assert not [action for action in written if action.startswith("appeal.")]
    open_one.refresh_from_db()
    assert open_one.status == "submitted"

    # The same day the batch leaves it; from the next day on, the platform withdraws it.
    citizen.refresh_from_db()
    assert services.appeals_withdraw_for_deleted_filers(now=citizen.deleted_at) == 0
    tomorrow = citizen.deleted_at + timedelta(days=1)
    assert services.deadlines_due(now=tomorrow)["withdrawn"] == 1
    open_one.refresh_from_db()
    closed_one.refresh_from_db()
    assert open_one.status == "withdrawn"
    entry = LedgerEntry.objects.get(action="appeal.withdraw", subject=f"appeal:{open_one.pk}")
    assert entry.actor == "system"
    assert entry.payload["reason"] == "filer_account_deleted"
    assert closed_one.status == "closed"
    assert closed_one.decisions.exists()
    assert services.appeals_withdraw_for_deleted_filers(now=tomorrow) == 0


def test_a_full_overturn_says_no_escalation_is_left(appeal, advance):
    appeal = advance(appeal, "decided", outcome="overturned")
    assert "escalate" not in appeal.decisions.get().further_redress


def test_an_upheld_decision_names_the_escalation_window(appeal, advance):
    appeal = advance(appeal, "decided", outcome="upheld")
    assert "within 30 days" in appeal.decisions.get().further_redress
