"""Every change to an appeal: filing, each move of the workflow table, panel seats and votes,
decisions, recommendations (from decisions and from published audit findings) and answers,
policy versions citing what they resolve, deadline notices and transparency reports. Each is
one transaction that appends to the public ledger.

The ledger is public: its entries say what moved and who acted for the company or the panel,
never the transcript or private notes (only their SHA-256), and a filer appears as
"appeal-filer" rather than by name. Every decision names the person who made it: nothing here
lets a program decide alone (the periodic tasks only close appeals whose escalation window
ended, mark deadlines, turn published findings into recommendations and freeze ended quarters).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from appeals import workflow
from appeals.models import (
    Appeal,
    AppealEvent,
    DeadlineNotice,
    Decision,
    Kind,
    Outcome,
    PanelAssignment,
    Recommendation,
    RejectionReason,
    Status,
    TransparencyReport,
    VersionResolution,
)
from appeals.redaction import clean_names, redact
from appeals.rules import REVIEWER_ROLES, panel_admin_organizations, roles_of
from audits.models import AuditReport, Finding
from governance.canonical import canonical_json, sha256_hex
from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import AISystem, Membership, Organization, User
from governance.services.ledger import ledger_append
from policies.models import Clause, PolicyVersion

log = logging.getLogger(__name__)

FILER_ACTOR = "appeal-filer"
_LIMITS = {
    "system_version": 120,
    "requested_outcome": 5000,
    "note": 10_000,
    "rationale": 20_000,
    "facts": 20_000,
    "automation_note": 5000,
    "further_redress": 5000,
    "text": 10_000,
    "answer_text": 10_000,
}
REDRESS_OVERTURNED = (
    "The decision gives you what you asked for. You keep every right to go to court or to "
    "your regulator."
)
DEFAULT_REDRESS = (
    "You may escalate this decision to the independent appeals panel within {days} days, "
    "and you keep every right to go to court or to your regulator."
)


def _setting(name: str) -> Any:
    return settings.OPENREFUSAL[name]


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, fields={field: [message]})


def _text(field: str, value: Any, *, required: bool = True, limit: int | None = None) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _invalid(field, "This must be text.")
    value = value.strip()
    if "\x00" in value:
        raise _invalid(field, "This contains a NUL character.")
    if required and not value:
        raise _invalid(field, "This field is required.")
    limit = limit or _LIMITS[field]
    if len(value) > limit:
        raise _invalid(field, f"At most {limit:,} characters (this has {len(value):,}).")
    return value


def _note(value: Any, *, field: str, message: str) -> str:
    """A required note that the form and the API call `field`: its error is reported there."""
    try:
        return _text("note", value)
    except Invalid as error:
        raise _invalid(field, message) from error


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else ""


def _person(actor: Any) -> User:
    """Decisions and moves need a signed-in, active person."""
    if not isinstance(actor, User) or not actor.is_active:
        raise NotAllowed("Only a signed-in person can do this; no program decides alone.")
    return actor


def _locked(appeal: Appeal) -> Appeal:
    return (
        Appeal.objects.select_for_update(of=("self",))
        .select_related("organization", "version__policy", "clause", "system")
        .get(pk=appeal.pk)
    )


def _clause(version: PolicyVersion, key: Any, *, field: str = "clause") -> Clause:
    if not isinstance(key, str) or not key.strip():
        raise _invalid(field, "Name the clause relied on.")
    clause = Clause.objects.filter(version=version, key=key.strip()).first()
    if clause is None:
        raise _invalid(field, f"Version {version.number} has no clause “{key.strip()[:120]}”.")
    return clause


# --- The table, applied -----------------------------------------------------------------------


def _authorize(appeal: Appeal, *, actor: Any, action: str) -> tuple[workflow.Transition, str]:
    """The table's row for this move and the role the actor takes it in, or the error: 403 for
    someone who never takes this action on this appeal, 409 for a move the state forbids."""
    held = {"system"} if actor == "system" else roles_of(_person(actor), appeal)
    rows = [t for t in workflow.TRANSITIONS if t.action == action]
    if not rows:
        raise Invalid(f"Unknown action “{action}”.", fields={"action": ["Unknown action."]})
    label = workflow.ACTION_LABELS[action].lower()
    if not any(held.intersection(t.roles) for t in rows):
        who = sorted({workflow.ROLE_LABELS[r] for t in rows for r in t.roles})
        raise NotAllowed(f"Only {' or '.join(who)} can {label} on this appeal.")
    transition = workflow.transition_for(appeal.status, action)
    if transition is None:
        possible = workflow.actions_for(appeal.status, held)
        hint = (
            "From here you can: "
            + ", ".join(workflow.ACTION_LABELS[a].lower() for a in possible)
            + "."
            if possible
            else "You have nothing to do on it in this state."
        )
        raise Conflict(
            f"This appeal is {Status(appeal.status).label.lower()}: “{label}” is not possible "
            f"now. {hint}",
            code="illegal_transition",
        )
    role = next((r for r in transition.roles if r in held), None)
    if role is None:
        who = ", ".join(workflow.ROLE_LABELS[r] for r in transition.roles)
        raise NotAllowed(f"In this state only {who} can {label}.")
    return transition, role


def _move(
    appeal: Appeal,
    *,
    actor: Any,
    action: str,
    note: str = "",
    payload: dict | None = None,
    now: datetime | None = None,
) -> str:
    """Check the move against the workflow table and record it (status, event, ledger). The
    caller holds the row lock and has validated its own inputs; returns the role acted in."""
    now = now or timezone.now()
    transition, role = _authorize(appeal, actor=actor, action=action)
    previous = appeal.status
    appeal.status = transition.next_state
    appeal.save()
    AppealEvent.objects.create(
        appeal=appeal,
        action=action,
        from_status=previous,
        to_status=transition.next_state,
        actor=actor if isinstance(actor, User) else None,
        role=role,
        note=note,
        at=now,
    )
    ledger_append(
        actor=FILER_ACTOR if role == "filer" else actor,
        action=f"appeal.{action}",
        subject=appeal,
        payload={
            "company": appeal.organization.slug,
            "from": previous,
            "to": transition.next_state,
            "role": role,
            "note_sha256": _sha(note),
            **(payload or {}),
        },
    )
    return role


# --- Filing -----------------------------------------------------------------------------------


def _clean_occurred_at(value: Any, now: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise _invalid("occurred_at", "A date and time.")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    if value > now + timedelta(minutes=5):
        raise _invalid("occurred_at", "This is in the future.")
    return value


def _clean_transcript(value: Any) -> str:
    limit = _setting("APPEAL_TRANSCRIPT_MAX_CHARS")
    transcript = _text("transcript", value, limit=limit)
    return transcript.replace("\r\n", "\n")


def appeal_redaction_preview(*, transcript: Any, names: Iterable[str] = ()) -> dict[str, Any]:
    """What the filer is asked to confirm: the redacted transcript and what was removed."""
    text = _clean_transcript(transcript)
    marked = clean_names(names)
    result = redact(text, names=marked)
    return {"redacted": result.text, "counts": result.counts, "names": marked}


@transaction.atomic
def appeal_file(
    *,
    actor: User,
    system: AISystem,
    version: PolicyVersion,
    clause_key: str | None,
    kind: str,
    transcript: str,
    confirmed_redaction: str,
    names: Sequence[str] = (),
    requested_outcome: str,
    occurred_at: datetime,
    consent_to_publish: bool,
    system_version: str = "",
) -> Appeal:
    """File an appeal. `confirmed_redaction` is the redacted text the filer was shown and
    confirmed: if redaction now gives anything else, nothing is filed."""
    actor = _person(actor)
    if not actor.has_perm("appeals.file_appeal"):
        raise NotAllowed("Confirm your e-mail address before filing an appeal.")
    now = timezone.now()
    if version.status not in (PolicyVersion.Status.PUBLISHED, PolicyVersion.Status.SUPERSEDED):
        raise _invalid("version", "Appeal against a published policy version, not a draft.")
    organization = version.policy.organization
    if system.organization_id != organization.pk:
        raise _invalid("system", f"{system.name} is not an AI system of {organization.name}.")
    listed = list(version.policy.systems.values_list("pk", flat=True))
    if listed and system.pk not in listed:
        raise _invalid("system", f"{version.policy.title} does not cover {system.name}.")
    clause = None
    if clause_key:
        clause = _clause(version, clause_key)
    if kind not in Kind.values:
        raise _invalid("kind", "Choose over-refusal, under-refusal or other.")
    preview = appeal_redaction_preview(transcript=transcript, names=names)
    if not isinstance(confirmed_redaction, str) or (
        confirmed_redaction.replace("\r\n", "\n").strip() != preview["redacted"].strip()
    ):
        raise _invalid(
            "confirmed_redaction",
            "Review the redacted transcript and confirm it: it is what will ever be shown.",
        )
    if not isinstance(consent_to_publish, bool):
        raise _invalid("consent_to_publish", "Yes or no.")
    appeal = Appeal.objects.create(
        filer=actor,
        organization=organization,
        system=system,
        system_version=_text("system_version", system_version, required=False),
        version=version,
        clause=clause,
        clause_key=clause.key if clause else "",
        kind=kind,
        transcript_raw=_clean_transcript(transcript),
        transcript_redacted=preview["redacted"],
        redaction_marked_names=preview["names"],
        redaction_counts=preview["counts"],
        redaction_confirmed_at=now,
        requested_outcome=_text("requested_outcome", requested_outcome),
        occurred_at=_clean_occurred_at(occurred_at, now),
        consent_to_publish=consent_to_publish,
        status=Status.SUBMITTED,
        submitted_at=now,
        ack_due_at=workflow.DEADLINES["ack"].due_from(now),
        decision_due_at=workflow.DEADLINES["decision"].due_from(now),
    )
    AppealEvent.objects.create(
        appeal=appeal,
        action="file",
        from_status="",
        to_status=Status.SUBMITTED,
        actor=actor,
        role="filer",
        at=now,
    )
    ledger_append(
        actor=FILER_ACTOR,
        action="appeal.filed",
        subject=appeal,
        payload={
            "company": organization.slug,
            "system": system.slug,
            "policy_version": version.pk,
            "clause": appeal.clause_key,
            "kind": kind,
            "redacted_sha256": _sha(appeal.transcript_redacted),
            "ack_due_at": appeal.ack_due_at.isoformat(),
            "decision_due_at": appeal.decision_due_at.isoformat(),
        },
    )
    _notify_on_commit("filed", appeal, _company_emails(appeal))
    _clause_counts_changed(appeal)
    return appeal


# --- Public events (webhooks: appeals.public_data.EVENT_TYPES) --------------------------------


def _decision_published(decision: Decision, *, actor: User) -> None:
    """A decision is public once made: its own ledger entry (subject `decision:<id>`, which
    links to it) is the `appeal_decision.published` webhook event, sent after the commit."""
    appeal = decision.appeal
    ledger_append(
        actor=actor,
        action="appeal_decision.published",
        subject=decision,
        payload={
            "company": appeal.organization.slug,
            "appeal": appeal.pk,
            "policy_version": appeal.version_id,
            "by": decision.by,
            "summary": decision.summary,
            "outcome": decision.outcome,
            "clause": decision.clause_key,
            "consented": appeal.consent_to_publish,
        },
    )


# --- The company's review ---------------------------------------------------------------------


@transaction.atomic
def appeal_acknowledge(*, actor: User, appeal: Appeal, note: str = "") -> Appeal:
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="acknowledge")
    note = _text("note", note, required=False)
    now = timezone.now()
    appeal.acknowledged_at = now
    _move(
        appeal,
        actor=actor,
        action="acknowledge",
        note=note,
        now=now,
        payload={"late": now > appeal.ack_due_at},
    )
    return appeal


@transaction.atomic
def appeal_reject_out_of_scope(*, actor: User, appeal: Appeal, reason: str, note: str) -> Appeal:
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="reject_out_of_scope")
    if reason not in RejectionReason.values:
        raise _invalid("reason", "Choose late, duplicate or manifestly unfounded.")
    note = _text("note", note)
    now = timezone.now()
    appeal.rejection_reason = reason
    appeal.closed_at = now
    _move(
        appeal,
        actor=actor,
        action="reject_out_of_scope",
        note=note,
        now=now,
        payload={"reason": reason},
    )
    _notify_on_commit("rejected", appeal, _filer_emails(appeal))
    return appeal


@transaction.atomic
def appeal_start_review(*, actor: User, appeal: Appeal, note: str = "") -> Appeal:
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="start_review")
    _move(appeal, actor=actor, action="start_review", note=_text("note", note, required=False))
    return appeal


@transaction.atomic
def appeal_request_info(*, actor: User, appeal: Appeal, question: str) -> Appeal:
    """Ask the filer a question. The clock stops until they answer."""
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="request_info")
    question = _note(question, field="question", message="Write the question for the filer.")
    now = timezone.now()
    appeal.paused_at = now
    _move(appeal, actor=actor, action="request_info", note=question, now=now)
    _notify_on_commit("needs_info", appeal, _filer_emails(appeal))
    return appeal


@transaction.atomic
def appeal_provide_info(*, actor: User, appeal: Appeal, answer: str) -> Appeal:
    """The filer answers; every running deadline moves on by the time they took."""
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="provide_info")
    answer = _note(answer, field="answer", message="Write your answer.")
    now = timezone.now()
    if appeal.status == Status.NEEDS_INFO and appeal.paused_at is not None:
        paused = now - appeal.paused_at
        appeal.paused_seconds += int(paused.total_seconds())
        appeal.decision_due_at += paused
        appeal.paused_at = None
    _move(
        appeal,
        actor=actor,
        action="provide_info",
        note=answer,
        now=now,
        payload={"decision_due_at": appeal.decision_due_at.isoformat()},
    )
    _notify_on_commit("info_provided", appeal, _company_emails(appeal))
    return appeal


def _decision_fields(
    appeal: Appeal,
    *,
    outcome: Any,
    clause_key: Any,
    rationale: Any,
    facts: Any,
    automation_used: Any,
    automation_note: Any,
    further_redress: Any,
    outcomes: Sequence[str] = tuple(Outcome.values),
) -> dict[str, Any]:
    if outcome not in outcomes:
        labels = ", ".join(Outcome(o).label.split(" (")[0].lower() for o in outcomes)
        raise _invalid("outcome", f"Choose {labels}.")
    if not isinstance(automation_used, bool):
        raise _invalid("automation_used", "Say whether automated means were used to decide.")
    automation_note = _text("automation_note", automation_note, required=automation_used)
    clause = _clause(appeal.version, clause_key)
    return {
        "outcome": outcome,
        "clause": clause,
        "clause_key": clause.key,
        "rationale": _text("rationale", rationale),
        "facts": _text("facts", facts),
        "automation_used": automation_used,
        "automation_note": automation_note,
        "further_redress": _text("further_redress", further_redress),
    }


@transaction.atomic
def appeal_decide(
    *,
    actor: User,
    appeal: Appeal,
    outcome: str,
    clause_key: str,
    rationale: str,
    facts: str,
    automation_used: bool,
    automation_note: str = "",
    further_redress: str | None = None,
) -> Decision:
    """The company's decision: upheld, overturned or partly overturned, on a named clause."""
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="decide")
    actor = _person(actor)
    if further_redress is None or not str(further_redress).strip():
        further_redress = (
            REDRESS_OVERTURNED
            if outcome == Outcome.OVERTURNED  # a full overturn cannot be escalated
            else DEFAULT_REDRESS.format(days=workflow.DEADLINES["escalation"].days)
        )
    fields = _decision_fields(
        appeal,
        outcome=outcome,
        clause_key=clause_key,
        rationale=rationale,
        facts=facts,
        automation_used=automation_used,
        automation_note=automation_note,
        further_redress=further_redress,
    )
    now = timezone.now()
    appeal.decided_at = now
    appeal.escalation_due_at = workflow.DEADLINES["escalation"].due_from(now)
    _move(
        appeal,
        actor=actor,
        action="decide",
        note=fields["rationale"],
        now=now,
        payload={
            "outcome": outcome,
            "clause": fields["clause_key"],
            "automation_used": automation_used,
            "late": now > appeal.decision_due_at,
        },
    )
    decision = Decision.objects.create(
        appeal=appeal, by=Decision.By.COMPANY, decided_by=actor, decided_at=now, **fields
    )
    _decision_published(decision, actor=actor)
    _clause_counts_changed(appeal)
    _notify_on_commit("decided", appeal, _filer_emails(appeal))
    return decision


