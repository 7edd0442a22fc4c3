"""Policies in a real browser: an editor writes a draft with the live preview (an error, then
the fix), saves and publishes it; the public version and diff pages pass axe; the copy-permalink
button puts the clause's address on the clipboard; the preview also works without JavaScript."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from policies.models import PolicyVersion
from tests.policies import conftest as policy_fixtures
from tests.policies.conftest import POLICY_MARKDOWN

# The policies fixtures, made through the services (conftest files do not reach across folders).
system = policy_fixtures.system
policy = policy_fixtures.policy
policy_markdown = policy_fixtures.policy_markdown
publish = policy_fixtures.publish
published_version = policy_fixtures.published_version

pytestmark = pytest.mark.e2e

POLICY = "/policies/acme-ai/acme-assistant-usage-policy/"
V2 = POLICY_MARKDOWN.replace("behavior: refuse;", "behavior: comply;").replace(
    "with care", "with great care"
)


def sign_in(context, user, live_server) -> None:
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )


def test_it_lets_an_editor_write_preview_save_and_publish(
    new_context, live_server, axe_check, company_editor, policy
):
    context = new_context()
    sign_in(context, company_editor, live_server)
    page = context.new_page()
    page.goto(POLICY + "draft/new/")
    assert page.locator("main h1").count() == 1
    page.get_by_label("Summary of changes").fill("First version.")
    editor = page.get_by_label("Policy text (Markdown)")
    # A clause without its behaviour line: the live preview names the line.
    editor.fill("")
    editor.press_sequentially("## Weapons {#weapons.bio}\n\nNo metadata.\n", delay=5)
    preview = page.locator("#draft-preview")
    preview.get_by_text(re.compile(r"Line 3:")).wait_for()
    assert "1 problem" in preview.inner_text()
    axe_check(page)
    # The fix: the preview follows, with the clause rendered and no problems left.
    editor.fill("")
    editor.press_sequentially(
        "## Weapons {#weapons.bio}\nbehavior: refuse; categories: weapons\n\nNever helps.\n",
        delay=5,
    )
    preview.get_by_text("no problems").wait_for()
    assert preview.locator(".behavior--refuse").count() == 1
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("is saved").first.wait_for()
    assert PolicyVersion.objects.get(policy=policy).is_draft
    page.get_by_role("link", name="Review and publish").first.click()
    axe_check(page)
    page.get_by_role("button", name="Publish v1.0.0").click()
    page.get_by_text("is published").first.wait_for()
    assert PolicyVersion.objects.get(policy=policy).status == "published"
    assert page.url.endswith(POLICY + "v/1.0.0/")


def test_it_previews_without_javascript(new_context, live_server, company_editor, policy):
    context = new_context(java_script_enabled=False)
    sign_in(context, company_editor, live_server)
    page = context.new_page()
    page.goto(POLICY + "draft/new/")
    page.get_by_label("Policy text (Markdown)").fill("## Bad {#Bad}\nbehavior: refuse\n\nx\n")
    page.get_by_role("button", name="Preview").click()
    assert page.locator("#draft-preview").get_by_text(re.compile(r"Line 1:")).is_visible()
    assert not PolicyVersion.objects.exists()


@pytest.fixture
def two_versions(policy, published_version, publish, company_editor):
    return publish(policy, "2.0.0", V2, company_editor, summary_of_changes="Loosens bio.")


def test_it_serves_accessible_public_policy_pages(page, axe_check, two_versions):
    for path in (
        "/policies/",
        POLICY,
        POLICY + "v/2.0.0/",
        POLICY + "v/1.0.0/",
        POLICY + "diff/1.0.0...2.0.0/",
        POLICY + "diff/1.0.0...2.0.0/?view=side-by-side",
        POLICY + "clauses/weapons.bio.synthesis/",
        "/organizations/acme-ai/",
    ):
        response = page.goto(path)
        assert response.status == 200, path
        assert page.locator("main h1").count() == 1, path
        axe_check(page)
    page.goto(POLICY + "diff/1.0.0...2.0.0/")
    assert "weapons.bio.synthesis" in page.locator("#headline-heading + ul").inner_text()


def test_it_copies_a_clause_permalink(new_context, live_server, two_versions):
    context = new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(POLICY + "v/2.0.0/")
    clause = page.locator('[id="weapons.bio.synthesis"]')
    button = clause.get_by_role("button", name="Copy the link to weapons.bio.synthesis")
    button.click()
    # The label changes once the clipboard write resolves: wait for it rather than read at once.
    expect(button).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{live_server.url}{POLICY}v/2.0.0/#weapons.bio.synthesis"


def test_it_keeps_the_permalink_a_plain_link_without_javascript(new_context, two_versions):
    page = new_context(java_script_enabled=False).new_page()
    page.goto(POLICY + "v/2.0.0/")
    link = page.locator('[id="weapons.bio.synthesis"] a.clause__permalink')
    assert link.get_attribute("href").endswith("/v/2.0.0/#weapons.bio.synthesis")
    assert page.locator(".copy-permalink").count() == 0
