"""Evidence in a real browser: a company editor uploads a result file (a bad one first, whose
error shows inline), the run page shows its status, then its figures and samples once ingested;
an auditor relabels a sample. The pages pass axe."""

from __future__ import annotations

import pytest

from audits.models import EvaluationRun, EvaluationSample
from audits.services import run_ingest
from tests.audits.helpers import fixture
from tests.e2e.test_policies import sign_in
from tests.policies import conftest as policy_fixtures

system = policy_fixtures.system
policy = policy_fixtures.policy
policy_markdown = policy_fixtures.policy_markdown
publish = policy_fixtures.publish
published_version = policy_fixtures.published_version

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_it_uploads_shows_and_relabels_a_run(
    new_context, live_server, axe_check, company_editor, auditor, published_version, tmp_path
):
    system = published_version.policy.systems.get()
    context = new_context()
    sign_in(context, company_editor, live_server)
    page = context.new_page()
    page.goto("/evidence/upload/")
    axe_check(page)
    page.get_by_label("Organization").select_option("acme-ai")
    page.get_by_label("AI system").select_option(str(system.pk))
    page.get_by_label("System version").fill("2026-10")
    page.get_by_label("Benchmark", exact=True).fill("XSTest")
    page.get_by_label("Source").select_option("self_reported")
    wrong = tmp_path / "notes.csv"
    wrong.write_text("sample_id,prompt\n1,hi\n")
    page.get_by_label("Result file").set_input_files(str(wrong))
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("missing", exact=False).first.wait_for()
    axe_check(page)
    assert not EvaluationRun.objects.exists()

    page.get_by_label("Result file").set_input_files(str(fixture("xstest_v2_completions.csv")))
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("being imported").wait_for()
    run = EvaluationRun.objects.get()
    assert page.url.endswith(f"/evidence/runs/{run.pk}/")
    run_ingest(run.pk)
    page.reload()
    page.get_by_role("heading", name="Figures").wait_for()
    axe_check(page)

    reviewer = new_context()
    sign_in(reviewer, auditor, live_server)
    review = reviewer.new_page()
    review.goto(f"/evidence/runs/{run.pk}/?label=partial")
    sample = EvaluationSample.objects.get(run=run, label="partial")
    review.get_by_label("New label").select_option("refusal")
    review.get_by_label("Why").fill("A full refusal with a pointer elsewhere.")
    review.get_by_role("button", name="Relabel").click()
    review.get_by_text("relabelled on the record").wait_for()
    sample.refresh_from_db()
    assert (sample.label, sample.label_source) == ("refusal", "human")

    # The auditor maps a category to a clause on the conformance page (axe-checked).
    review.goto(f"/evidence/runs/{run.pk}/conformance/")
    review.get_by_label("Category").select_option("homonyms")
    review.get_by_label("Clause").select_option("harmless.cooking")
    review.get_by_role("button", name="Map", exact=True).click()
    review.get_by_text("is mapped, on the record").wait_for()
    assert (
        review.locator("tbody tr")
        .filter(has_text="harmless.cooking")
        .get_by_text("homonyms")
        .is_visible()
    )
    axe_check(review)


def test_it_cancels_an_import_and_reads_the_matrix_and_a_clauses_evidence(
    new_context, live_server, axe_check, company_editor, published_version
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from audits.services import mapping_add, run_upload

    system = published_version.policy.systems.get()
    organization = published_version.policy.organization
    rows = ["sample_id,category,prompt,response,label,should_refuse"] + [
        f"s{n},bio,prompt {n},response {n},{'refusal' if n % 5 else 'compliance'},true"
        for n in range(40)
    ]
    data = "\n".join(rows).encode()
    queued = run_upload(
        actor=company_editor, organization=organization, system=system,
        upload=SimpleUploadedFile("queued.csv", data), source="self_reported",
        system_version="2026-10", benchmark="bench",
    )  # fmt: skip
    context = new_context()
    sign_in(context, company_editor, live_server)
    page = context.new_page()
    page.goto(f"/evidence/runs/{queued.pk}/")
    page.get_by_role("button", name="Cancel the import").click()
    page.get_by_text("The import is cancelled").wait_for()
    page.get_by_text(f"Cancelled by {company_editor.public_name}").wait_for()
    axe_check(page)
    queued.refresh_from_db()
    assert queued.status == EvaluationRun.Status.CANCELLED

    # The same file again (a cancelled upload may be repeated), imported this time.
    run = run_upload(
        actor=company_editor, organization=organization, system=system,
        upload=SimpleUploadedFile("again.csv", data), source="self_reported",
        system_version="2026-10", benchmark="bench",
    )  # fmt: skip
    run_ingest(run.pk)
    mapping_add(
        actor=company_editor, version=published_version, benchmark="bench", category="bio",
        clause_key="weapons.bio.synthesis",
    )  # fmt: skip
    page.goto(f"/evidence/runs/{run.pk}/")
    page.get_by_role("img", name="Refusal rate by category").wait_for()
    axe_check(page)

    policy = published_version.policy
    page.goto(f"/evidence/policies/{organization.slug}/{policy.slug}/v/1.0.0/matrix/")
    axe_check(page)
    cell = page.locator("td.c-no a")
    assert "80 %" in cell.inner_text()
    cell.click()
    page.get_by_role("heading", name="Evidence for weapons.bio.synthesis").wait_for()
    assert page.locator("article[id^=sample-]").count() == 40
    axe_check(page)
    # The version page's badge leads to the same page.
    page.goto(f"/policies/{organization.slug}/{policy.slug}/v/1.0.0/")
    page.locator(".clause-evidence a.badge").first.click()
    page.get_by_role("heading", name="Evidence for weapons.bio.synthesis").wait_for()
