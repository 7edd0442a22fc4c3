"""The response to comments links each item to what became of its clause in the next version:
the very change in the diff (changed, re-keyed, removed, behaviour moved), or "unchanged" where
the diff has nothing to show — in the browser and through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from policies.services import comments as svc
from tests.policies.comments.test_views_docket import docket_url, html_of, people

pytestmark = pytest.mark.django_db

NEXT_MARKDOWN = """\
# Acme Assistant Usage Policy

This policy says what the Acme assistant declines to help with, and what it must not refuse.

## Self-harm support {#self-harm.support}
behavior: safe_complete; categories: self-harm, wellbeing

The assistant answers with care, offers crisis resources and does not give methods.

## Everyday cooking questions {#harmless.cooking}
behavior: safe_complete; categories: harmless

Questions about recipes, knives and kitchen safety are answered with safety notes.
"""


@pytest.fixture
def answered(open_period, comment, company_editor, settings, shift_period):
    """A closed period: a campaign on the cooking clause, a campaign on the whole text, comments
    on all three clauses — every item answered and the document published."""
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "RESPONSE_CLUSTER_MIN": 3}
    authors = people(9)
    for author in authors[:3]:
        comment(author, open_period, "Let knives be answered.", clause_key="harmless.cooking")
    for author in authors[3:6]:
        comment(author, open_period, "Publish your refusal data.")
    comment(authors[6], open_period, "Keep this.", clause_key="weapons.bio.synthesis")
    comment(authors[7], open_period, "Crisis lines first.", clause_key="self-harm.support")
    now = timezone.now()
    shift_period(open_period, opens_at=now - timedelta(days=31), closes_at=now - timedelta(1))
    for cluster in open_period.clusters.all():
        svc.comment_response_save(
            actor=company_editor, period=open_period, target="cluster", cluster=cluster, body="Ok"
        )
    for key in ("weapons.bio.synthesis", "self-harm.support", "harmless.cooking"):
        svc.comment_response_save(
            actor=company_editor, period=open_period, target="clause", clause_key=key, body="Ok"
        )
    svc.response_document_publish(actor=company_editor, period=open_period, summary="Read all.")
    return open_period


def test_before_a_next_version_there_is_nothing_to_link(answered, client_for, api_for):
    html = html_of(client_for().get(docket_url(answered, "responses")))
    assert "/diff/" not in html
    body = api_for().get(f"/api/v1/comment-periods/{answered.pk}/responses/").json()
    assert body["next_version"] is None
    assert {item["next_version_change"] for item in body["items"]} == {None}


def test_each_item_links_to_what_became_of_its_clause(
    answered, client_for, policy, company_editor, publish
):
    publish(policy, "1.1.0", NEXT_MARKDOWN, company_editor)
    html = html_of(client_for().get(docket_url(answered, "responses")))
    diff = reverse("policies:diff", args=["acme-ai", policy.slug, "1.0.0", "1.1.0"])
    # The cooking clause and its campaign: the change, with the behaviour that moved.
    assert html.count(f'href="{diff}#change-harmless.cooking"') == 2
    assert "its expected behaviour comply → safe completion" in html
    assert "this clause was <strong>removed</strong>" in html
    assert f'href="{diff}#change-weapons.bio.synthesis"' in html
    # The diff page shows no unchanged clause: no link to an anchor that is not there.
    assert "#change-self-harm.support" not in html
    assert "This clause is unchanged in v1.1.0." in html
    # The campaign about the whole text links to the whole diff.
    assert "What changed from v1.0.0 to v1.1.0" in html
    page = html_of(client_for().get(diff))
    assert 'id="change-harmless.cooking"' in page
    assert 'id="change-weapons.bio.synthesis"' in page


def test_a_rekeyed_clause_links_to_its_new_key(
    answered, client_for, policy, company_editor, publish, policy_markdown
):
    rekeyed = policy_markdown.replace("{#harmless.cooking}", "{#harmless.kitchen}")
    publish(policy, "1.1.0", rekeyed, company_editor)
    html = html_of(client_for().get(docket_url(answered, "responses")))
    assert "was <strong>re-keyed</strong> to <code>harmless.kitchen</code>" in html
    assert "#change-harmless.kitchen" in html
    assert "#change-harmless.cooking" not in html


def test_the_api_names_the_next_version_and_each_change(
    answered, api_for, policy, company_editor, publish
):
    publish(policy, "1.1.0", NEXT_MARKDOWN, company_editor)
    body = api_for().get(f"/api/v1/comment-periods/{answered.pk}/responses/").json()
    assert body["next_version"]["number"] == "1.1.0"
    assert body["next_version"]["diff_url"].endswith(
        reverse("policies:diff", args=["acme-ai", policy.slug, "1.0.0", "1.1.0"])
    )
    by_clause = {
        (item["kind"], item["about_clause"]): item["next_version_change"] for item in body["items"]
    }
    cooking = by_clause[("clause", "harmless.cooking")]
    assert cooking["kind"] == "changed"
    assert cooking["behavior_change"] == {"from": "comply", "to": "safe_complete"}
    assert cooking["url"].endswith("#change-harmless.cooking")
    assert by_clause[("cluster", "harmless.cooking")] == cooking
    assert by_clause[("clause", "weapons.bio.synthesis")]["kind"] == "removed"
    unchanged = by_clause[("clause", "self-harm.support")]
    assert unchanged["kind"] == "unchanged"
    assert unchanged["url"] is None
    assert by_clause[("cluster", None)] is None  # a campaign on the whole text