# --- The filer after a decision ---------------------------------------------------------------


@transaction.atomic
def appeal_escalate(*, actor: User, appeal: Appeal, reason: str) -> Appeal:
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="escalate")
    reason = _note(reason, field="reason", message="Say why the panel should look at it again.")
    now = timezone.now()
    if appeal.status == Status.DECIDED:
        if appeal.escalation_due_at and now > appeal.escalation_due_at:
            raise Conflict(
                f"The window to escalate ended on {appeal.escalation_due_at:%Y-%m-%d %H:%M} UTC.",
                code="escalation_window_closed",
            )
        last = appeal.decisions.order_by("-decided_at").first()
        if last is not None and last.outcome == Outcome.OVERTURNED:
            raise Conflict(
                "The company overturned its decision in full: there is nothing to escalate.",
                code="nothing_to_escalate",
            )
    appeal.escalated_at = now
    appeal.panel_due_at = workflow.DEADLINES["panel"].due_from(now)
    _move(
        appeal,
        actor=actor,
        action="escalate",
        note=reason,
        now=now,
        payload={"panel_due_at": appeal.panel_due_at.isoformat()},
    )
    return appeal


@transaction.atomic
def appeal_close(
    *, actor: User | str, appeal: Appeal, note: str = "", now: datetime | None = None
) -> Appeal:
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="close")
    note = _text("note", note, required=False)
    now = now or timezone.now()
    window_open = appeal.escalation_due_at is None or now <= appeal.escalation_due_at
    if appeal.status == Status.DECIDED and actor == "system" and window_open:
        raise Conflict("The escalation window is still open.", code="window_open")
    if appeal.status == Status.PANEL_DECIDED and appeal.implement_due_at is not None:
        raise Conflict(
            "The panel's decision must be implemented before the appeal closes.",
            code="not_implemented",
        )
    appeal.closed_at = now
    _move(appeal, actor=actor, action="close", note=note, now=now)
    return appeal


