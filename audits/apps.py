from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "audits"
    verbose_name = "Evidence and audits"

    def ready(self) -> None:
        from governance.selectors.ledger import register_subject_resolver

        register_subject_resolver("evaluationrun", _run_names)
        register_subject_resolver("evaluationsample", _sample_names)
        register_subject_resolver("auditreport", _report_names)
        register_subject_resolver("finding", _finding_names)

        # Links, webhook events and dump datasets for the regulators' API.
        from audits import public_data

        public_data.register()

        # Each clause of a version page shows the verdicts of the latest mapped runs.
        from audits.selectors import clause_conformance_extras
        from policies.templatetags.policies_tags import register_clause_extra

        register_clause_extra("audits/clause_extra.html", prepare=clause_conformance_extras)

        # Open findings of published audit reports, under the clause they are on.
        from audits.report_selectors import clause_findings_extras

        register_clause_extra("audits/reports/clause_findings.html", prepare=clause_findings_extras)

        # Demo evidence for `make run` (after the policies' demo systems exist), then framings
        # and drift (issue 9), and the demo audit reports that cite the evidence (each seeder
        # looks up what it needs by name, so their order does not matter).
        from audits import (
            demo,  # noqa: F401
            demo_reports,  # noqa: F401
            robustness_demo,  # noqa: F401
        )

        register_subject_resolver("driftalert", _drift_names)


def _run_names(ids: set[int]) -> dict[int, str]:
    from audits.models import EvaluationRun

    runs = EvaluationRun.objects.filter(pk__in=ids).select_related("system")
    return {r.pk: f"Evaluation run #{r.pk}: {r.benchmark} on {r.system.name}" for r in runs}


def _sample_names(ids: set[int]) -> dict[int, str]:
    from audits.models import EvaluationSample

    samples = EvaluationSample.objects.filter(pk__in=ids)
    return {s.pk: f"Sample {s.sample_id} of run #{s.run_id}" for s in samples}


def _report_names(ids: set[int]) -> dict[int, str]:
    # The ledger is public: a report's title shows only once the report is.
    from audits.models import AuditReport

    reports = AuditReport.objects.filter(pk__in=ids).select_related("auditor", "audited")
    return {
        r.pk: f"Audit report #{r.pk}: {r.title}"
        if r.is_published
        else f"Audit report #{r.pk} by {r.auditor.name} on {r.audited.name}"
        for r in reports
    }


def _finding_names(ids: set[int]) -> dict[int, str]:
    from audits.models import Finding

    findings = Finding.objects.filter(pk__in=ids).select_related("report")
    return {
        f.pk: f"Finding {f.number} ({f.clause_key}) of audit report #{f.report_id}"
        if f.report.is_published
        else f"Finding {f.number} of audit report #{f.report_id}"
        for f in findings
    }


def _drift_names(ids: set[int]) -> dict[int, str]:
    from audits.models import DriftAlert

    alerts = DriftAlert.objects.filter(pk__in=ids).select_related("system")
    return {a.pk: f"Drift alert #{a.pk}: {a.clause_key} on {a.system.name}" for a in alerts}
