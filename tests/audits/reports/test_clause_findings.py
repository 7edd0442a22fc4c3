"""Findings under the clauses of a policy version page: the open count and worst severity of
published reports' findings on each clause key, in one query for the whole page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from audits import report_services as reports
from audits.report_selectors import clause_findings_extras
from tests.audits.reports.conftest import DECLARATION, finding_fields
from tests.policies.conftest import POLICY_MARKDOWN, body_with

pytestmark = pytest.mark.django_db

SEVERITIES = ["low", "medium", "high", "critical"]


def _version_url(version) -> str:
    return reverse(
        "policies:version",
        kwargs={
            "org_slug": version.policy.organization.slug,
            "policy_slug": version.policy.slug,
            "number": version.number,
        },
    )


def _badges(html: str) -> list[str]:
    return re.findall(r'<details class="clause-findings small"><summary>(.*?)</summary>', html)


@pytest.fixture
def big_version(policy, publish, company_editor, published_version):
    """Version 1.1.0 with 300 clauses, keyed c.0 … c.299."""
    clauses = [(f"c.{n}", f"Clause {n}", "refuse", f"Text {n}.") for n in range(300)]
    return publish(policy, "1.1.0", body_with(*clauses), company_editor)


def _published_report_with(auditor, company_editor, report_fields, version, findings):
    report = reports.report_create(
        actor=auditor, **(report_fields | {"versions": [version], "runs": []})
    )
    for key, severity in findings:
        reports.finding_add(
            actor=auditor,
            report=report,
            **finding_fields(
                version, None, clause_key=key, severity=severity, runs=[], sample_ids=[]
            ),
        )
    reports.report_submit(actor=auditor, report=report, **DECLARATION)
    reports.report_notify(report_id=report.pk)
    reports.report_respond(actor=company_editor, report=report, body="Noted.")
    return reports.report_publish(actor=auditor, report=report)


def test_it_prepares_a_300_clause_page_in_one_query(
    auditor, company_editor, report_fields, big_version, django_assert_num_queries
):
    findings = [(f"c.{n}", SEVERITIES[n % 4]) for n in range(0, 300, 7)]
    findings += [("c.0", "critical"), ("c.0", "low")]
    _published_report_with(auditor, company_editor, report_fields, big_version, findings)
    clauses = list(big_version.clauses.order_by("position"))
    with django_assert_num_queries(1):
        extras = clause_findings_extras(clauses)
    by_key = {c.key: extras.get(c.pk) for c in clauses}
    assert sum(1 for e in by_key.values() if e) == len(range(0, 300, 7))
    assert by_key["c.0"].open_count == 3
    assert by_key["c.0"].worst == "critical"
    assert by_key["c.14"].worst == "high"
    assert by_key["c.1"] is None


def test_the_page_costs_the_same_queries_with_one_finding_or_many(
    client_for, auditor, company_editor, report_fields, big_version, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _published_report_with(auditor, company_editor, report_fields, big_version, [("c.1", "low")])
    client = client_for(None)
    client.get(_version_url(big_version))  # warm the rendered-clauses cache
    with CaptureQueriesContext(connection) as one:
        page = client.get(_version_url(big_version)).content.decode()
    assert len(_badges(page)) == 1
    many = [(f"c.{n}", "high") for n in range(2, 300, 3)]
    _published_report_with(auditor, company_editor, report_fields, big_version, many)
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = client.get(_version_url(big_version)).content.decode()
    assert len(_badges(page)) == 1 + len(many)


def test_only_published_findings_show_and_they_follow_the_key_to_later_versions(
    client_for,
    auditor,
    company_editor,
    policy,
    publish,
    published_version,
    embargoed_report,
    finding,
):
    later = publish(policy, "1.1.0", POLICY_MARKDOWN.replace("normally", "in full"), company_editor)
    # Under embargo: no badge on either version, for anyone (the page is public).
    for version in (published_version, later):
        assert _badges(client_for(auditor).get(_version_url(version)).content.decode()) == []
    reports.report_respond(actor=company_editor, report=embargoed_report, body="Noted.")
    reports.report_publish(actor=auditor, report=embargoed_report)
    for version in (published_version, later):
        page = client_for(None).get(_version_url(version)).content.decode()
        assert len(_badges(page)) == 1, version.number
        assert "1 open audit finding · worst: critical" in _badges(page)[0]
        assert reverse("reports:finding", args=[finding.pk]) in page
    reports.finding_dispute(actor=company_editor, finding=finding, reason="Not so.")
    page = client_for(None).get(_version_url(later)).content.decode()
    assert "1 audit finding, none open" in _badges(page)[0]
    assert "disputed" in page


def test_a_finding_on_a_later_version_does_not_show_on_an_earlier_one(
    client_for, auditor, company_editor, report_fields, policy, publish, published_version
):
    later = publish(policy, "1.1.0", POLICY_MARKDOWN, company_editor)
    _published_report_with(
        auditor, company_editor, report_fields, later, [("harmless.cooking", "medium")]
    )
    assert _badges(client_for(None).get(_version_url(published_version)).content.decode()) == []
    assert len(_badges(client_for(None).get(_version_url(later)).content.decode())) == 1