@transaction.atomic
def appeal_withdraw(*, actor: User, appeal: Appeal, note: str = "") -> Appeal:
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="withdraw")
    note = _text("note", note, required=False)
    now = timezone.now()
    appeal.closed_at = now
    appeal.paused_at = None
    _move(appeal, actor=actor, action="withdraw", note=note, now=now)
    return appeal


# --- The panel --------------------------------------------------------------------------------


@transaction.atomic
def appeal_panel_assign(
    *, actor: User, appeal: Appeal, panel: Organization, panelists: Sequence[User]
) -> list[PanelAssignment]:
    """Seat at least APPEAL_PANEL_MIN members of a verified panel on an escalated appeal; none
    may belong to the appealed company, and none is the filer."""
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="panel_assign")
    actor = _person(actor)
    if panel not in panel_admin_organizations(actor):
        raise NotAllowed("Only an editor or owner of a verified appeals panel assigns its seats.")
    people = list(dict.fromkeys(panelists))
    minimum = _setting("APPEAL_PANEL_MIN")
    if len(people) < minimum:
        raise _invalid("panelists", f"Seat at least {minimum} panelists.")
    members = set(
        Membership.objects.filter(organization=panel, user__in=people).values_list(
            "user_id", flat=True
        )
    )
    conflicted = set(
        Membership.objects.filter(organization=appeal.organization, user__in=people).values_list(
            "user_id", flat=True
        )
    )
    for person in people:
        if person.pk not in members:
            raise _invalid("panelists", f"{person.public_name} is not a member of {panel.name}.")
        if person.pk in conflicted:
            raise _invalid(
                "panelists",
                f"{person.public_name} belongs to {appeal.organization.name} and cannot sit on "
                "its case.",
            )
        if person.pk == appeal.filer_id:
            raise _invalid("panelists", "The filer cannot sit on their own case.")
    now = timezone.now()
    seats = [
        PanelAssignment.objects.create(
            appeal=appeal, panel=panel, panelist=person, assigned_by=actor, assigned_at=now
        )
        for person in people
    ]
    _move(
        appeal,
        actor=actor,
        action="panel_assign",
        now=now,
        payload={"panel": panel.slug, "seats": len(seats)},
    )
    return seats


