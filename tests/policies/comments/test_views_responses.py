"""The "response to comments" page (public; answer forms and the publish button for the
company's editors), the campaign page, the Atom feed and the docket downloads."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from policies.models import CommentPeriod, CommentResponse
from tests.policies.comments.test_views_docket import docket_url, html_of, people

pytestmark = pytest.mark.django_db


@pytest.fixture
def docket(open_period, comment, settings, shift_period):
    """A period with a campaign of three letters and comments on two clauses, then closed."""
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "RESPONSE_CLUSTER_MIN": 3}
    authors = people(5)
    for author in authors[:3]:
        comment(author, open_period, "Answer cooking questions, please.")
    comment(authors[3], open_period, "Knives are kitchen tools.", clause_key="harmless.cooking")
    comment(authors[4], open_period, "Crisis lines first.", clause_key="self-harm.support")
    return open_period


def close(period: CommentPeriod, shift_period) -> CommentPeriod:
    now = timezone.now()
    return shift_period(
        period, opens_at=now - timedelta(days=31), closes_at=now - timedelta(seconds=1)
    )


def save(client, period, **data):
    return client.post(docket_url(period, "response-save"), data)


def test_it_lists_every_required_item_publicly(docket, client_for, citizen):
    for reader in (None, citizen):
        response = client_for(reader).get(docket_url(docket, "responses"))
        assert response.status_code == 200
        html = html_of(response)
        assert "Form-letter campaign #" in html
        assert "Everyday cooking questions" in html
        assert "Self-harm support" in html
        assert "0 %</strong> of 3 required items" in html
        assert html.count("No response yet") == 3
        assert "<textarea" not in html
        assert "Publish the response to comments" not in html


def test_it_gives_company_editors_answer_forms(docket, client_for, company_editor, outsider):
    html = html_of(client_for(company_editor).get(docket_url(docket, "responses")))
    assert html.count('name="body"') == 3
    assert "You can publish once the comment period closes" in html
    assert "<textarea" not in html_of(client_for(outsider).get(docket_url(docket, "responses")))


def test_it_saves_answers_and_recorded_reasons(docket, client_for, company_editor):
    client = client_for(company_editor)
    answer = save(
        client, docket, target="clause", clause="harmless.cooking", body="We will keep answering."
    )
    assert answer.status_code == 302
    reason = save(
        client,
        docket,
        target="clause",
        clause="self-harm.support",
        body="Out of scope for this version.",
        declined="on",
    )
    assert reason.status_code == 302
    html = html_of(client_for().get(docket_url(docket, "responses")))
    assert "We will keep answering." in html
    assert "Out of scope for this version." in html
    assert "Not answered, reason recorded" in html
    assert "66 %</strong> of 3 required items" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"target": "clause", "clause": "harmless.cooking", "body": ""}, "Write the response"),
        ({"target": "clause", "clause": "no.such", "body": "x"}, "has no clause"),
        ({"target": "cluster", "cluster": "999999", "body": "x"}, "Choose a campaign"),
        ({"target": "everything", "body": "x"}, "Select a valid choice"),
        (
            {"target": "clause", "clause": "harmless.cooking", "body": "x" * 20_001},
            "at most 20000 characters",
        ),
        ({"target": "clause", "clause": "harmless.cooking", "body": "nul\x00"}, "Null characters"),
    ],
)
def test_it_shows_answer_errors_inline(docket, client_for, company_editor, data, message):
    response = save(client_for(company_editor), docket, **data)
    assert response.status_code == 400
    assert message in html_of(response)
    assert not CommentResponse.objects.exists()


def test_it_shows_an_answer_error_at_its_item(docket, client_for, company_editor):
    response = save(
        client_for(company_editor), docket, target="clause", clause="harmless.cooking", body=""
    )
    html = html_of(response)
    item = html[html.index('id="clause-harmless.cooking"') :]
    assert "The response was not saved" in item[: item.index("</section>")]
    other = html[html.index('id="clause-self-harm.support"') :]
    assert "The response was not saved" not in other[: other.index("</section>")]


def test_it_refuses_answers_from_another_company_or_anonymous(
    docket, client_for, outsider, citizen
):
    for user in (outsider, citizen):
        response = save(
            client_for(user),
            docket,
            target="clause",
            clause="harmless.cooking",
            body="Not our docket",
        )
        assert response.status_code == 403
    assert save(client_for(), docket, target="clause", body="x").status_code == 302
    assert not CommentResponse.objects.exists()
    assert client_for(outsider).get(docket_url(docket, "response-save")).status_code == 405


def test_it_refuses_to_publish_while_open_or_incomplete(
    docket, client_for, company_editor, shift_period
):
    client = client_for(company_editor)
    publish = docket_url(docket, "responses-publish")
    early = client.post(publish, {"summary": "Thanks all"})
    assert early.status_code == 409
    assert "publish the response to comments after it closes" in html_of(early)
    close(docket, shift_period)
    missing = client.post(publish, {"summary": "Thanks all"})
    assert missing.status_code == 409
    assert "3 of 3 required items still need an answer" in html_of(missing)
    empty = client.post(publish, {"summary": ""})
    assert empty.status_code == 400
    docket.refresh_from_db()
    assert docket.responses_published_at is None


def test_it_publishes_a_complete_response_and_links_to_the_next_version(
    docket, client_for, company_editor, outsider, shift_period, policy, policy_markdown, publish
):
    close(docket, shift_period)
    client = client_for(company_editor)
    cluster = docket.clusters.get()
    save(client, docket, target="cluster", cluster=cluster.pk, body="We hear you.")
    save(client, docket, target="clause", clause="harmless.cooking", body="Kept as it is.")
    save(client, docket, target="clause", clause="self-harm.support", body="Clarified.")
    publish_url = docket_url(docket, "responses-publish")
    assert client_for(outsider).post(publish_url, {"summary": "x"}).status_code == 403
    response = client.post(publish_url, {"summary": "We read every comment."})
    assert response.status_code == 302
    publish(policy, "1.1.0", policy_markdown.replace("normally", "as usual"), company_editor)
    html = html_of(client_for().get(docket_url(docket, "responses")))
    assert "We read every comment." in html
    assert "100 %</strong> of 3 required items" in html
    diff = reverse("policies:diff", args=["acme-ai", policy.slug, "1.0.0", "1.1.0"])
    assert f'href="{diff}#change-harmless.cooking"' in html
    assert "<textarea" not in html_of(
        client_for(company_editor).get(docket_url(docket, "responses"))
    )
    again = client.post(publish_url, {"summary": "Twice"})
    assert again.status_code == 409


def test_it_escapes_hostile_answers(docket, client_for, company_editor):
    save(
        client_for(company_editor),
        docket,
        target="clause",
        clause="harmless.cooking",
        body="<script>alert(1)</script> https://acme.example/faq",
    )
    html = html_of(client_for().get(docket_url(docket, "responses")))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="https://acme.example/faq" rel="nofollow ugc noopener"' in html


# --- The campaign page ---------------------------------------------------------------------------


def test_it_shows_a_campaign_with_its_members_and_texts(
    open_period, comment, client_for, django_assert_max_num_queries
):
    authors = people(30)
    for author in authors:
        comment(author, open_period, "One and the same letter.")
    cluster = open_period.clusters.get()
    url = docket_url(open_period, "cluster", cluster_id=cluster.pk)
    client = client_for()
    client.get(url)
    with django_assert_max_num_queries(10):
        response = client.get(url)
    html = html_of(response)
    assert response.status_code == 200
    assert "Form-letter campaign: 30 comments" in html
    assert '<td class="variants__count">30</td>' in html
    assert html.count('class="thread"') == 25
    assert "identical comments" not in html  # members are not announced as a campaign again
    older = re.search(r'<a href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert html_of(client.get(older)).count('class="thread"') == 5


def test_it_answers_404_for_a_campaign_elsewhere(open_period, client_for):
    url = docket_url(open_period, "cluster", cluster_id=999_999)
    assert client_for().get(url).status_code == 404
    assert client_for().post(url).status_code == 405


# --- Feed and downloads -------------------------------------------------------------------------


def test_it_serves_an_atom_feed_with_escaped_text(open_period, citizen, comment, client_for):
    comment(citizen, open_period, "<script>x()</script> Read https://example.org please")
    response = client_for().get(docket_url(open_period, "comments-feed"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    body = response.content.decode()
    # The entry's HTML, itself escaped in the XML: the script is text, the link is safe.
    assert "&amp;lt;script&amp;gt;x()&amp;lt;/script&amp;gt;" in body
    assert "&lt;script&gt;" not in body
    assert '&lt;a href="https://example.org" rel="nofollow ugc noopener"&gt;' in body
    assert client_for().post(docket_url(open_period, "comments-feed")).status_code == 405


def test_it_streams_the_docket_as_csv_and_jsonl(open_period, citizen, comment, client_for):
    comment(citizen, open_period, '=HYPERLINK("https://evil.example")')
    comment(citizen, open_period, "Plain words.")
    csv = client_for().get(docket_url(open_period, "comments-export", fmt="csv"))
    assert csv.status_code == 200
    assert csv.streaming
    assert csv["Content-Type"].startswith("text/csv")
    name = "acme-assistant-usage-policy-v1.0.0-comments.csv"
    assert csv["Content-Disposition"] == f'attachment; filename="{name}"'
    text = b"".join(csv.streaming_content).decode()
    assert "Plain words." in text
    assert "'=HYPERLINK" in text  # formula cells are neutralised
    jsonl = client_for().get(docket_url(open_period, "comments-export", fmt="jsonl"))
    assert jsonl.streaming
    assert jsonl["Content-Disposition"].endswith('comments.jsonl"')
    rows = [json.loads(line) for line in b"".join(jsonl.streaming_content).splitlines()]
    assert {row["body"] for row in rows} >= {"Plain words."}
    for fmt in ("xml", "csv.exe"):
        url = docket_url(open_period, "comments") + f"export.{fmt}"
        assert client_for().get(url).status_code == 404
