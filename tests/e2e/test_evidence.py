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