@transaction.atomic
def appeal_panel_vote(*, actor: User, appeal: Appeal, outcome: str, note: str = "") -> Appeal:
    """A seated panelist votes; a vote can be changed until the panel decides."""
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="panel_vote")
    actor = _person(actor)
    if outcome not in Outcome.values:
        raise _invalid("outcome", "Vote upheld, overturned or partly overturned.")
    note = _text("note", note, required=False)
    seat = PanelAssignment.objects.select_for_update().filter(appeal=appeal, panelist=actor).first()
    now = timezone.now()
    _move(appeal, actor=actor, action="panel_vote", now=now, payload={"vote": outcome})
    seat.vote = outcome
    seat.vote_note = note
    seat.voted_at = now
    seat.save(update_fields=["vote", "vote_note", "voted_at"])
    return appeal


def _tally(seats: Sequence[PanelAssignment]) -> tuple[str | None, int, int]:
    counts = Counter(seat.vote for seat in seats if seat.vote)
    if not counts:
        return None, 0, 0
    outcome, top = counts.most_common(1)[0]
    voted = sum(counts.values())
    if top * 2 <= len(seats):
        return None, top, voted - top
    return outcome, top, voted - top


def _recommendations(
    decision: Decision, items: Sequence[dict], *, actor: User, now: datetime
) -> list[Recommendation]:
    out = []
    for number, item in enumerate(items, start=1):
        text = _text("text", item.get("text"))
        priority = item.get("priority")
        if priority not in Recommendation.Priority.values:
            raise _invalid("recommendations", f"Recommendation {number}: choose a priority.")
        target = item.get("target_date")
        if not isinstance(target, date) or isinstance(target, datetime) or target < now.date():
            raise _invalid("recommendations", f"Recommendation {number}: a future target date.")
        clause_key = item.get("clause_key") or decision.clause_key
        clause = _clause(decision.appeal.version, clause_key, field="recommendations")
        recommendation = Recommendation.objects.create(
            decision=decision,
            policy=decision.appeal.version.policy,
            clause_key=clause.key,
            text=text,
            priority=priority,
            target_date=target,
            created_by=actor,
            created_at=now,
            answer_due_at=_answer_due(now),
        )
        _recommendation_created(
            recommendation,
            actor=actor,
            source={"decision": decision.pk, "appeal": decision.appeal_id},
        )
        out.append(recommendation)
    return out


def _answer_due(now: datetime) -> datetime:
    return now + timedelta(days=_setting("APPEAL_RECOMMENDATION_ANSWER_DAYS"))


def _recommendation_created(
    recommendation: Recommendation, *, actor: User | str, source: dict[str, int]
) -> None:
    ledger_append(
        actor=actor,
        action="recommendation.created",
        subject=recommendation,
        payload={
            "company": recommendation.policy.organization.slug,
            "policy": recommendation.policy_id,
            "source": recommendation.source,
            **source,
            "clause": recommendation.clause_key,
            "priority": recommendation.priority,
            "target_date": recommendation.target_date.isoformat(),
            "answer_due_at": recommendation.answer_due_at.isoformat(),
            "text_sha256": _sha(recommendation.text),
        },
    )


