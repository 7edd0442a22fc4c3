"""What the audits app tells the core about its public data (governance.public_data): links
to its ledger subjects, its webhook event types and its datasets in the nightly dumps.
Registered from AuditsConfig.ready()."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import reverse

from audits.models import AuditReport, EvaluationRun, EvaluationSample, Finding
from governance.public_data import (
    SubjectLink,
    register_dump_dataset,
    register_event_types,
    register_subject_links,
)

CHUNK = 2000

EVENT_TYPES = {
    "evaluation_run.uploaded": "An evaluation run was uploaded.",
    "evaluation_run.ingested": "An evaluation run's samples were loaded and scored.",
    "evaluation_run.failed": "An evaluation run could not be loaded (with the reason).",
    "evaluation_sample.relabelled": "An auditor or staff relabelled a sample (with a reason).",
    "category_mapping.added": "A benchmark category was mapped to a clause.",
    "category_mapping.removed": "A category mapping was removed.",
    "category_mapping.carried_forward": "Category mappings were carried to a new version.",
    "audit_report.submitted": "An auditor submitted an audit report (its hash is recorded).",
    "audit_report.embargoed": "The audited company was notified; the embargo runs.",
    "audit_report.embargo_changed": "An auditor moved a report's embargo (with a reason).",
    "audit_report.company_responded": "The audited company responded to a report.",
    "audit_report.published": "An audit report was published.",
    "finding.acknowledged": "A company acknowledged a finding.",
    "finding.remediated": "A company remediated a finding.",
    "finding.disputed": "A company disputed a finding.",
    "drift_alert.opened": "A clause's measured behaviour drifted between two system versions.",
    "drift_alert.annotated": "The company annotated a drift alert (and may link a policy change).",
}


def run_links(ids: set[int]) -> dict[int, SubjectLink]:
    rows = EvaluationRun.objects.filter(pk__in=ids).values_list("pk", "organization__slug")
    return {
        pk: SubjectLink(
            api=reverse("evaluation-run-detail", args=[pk]),
            page=reverse("audits:run", args=[pk]),
            organization=org,
        )
        for pk, org in rows
    }


def sample_links(ids: set[int]) -> dict[int, SubjectLink]:
    # A sample is read within its run.
    rows = EvaluationSample.objects.filter(pk__in=ids).values_list(
        "pk", "run_id", "run__organization__slug"
    )
    return {
        pk: SubjectLink(
            api=reverse("evaluation-run-detail", args=[run]),
            page=reverse("audits:run", args=[run]),
            organization=org,
        )
        for pk, run, org in rows
    }


def report_links(ids: set[int]) -> dict[int, SubjectLink]:
    # Under embargo a report has no public address: the feed names it, and links it once out.
    rows = AuditReport.objects.filter(pk__in=ids).values_list("pk", "status", "audited__slug")
    links = {}
    for pk, status, org in rows:
        public = status == AuditReport.Status.PUBLISHED
        links[pk] = SubjectLink(
            api=reverse("audit-report-detail", args=[pk]) if public else None,
            page=reverse("reports:detail", args=[pk]) if public else None,
            organization=org,
        )
    return links


def finding_links(ids: set[int]) -> dict[int, SubjectLink]:
    rows = Finding.objects.filter(pk__in=ids).values_list(
        "pk", "report__status", "report__audited__slug"
    )
    links = {}
    for pk, status, org in rows:
        public = status == AuditReport.Status.PUBLISHED
        links[pk] = SubjectLink(
            api=reverse("finding-detail", args=[pk]) if public else None,
            page=reverse("reports:finding", args=[pk]) if public else None,
            organization=org,
        )
    return links


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def run_rows() -> Iterator[dict[str, Any]]:
    """Every run's public description and counts (the samples stay in the API, where withheld
    prompts and responses are shown as their SHA-256)."""
    runs = EvaluationRun.objects.select_related("organization", "system").order_by("pk")
    for r in runs.iterator(chunk_size=CHUNK):
        yield {
            "id": r.pk,
            "organization": r.organization.slug,
            "system": r.system.slug,
            "system_version": r.system_version,
            "benchmark": r.benchmark,
            "benchmark_version": r.benchmark_version,
            "harness_format": r.harness_format,
            "source": r.source,
            "status": r.status,
            "error": r.error,
            "sample_count": r.sample_count,
            "label_counts": r.label_counts,
            "artifact_sha256": r.artifact_sha256,
            "run_at": _iso(r.run_at),
            "uploaded_at": _iso(r.uploaded_at),
            "finished_at": _iso(r.finished_at),
        }


def report_rows() -> Iterator[dict[str, Any]]:
    """Published audit reports only, with their findings' public fields."""
    reports = (
        AuditReport.objects.filter(status=AuditReport.Status.PUBLISHED)
        .select_related("auditor", "audited")
        .order_by("pk")
    )
    for r in reports.iterator(chunk_size=CHUNK):
        yield {
            "id": r.pk,
            "auditor": r.auditor.slug,
            "audited": r.audited.slug,
            "title": r.title,
            "opinion": r.opinion,
            "content_sha256": r.content_sha256,
            "published_at": _iso(r.published_at),
        }


