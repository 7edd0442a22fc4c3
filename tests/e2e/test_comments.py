"""Public comment in a real browser: a citizen posts, another endorses (the count changes in
place), replies and flags; a moderator hides with a public reason and the placeholder shows;
after the close the form is gone. A campaign shows once and has its own page. The comments
page, thread, flag, campaign, moderation queue and response pages pass axe."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from policies.models import Comment, CommentPeriod, Flag
from policies.services import comments as comment_services
from tests.e2e.test_policies import sign_in
from tests.factories import UserFactory
from tests.policies import conftest as policy_fixtures

system = policy_fixtures.system
policy = policy_fixtures.policy
policy_markdown = policy_fixtures.policy_markdown
publish = policy_fixtures.publish
published_version = policy_fixtures.published_version

pytestmark = pytest.mark.e2e

DOCKET = "/policies/acme-ai/acme-assistant-usage-policy/v/1.0.0/comments/"


@pytest.fixture
def period(published_version, company_editor):
    now = timezone.now()
    return comment_services.comment_period_open(
        actor=company_editor,
        version=published_version,
        opens_at=now,
        closes_at=now + timedelta(days=30),
    )


def test_it_runs_a_comment_period_in_the_browser(
    new_context, live_server, axe_check, period, citizen, outsider, moderator
):
    author = new_context()
    sign_in(author, citizen, live_server)
    page = author.new_page()
    page.goto(DOCKET)
    axe_check(page)
    page.get_by_label("Your comment").fill("Please keep answering cooking questions.")
    page.get_by_label("About").select_option("harmless.cooking")
    page.get_by_role("button", name="Post comment").click()
    page.get_by_text("Your comment is published.").wait_for()
    comment = Comment.objects.get()
    assert comment.clause.key == "harmless.cooking"

    reader = new_context()
    sign_in(reader, outsider, live_server)
    other = reader.new_page()
    other.goto(DOCKET)
    endorse = other.locator(f"#endorse-{comment.pk} button")
    endorse.click()
    other.locator(f"#endorse-{comment.pk} button[aria-pressed='true']").wait_for()
    assert other.locator(f"#endorse-{comment.pk} .endorse__count").inner_text() == "1"
    assert other.url.endswith(DOCKET)  # updated in place, no navigation
    comment.refresh_from_db()
    assert comment.endorsement_count == 1
    # And back, still in place.
    other.locator(f"#endorse-{comment.pk} button").click()
    other.locator(f"#endorse-{comment.pk} button[aria-pressed='false']").wait_for()
    assert other.locator(f"#endorse-{comment.pk} .endorse__count").inner_text() == "0"

    other.get_by_role("link", name="Reply").first.click()
    other.get_by_label("Your reply").fill("Agreed, and baking too.")
    other.get_by_role("button", name="Post reply").click()
    other.get_by_text("Agreed, and baking too.").first.wait_for()
    axe_check(other)
    other.get_by_role("link", name="Flag").first.click()
    other.get_by_label("Spam or advertising").check()
    axe_check(other)
    other.get_by_role("button", name="Send to moderators").click()
    other.get_by_text("A moderator will review").wait_for()
    assert Flag.objects.filter(comment=comment).count() == 1

    mod = new_context()
    sign_in(mod, moderator, live_server)
    queue = mod.new_page()
    queue.goto("/")
    queue.get_by_role("link", name="Moderation").click()
    queue.get_by_role("heading", name="Moderation queue").wait_for()
    axe_check(queue)
    card = queue.locator("section.card", has_text="Please keep answering cooking questions.")
    card.get_by_role("button", name="Hide").click()
    queue.get_by_text("Give a public reason: moderation is on the record.").first.wait_for()
    axe_check(queue)  # the queue with an inline error
    card = queue.locator("section.card", has_text="Please keep answering cooking questions.")
    card.get_by_label("Public reason").fill("Off-topic advertising")
    card.get_by_role("button", name="Hide").click()
    queue.get_by_text(f"Comment #{comment.pk}: hidden.").wait_for()
    page.goto(DOCKET)
    page.get_by_text("Hidden by a moderator: Off-topic advertising").wait_for()
    assert page.get_by_text("Please keep answering cooking questions.").count() == 0

    CommentPeriod.objects.filter(pk=period.pk).update(
        opens_at=timezone.now() - timedelta(days=31),
        closes_at=timezone.now() - timedelta(seconds=1),
    )
    page.goto(DOCKET)
    page.get_by_text("This comment period closed").first.wait_for()
    assert page.get_by_role("button", name="Post comment").count() == 0
    assert page.get_by_label("Your comment").count() == 0
    axe_check(page)
    page.goto(DOCKET + "responses/")
    axe_check(page)


def test_it_shows_a_campaign_once_and_on_its_own_page(
    new_context, live_server, axe_check, period, citizen
):
    for _ in range(3):
        comment_services.comment_post(
            author=UserFactory(), period=period, body="Stop refusing medical questions."
        )
    context = new_context()
    sign_in(context, citizen, live_server)
    page = context.new_page()
    page.goto(DOCKET)
    assert page.get_by_text("Stop refusing medical questions.").count() == 1
    page.get_by_role("link", name="and 2 identical comments").click()
    page.get_by_role("heading", name="Form-letter campaign: 3 comments").wait_for()
    assert page.locator("article.comment").count() == 3
    axe_check(page)


def test_it_filters_and_pages_with_htmx_and_without_javascript(
    new_context, live_server, period, citizen
):
    for i in range(30):
        comment_services.comment_post(
            author=UserFactory(), period=period, body=f"Distinct comment number {i}."
        )
    comment_services.comment_post(
        author=citizen, period=period, body="About knives.", clause_key="harmless.cooking"
    )
    for javascript in (True, False):
        page = new_context(java_script_enabled=javascript).new_page()
        page.goto(DOCKET)
        assert page.locator("#comment-list article.comment").count() == 25
        page.get_by_role("link", name="Older →").click()
        page.get_by_text("Distinct comment number 0.").wait_for()
        assert "cursor=" in page.url
        page.get_by_label("Clause").select_option("harmless.cooking")
        page.get_by_role("button", name="Apply").click()
        page.get_by_text("on the clause harmless.cooking").wait_for()
        assert page.locator("#comment-list article.comment").count() == 1
        assert "clause=harmless.cooking" in page.url


def test_it_lets_an_editor_answer_and_see_publishing_refused(
    new_context, live_server, axe_check, period, citizen, company_editor
):
    comment_services.comment_post(
        author=citizen, period=period, body="About knives.", clause_key="harmless.cooking"
    )
    CommentPeriod.objects.filter(pk=period.pk).update(
        opens_at=timezone.now() - timedelta(days=31),
        closes_at=timezone.now() - timedelta(seconds=1),
    )
    context = new_context()
    sign_in(context, company_editor, live_server)
    page = context.new_page()
    page.goto(DOCKET + "responses/")
    axe_check(page)
    page.get_by_label("Summary of the response to comments").fill("We read everything.")
    page.get_by_role("button", name="Publish the response to comments").click()
    page.get_by_text("1 of 1 required item still needs an answer").first.wait_for()
    page.get_by_label("Response", exact=True).first.fill("Knife questions stay answered.")
    page.get_by_role("button", name="Save").first.click()
    page.get_by_text("Response saved. It is public.").wait_for()
    page.get_by_label("Summary of the response to comments").fill("We read everything.")
    page.get_by_role("button", name="Publish the response to comments").click()
    page.get_by_text("The response to comments is published.").wait_for()
    page.get_by_text("100 %").first.wait_for()