@transaction.atomic
def appeal_panel_decide(
    *,
    actor: User,
    appeal: Appeal,
    clause_key: str,
    rationale: str,
    facts: str,
    automation_used: bool,
    automation_note: str = "",
    further_redress: str = "",
    recommendations: Sequence[dict] = (),
) -> Decision:
    """A seated panelist records the panel's decision once a majority of the seats agree; the
    outcome is the majority's, the other votes and their notes are the dissent."""
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="panel_decide")
    actor = _person(actor)
    seats = list(PanelAssignment.objects.filter(appeal=appeal).select_for_update())
    outcome, majority, minority = _tally(seats)
    if outcome is None:
        voted = sum(1 for s in seats if s.vote)
        raise Conflict(
            f"No majority yet: {voted} of {len(seats)} panelists have voted and no outcome "
            f"has more than {len(seats) // 2} votes.",
            code="no_majority",
        )
    if not str(further_redress or "").strip():
        further_redress = "The panel's decision is final on this platform; you keep every right "
        further_redress += "to go to court or to your regulator."
    fields = _decision_fields(
        appeal,
        outcome=outcome,
        clause_key=clause_key,
        rationale=rationale,
        facts=facts,
        automation_used=automation_used,
        automation_note=automation_note,
        further_redress=further_redress,
    )
    now = timezone.now()
    appeal.panel_decided_at = now
    appeal.implement_due_at = (
        None if outcome == Outcome.UPHELD else workflow.DEADLINES["implement"].due_from(now)
    )
    _move(
        appeal,
        actor=actor,
        action="panel_decide",
        note=fields["rationale"],
        now=now,
        payload={
            "outcome": outcome,
            "clause": fields["clause_key"],
            "votes_for": majority,
            "votes_against": minority,
            "late": bool(appeal.panel_due_at and now > appeal.panel_due_at),
        },
    )
    dissent = "\n\n".join(
        f"{s.get_vote_display()}: {s.vote_note}" if s.vote_note else s.get_vote_display()
        for s in seats
        if s.vote and s.vote != outcome
    )
    decision = Decision.objects.create(
        appeal=appeal,
        by=Decision.By.PANEL,
        decided_by=actor,
        decided_at=now,
        votes_for=majority,
        votes_against=minority,
        dissent=dissent,
        **fields,
    )
    _decision_published(decision, actor=actor)
    _clause_counts_changed(appeal)
    _recommendations(decision, recommendations, actor=actor, now=now)
    _notify_on_commit("panel_decided", appeal, _filer_emails(appeal) + _company_emails(appeal))
    return decision


@transaction.atomic
def appeal_summary_decision(
    *,
    actor: User,
    appeal: Appeal,
    outcome: str,
    clause_key: str,
    rationale: str,
    facts: str,
    automation_used: bool,
    automation_note: str = "",
    further_redress: str = "",
) -> Decision:
    """The company reverses itself (in full or in part) before the panel decides."""
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="summary_decision")
    actor = _person(actor)
    if not str(further_redress or "").strip():
        further_redress = "The company reversed its decision; you keep every right to go to "
        further_redress += "court or to your regulator."
    fields = _decision_fields(
        appeal,
        outcome=outcome,
        clause_key=clause_key,
        rationale=rationale,
        facts=facts,
        automation_used=automation_used,
        automation_note=automation_note,
        further_redress=further_redress,
        outcomes=(Outcome.OVERTURNED, Outcome.PARTLY_OVERTURNED),
    )
    now = timezone.now()
    appeal.panel_decided_at = now
    appeal.implement_due_at = workflow.DEADLINES["implement"].due_from(now)
    _move(
        appeal,
        actor=actor,
        action="summary_decision",
        note=fields["rationale"],
        now=now,
        payload={"outcome": outcome, "clause": fields["clause_key"]},
    )
    decision = Decision.objects.create(
        appeal=appeal,
        by=Decision.By.COMPANY,
        summary=True,
        decided_by=actor,
        decided_at=now,
        **fields,
    )
    _decision_published(decision, actor=actor)
    _clause_counts_changed(appeal)
    _notify_on_commit("panel_decided", appeal, _filer_emails(appeal))
    return decision


@transaction.atomic
def appeal_implement(*, actor: User, appeal: Appeal, note: str) -> Appeal:
    appeal = _locked(appeal)
    _authorize(appeal, actor=actor, action="implement")
    note = _note(note, field="note", message="Say how the decision was carried out.")
    if appeal.status == Status.PANEL_DECIDED and appeal.implement_due_at is None:
        raise Conflict(
            "The panel upheld the company's decision: nothing to implement.",
            code="nothing_to_implement",
        )
    now = timezone.now()
    late = bool(appeal.implement_due_at and now > appeal.implement_due_at)
    _move(appeal, actor=actor, action="implement", note=note, now=now, payload={"late": late})
    return appeal


ACTION_SERVICES = {
    "acknowledge": appeal_acknowledge,
    "reject_out_of_scope": appeal_reject_out_of_scope,
    "start_review": appeal_start_review,
    "request_info": appeal_request_info,
    "provide_info": appeal_provide_info,
    "decide": appeal_decide,
    "escalate": appeal_escalate,
    "close": appeal_close,
    "panel_assign": appeal_panel_assign,
    "summary_decision": appeal_summary_decision,
    "panel_vote": appeal_panel_vote,
    "panel_decide": appeal_panel_decide,
    "implement": appeal_implement,
    "withdraw": appeal_withdraw,
}
assert set(ACTION_SERVICES) == set(workflow.ACTIONS)  # the table and the code agree


def appeals_erase_filer(user: User) -> None:
    """Account deletion: every raw transcript, marked name and note of the filer is erased at
    once — the redacted copy, the decisions and the timeline stay. Nothing goes on the ledger
    here: an entry about an appeal written beside `user.deleted` would tell the public feed who
    filed it. The filer's open appeals are withdrawn later, in the nightly batch
    (`appeals_withdraw_for_deleted_filers`), with every other account deleted that day."""
    for appeal in Appeal.objects.filter(filer=user):
        if (
            appeal.transcript_raw == appeal.transcript_redacted
            and not appeal.redaction_marked_names
        ):
            continue
        appeal.transcript_raw = appeal.transcript_redacted
        appeal.redaction_marked_names = []
        appeal.save(update_fields=["transcript_raw", "redaction_marked_names", "updated_at"])
    AppealEvent.objects.filter(appeal__filer=user, role="filer").update(note="")


