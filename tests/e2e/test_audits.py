"""Audit reports in a real browser: an accredited auditor drafts a report with a finding (a bad
clause key first, whose error shows inline) and submits it with the declaration; the company
responds privately and acknowledges the finding; the auditor publishes; the public reads the
report, the finding and the scorecard's server-drawn chart. Every page passes axe."""

from __future__ import annotations

import pytest
from django.utils import timezone

from audits import report_services
from audits.models import AuditReport, Finding
from tests.audits.reports import conftest as report_fixtures
from tests.e2e.test_policies import sign_in
from tests.policies import conftest as policy_fixtures

system = policy_fixtures.system
policy = policy_fixtures.policy
policy_markdown = policy_fixtures.policy_markdown
publish = policy_fixtures.publish
published_version = policy_fixtures.published_version
run = report_fixtures.run
report_fields = report_fixtures.report_fields
_media = report_fixtures._media  # autouse: uploads go to a temporary directory
draft_report = report_fixtures.draft_report
finding = report_fixtures.finding
embargoed_report = report_fixtures.embargoed_report
published_report = report_fixtures.published_report

pytestmark = pytest.mark.e2e


def test_an_audit_from_draft_to_publication(
    new_context, live_server, axe_check, auditor, company_editor, published_version, run
):
    today = timezone.now().date()
    context = new_context()
    sign_in(context, auditor, live_server)
    page = context.new_page()

    # The auditor drafts the report: first the company, then its scope and text.
    page.goto("/audits/new/")
    axe_check(page)
    page.get_by_label("Company audited").select_option("acme-ai")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Title").fill("Browser audit of the Acme Assistant")
    page.get_by_label(f"Acme Assistant Usage Policy {published_version.number}").check()
    page.get_by_label(f"#{run.pk} bench on Acme Assistant").check()
    page.get_by_label("Period covered: from").fill(str(today.replace(day=1).replace(month=1)))
    page.get_by_label("Period covered: to").fill(str(today))
    page.get_by_label("Overall opinion").select_option("negative")
    page.get_by_label("Summary").fill("It answers a third of bio-weapons requests.")
    page.get_by_label("Methodology").fill("Our red-team prompts, two reviewers per sample.")
    page.get_by_role("button", name="Save the draft").click()
    page.get_by_text("Only your organization sees it").wait_for()
    report = AuditReport.objects.get()
    assert page.url.endswith(f"/audits/{report.pk}/")
    axe_check(page)

    # A finding on a clause the version does not have is refused inline, then corrected.
    page.get_by_text("Add a finding").click()
    page.get_by_label("Title").fill("Complies with synthesis requests")
    page.get_by_label("Policy version").select_option(str(published_version.pk))
    page.get_by_label("Clause key").fill("no.such.clause")
    page.get_by_label("Severity").select_option("critical")
    page.get_by_label("Criterion").fill("The clause says the assistant refuses.")
    page.get_by_label("What was observed").fill("10 of 30 requests were answered.")
    page.get_by_label("Recommendation").fill("Retrain the refusals.")
    page.get_by_label("Target date").fill("2099-01-01")
    page.get_by_role("button", name="Add the finding").click()
    page.get_by_text("has no clause with the key").wait_for()
    axe_check(page)
    page.get_by_label("Clause key").fill("weapons.bio.synthesis")
    page.get_by_label("Evidence: sample ids").fill("s21\ns22")
    page.get_by_label(f"#{run.pk} bench on Acme Assistant").check()
    page.get_by_label("Withhold the cited samples").check()
    page.get_by_role("button", name="Add the finding").click()
    page.get_by_text("Finding 1 is added").wait_for()
    finding = Finding.objects.get()
    assert finding.conformance["n"] == 30

    # Submitting needs the declaration.
    page.get_by_role("button", name="Declare and submit").click()
    page.get_by_text("Error: Declare that your organization did no paid non-audit work").wait_for()
    axe_check(page)
    page.get_by_label("We did no paid non-audit work").check()
    page.get_by_label("Our fee does not depend").check()
    page.get_by_label("Relationships with the audited company").fill("None.")
    page.get_by_role("button", name="Declare and submit").click()
    page.get_by_text("The report is submitted").wait_for()
    report_services.report_notify(report_id=report.pk)  # what the worker does on commit

    # The company reads it under embargo, responds and acknowledges the finding.
    company = new_context()
    sign_in(company, company_editor, live_server)
    company_page = company.new_page()
    company_page.goto(f"/audits/{report.pk}/")
    company_page.get_by_text("Under embargo until").wait_for()
    axe_check(company_page)
    company_page.get_by_label("The company's response").fill("We accept the finding.")
    company_page.get_by_role("button", name="Respond").click()
    company_page.get_by_text("Your response is saved").wait_for()
    company_page.goto(f"/audits/findings/{finding.pk}/")
    axe_check(company_page)
    company_page.get_by_role("button", name="Acknowledge").click()
    company_page.get_by_text("Your answer to the finding is on the record").wait_for()

    # The public cannot read it yet.
    public = new_context().new_page()
    assert public.goto(f"/audits/{report.pk}/").status == 404

    # The auditor publishes after the response.
    page.goto(f"/audits/{report.pk}/")
    page.get_by_role("button", name="Publish the report now").click()
    page.get_by_text("The report is published").wait_for()

    # The public reads the report beside the response, the finding (withheld samples shown
    # only by their SHA-256) and the scorecard.
    public.goto("/audits/")
    axe_check(public)
    public.get_by_role("link", name="Browser audit of the Acme Assistant").click()
    public.get_by_text("We accept the finding.").wait_for()
    axe_check(public)
    public.get_by_role("link", name="Complies with synthesis requests").first.click()
    public.get_by_text("withheld from the public as hazardous").wait_for()
    sample = finding.samples.order_by("sample_id").first()
    assert public.get_by_text(sample.prompt_sha256).count() == 1
    assert public.get_by_text(sample.prompt, exact=True).count() == 0
    axe_check(public)
    public.goto("/audits/scorecards/acme-ai/")
    chart = public.locator("svg[role=img]")
    assert chart.count() == 1
    assert "Critical: 1 (open 0, acknowledged 1" in chart.locator("desc").text_content()
    assert chart.locator("rect.chart-status--acknowledged").count() == 1
    axe_check(public)


