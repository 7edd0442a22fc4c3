"""The demo audit reports behind `make run`, seeded by the whole `seed_demo`: a published report
with Acme's response and a finding in every status, one under embargo, idempotent, and every
page of it rendering for the people who use it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from audits.demo import seed as seed_evidence
from audits.demo_reports import EMBARGOED_TITLE, PUBLISHED_TITLE, seed_reports
from audits.models import AuditReport, CategoryMapping, Finding, FindingEvent, ReportAttachment
from audits.report_selectors import is_overdue
from governance.demo import DEMO_SEEDERS
from governance.management.commands.seed_demo import seed
from governance.models import LedgerEntry, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    seed()
    return {
        "published": AuditReport.objects.get(title=PUBLISHED_TITLE),
        "embargoed": AuditReport.objects.get(title=EMBARGOED_TITLE),
    }


def _counts() -> dict[str, int]:
    models = (AuditReport, Finding, FindingEvent, ReportAttachment, CategoryMapping, LedgerEntry)
    return {model.__name__: model.objects.count() for model in models}


def test_it_runs_after_the_evidence_seeder_and_twice_gives_the_same_result(seeded):
    assert DEMO_SEEDERS.index(seed_evidence) < DEMO_SEEDERS.index(seed_reports)
    first = _counts()
    head = LedgerEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    seed()
    assert _counts() == first
    assert LedgerEntry.objects.order_by("-seq").values_list("seq", "hash").first() == head
    assert first["AuditReport"] == 2


def test_the_published_report_has_the_response_and_a_finding_in_every_status(seeded):
    report = seeded["published"]
    assert report.status == "published"
    assert report.auditor.slug == "fair-audit"
    assert report.audited.slug == "acme-ai"
    assert report.company_response
    assert report.attachments.count() == 1
    assert {run.benchmark for run in report.runs.all()} == {"XSTest", "XSTest (inspect_evals)"}
    findings = {f.status: f for f in report.findings.select_related("version")}
    assert set(findings) == {"open", "acknowledged", "remediated", "disputed"}
    assert is_overdue(findings["open"])
    assert findings["open"].withhold_samples
    assert findings["open"].conformance["n"] > 0
    remediated = findings["remediated"]
    assert (remediated.version.number, remediated.remediated_version.number) == ("1.1.0", "2.0.0")
    assert findings["disputed"].company_response
    embargoed = seeded["embargoed"]
    assert embargoed.status == "embargoed"
    assert embargoed.findings.get().severity == "critical"


@pytest.mark.parametrize(
    ("email", "sees_embargoed"),
    [(None, False), ("citizen@example.test", False), ("auditor@fair-audit.test", True),
     ("owner@acme-ai.test", True), ("analyst@regulator.test", True)],
)  # fmt: skip
def test_every_demo_page_renders_for_its_readers(client_for, seeded, email, sees_embargoed):
    client = client_for(User.objects.get(email=email) if email else None)
    published, embargoed = seeded["published"], seeded["embargoed"]
    listing = client.get(reverse("reports:list")).content.decode()
    assert PUBLISHED_TITLE in listing
    assert (EMBARGOED_TITLE in listing) == sees_embargoed
    assert client.get(reverse("reports:detail", args=[published.pk])).status_code == 200
    code = client.get(reverse("reports:detail", args=[embargoed.pk])).status_code
    assert code == (200 if sees_embargoed else 404)
    for finding in published.findings.all():
        page = client.get(reverse("reports:finding", args=[finding.pk]))
        assert page.status_code == 200
    withheld = published.findings.get(withhold_samples=True)
    sample = withheld.samples.get()
    page = client.get(reverse("reports:finding", args=[withheld.pk])).content.decode()
    assert sample.response_sha256 in page
    assert (sample.response[:40] in page) == (email not in (None, "citizen@example.test"))
    card = client.get(reverse("reports:scorecard", args=["acme-ai"])).content.decode()
    assert "<svg" in card
    assert re.search(r"overdue \(open[^<]*</dt><dd>1</dd>", card), "one overdue finding"
    version = client.get("/policies/acme-ai/usage-policy/v/2.0.0/").content.decode()
    assert "open audit finding" in version


def test_the_scorecards_index_counts_each_company_s_findings(
    client_for, seeded, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        page = client_for(None).get(reverse("reports:scorecards")).content.decode()
    assert "Acme AI</a> — 1 published report, 4 findings: 2 open, <strong>1 overdue</strong>" in (
        page
    )