def appeals_withdraw_for_deleted_filers(*, now: datetime | None = None) -> int:
    """The open appeals of accounts deleted before today (UTC) are withdrawn by the platform,
    all in one batch in appeal order, so the ledger cannot tie a withdrawal to one deletion —
    only to the day's. Run by the periodic deadlines pass; idempotent."""
    now = now or timezone.now()
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    pending = Appeal.objects.filter(
        filer__deleted_at__lt=today, status__in=list(workflow.OPEN_STATES)
    ).order_by("pk")
    withdrawn = 0
    with transaction.atomic():
        for appeal in pending:
            appeal = _locked(appeal)
            appeal.closed_at = now
            appeal.paused_at = None
            _move(
                appeal,
                actor="system",
                action="withdraw",
                note="The filer deleted their account.",
                payload={"reason": "filer_account_deleted"},
                now=now,
            )
            withdrawn += 1
    return withdrawn


# --- Recommendations --------------------------------------------------------------------------


@transaction.atomic
def recommendation_answer(
    *, actor: User, recommendation: Recommendation, answer: str, text: str
) -> Recommendation:
    """The company's answer (due within APPEAL_RECOMMENDATION_ANSWER_DAYS); it may be revised
    as work goes on (assessing feasibility, then implementing…), each answer on the ledger."""
    recommendation = (
        Recommendation.objects.select_for_update(of=("self",))
        .select_related("policy__organization")
        .get(pk=recommendation.pk)
    )
    actor = _person(actor)
    company = recommendation.policy.organization
    if not _is_reviewer(actor, company):
        raise NotAllowed(f"Only {company.name}'s editors and owners answer.")
    if answer not in Recommendation.Answer.values:
        raise _invalid("answer", "Choose one of the five answers.")
    text = _text("answer_text", text)
    now = timezone.now()
    revised = bool(recommendation.answer)
    recommendation.answer = answer
    recommendation.answer_text = text
    recommendation.answered_at = now
    recommendation.answered_by = actor
    recommendation.save(update_fields=["answer", "answer_text", "answered_at", "answered_by"])
    ledger_append(
        actor=actor,
        action="recommendation.answered",
        subject=recommendation,
        payload={
            "answer": answer,
            "revised": revised,
            "late": now > recommendation.answer_due_at,
            "text_sha256": _sha(text),
        },
    )
    return recommendation


# --- Recommendations from audit findings -----------------------------------------------------

# A finding's severity sets its recommendation's priority.
FINDING_PRIORITY = {
    "critical": Recommendation.Priority.HIGH,
    "high": Recommendation.Priority.HIGH,
    "medium": Recommendation.Priority.MEDIUM,
    "low": Recommendation.Priority.LOW,
}


def finding_recommendations_create(
    *, report: AuditReport, actor: User | str = "system", now: datetime | None = None
) -> list[Recommendation]:
    """Each finding of a published audit report that recommends something becomes a
    recommendation the audited company answers within APPEAL_RECOMMENDATION_ANSWER_DAYS, like
    one from a decision. Called by the audits' publication hook inside its transaction, and by
    the catch-up pass; a finding that has its recommendation already is left alone."""
    if report.status != AuditReport.Status.PUBLISHED:
        return []
    now = now or timezone.now()
    made = []
    findings = (
        Finding.objects.filter(report=report, appeals_recommendation__isnull=True)
        .exclude(recommendation="")
        .select_related("version__policy__organization")
        .order_by("number")
    )
    for finding in findings:
        try:
            with transaction.atomic():
                recommendation = Recommendation.objects.create(
                    finding=finding,
                    policy=finding.version.policy,
                    clause_key=finding.clause_key,
                    text=finding.recommendation,
                    priority=FINDING_PRIORITY[finding.severity],
                    target_date=finding.target_date,
                    created_by=actor if isinstance(actor, User) else None,
                    created_at=now,
                    answer_due_at=_answer_due(now),
                )
        except IntegrityError:
            continue  # made meanwhile by a concurrent pass (the finding is one-to-one)
        _recommendation_created(
            recommendation,
            actor=actor,
            source={"finding": finding.pk, "audit_report": report.pk},
        )
        made.append(recommendation)
    if made:
        _notify_recommendations_on_commit(
            "finding_recommendations", made, _emails(report.audited, REVIEWER_ROLES)
        )
    return made


def finding_recommendations_catch_up(*, now: datetime | None = None) -> int:
    """The periodic pass: recommendations for published reports' findings that have none (a
    report published before recommendations came from findings). Idempotent."""
    now = now or timezone.now()
    pending = (
        Finding.objects.filter(
            report__status=AuditReport.Status.PUBLISHED, appeals_recommendation__isnull=True
        )
        .exclude(recommendation="")
        .values_list("report_id", flat=True)
        .distinct()
    )
    made = 0
    for report in AuditReport.objects.filter(pk__in=list(pending[:500])).select_related("audited"):
        with transaction.atomic():
            made += len(finding_recommendations_create(report=report, now=now))
    return made


def _is_reviewer(actor: User, organization: Organization) -> bool:
    return Membership.objects.filter(
        user=actor, organization=organization, role__in=REVIEWER_ROLES
    ).exists()


def _changed(old: PolicyVersion, new: PolicyVersion, key: str) -> bool:
    from policies.selectors import version_diff

    diff = version_diff(old=old, new=new)
    return any(
        key in (change.key, change.old_key)
        for change in diff.changes
        if change.kind in ("changed", "removed", "rekeyed")
    )


def _is_public(version: PolicyVersion) -> bool:
    return version.status in (PolicyVersion.Status.PUBLISHED, PolicyVersion.Status.SUPERSEDED)


