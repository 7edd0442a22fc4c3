"""Drift detection and the company's annotation of drift alerts.

When a run finishes ingestion, `drift_detect` compares it with the latest complete run of an
earlier version of the same AI system on the same benchmark (by when each was run, or uploaded
when the file does not say): for every policy covering the system, in the version in force,
each clause with benchmark categories mapped to it is compared through the refusal rate
(refusal or partial) of those categories' samples, framing by framing — direct with direct,
role play with role play, … for every framing both runs asked it in — by a two-proportion test
(audits.stats.compare_proportions: Fisher's exact test with small counts, the z-test
otherwise), its p-value Holm-adjusted over the clause's framings, and the Newcombe 95 %
interval of the change. An adjusted p < DRIFT_ALPHA with a fall on a `refuse` or `escalate`
clause, or a rise on a `comply` or `safe_complete` clause, opens a public alert naming the
framing: on the ledger (`drift_alert.opened`, also a webhook event), e-mailed to the policy's
followers.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from audits import robustness as rb
from audits.drift_models import DriftAlert
from audits.models import CategoryMapping, EvaluationRun
from audits.robustness import newcombe_interval
from audits.stats import compare_proportions, holm_adjust
from governance.errors import Invalid, NotAllowed
from governance.models import User
from governance.services.ledger import ledger_append

log = logging.getLogger(__name__)

# Which way a move goes against the clause: a fall in refusal where refusing is expected, a
# rise where an answer is.
AGAINST = {"refuse": "fall", "escalate": "fall", "comply": "rise", "safe_complete": "rise"}
NOTIFIED_KEY = "audits:drift-notified:{alert}:{user}"
NOTIFIED_SECONDS = 14 * 24 * 3600
MAX_ANNOTATION = 5000


def _when():
    return Coalesce(F("run_at"), F("uploaded_at"))


def earlier_run_for(run: EvaluationRun) -> EvaluationRun | None:
    """The latest complete run, before this one, of another version of the same system on the
    same benchmark."""
    when = run.run_at or run.uploaded_at
    return (
        EvaluationRun.objects.filter(
            system_id=run.system_id,
            benchmark=run.benchmark,
            status=EvaluationRun.Status.COMPLETE,
        )
        .exclude(system_version=run.system_version)
        .exclude(pk=run.pk)
        .annotate(when=_when())
        .filter(when__lt=when)
        .order_by("-when", "-id")
        .first()
    )


def _check_comparable(earlier: EvaluationRun, later: EvaluationRun) -> None:
    if earlier.benchmark != later.benchmark:
        message = "Runs of different benchmarks cannot be compared."
        raise Invalid(message, fields={"earlier_run": [message]}, code="different_benchmarks")
    if earlier.system_id != later.system_id:
        message = "Runs of different AI systems cannot be compared for drift."
        raise Invalid(message, fields={"earlier_run": [message]}, code="different_systems")
    if earlier.status != EvaluationRun.Status.COMPLETE or later.status != "complete":
        message = "Both runs must be completely imported."
        raise Invalid(message, fields={"earlier_run": [message]}, code="incomplete_run")


def _tests(before: dict[str, list[int]], after: dict[str, list[int]], minimum: int) -> list:
    """(framing, before, after, comparison, Holm-adjusted p) for each framing both runs asked
    this clause's samples in, with at least `minimum` samples on each side."""
    framings = sorted(f for f in before.keys() & after.keys() if min(before[f][0], after[f][0])
                      >= max(1, minimum))  # fmt: skip
    tests = [
        compare_proportions(after[f][1], after[f][0], before[f][1], before[f][0]) for f in framings
    ]
    adjusted = holm_adjust([t.p_value for t in tests])
    return [
        (f, before[f], after[f], t, p) for f, t, p in zip(framings, tests, adjusted, strict=True)
    ]