def test_the_audit_pages_work_without_javascript(new_context, live_server, auditor, report_fields):
    """The finding form's disclosure and every action are plain HTML forms."""
    report = report_services.report_create(actor=auditor, **report_fields)
    context = new_context(java_script_enabled=False)
    sign_in(context, auditor, live_server)
    page = context.new_page()
    page.goto(f"/audits/{report.pk}/")
    page.get_by_text("Add a finding").click()
    page.get_by_label("Title").fill("Found without JavaScript")
    page.get_by_label("Policy version").select_option(index=1)
    page.get_by_label("Clause key").fill("harmless.cooking")
    page.get_by_label("Severity").select_option("low")
    page.get_by_label("Criterion").fill("c")
    page.get_by_label("What was observed").fill("o")
    page.get_by_label("Recommendation").fill("r")
    page.get_by_label("Target date").fill("2099-01-01")
    page.get_by_role("button", name="Add the finding").click()
    page.get_by_text("Finding 1 is added").wait_for()
    assert Finding.objects.filter(report=report, title="Found without JavaScript").exists()


def test_the_company_answers_a_findings_recommendation(
    new_context, live_server, axe_check, company_editor, published_report
):
    """Publishing made the finding a recommendation; the company answers it on its page (an
    empty explanation is refused inline; the answer also works without JavaScript) and the
    finding's public page shows the answer. axe runs where JavaScript does."""
    finding = published_report.findings.get()
    public = new_context().new_page()
    public.goto(f"/audits/findings/{finding.pk}/")
    public.get_by_text("Awaiting answer").wait_for()
    axe_check(public)
    public.goto("/appeals/recommendations/?source=finding")
    public.get_by_text(f"finding {finding.number}").first.wait_for()
    axe_check(public)

    with_js = new_context()
    sign_in(with_js, company_editor, live_server)
    page = with_js.new_page()
    page.goto(f"/audits/findings/{finding.pk}/")
    page.get_by_role("link", name="its answer and the policy versions that cite it").click()
    page.get_by_text("of the audit report").wait_for()
    axe_check(page)
    page.locator("summary", has_text="Answer").click()
    page.get_by_label("Answer", exact=True).select_option("implementing_in_part")
    page.get_by_role("button", name="Answer", exact=True).click()
    page.get_by_text("The answer was not recorded").wait_for()
    assert page.get_by_text("This field is required.").count() == 1
    axe_check(page)

    no_js = new_context(java_script_enabled=False)
    sign_in(no_js, company_editor, live_server)
    page = no_js.new_page()
    page.goto(f"/appeals/recommendations/{finding.appeals_recommendation.pk}/")
    page.locator("summary", has_text="Answer").click()
    page.get_by_label("Answer", exact=True).select_option("implementing_in_part")
    page.get_by_label("Explanation").fill("We retrain the synthesis refusals this quarter.")
    page.get_by_role("button", name="Answer", exact=True).click()
    page.get_by_text("Your answer is on the record.").wait_for()
    public.goto(f"/audits/findings/{finding.pk}/")
    public.get_by_text("Answered: Implementing in part").wait_for()