def _settle(resolution: VersionResolution, *, now: datetime) -> None:
    """For a published version: did the cited clause change? If so, a cited recommendation is
    implemented by it."""
    version = resolution.version
    if not _is_public(version):
        return
    if resolution.recommendation_id:
        earlier = resolution.recommendation.source_version
    else:
        earlier = resolution.appeal.version
    resolution.clause_changed = _changed(earlier, version, resolution.clause_key)
    resolution.save(update_fields=["clause_changed"])
    recommendation = resolution.recommendation
    if (
        resolution.clause_changed
        and recommendation is not None
        and recommendation.implemented_version_id is None
    ):
        recommendation.implemented_version = version
        recommendation.implemented_at = now
        recommendation.save(update_fields=["implemented_version", "implemented_at"])
        ledger_append(
            actor="system",
            action="recommendation.implemented",
            subject=recommendation,
            payload={"policy_version": version.pk, "clause": resolution.clause_key},
        )


@transaction.atomic
def version_cite(
    *,
    actor: User,
    version: PolicyVersion,
    appeal: Appeal | None = None,
    recommendation: Recommendation | None = None,
    note: str = "",
) -> VersionResolution:
    """A later version of the same policy (a draft being written, or published) cites an appeal
    or a recommendation it resolves. Whether the cited clause changed is read from the diff —
    at once for a published version, at publication for a draft."""
    actor = _person(actor)
    if (appeal is None) == (recommendation is None):
        raise _invalid("appeal", "Cite one appeal or one recommendation.")
    organization = version.policy.organization
    if not _is_reviewer(actor, organization):
        raise NotAllowed(f"Only {organization.name}'s editors and owners cite in its versions.")
    if recommendation is not None:
        earlier = recommendation.source_version
        clause_key = recommendation.clause_key
    else:
        earlier = appeal.version
        decision = appeal.decisions.order_by("-decided_at").first()
        clause_key = decision.clause_key if decision else appeal.clause_key
        if not clause_key:
            raise _invalid("appeal", "This appeal names no clause yet: decide it first.")
    if version.policy_id != earlier.policy_id:
        raise _invalid("version", "Cite it from a version of the same policy.")
    if (version.major, version.minor, version.patch) <= (
        earlier.major,
        earlier.minor,
        earlier.patch,
    ):
        raise _invalid("version", f"Cite it from a version later than {earlier.number}.")
    if version.status == PolicyVersion.Status.WITHDRAWN:
        raise _invalid("version", "That version was withdrawn.")
    now = timezone.now()
    try:
        with transaction.atomic():
            resolution = VersionResolution.objects.create(
                version=version,
                appeal=appeal,
                recommendation=recommendation,
                clause_key=clause_key,
                note=_text("note", note, required=False),
                created_by=actor,
                created_at=now,
            )
    except IntegrityError as error:
        raise Conflict("That version already cites it.", code="already_cited") from error
    ledger_append(
        actor=actor,
        action="policy_version.cites",
        subject=version,
        payload={
            "appeal": appeal.pk if appeal else None,
            "recommendation": recommendation.pk if recommendation else None,
            "clause": clause_key,
        },
    )
    _settle(resolution, now=now)
    return resolution


def resolutions_settle(*, now: datetime | None = None) -> int:
    """The periodic pass: citations from drafts that have since been published."""
    now = now or timezone.now()
    pending = VersionResolution.objects.filter(
        clause_changed__isnull=True,
        version__status__in=(PolicyVersion.Status.PUBLISHED, PolicyVersion.Status.SUPERSEDED),
    ).values_list("pk", flat=True)
    settled = 0
    for pk in list(pending[:500]):
        with transaction.atomic():
            resolution = (
                VersionResolution.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related(
                    "version",
                    "recommendation__decision__appeal__version",
                    "recommendation__finding__version",
                    "appeal__version",
                )
                .filter(pk=pk, clause_changed__isnull=True)
                .first()
            )
            if resolution is not None:
                _settle(resolution, now=now)
                settled += 1
    return settled


# --- Deadlines --------------------------------------------------------------------------------