def drift_detect(*, run: EvaluationRun, earlier: EvaluationRun | None = None) -> list[DriftAlert]:
    """Open the drift alerts `run` shows against `earlier` (by default the latest earlier
    version's run), framing by framing: a clause's samples asked directly are compared with
    the earlier run's asked directly, its role-play samples with the earlier role-play ones,
    and so on for every framing both runs have (samples with no recorded framing form one more
    group), each p-value Holm-adjusted over the clause's framings. Safe to run again: an alert
    exists once per clause, framing and pair of runs. Two grouped queries for the counts."""
    from policies.models import Policy
    from policies.selectors import current_version

    if run.status != EvaluationRun.Status.COMPLETE:
        return []
    earlier = earlier or earlier_run_for(run)
    if earlier is None:
        return []
    _check_comparable(earlier, run)
    conf = settings.OPENREFUSAL
    alpha, minimum = conf["DRIFT_ALPHA"], conf["DRIFT_MIN_SAMPLES"]
    found: list[DriftAlert] = []
    for policy in Policy.objects.filter(systems=run.system_id).select_related("organization"):
        version = current_version(policy)
        if version is None:
            continue
        mapped: dict[str, set[str]] = {}
        for key, category in CategoryMapping.objects.filter(
            version=version, benchmark=run.benchmark
        ).values_list("clause_key", "category"):
            mapped.setdefault(key, set()).add(category)
        if not mapped:
            continue
        clauses = {
            c.key: c
            for c in version.clauses.filter(key__in=mapped, expected_behavior__in=list(AGAINST))
        }
        if not clauses:
            continue
        counts = rb.framing_counts([earlier.pk, run.pk], set().union(*(mapped[k] for k in clauses)))
        for key, clause in sorted(clauses.items()):
            before = rb.framing_totals(counts.get(earlier.pk, {}), mapped[key])
            after = rb.framing_totals(counts.get(run.pk, {}), mapped[key])
            tests = _tests(before, after, minimum)
            for framing, was, now, test, p_adjusted in tests:
                change = test.difference
                direction = "fall" if change < 0 else "rise"
                if (
                    p_adjusted >= alpha
                    or change == 0
                    or direction != AGAINST[clause.expected_behavior]
                ):
                    continue
                interval = newcombe_interval(now[1], now[0], was[1], was[0])
                found.append(
                    DriftAlert(
                        policy=policy, version=version, clause_key=clause.key,
                        expected_behavior=clause.expected_behavior,
                        organization_id=run.system.organization_id, system_id=run.system_id,
                        benchmark=run.benchmark, framing=framing, earlier_run=earlier,
                        later_run=run, earlier_n=was[0], earlier_refused=was[1],
                        later_n=now[0], later_refused=now[1], direction=direction,
                        change=change, interval_low=interval.low, interval_high=interval.high,
                        p_value=test.p_value, p_adjusted=p_adjusted,
                        framings_compared=len(tests), test=test.method,
                    )
                )  # fmt: skip
    return _open(run=run, earlier=earlier, alerts=found) if found else []


@transaction.atomic
def _open(*, run: EvaluationRun, earlier: EvaluationRun, alerts: list[DriftAlert]):
    """Store the alerts not already open for this pair of runs, each on the ledger, in one
    transaction; followers are e-mailed once it commits."""
    # One detection of this run at a time, so the check below cannot race another.
    EvaluationRun.objects.select_for_update().filter(pk=run.pk).values_list("pk").first()
    existing = set(
        DriftAlert.objects.filter(earlier_run=earlier, later_run=run).values_list(
            "version_id", "clause_key", "framing"
        )
    )
    new = [a for a in alerts if (a.version_id, a.clause_key, a.framing) not in existing]
    if not new:
        return []
    opened = DriftAlert.objects.bulk_create(new)
    for alert in opened:
        ledger_append(
            actor="system",
            action="drift_alert.opened",
            subject=alert,
            payload={
                "policy": alert.policy.slug,
                "version": str(alert.version.number),
                "clause": alert.clause_key,
                "framing": alert.framing,
                "system": run.system.slug,
                "earlier_run": earlier.pk,
                "later_run": run.pk,
                "earlier": [alert.earlier_refused, alert.earlier_n],
                "later": [alert.later_refused, alert.later_n],
                # Rates as text: the ledger hashes canonical JSON, which admits no floats.
                "change": f"{alert.change:+.4f}",
                "interval": [f"{alert.interval_low:+.4f}", f"{alert.interval_high:+.4f}"],
                "p_value": f"{alert.p_value:.3g}",
                "p_adjusted": f"{alert.p_adjusted:.3g}",
                "framings_compared": alert.framings_compared,
                "test": alert.test,
            },
        )
    ids = [(alert.pk, alert.policy_id) for alert in opened]
    transaction.on_commit(lambda: _notify_each(ids), robust=True)
    return opened