def drift_links(ids: set[int]) -> dict[int, SubjectLink]:
    from audits.drift_models import DriftAlert

    rows = DriftAlert.objects.filter(pk__in=ids).values_list("pk", "organization__slug")
    return {
        pk: SubjectLink(
            api=reverse("drift-alert-detail", args=[pk]),
            page=reverse("audits:drift-alert", args=[pk]),
            organization=org,
        )
        for pk, org in rows
    }


def conformance_rows() -> Iterator[dict[str, Any]]:
    """Per completed run, per published version of a policy covering the run's system that maps
    some of the run's benchmark categories, per clause: the figures and the verdict, as
    `GET /api/v1/evaluation-runs/{id}/conformance/?version=` shows them. Streamed one
    (run, version) at a time."""
    from audits import selectors
    from audits.api import conformance_json
    from audits.models import CategoryMapping

    mapped = CategoryMapping.objects.values_list("version_id", "benchmark").distinct()
    mapped_pairs: set[tuple[int, str]] = set(mapped)
    runs = (
        EvaluationRun.objects.filter(status=EvaluationRun.Status.COMPLETE)
        .select_related("organization", "system")
        .order_by("pk")
    )
    for run in runs.iterator(chunk_size=CHUNK):
        for version in selectors.versions_for_run(run).order_by("pk"):
            if (version.pk, run.benchmark) not in mapped_pairs:
                continue
            figures = conformance_json(version, run)
            for clause in figures["clauses"]:
                yield {
                    "run": run.pk,
                    "organization": run.organization.slug,
                    "system": run.system.slug,
                    "system_version": run.system_version,
                    "benchmark": run.benchmark,
                    "source": run.source,
                    "policy_organization": version.policy.organization.slug,
                    "policy": version.policy.slug,
                    "version": version.pk,
                    "version_number": version.number,
                    **clause,
                    "thresholds": figures["thresholds"],
                }


def drift_rows() -> Iterator[dict[str, Any]]:
    """Every drift alert with the company's annotation, as `GET /api/v1/drift-alerts/{id}/`
    shows it (who annotated is not in it: the company answers, not a person)."""
    from audits.robustness_api import DriftAlertSerializer
    from audits.robustness_selectors import drift_alerts

    for alert in drift_alerts().order_by("pk").iterator(chunk_size=CHUNK):
        yield dict(DriftAlertSerializer(alert).data)


def register() -> None:
    register_subject_links("evaluationrun", run_links)
    register_subject_links("evaluationsample", sample_links)
    register_subject_links("auditreport", report_links)
    register_subject_links("finding", finding_links)
    register_subject_links("driftalert", drift_links)
    register_event_types(EVENT_TYPES)
    register_dump_dataset(
        "evaluation_runs", description="Evaluation runs and their counts.", rows=run_rows
    )
    register_dump_dataset("audit_reports", description="Published audit reports.", rows=report_rows)
    register_dump_dataset(
        "conformance",
        description="Per run, per mapped policy version, per clause: the samples' figures, the "
        "Wilson interval and the verdict.",
        rows=conformance_rows,
    )
    register_dump_dataset(
        "drift_alerts",
        description="Drift alerts on clauses between system versions, with the companies' "
        "annotations.",
        rows=drift_rows,
    )
