"""Badges for appeal pages: the state (its words, colour only as a second cue) and overdue."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from appeals.models import Outcome, Status

register = template.Library()

STATUS_CLASSES = {
    Status.SUBMITTED: "badge--warning",
    Status.ACKNOWLEDGED: "badge--warning",
    Status.UNDER_REVIEW: "badge--warning",
    Status.NEEDS_INFO: "badge--muted",
    Status.DECIDED: "badge--success",
    Status.ESCALATED: "badge--warning",
    Status.PANEL_REVIEW: "badge--warning",
    Status.PANEL_DECIDED: "badge--success",
    Status.IMPLEMENTED: "badge--success",
    Status.CLOSED: "badge--muted",
    Status.REJECTED_OUT_OF_SCOPE: "badge--danger",
    Status.WITHDRAWN: "badge--muted",
}
OUTCOME_CLASSES = {
    Outcome.UPHELD: "badge--muted",
    Outcome.OVERTURNED: "badge--success",
    Outcome.PARTLY_OVERTURNED: "badge--warning",
}


@register.simple_tag
def appeal_status_badge(appeal, overdue: bool = False) -> SafeString:
    badge = format_html(
        '<span class="badge {}">{}</span>',
        STATUS_CLASSES.get(appeal.status, ""),
        Status(appeal.status).label,
    )
    if overdue:
        badge += format_html(' <span class="badge badge--danger">{}</span>', "Overdue")
    return badge


@register.simple_tag
def outcome_badge(outcome: str) -> SafeString:
    label = Outcome(outcome).label.split(" (")[0]
    return format_html('<span class="badge {}">{}</span>', OUTCOME_CLASSES.get(outcome, ""), label)


@register.filter
def status_label(value: str) -> str:
    try:
        return Status(value).label
    except ValueError:
        return value


EVENT_LABELS = {
    "file": "Filed",
    "acknowledge": "Acknowledged",
    "reject_out_of_scope": "Rejected as out of scope",
    "start_review": "Review started",
    "request_info": "Information requested from the filer",
    "provide_info": "The filer answered",
    "decide": "Decided by the company",
    "escalate": "Escalated to the panel",
    "panel_assign": "Panel assigned",
    "panel_vote": "A panelist voted",
    "panel_decide": "Decided by the panel",
    "summary_decision": "Summary decision: the company reversed itself",
    "implement": "Decision implemented",
    "close": "Closed",
    "withdraw": "Withdrawn by the filer",
}


@register.filter
def event_label(event) -> str:
    return EVENT_LABELS.get(event.action, event.action)


@register.filter
def kind_short(appeal) -> str:
    """The kind's name ("Over-refusal") rather than the whole explanation, for tables."""
    return appeal.get_kind_display().split(":")[0]