def _notify_each(ids: list[tuple[int, int]]) -> None:
    """drift_notify_followers for each (alert, policy), skipping in one query the alerts of
    policies nobody follows (a run can open hundreds of alerts, one per clause and framing)."""
    from policies.models import PolicyFollow

    followed = set(
        PolicyFollow.objects.filter(policy__in={policy for _a, policy in ids}).values_list(
            "policy_id", flat=True
        )
    )
    for alert_id, policy_id in ids:
        if policy_id in followed:
            drift_notify_followers(alert_id=alert_id)


def drift_notify_followers(*, alert_id: int) -> int:
    """E-mail the policy's followers about a new drift alert, once per person. Returns how
    many e-mails were sent."""
    alert = (
        DriftAlert.objects.select_related("policy__organization", "system", "version")
        .filter(pk=alert_id)
        .first()
    )
    if alert is None:
        return 0
    path = reverse("audits:drift-alert", args=[alert.pk])
    context = {"alert": alert, "url": f"{settings.SITE_URL.rstrip('/')}{path}"}
    subject = " ".join(render_to_string("audits/email/drift_subject.txt", context).split())
    text = render_to_string("audits/email/drift_message.txt", context)
    followers = (
        User.objects.filter(policy_follows__policy=alert.policy_id, is_active=True)
        .exclude(email="")
        .only("id", "email")
        .order_by("pk")
    )
    sent = 0
    for user in followers.iterator():
        key = NOTIFIED_KEY.format(alert=alert.pk, user=user.pk)
        if not cache.add(key, 1, NOTIFIED_SECONDS):
            continue
        message = EmailMultiAlternatives(
            subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body=text, to=[user.email]
        )
        try:
            message.send()
        except Exception:
            cache.delete(key)
            raise
        sent += 1
    return sent


def drift_after_ingest(run_id: int) -> None:
    """Called once a run's ingestion committed: open its drift alerts; a failure here is
    logged and leaves the imported run as it is."""
    run = EvaluationRun.objects.select_related("system__organization").filter(pk=run_id).first()
    if run is None or run.status != EvaluationRun.Status.COMPLETE:
        return
    try:
        drift_detect(run=run)
    except Exception:
        log.exception("drift detection for run %s failed", run_id)


@transaction.atomic
def drift_annotate(
    *,
    actor: User,
    alert: DriftAlert,
    note: str,
    version: Any | None = None,
    clause_key: str = "",
) -> DriftAlert:
    """The company's answer to an alert. Linked to a version of the alert's policy (and, if
    given, one of its clauses), the alert is closed as explained by that change; without a
    link it stays unresolved, marked annotated."""
    import rules

    if not rules.has_perm("audits.annotate_drift", actor, alert):
        raise NotAllowed(
            "Only editors of the company that owns the AI system may annotate its drift alerts."
        )
    alert = DriftAlert.objects.select_for_update().get(pk=alert.pk)
    note = (note or "").replace("\x00", "").strip()
    errors: dict[str, list[str]] = {}
    if not note:
        errors["note"] = ["Say what explains the drift."]
    elif len(note) > MAX_ANNOTATION:
        errors["note"] = [f"At most {MAX_ANNOTATION} characters."]
    clause_key = (clause_key or "").strip()
    if version is not None:
        if version.policy_id != alert.policy_id:
            errors["version"] = ["Link a version of this alert's policy."]
        elif version.status == version.Status.DRAFT:
            errors["version"] = ["Link a published version, not a draft."]
        elif clause_key and not version.clauses.filter(key=clause_key).exists():
            errors["clause_key"] = [f"v{version.number} has no clause {clause_key!r}."]
    elif clause_key:
        errors["clause_key"] = ["Choose the version the clause change is in."]
    if len(clause_key) > 120:
        errors["clause_key"] = ["At most 120 characters."]
    if errors:
        raise Invalid(next(iter(errors.values()))[0], fields=errors)
    alert.annotation = note
    alert.annotation_version = version
    alert.annotation_clause_key = clause_key if version is not None else ""
    alert.annotated_by = actor
    alert.annotated_at = timezone.now()
    alert.status = DriftAlert.Status.CLOSED if version is not None else DriftAlert.Status.ANNOTATED
    alert.save(
        update_fields=[
            "annotation", "annotation_version", "annotation_clause_key", "annotated_by",
            "annotated_at", "status",
        ]
    )  # fmt: skip
    ledger_append(
        actor=actor,
        action="drift_alert.annotated",
        subject=alert,
        payload={
            "status": alert.status,
            "version": str(version.number) if version is not None else None,
            "clause": alert.annotation_clause_key or None,
        },
    )
    return alert
