"""The appeal state machine as one table: (state, action, roles allowed, next state, deadline).

Services refuse any move that is not a row here, the docs page (`/appeals/workflow/`) renders
the table, and the API lists each appeal's allowed actions from it. Deadlines name an entry of
`DEADLINES`: an *SLA* binds the responsible side (passing it makes the appeal overdue, and the
periodic task tells them); a *window* binds the filer (after it, the action is refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.conf import settings

from appeals.models import Status

# Who acts. "filer": the person who appealed; "company": an editor or owner of the appealed
# company; "panel": a panelist seated on the case; "panel_admin": an editor or owner of a
# verified panel organization (assigns the seats); "system": the periodic task (only closes an
# appeal whose escalation window has passed — it never decides).
Role = Literal["filer", "company", "panel", "panel_admin", "system"]
ROLE_LABELS: dict[str, str] = {
    "filer": "the filer",
    "company": "the company's reviewers",
    "panel": "the seated panelists",
    "panel_admin": "the panel's coordinators",
    "system": "the platform's periodic task",
}


@dataclass(frozen=True)
class Deadline:
    name: str
    setting: str  # key of settings.OPENREFUSAL: the number of days
    field: str  # the Appeal field holding the due time
    kind: Literal["sla", "window"]
    responsible: Role
    description: str

    @property
    def days(self) -> int:
        return int(settings.OPENREFUSAL[self.setting])

    def due_from(self, start: datetime) -> datetime:
        return start + timedelta(days=self.days)


DEADLINES: dict[str, Deadline] = {
    d.name: d
    for d in (
        Deadline("ack", "APPEAL_ACK_DAYS", "ack_due_at", "sla", "company",
                 "acknowledge, from submission"),
        Deadline("decision", "APPEAL_DECISION_DAYS", "decision_due_at", "sla", "company",
                 "decide, from submission"),
        Deadline("escalation", "APPEAL_ESCALATION_DAYS", "escalation_due_at", "window", "filer",
                 "escalate to the panel, from the company's decision"),
        Deadline("panel", "APPEAL_PANEL_DAYS", "panel_due_at", "sla", "panel",
                 "the panel decides, from escalation"),
        Deadline("implement", "APPEAL_IMPLEMENT_DAYS", "implement_due_at", "sla", "company",
                 "implement the panel's decision, from that decision"),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Transition:
    state: str
    action: str
    roles: tuple[str, ...]
    next_state: str
    deadline: str | None = None
    description: str = ""


S = Status
OPEN_STATES: tuple[str, ...] = (
    S.SUBMITTED, S.ACKNOWLEDGED, S.UNDER_REVIEW, S.NEEDS_INFO, S.DECIDED, S.ESCALATED,
    S.PANEL_REVIEW,
)  # fmt: skip
TERMINAL_STATES: tuple[str, ...] = (S.CLOSED, S.REJECTED_OUT_OF_SCOPE, S.WITHDRAWN)

TRANSITIONS: tuple[Transition, ...] = (
    Transition(S.SUBMITTED, "acknowledge", ("company",), S.ACKNOWLEDGED, "ack",
               "The company confirms it received the appeal."),
    Transition(S.SUBMITTED, "reject_out_of_scope", ("company",), S.REJECTED_OUT_OF_SCOPE, "ack",
               "Late, a duplicate, or manifestly unfounded — with the reason on the record."),
    Transition(S.ACKNOWLEDGED, "reject_out_of_scope", ("company",), S.REJECTED_OUT_OF_SCOPE,
               "decision", "As above, after acknowledging."),
    Transition(S.ACKNOWLEDGED, "start_review", ("company",), S.UNDER_REVIEW, "decision",
               "A reviewer takes the case."),
    Transition(S.ACKNOWLEDGED, "request_info", ("company",), S.NEEDS_INFO, "decision",
               "Ask the filer a question; the clock stops until they answer."),
    Transition(S.UNDER_REVIEW, "request_info", ("company",), S.NEEDS_INFO, "decision",
               "Ask the filer a question; the clock stops until they answer."),
    Transition(S.NEEDS_INFO, "provide_info", ("filer",), S.UNDER_REVIEW, None,
               "The filer answers; the clock runs again."),
    Transition(S.UNDER_REVIEW, "decide", ("company",), S.DECIDED, "decision",
               "Upheld, overturned or partly overturned: the clause relied on, why, the facts, "
               "whether automation was used, and what redress remains."),
    Transition(S.DECIDED, "escalate", ("filer",), S.ESCALATED, "escalation",
               "The filer takes the case to the independent panel."),
    Transition(S.DECIDED, "close", ("filer", "system"), S.CLOSED, None,
               "The filer accepts the decision, or the escalation window ends."),
    Transition(S.ESCALATED, "panel_assign", ("panel_admin",), S.PANEL_REVIEW, "panel",
               "At least three panelists, none of them from the appealed company."),
    Transition(S.ESCALATED, "summary_decision", ("company",), S.PANEL_DECIDED, "panel",
               "The company reverses itself before the panel decides."),
    Transition(S.PANEL_REVIEW, "summary_decision", ("company",), S.PANEL_DECIDED, "panel",
               "The company reverses itself before the panel decides."),
    Transition(S.PANEL_REVIEW, "panel_vote", ("panel",), S.PANEL_REVIEW, "panel",
               "A seated panelist votes (and may write a dissent)."),
    Transition(S.PANEL_REVIEW, "panel_decide", ("panel",), S.PANEL_DECIDED, "panel",
               "Once a majority of the seats agree: the decision, with any dissent."),
    Transition(S.PANEL_DECIDED, "implement", ("company",), S.IMPLEMENTED, "implement",
               "The company states how it carried out the decision."),
    Transition(S.PANEL_DECIDED, "close", ("filer", "company"), S.CLOSED, None,
               "Only when the panel upheld the company: nothing to implement."),
    Transition(S.IMPLEMENTED, "close", ("filer", "company"), S.CLOSED, None,
               "The case ends."),
    *(
        Transition(state, "withdraw", ("filer", "system"), S.WITHDRAWN, None,
                   "The filer withdraws the appeal (the platform does, in the nightly batch, "
                   "once the filer has deleted their account).")
        for state in OPEN_STATES
    ),
)  # fmt: skip

ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(t.action for t in TRANSITIONS))
ACTION_LABELS: dict[str, str] = {
    "acknowledge": "Acknowledge",
    "reject_out_of_scope": "Reject as out of scope",
    "start_review": "Start the review",
    "request_info": "Ask the filer for information",
    "provide_info": "Provide the information",
    "decide": "Decide",
    "escalate": "Escalate to the panel",
    "close": "Close",
    "panel_assign": "Assign the panel",
    "summary_decision": "Reverse the decision (summary decision)",
    "panel_vote": "Vote",
    "panel_decide": "Record the panel's decision",
    "implement": "Record the implementation",
    "withdraw": "Withdraw the appeal",
}

_BY_KEY: dict[tuple[str, str], Transition] = {(t.state, t.action): t for t in TRANSITIONS}


def transition_for(state: str, action: str) -> Transition | None:
    return _BY_KEY.get((state, action))


def transitions_from(state: str) -> list[Transition]:
    return [t for t in TRANSITIONS if t.state == state]


def actions_for(state: str, roles: set[str]) -> list[str]:
    """The actions someone holding `roles` may take in `state`, in table order."""
    return [t.action for t in TRANSITIONS if t.state == state and roles.intersection(t.roles)]


def is_open(state: str) -> bool:
    return state in OPEN_STATES


# The deadline that the appeal, sitting in a state, is waiting on (None: no clock runs).
STATE_DEADLINE: dict[str, str] = {
    S.SUBMITTED: "ack",
    S.ACKNOWLEDGED: "decision",
    S.UNDER_REVIEW: "decision",
    S.DECIDED: "escalation",
    S.ESCALATED: "panel",
    S.PANEL_REVIEW: "panel",
    S.PANEL_DECIDED: "implement",
}


def pending_deadline(appeal) -> tuple[Deadline, datetime] | None:
    """The deadline the appeal waits on now and its due time; None when no clock runs
    (a terminal state, or paused while the filer is asked for information)."""
    name = STATE_DEADLINE.get(appeal.status)
    if name is None:
        return None
    deadline = DEADLINES[name]
    due = getattr(appeal, deadline.field)
    if due is None:
        return None
    return deadline, due


def is_overdue(appeal, now: datetime) -> bool:
    """An SLA passed without the responsible side acting. A window passing is not overdue."""
    pending = pending_deadline(appeal)
    if pending is None:
        return False
    deadline, due = pending
    # A panel that upheld the company leaves nothing to implement: implement_due_at is None.
    return deadline.kind == "sla" and due <= now


def table_rows() -> list[dict]:
    """The table for the docs page and the API, with the configured numbers of days."""
    rows = []
    for t in TRANSITIONS:
        deadline = DEADLINES.get(t.deadline) if t.deadline else None
        rows.append(
            {
                "state": t.state,
                "state_label": Status(t.state).label,
                "action": t.action,
                "action_label": ACTION_LABELS[t.action],
                "roles": list(t.roles),
                "roles_label": ", ".join(ROLE_LABELS[r] for r in t.roles),
                "next_state": t.next_state,
                "next_state_label": Status(t.next_state).label,
                "deadline": t.deadline,
                "deadline_days": deadline.days if deadline else None,
                "deadline_kind": deadline.kind if deadline else None,
                "deadline_description": deadline.description if deadline else "",
                "description": t.description,
            }
        )
    return rows
