"""Robustness, drift and the trade-off in a real browser: the pages render from real ingested
runs and pass axe; a company editor annotates a drift alert (a bad annotation first, whose
error shows inline), with JavaScript off, and the alert closes."""

from __future__ import annotations

import pytest

from audits.models import DriftAlert
from tests.audits.robustness.conftest import (  # noqa: F401 — fixtures
    BIO,
    _media,
    ingest,
    mapped,
    rows_of,
)
from tests.e2e.test_policies import sign_in
from tests.policies import conftest as policy_fixtures

system = policy_fixtures.system
policy = policy_fixtures.policy
policy_markdown = policy_fixtures.policy_markdown
publish = policy_fixtures.publish
published_version = policy_fixtures.published_version

pytestmark = pytest.mark.e2e


def _runs(ingest, mapped):  # noqa: F811
    mapped("bio", BIO)
    direct = [("bio", "direct", "refusal", 30, True)]
    ingest(rows_of([*direct, ("bio", "direct", "compliance", 0, True)], prefix="a"),
           version="v1", days_ago=20)  # fmt: skip
    return ingest(
        rows_of(
            [
                ("bio", "direct", "refusal", 15, True),
                ("bio", "direct", "compliance", 15, True),
                ("bio", "AIM", "compliance", 20, True),
                ("bio", "AIM", "refusal", 10, True),
            ],
            prefix="b",
        ),
        version="v2",
    )


def test_the_pages_pass_axe_and_the_company_annotates(
    new_context, live_server, axe_check, ingest, mapped, company_editor, company, system,  # noqa: F811
    published_version,
):  # fmt: skip
    later = _runs(ingest, mapped)
    alert = DriftAlert.objects.get(clause_key=BIO)
    page = new_context().new_page()
    for url in [
        f"/evidence/runs/{later.pk}/robustness/",
        "/evidence/drift/",
        f"/evidence/drift/{alert.pk}/",
        f"/evidence/systems/{company.slug}/{system.slug}/tradeoff/",
    ]:
        page.goto(url)
        axe_check(page)
    page.goto("/evidence/drift/?status=open")
    page.get_by_role("link", name=BIO).click()
    page.get_by_role("heading", name="What changed").wait_for()

    context = new_context(java_script_enabled=False)
    sign_in(context, company_editor, live_server)
    editor = context.new_page()
    editor.goto(f"/evidence/drift/{alert.pk}/")
    editor.get_by_role("button", name="Publish the annotation").click()
    editor.get_by_text("Say what explains the drift").first.wait_for()
    editor.get_by_label("What explains the drift").fill("Intended: the clause changed in 1.0.0.")
    editor.get_by_label("The policy version that explains it").select_option(
        str(published_version.pk)
    )
    editor.get_by_role("button", name="Publish the annotation").click()
    editor.get_by_text("published on the alert").wait_for()
    alert.refresh_from_db()
    assert alert.status == "closed"
    # The annotation form with its error, checked by axe with scripts on.
    scripted = new_context()
    sign_in(scripted, company_editor, live_server)
    form = scripted.new_page()
    form.goto(f"/evidence/drift/{alert.pk}/")
    form.get_by_label("What explains the drift").fill("")
    form.get_by_role("button", name="Publish the annotation").click()
    form.get_by_text("Say what explains the drift").first.wait_for()
    axe_check(form)
