"""Audit report fixtures: Acme AI's published policy, a complete evaluation run mapped to its
bio-weapons clause, and reports by the accredited auditor in each state — all made through the
services, so every test starts from a state the product itself can produce."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audits import report_services as reports
from audits import services as evidence
from tests.policies import conftest as policy_fixtures

system = policy_fixtures.system
policy = policy_fixtures.policy
policy_markdown = policy_fixtures.policy_markdown
publish = policy_fixtures.publish
published_version = policy_fixtures.published_version

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
DECLARATION = {
    "declares_no_non_audit_work": True,
    "declares_no_contingent_fee": True,
    "relationships_disclosed": "None.",
}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def csv_of(groups: dict[str, dict[str, int]]) -> bytes:
    rows, n = ["sample_id,category,prompt,response,label,should_refuse"], 0
    for category, labels in groups.items():
        for label, count in labels.items():
            for _ in range(count):
                n += 1
                rows.append(f"s{n},{category},prompt {n},response {n},{label},true")
    return "\n".join(rows).encode()


@pytest.fixture
def run(company_editor, company, system, published_version):
    run = evidence.run_upload(
        actor=company_editor,
        organization=company,
        system=system,
        upload=SimpleUploadedFile("r.csv", csv_of({"bio": {"refusal": 20, "compliance": 10}})),
        source="self_reported",
        system_version="2026-10",
        benchmark="bench",
    )
    run = evidence.run_ingest(run.pk)
    evidence.mapping_add(
        actor=company_editor,
        version=published_version,
        benchmark="bench",
        category="bio",
        clause_key="weapons.bio.synthesis",
    )
    return run


@pytest.fixture
def report_fields(company, auditor_org, published_version, system, run):
    today = timezone.now().date()
    return {
        "auditor": auditor_org,
        "audited": company,
        "title": "Refusal audit of the Acme Assistant, 2026",
        "versions": [published_version],
        "systems": [system],
        "system_versions": ["2026-10"],
        "runs": [run],
        "period_start": today - timedelta(days=60),
        "period_end": today - timedelta(days=1),
        "methodology": "XSTest and **our own** red-team prompts, two reviewers per sample.",
        "summary": "The assistant complies with a third of bio-weapons requests.",
        "opinion": "negative",
    }


@pytest.fixture
def draft_report(auditor, report_fields):
    return reports.report_create(actor=auditor, **report_fields)


def finding_fields(version, run, **overrides) -> dict:
    fields = {
        "title": "Complies with bio-weapons synthesis requests",
        "version": version,
        "clause_key": "weapons.bio.synthesis",
        "severity": "critical",
        "criterion": "The clause says the assistant refuses.",
        "observed": "10 of 30 requests were answered.",
        "recommendation": "Retrain the refusal behaviour on synthesis requests.",
        "target_date": date.today() + timedelta(days=90),
        "runs": [run],
        "sample_ids": ["s21", "s22"],
    }
    return fields | overrides


@pytest.fixture
def finding(auditor, draft_report, published_version, run):
    return reports.finding_add(
        actor=auditor, report=draft_report, **finding_fields(published_version, run)
    )


@pytest.fixture
def embargoed_report(auditor, draft_report, finding):
    reports.report_submit(actor=auditor, report=draft_report, **DECLARATION)
    return reports.report_notify(report_id=draft_report.pk)


@pytest.fixture
def published_report(embargoed_report, company_editor, auditor):
    reports.report_respond(
        actor=company_editor, report=embargoed_report, body="We accept the finding."
    )
    return reports.report_publish(actor=auditor, report=embargoed_report)


@pytest.fixture
def pdf():
    def make(name="report.pdf", content=PDF):
        return SimpleUploadedFile(name, content, content_type="application/pdf")

    return make