def _emails(organization: Organization, roles: Sequence[str]) -> list[str]:
    return list(
        Membership.objects.filter(organization=organization, role__in=roles, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
        .order_by("user__email")
    )


def _company_emails(appeal: Appeal) -> list[str]:
    return _emails(appeal.organization, REVIEWER_ROLES)


def _filer_emails(appeal: Appeal) -> list[str]:
    filer = appeal.filer
    return [filer.email] if filer is not None and filer.is_active and filer.email else []


def _panel_emails(appeal: Appeal) -> list[str]:
    seated = list(
        appeal.panel_seats.filter(panelist__is_active=True).values_list(
            "panelist__email", flat=True
        )
    )
    if seated:
        return sorted(set(seated))
    panels = Organization.objects.filter(kind=Organization.Kind.PANEL, verified_at__isnull=False)
    return sorted({e for panel in panels for e in _emails(panel, REVIEWER_ROLES)})


def _mail(template: str, appeal: Appeal, to: list[str], **extra: Any) -> None:
    _send(
        template,
        {"appeal": appeal, "url": _site_url(reverse("appeals:detail", args=[appeal.pk])), **extra},
        to,
    )


def _site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _send(template: str, context: dict[str, Any], to: list[str]) -> None:
    if not to:
        return
    subject = " ".join(render_to_string(f"appeals/email/{template}_subject.txt", context).split())
    body = render_to_string(f"appeals/email/{template}.txt", context)
    send_mail(settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body, None, sorted(set(to)))


def _clause_counts_changed(appeal: Appeal) -> None:
    """The version page's per-clause appeal counts are cached: clear them after the commit."""
    from django.core.cache import cache

    from appeals.selectors import clause_extras_key

    key = clause_extras_key(appeal.version_id)
    transaction.on_commit(lambda: cache.delete(key))


def _notify_on_commit(template: str, appeal: Appeal, to: list[str]) -> None:
    transaction.on_commit(lambda: _mail(template, appeal, to))


def _notify_recommendations_on_commit(
    template: str, recommendations: list[Recommendation], to: list[str]
) -> None:
    """Mail about recommendations from one audit report's findings."""
    first = recommendations[0]
    context = {
        "recommendations": recommendations,
        "report": first.finding.report,
        "company": first.policy.organization,
        "url": _site_url(
            reverse("appeals:recommendation", args=[first.pk])
            if len(recommendations) == 1
            else reverse("appeals:recommendations") + "?source=finding"
        ),
    }
    transaction.on_commit(lambda: _send(template, context, to))


RESPONSIBLE_EMAILS = {"company": _company_emails, "panel": _panel_emails, "filer": _filer_emails}


def deadlines_due(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic pass: tell the responsible side, once, of each SLA that passed; close
    decided appeals whose escalation window ended; settle citations of published versions;
    withdraw the open appeals of accounts deleted before today."""
    now = now or timezone.now()
    notified = closed = 0
    open_appeals = Appeal.objects.filter(status__in=list(workflow.STATE_DEADLINE)).select_related(
        "organization", "filer"
    )
    for appeal in open_appeals.iterator(chunk_size=500):
        pending = workflow.pending_deadline(appeal)
        if pending is None:
            continue
        deadline, due = pending
        if due > now:
            continue
        if deadline.kind == "window":
            try:
                appeal_close(
                    actor="system",
                    appeal=appeal,
                    note="The window to escalate ended without an escalation.",
                    now=now,
                )
                closed += 1
            except Conflict:
                pass
            continue
        with transaction.atomic():
            _, created = DeadlineNotice.objects.get_or_create(
                appeal=appeal, deadline=deadline.name, due_at=due, defaults={"sent_at": now}
            )
            if not created:
                continue
            ledger_append(
                actor="system",
                action="appeal.deadline_passed",
                subject=appeal,
                payload={
                    "deadline": deadline.name,
                    "due_at": due.isoformat(),
                    "responsible": deadline.responsible,
                },
            )
            to = RESPONSIBLE_EMAILS[deadline.responsible](appeal)
            _notify_on_commit("overdue", appeal, to)
            notified += 1
    for recommendation in Recommendation.objects.filter(
        answer="", answer_due_at__lte=now
    ).select_related("decision__appeal__organization", "policy__organization", "finding__report"):
        appeal = recommendation.decision.appeal if recommendation.decision_id else None
        with transaction.atomic():
            _, created = DeadlineNotice.objects.get_or_create(
                appeal=appeal,
                deadline=f"rec:{recommendation.pk}",
                due_at=recommendation.answer_due_at,
                defaults={"sent_at": now},
            )
            if created:
                ledger_append(
                    actor="system",
                    action="recommendation.answer_overdue",
                    subject=recommendation,
                    payload={"due_at": recommendation.answer_due_at.isoformat()},
                )
                to = _emails(recommendation.policy.organization, REVIEWER_ROLES)
                if appeal is not None:
                    _notify_on_commit("recommendation_overdue", appeal, to)
                else:
                    _notify_recommendations_on_commit(
                        "finding_recommendation_overdue", [recommendation], to
                    )
                notified += 1
    settled = resolutions_settle(now=now)
    made = finding_recommendations_catch_up(now=now)
    withdrawn = appeals_withdraw_for_deleted_filers(now=now)
    return {
        "notified": notified,
        "closed": closed,
        "settled": settled,
        "from_findings": made,
        "withdrawn": withdrawn,
    }


# --- Transparency reports ---------------------------------------------------------------------


@transaction.atomic
def transparency_report_compile(
    *, organization: Organization, year: int, quarter: int, now: datetime | None = None
) -> TransparencyReport:
    """Freeze a company's figures for a quarter that has ended; the figures' hash goes on the
    ledger. Compiling again returns the frozen report unchanged."""
    from appeals.selectors import quarter_bounds, transparency_figures

    now = now or timezone.now()
    if quarter not in (1, 2, 3, 4):
        raise _invalid("quarter", "A quarter is 1 to 4.")
    _, end = quarter_bounds(year, quarter)
    if end > now:
        raise Conflict(
            "That quarter has not ended yet; its figures are shown live.", code="quarter_open"
        )
    existing = TransparencyReport.objects.filter(
        organization=organization, year=year, quarter=quarter
    ).first()
    if existing is not None:
        return existing
    figures = transparency_figures(organization=organization, year=year, quarter=quarter, now=end)
    # Only the hash goes on the ledger. The figures hold one-decimal floats (days, rates), whose
    # shortest round-trip text is the same in Python and JavaScript, so the hash is checkable.
    digest = sha256_hex(canonical_json(figures, strict=False))
    report = TransparencyReport.objects.create(
        organization=organization,
        year=year,
        quarter=quarter,
        figures=figures,
        figures_sha256=digest,
        compiled_at=now,
    )
    ledger_append(
        actor="system",
        action="transparency_report.compiled",
        subject=report,
        payload={
            "company": organization.slug,
            "year": year,
            "quarter": quarter,
            "figures_sha256": digest,
        },
    )
    return report


def transparency_reports_compile_due(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic pass: once a quarter has ended, freeze its report for every company that
    existed before it ended. Idempotent — a company whose report is frozen is skipped, and a
    concurrent pass that froze it first wins (the unique constraint)."""
    from appeals.selectors import quarter_bounds, quarter_of

    now = now or timezone.now()
    year, quarter = quarter_of(now)
    year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    _, end = quarter_bounds(year, quarter)
    frozen = TransparencyReport.objects.filter(
        organization=OuterRef("pk"), year=year, quarter=quarter
    )
    companies = Organization.objects.filter(
        ~Exists(frozen), kind=Organization.Kind.DEVELOPER, created_at__lt=end
    ).order_by("pk")
    compiled = 0
    for organization in companies:
        try:
            transparency_report_compile(
                organization=organization, year=year, quarter=quarter, now=now
            )
        except IntegrityError:
            continue
        compiled += 1
    return {"year": year, "quarter": quarter, "compiled": compiled}
