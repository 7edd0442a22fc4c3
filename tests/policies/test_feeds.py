"""Atom feeds of published policy versions: valid XML, newest first, links to version pages, and
each entry's summary of changes with its behaviour changes; drafts never appear."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from django.urls import reverse

from policies import services
from tests.policies.conftest import POLICY_MARKDOWN

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
V2 = POLICY_MARKDOWN.replace("behavior: refuse;", "behavior: comply;")


def entries(response) -> list[ElementTree.Element]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(response.content)  # noqa: S314 — our own output
    assert root.tag == f"{ATOM}feed"
    return root.findall(f"{ATOM}entry")


@pytest.fixture
def versions(policy, published_version, publish, company_editor):
    v2 = publish(policy, "2.0.0", V2, company_editor, summary_of_changes="Bio now <allowed>.")
    return published_version, v2


def test_it_serves_an_empty_feed(client, db):
    assert entries(client.get(reverse("policies:feed"))) == []


def test_it_lists_published_versions_newest_first_with_their_changes(client, versions):
    items = entries(client.get(reverse("policies:feed")))
    assert len(items) == 2
    titles = [e.find(f"{ATOM}title").text for e in items]
    assert titles == [
        "Acme AI: Acme Assistant Usage Policy v2.0.0",
        "Acme AI: Acme Assistant Usage Policy v1.0.0",
    ]
    link = items[0].find(f"{ATOM}link").get("href")
    assert link.endswith("/policies/acme-ai/acme-assistant-usage-policy/v/2.0.0/")
    summary = items[0].find(f"{ATOM}summary")
    assert summary.get("type") == "html"
    # The text is HTML carried as escaped text: the summary is escaped once inside it.
    assert "Bio now &lt;allowed&gt;." in summary.text
    assert "weapons.bio.synthesis" in summary.text
    assert "refuse → comply" in summary.text
    assert "First published version." in items[1].find(f"{ATOM}summary").text


def test_it_never_lists_drafts(client, policy, published_version, company_editor):
    services.version_draft_create(
        actor=company_editor, policy=policy, number="9.0.0", body_markdown=V2
    )
    for path in (
        reverse("policies:feed"),
        reverse("policies:policy-feed", args=["acme-ai", policy.slug]),
    ):
        titles = [e.find(f"{ATOM}title").text for e in entries(client.get(path))]
        assert not any("9.0.0" in t for t in titles)


def test_it_serves_one_policys_feed(client, versions, other_company, outsider, publish):
    other = services.policy_create(actor=outsider, organization=other_company, title="Other")
    publish(other, "1.0.0", POLICY_MARKDOWN, outsider)
    path = reverse("policies:policy-feed", args=["acme-ai", "acme-assistant-usage-policy"])
    response = client.get(path)
    items = entries(response)
    assert len(items) == 2
    root = ElementTree.fromstring(response.content)  # noqa: S314
    assert "Acme Assistant Usage Policy" in root.find(f"{ATOM}title").text
    assert len(entries(client.get(reverse("policies:feed")))) == 3


def test_it_marks_withdrawn_versions_in_the_feed(client, versions, company_editor):
    services.version_withdraw(actor=company_editor, version=versions[1], reason="Oops.")
    items = entries(client.get(reverse("policies:feed")))
    assert items[0].find(f"{ATOM}title").text.endswith("(withdrawn)")
    assert "Withdrawn: Oops." in items[0].find(f"{ATOM}summary").text


def test_it_answers_404_for_an_unknown_policys_feed(client, db):
    path = reverse("policies:policy-feed", args=["acme-ai", "nope"])
    assert client.get(path).status_code == 404


def test_it_serves_the_feed_in_a_constant_number_of_queries(
    client, policy, company_editor, publish, django_assert_max_num_queries
):
    for n in range(10):
        body = POLICY_MARKDOWN if n % 2 == 0 else V2
        publish(policy, f"{n + 1}.0.0", body, company_editor)
    with django_assert_max_num_queries(5):
        items = entries(client.get(reverse("policies:feed")))
    assert len(items) == 10
