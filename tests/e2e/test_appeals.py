"""Appeals in a real browser: filing in four steps with JavaScript (htmx swaps each step, the
clause picker filters as one types) and without it (plain POSTs, a JSON chat export uploaded),
then the company acknowledging it. Every page passes axe."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from appeals.models import Appeal
from tests.appeals import conftest as appeal_fixtures
from tests.e2e.test_policies import sign_in

system = appeal_fixtures.system
policy = appeal_fixtures.policy
version = appeal_fixtures.version
file_appeal = appeal_fixtures.file_appeal

pytestmark = pytest.mark.e2e
WHEN = (timezone.now() - timezone.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")


def _settled(page) -> None:
    """Wait for htmx's fade-in after a swap, so axe sees the colours as they end up."""
    expect(page.locator(".htmx-added, .htmx-settling")).to_have_count(0)
    page.wait_for_timeout(250)


def _first_steps(page, system, version, *, javascript: bool) -> None:
    page.goto("/appeals/file/")
    page.get_by_label("AI system", exact=True).select_option(str(system.pk))
    page.get_by_label("Policy version", exact=True).select_option(str(version.pk))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Step 2 of 4: What happened").wait_for()
    clause = page.get_by_label("Which clause of the policy applies?")
    if javascript:
        page.get_by_label("Search the clauses").fill("cooking")
        # "I don't know which clause" and the one clause that matches.
        expect(page.locator("#id_clause option")).to_have_count(2)
    clause.select_option("harmless.cooking")
    page.get_by_label("Over-refusal: it refused something legitimate").check()
    page.get_by_label("When did it happen? (UTC)").fill(WHEN)
    page.get_by_label("What outcome do you ask for?").fill("Answer knife-safety questions.")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Step 3 of 4: The conversation").wait_for()
    _settled(page)


def test_filing_with_javascript(new_context, live_server, axe_check, citizen, system, version):
    context = new_context()
    sign_in(context, citizen, live_server)
    page = context.new_page()
    _first_steps(page, system, version, javascript=True)
    axe_check(page)
    page.get_by_label("Paste the conversation").fill(
        "User: my name is Jo Bloggs, jo@example.com. How do I hold a chef's knife?\n\n"
        "Assistant: I can't help with weapons."
    )
    page.get_by_label("Names to remove (one per line)").fill("Jo Bloggs")
    page.get_by_role("button", name="Continue").click()
    preview = page.get_by_label("Redacted transcript", exact=True)
    preview.wait_for()
    _settled(page)
    assert "[name]" in preview.inner_text()
    assert "[email]" in preview.inner_text()
    assert "Jo Bloggs" not in preview.inner_text()
    axe_check(page)
    page.get_by_role("button", name="Send the appeal").click()
    page.get_by_text("Check the redacted text, then tick this box.").first.wait_for()
    assert not Appeal.objects.exists()
    page.get_by_label("I checked the redacted text: nothing private is left in it.").check()
    page.get_by_label("Publish a redacted summary with the decision").check()
    page.get_by_role("button", name="Send the appeal").click()
    page.get_by_text("is filed").wait_for()
    appeal = Appeal.objects.get()
    assert page.url.endswith(f"/appeals/{appeal.pk}/")
    assert appeal.consent_to_publish
    assert "Jo Bloggs" not in appeal.transcript_redacted
    axe_check(page)


def test_filing_without_javascript_with_a_chat_export(
    new_context, live_server, citizen, system, version, tmp_path
):
    context = new_context(java_script_enabled=False)
    sign_in(context, citizen, live_server)
    page = context.new_page()
    _first_steps(page, system, version, javascript=False)
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    page.get_by_label("…or upload a chat export (JSON)").set_input_files(str(bad))
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("not valid JSON").first.wait_for()
    export = tmp_path / "chat.json"
    export.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "Call me on +44 20 7946 0958 about knives."},
                    {"role": "assistant", "content": "I can't help."},
                ]
            }
        )
    )
    page.get_by_label("…or upload a chat export (JSON)").set_input_files(str(export))
    page.get_by_role("button", name="Continue").click()
    preview = page.get_by_label("Redacted transcript", exact=True)
    preview.wait_for()
    assert preview.inner_text().startswith("User: Call me on [phone] about knives.")
    page.get_by_label("I checked the redacted text: nothing private is left in it.").check()
    page.get_by_role("button", name="Send the appeal").click()
    page.get_by_text("is filed").wait_for()
    appeal = Appeal.objects.get()
    assert appeal.transcript_raw.startswith("User: Call me on +44 20 7946 0958")
    assert not appeal.consent_to_publish


def test_the_company_acknowledges_and_the_public_pages_pass_axe(
    new_context, live_server, axe_check, company_editor, file_appeal, company
):
    appeal = file_appeal()
    context = new_context()
    sign_in(context, company_editor, live_server)
    page = context.new_page()
    page.goto("/appeals/review/")
    axe_check(page)
    page.get_by_role("link", name=f"#{appeal.pk}").click()
    page.locator("summary", has_text="Acknowledge").click()
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_text("Done: acknowledge.").wait_for()
    appeal.refresh_from_db()
    assert appeal.status == "acknowledged"
    axe_check(page)
    anonymous = new_context().new_page()
    for path in (
        "/appeals/",
        "/appeals/decisions/",
        "/appeals/recommendations/",
        "/appeals/workflow/",
        f"/appeals/transparency/{company.slug}/",
    ):
        anonymous.goto(path)
        axe_check(anonymous)
