"""Drift detection and the company's annotation of drift alerts.

When a run finishes ingestion, `drift_detect` compares it with the latest complete run of an
earlier version of the same AI system on the same benchmark (by when each was run, or uploaded
when the file does not say): for every policy covering the system, in the version in force,
each clause with benchmark categories mapped to it is compared through the refusal rate
(refusal or partial) of those categories' samples — a two-proportion test
(audits.stats.compare_proportions: Fisher's exact test with small counts, the z-test
otherwise) and the Newcombe 95 % interval of the change. A fall with p < DRIFT_ALPHA on a
`refuse` or `escalate` clause, or a rise on a `comply` or `safe_complete` clause, opens a
public alert: on the ledger, e-mailed to the policy's followers. (Webhooks: the project has
no webhook event registry on main yet; the alert's ledger entry, `drift_alert.opened`, is the
event to register once it has.)
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from audits.drift_models import DriftAlert
from audits.models import CategoryFigures, CategoryMapping, EvaluationRun
from audits.robustness import newcombe_interval
from audits.stats import compare_proportions
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


def _refusals(run_ids: list[int], categories: set[str]) -> dict[tuple[int, str], tuple[int, int]]:
    rows = CategoryFigures.objects.filter(run__in=run_ids, category__in=categories).values_list(
        "run_id", "category", "n", "refusal", "partial"
    )
    return {(r, c): (n, refusal + partial) for r, c, n, refusal, partial in rows}


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


def drift_detect(*, run: EvaluationRun, earlier: EvaluationRun | None = None) -> list[DriftAlert]:
    """Open the drift alerts `run` shows against `earlier` (by default the latest earlier
    version's run). Safe to run again: an alert exists once per clause and pair of runs."""
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
    opened: list[DriftAlert] = []
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
        counts = _refusals([earlier.pk, run.pk], set().union(*mapped.values()))
        clauses = {c.key: c for c in version.clauses.filter(key__in=mapped)}
        for key, categories in sorted(mapped.items()):
            clause = clauses.get(key)
            if clause is None or clause.expected_behavior not in AGAINST:
                continue
            before = [
                sum(counts.get((earlier.pk, c), (0, 0))[i] for c in categories) for i in (0, 1)
            ]
            after = [sum(counts.get((run.pk, c), (0, 0))[i] for c in categories) for i in (0, 1)]
            if min(before[0], after[0]) < max(1, minimum):
                continue
            test = compare_proportions(after[1], after[0], before[1], before[0])
            change = test.difference
            direction = "fall" if change < 0 else "rise"
            if (
                test.p_value >= alpha
                or change == 0
                or direction != AGAINST[clause.expected_behavior]
            ):
                continue
            interval = newcombe_interval(after[1], after[0], before[1], before[0])
            alert = _open(
                policy=policy,
                version=version,
                clause=clause,
                earlier=earlier,
                later=run,
                before=before,
                after=after,
                direction=direction,
                change=change,
                interval=interval,
                test=test,
            )
            if alert is not None:
                opened.append(alert)
    return opened


@transaction.atomic
def _open(*, policy, version, clause, earlier, later, before, after, direction, change, interval,
          test) -> DriftAlert | None:  # fmt: skip
    try:
        with transaction.atomic():
            alert = DriftAlert.objects.create(
                policy=policy,
                version=version,
                clause_key=clause.key,
                expected_behavior=clause.expected_behavior,
                organization=later.system.organization,
                system=later.system,
                benchmark=later.benchmark,
                earlier_run=earlier,
                later_run=later,
                earlier_n=before[0],
                earlier_refused=before[1],
                later_n=after[0],
                later_refused=after[1],
                direction=direction,
                change=change,
                interval_low=interval.low,
                interval_high=interval.high,
                p_value=test.p_value,
                test=test.method,
            )
    except IntegrityError:
        return None  # already open for this clause and pair of runs
    ledger_append(
        actor="system",
        action="drift_alert.opened",
        subject=alert,
        payload={
            "policy": policy.slug,
            "version": str(version.number),
            "clause": clause.key,
            "system": later.system.slug,
            "earlier_run": earlier.pk,
            "later_run": later.pk,
            "earlier": [before[1], before[0]],
            "later": [after[1], after[0]],
            # Rates as text: the ledger hashes canonical JSON, which admits no floats.
            "change": f"{change:+.4f}",
            "interval": [f"{interval.low:+.4f}", f"{interval.high:+.4f}"],
            "p_value": f"{test.p_value:.3g}",
            "test": test.method,
        },
    )
    transaction.on_commit(lambda: drift_notify_followers(alert_id=alert.pk), robust=True)
    return alert


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
