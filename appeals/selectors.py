"""Reads of appeals that pages and the API share: who sees which appeal, the queues, published
decisions, per-clause counts for policy pages, and transparency figures."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from appeals import workflow
from appeals.models import (
    Appeal,
    AppealEvent,
    Decision,
    Kind,
    Outcome,
    PanelAssignment,
    Recommendation,
    RejectionReason,
    Status,
)
from appeals.rules import REVIEWER_ROLES, can_view, can_view_raw, panel_admin_organizations
from governance.models import Membership, Organization
from governance.rules import is_regulator, is_staff
from policies.models import Clause

_ESCALATED = ("escalated", "panel_review", "panel_decided", "implemented", "closed")
OVERTURNING = (Outcome.OVERTURNED, Outcome.PARTLY_OVERTURNED)


def _signed_in(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and bool(
        getattr(user, "is_active", False)
    )


def visible_appeals_filter(user: Any) -> Q:
    """The appeals `user` may read (as `appeals.view_appeal`), as one filter."""
    if not _signed_in(user):
        return Q(pk__in=[])
    if is_staff(user) or is_regulator(user):
        return Q()
    org_ids = Membership.objects.filter(user=user).values("organization_id")
    q = (
        Q(filer=user)
        | Q(organization_id__in=org_ids)
        | Q(Exists(PanelAssignment.objects.filter(appeal=OuterRef("pk"), panelist=user)))
    )
    if panel_admin_organizations(user):
        q |= Q(status__in=_ESCALATED) & ~Q(organization_id__in=org_ids)
    return q


def _base() -> QuerySet[Appeal]:
    return Appeal.objects.select_related(
        "organization", "system", "version__policy", "clause", "filer"
    )


def appeal_list(
    user: Any,
    *,
    status: str = "",
    kind: str = "",
    company: str = "",
    overdue: bool | None = None,
    now: datetime | None = None,
) -> QuerySet[Appeal]:
    qs = _base().filter(visible_appeals_filter(user))
    if status in Status.values:
        qs = qs.filter(status=status)
    if kind in Kind.values:
        qs = qs.filter(kind=kind)
    if company:
        qs = qs.filter(organization__slug=company)
    if overdue is not None:
        q = overdue_filter(now or timezone.now())
        qs = qs.filter(q) if overdue else qs.exclude(q)
    return qs.order_by("-submitted_at", "-pk")


def overdue_filter(now: datetime) -> Q:
    """Appeals waiting on an SLA that has passed (the same rule as workflow.is_overdue)."""
    q = Q(pk__in=[])
    for state, name in workflow.STATE_DEADLINE.items():
        deadline = workflow.DEADLINES[name]
        if deadline.kind != "sla":
            continue
        q |= Q(status=state, **{f"{deadline.field}__lte": now})
    return q


def appeal_detail(user: Any, pk: int) -> Appeal | None:
    appeal = (
        _base()
        .prefetch_related(
            Prefetch("events", queryset=AppealEvent.objects.select_related("actor")),
            Prefetch(
                "decisions",
                queryset=Decision.objects.select_related("decided_by", "clause").prefetch_related(
                    "recommendations"
                ),
            ),
            Prefetch(
                "panel_seats", queryset=PanelAssignment.objects.select_related("panelist", "panel")
            ),
        )
        .filter(pk=pk)
        .first()
    )
    if appeal is None:
        return None
    appeal._seated_ids = {seat.panelist_id for seat in appeal.panel_seats.all()}
    return appeal if can_view(user, appeal) else None


def shows_raw(user: Any, appeal: Appeal) -> bool:
    return can_view_raw(user, appeal)


def allowed_actions(user: Any, appeal: Appeal) -> list[str]:
    from appeals.rules import roles_of

    return workflow.actions_for(appeal.status, roles_of(user, appeal))


def my_appeals(user: Any) -> QuerySet[Appeal]:
    return _base().filter(filer=user).order_by("-submitted_at", "-pk")


def reviewer_organizations(user: Any) -> list[Organization]:
    if not _signed_in(user):
        return []
    return list(
        Organization.objects.filter(
            kind=Organization.Kind.DEVELOPER,
            memberships__user=user,
            memberships__role__in=REVIEWER_ROLES,
        ).order_by("name")
    )


def company_queue(user: Any, *, status: str = "", open_only: bool = True) -> QuerySet[Appeal]:
    orgs = reviewer_organizations(user)
    qs = _base().filter(organization__in=orgs)
    if status in Status.values:
        qs = qs.filter(status=status)
    elif open_only:
        qs = qs.filter(status__in=[*workflow.OPEN_STATES, Status.PANEL_DECIDED])
    # Oldest deadline first: what is due soonest is at the top.
    return qs.order_by("decision_due_at", "pk")


def panel_queue(user: Any) -> tuple[QuerySet[Appeal], QuerySet[Appeal]]:
    """(to assign: escalated appeals, for a panel's coordinators; seated: the user's cases)."""
    to_assign = _base().none()
    if panel_admin_organizations(user):
        org_ids = Membership.objects.filter(user=user).values("organization_id")
        to_assign = (
            _base()
            .filter(status=Status.ESCALATED)
            .exclude(organization_id__in=org_ids)
            .order_by("panel_due_at", "pk")
        )
    seated = _base().filter(panel_seats__panelist=user).order_by("panel_due_at", "pk").distinct()
    return to_assign, seated


def panel_candidates(panel: Organization, appeal: Appeal) -> list:
    """Members of `panel` who may sit on `appeal`: not of the appealed company, not the filer."""
    conflicted = Membership.objects.filter(organization=appeal.organization).values("user_id")
    return [
        m.user
        for m in Membership.objects.filter(organization=panel, user__is_active=True)
        .exclude(user_id__in=conflicted)
        .exclude(user_id=appeal.filer_id)
        .select_related("user")
        .order_by("user__display_name", "user_id")
    ]


# --- Publication ------------------------------------------------------------------------------


def published_decisions(
    *, company: str = "", outcome: str = "", by: str = "", clause: str = ""
) -> QuerySet[Decision]:
    """Every decision is public: outcome, clause, rationale and facts. The redacted transcript
    goes with it only where the filer consented (templates and serializers check it)."""
    qs = Decision.objects.select_related(
        "appeal__organization", "appeal__system", "appeal__version__policy", "clause"
    ).prefetch_related("recommendations")
    if company:
        qs = qs.filter(appeal__organization__slug=company)
    if outcome in Outcome.values:
        qs = qs.filter(outcome=outcome)
    if by in Decision.By.values:
        qs = qs.filter(by=by)
    if clause:
        qs = qs.filter(clause_key=clause)
    return qs.order_by("-decided_at", "-pk")


def decision_detail(pk: int) -> Decision | None:
    return published_decisions().filter(pk=pk).first()


def recommendations(
    *, company: str = "", answered: str = "", source: str = ""
) -> QuerySet[Recommendation]:
    """Every recommendation is public, from either source: a decision on an appeal, or a
    finding of a published audit report (only published reports' findings have one)."""
    qs = Recommendation.objects.select_related(
        "decision__appeal__organization",
        "decision__appeal__version__policy",
        "finding__report__auditor",
        "finding__version__policy",
        "policy__organization",
        "implemented_version",
        "answered_by",
    ).prefetch_related("resolutions__version")
    if company:
        qs = qs.filter(policy__organization__slug=company)
    if answered == "yes":
        qs = qs.exclude(answer="")
    elif answered == "no":
        qs = qs.filter(answer="")
    if source == Recommendation.Source.DECISION:
        qs = qs.filter(decision__isnull=False)
    elif source == Recommendation.Source.FINDING:
        qs = qs.filter(finding__isnull=False)
    return qs.order_by("-created_at", "-pk")


def recommendation_detail(pk: int) -> Recommendation | None:
    return recommendations().filter(pk=pk).first()


def companies_with_recommendations() -> list[Organization]:
    return list(
        Organization.objects.filter(policies__in=Recommendation.objects.values("policy"))
        .distinct()
        .order_by("name")
    )


def finding_recommendation_extras(findings: Sequence[Any]) -> dict[int, Recommendation]:
    """For a finding's page (audits.hooks): the recommendation made of each finding, if any."""
    ids = [f.pk for f in findings if getattr(f, "pk", None)]
    recs = Recommendation.objects.filter(finding_id__in=ids).select_related("implemented_version")
    return {r.finding_id: r for r in recs}


def overdue_public(*, now: datetime | None = None, company: str = "") -> QuerySet[Appeal]:
    """Overdue appeals, for everyone: no filer, no transcript — company, clause, state, due."""
    now = now or timezone.now()
    qs = Appeal.objects.select_related("organization").filter(overdue_filter(now))
    if company:
        qs = qs.filter(organization__slug=company)
    return qs.order_by("submitted_at", "pk")


CLAUSE_EXTRAS_SECONDS = 300


def clause_extras_key(version_id: int) -> str:
    return f"appeals:clause-extras:{version_id}"


def clause_appeal_extras(clauses: list) -> dict[int, dict]:
    """Per clause of a version page: appeals filed on it, decisions relying on it, and the
    share of those decisions that overturned (fully or partly). One query, then cached per
    version (filing and deciding clear it), so the policy page costs nothing more."""
    ids = [c.pk for c in clauses if getattr(c, "pk", None)]
    if not ids:
        return {}
    version_ids = {c.version_id for c in clauses if getattr(c, "pk", None)}
    key = clause_extras_key(next(iter(version_ids))) if len(version_ids) == 1 else None
    if key is not None:
        cached = cache.get(key)
        if cached is not None:
            return {pk: row for pk, row in cached.items() if pk in set(ids)}
    rows = (
        Clause.objects.filter(pk__in=ids)
        .annotate(
            filed=Count("appeals", distinct=True),
            decided=Count("appeal_decisions", distinct=True),
            overturned=Count(
                "appeal_decisions",
                filter=Q(appeal_decisions__outcome__in=OVERTURNING),
                distinct=True,
            ),
        )
        .filter(Q(filed__gt=0) | Q(decided__gt=0))
        .values_list("pk", "filed", "decided", "overturned")
    )
    out = {
        pk: {
            "filed": filed,
            "decided": decided,
            "overturned": overturned,
            "overturn_rate": round(100 * overturned / decided) if decided else None,
        }
        for pk, filed, decided, overturned in rows
    }
    if key is not None:
        cache.set(key, out, CLAUSE_EXTRAS_SECONDS)
    return out


# --- Transparency -----------------------------------------------------------------------------


def quarter_bounds(year: int, quarter: int) -> tuple[datetime, datetime]:
    start = datetime(year, 3 * (quarter - 1) + 1, 1, tzinfo=UTC)
    end = (
        datetime(year + 1, 1, 1, tzinfo=UTC)
        if quarter == 4
        else datetime(year, 3 * quarter + 1, 1, tzinfo=UTC)
    )
    return start, end


def quarter_of(moment: datetime) -> tuple[int, int]:
    moment = moment.astimezone(UTC)
    return moment.year, (moment.month - 1) // 3 + 1


def _days(values: Iterable[float]) -> dict[str, float | int | None]:
    """Median and 90th percentile (nearest rank) in days, one decimal."""
    data = sorted(values)
    if not data:
        return {"n": 0, "median": None, "p90": None}
    p90 = data[max(0, math.ceil(0.9 * len(data)) - 1)]
    return {"n": len(data), "median": round(statistics.median(data), 1), "p90": round(p90, 1)}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def transparency_figures(
    *, organization: Organization, year: int, quarter: int, now: datetime | None = None
) -> dict[str, Any]:
    """The quarter's figures for one company, computed from the records. Appeals count in the
    quarter they were submitted; decisions, acknowledgements and rejections in the quarter they
    happened; a deadline breach in the quarter its deadline fell (and only once it passed)."""
    now = now or timezone.now()
    start, end = quarter_bounds(year, quarter)
    horizon = min(now, end)
    appeals = Appeal.objects.filter(organization=organization)
    received = list(appeals.filter(submitted_at__gte=start, submitted_at__lt=end))
    by_kind = Counter(a.kind for a in received)
    by_clause = Counter(a.clause_key or "unknown" for a in received)

    acknowledged = appeals.filter(acknowledged_at__gte=start, acknowledged_at__lt=end)
    ack_days = [(a.acknowledged_at - a.submitted_at).total_seconds() / 86400 for a in acknowledged]

    decisions = list(
        Decision.objects.filter(
            appeal__organization=organization, decided_at__gte=start, decided_at__lt=end
        ).select_related("appeal")
    )
    company = [d for d in decisions if d.by == Decision.By.COMPANY and not d.summary]
    summary = [d for d in decisions if d.summary]
    panel = [d for d in decisions if d.by == Decision.By.PANEL]
    decide_days = [
        (d.decided_at - d.appeal.submitted_at).total_seconds() / 86400
        - d.appeal.paused_seconds / 86400
        for d in company
    ]
    needing = [d for d in panel + summary if d.outcome in OVERTURNING]
    implemented_ids = set(
        AppealEvent.objects.filter(
            appeal_id__in=[d.appeal_id for d in needing], action="implement", at__lt=horizon
        ).values_list("appeal_id", flat=True)
    )

    breaches: Counter = Counter()
    acted = {
        "ack": lambda a: a.acknowledged_at or _ended(a),
        "decision": lambda a: a.decided_at or _ended(a),
        "panel": lambda a: a.panel_decided_at or _ended(a),
    }
    for name, when in acted.items():
        field = workflow.DEADLINES[name].field
        due_in_quarter = appeals.filter(
            **{f"{field}__gte": start, f"{field}__lt": end, f"{field}__lte": horizon}
        )
        for appeal in due_in_quarter:
            done = when(appeal)
            if done is None or done > getattr(appeal, field):
                breaches[name] += 1
    implement_due = appeals.filter(
        implement_due_at__gte=start, implement_due_at__lt=end, implement_due_at__lte=horizon
    )
    implement_times = dict(
        AppealEvent.objects.filter(appeal__in=implement_due, action="implement").values_list(
            "appeal_id", "at"
        )
    )
    for appeal in implement_due:
        done = implement_times.get(appeal.pk) or _ended(appeal)
        if done is None or done > appeal.implement_due_at:
            breaches["implement"] += 1

    rejected = appeals.filter(
        status=Status.REJECTED_OUT_OF_SCOPE, closed_at__gte=start, closed_at__lt=end
    )
    by_reason = Counter(a.rejection_reason for a in rejected)
    return {
        "company": organization.slug,
        "year": year,
        "quarter": quarter,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "as_of": horizon.isoformat(),
        "received": {
            "total": len(received),
            "by_kind": {k: by_kind.get(k, 0) for k in Kind.values},
            "by_clause": dict(sorted(by_clause.items())),
        },
        "decisions": {
            "company": {o: sum(1 for d in company if d.outcome == o) for o in Outcome.values},
            "summary": {o: sum(1 for d in summary if d.outcome == o) for o in Outcome.values},
            "panel": {o: sum(1 for d in panel if d.outcome == o) for o in Outcome.values},
        },
        "days_to_acknowledge": _days(ack_days),
        "days_to_decide": _days(decide_days),
        "overturn_rate_company": _rate(
            sum(d.outcome in OVERTURNING for d in company), len(company)
        ),
        "overturn_rate_panel": _rate(sum(d.outcome in OVERTURNING for d in panel), len(panel)),
        "panel_implemented": {
            "needing": len(needing),
            "implemented": len(implemented_ids),
            "share": _rate(len(implemented_ids), len(needing)),
        },
        "deadline_breaches": {
            name: breaches.get(name, 0) for name in ("ack", "decision", "panel", "implement")
        },
        "rejections": {r: by_reason.get(r, 0) for r in RejectionReason.values},
    }


def _ended(appeal: Appeal) -> datetime | None:
    """A rejected or withdrawn appeal needs no further step: its end counts as the response."""
    if appeal.status in (Status.REJECTED_OUT_OF_SCOPE, Status.WITHDRAWN):
        return appeal.closed_at
    return None


def companies_with_appeals() -> list[Organization]:
    return list(
        Organization.objects.filter(kind=Organization.Kind.DEVELOPER, appeals__isnull=False)
        .distinct()
        .order_by("name")
    )


def quarters_with_appeals(organization: Organization) -> list[tuple[int, int]]:
    dates = Appeal.objects.filter(organization=organization).values_list("submitted_at", flat=True)
    return sorted({quarter_of(d) for d in dates}, reverse=True)


def overdue_counts(appeals: Sequence[Appeal], now: datetime) -> dict[int, bool]:
    return {a.pk: workflow.is_overdue(a, now) for a in appeals}


def user_appeal_export(user: Any) -> list[dict[str, Any]]:
    """Everything about the appeals a person filed, for their account export."""
    appeals = (
        Appeal.objects.filter(filer=user)
        .select_related("organization", "system", "version__policy")
        .prefetch_related("events", "decisions")
        .order_by("pk")
    )
    return [
        {
            "id": a.pk,
            "company": a.organization.slug,
            "system": a.system.slug,
            "system_version": a.system_version,
            "policy": a.version.policy.slug,
            "policy_version": a.version.number,
            "clause": a.clause_key or None,
            "kind": a.kind,
            "status": a.status,
            "transcript": a.transcript_raw,
            "transcript_redacted": a.transcript_redacted,
            "names_marked": list(a.redaction_marked_names),
            "requested_outcome": a.requested_outcome,
            "occurred_at": a.occurred_at.isoformat(),
            "consent_to_publish": a.consent_to_publish,
            "submitted_at": a.submitted_at.isoformat(),
            "events": [
                {
                    "action": e.action,
                    "to": e.to_status,
                    "role": e.role,
                    "note": e.note,
                    "at": e.at.isoformat(),
                }
                for e in a.events.all()
            ],
            "decisions": [
                {
                    "by": d.by,
                    "outcome": d.outcome,
                    "clause": d.clause_key,
                    "rationale": d.rationale,
                    "decided_at": d.decided_at.isoformat(),
                }
                for d in a.decisions.all()
            ],
        }
        for a in appeals
    ]
