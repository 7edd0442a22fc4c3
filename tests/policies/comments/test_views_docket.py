"""The comments page of a version (the docket): the period box, the comment form, the listing
with its filters, search and keyset pages, and posting from it — per role, per period state,
with bad and hostile input shown inline and never a 500."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse
from django.utils import timezone

from governance.idempotency import FORM_TOKEN_FIELD
from governance.models import User
from policies.models import Comment, CommentPeriod
from policies.services import comments as comment_services
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def docket_url(period: CommentPeriod, name: str = "comments", **kwargs) -> str:
    version = period.version
    return reverse(
        f"policies:{name}",
        kwargs={
            "org_slug": version.policy.organization.slug,
            "policy_slug": version.policy.slug,
            "number": version.number,
            **kwargs,
        },
    )


def people(n: int, prefix: str = "reader") -> list[User]:
    """`n` verified accounts, made without hashing `n` passwords."""
    users = User.objects.bulk_create(
        User(
            email=f"{prefix}{i}@example.org",
            display_name=f"{prefix.title()} {i}",
            date_joined=timezone.now() - timedelta(days=90),
        )
        for i in range(n)
    )
    EmailAddress.objects.bulk_create(
        EmailAddress(user=u, email=u.email, primary=True, verified=True) for u in users
    )
    return users


def html_of(response) -> str:
    return response.content.decode()


# --- Reading -----------------------------------------------------------------------------------


def test_it_shows_the_docket_to_anonymous_readers_with_a_sign_in_link(
    open_period, citizen, comment, client_for
):
    comment(citizen, open_period, "Keep refusing synthesis routes.")
    response = client_for().get(docket_url(open_period))
    assert response.status_code == 200
    html = html_of(response)
    assert "Keep refusing synthesis routes." in html
    assert "Citizen Ada" in html
    assert "Sign in</a> or" in html
    assert "Post comment" not in html
    assert 'type="application/atom+xml"' in html


def test_it_shows_the_form_to_verified_people(open_period, citizen, client_for):
    html = html_of(client_for(citizen).get(docket_url(open_period)))
    assert "Post comment" in html
    assert 'name="form_token"' in html
    # The clause select offers each clause of the version, and the whole version.
    assert '<option value="harmless.cooking">' in html
    assert "The whole version" in html


def test_it_asks_unverified_people_to_verify_their_address(open_period, client_for):
    html = html_of(client_for(UserFactory(verified=False)).get(docket_url(open_period)))
    assert "Verify your e-mail address</a> to comment" in html
    assert "Post comment" not in html


def test_it_offers_an_editor_to_post_on_behalf_of_their_company(
    open_period, company_editor, client_for
):
    html = html_of(client_for(company_editor).get(docket_url(open_period)))
    assert '<option value="acme-ai">On behalf of Acme AI</option>' in html
    assert "Extend the period" in html


def test_it_hides_the_extend_link_from_outsiders(open_period, outsider, citizen, client_for):
    for user in (outsider, citizen, None):
        assert "Extend the period" not in html_of(client_for(user).get(docket_url(open_period)))


def test_it_shows_the_period_box_with_counts_and_extensions(
    open_period, citizen, company_editor, company, comment, client_for, moderator
):
    comment(citizen, open_period, "Same letter for everyone.")
    comment(UserFactory(), open_period, "Same letter for everyone!")
    comment(company_editor, open_period, "From the company itself.", on_behalf_of=company)
    comment(UserFactory(date_joined=timezone.now()), open_period, "Held one.")
    hidden = comment(UserFactory(), open_period, "Rude words.")
    comment_services.comment_moderate(
        moderator=moderator, comment=hidden, action="hide", public_reason="Insults"
    )
    comment_services.comment_period_extend(
        actor=company_editor,
        period=open_period,
        closes_at=open_period.closes_at + timedelta(days=10),
        reason="A public hearing was moved.",
    )
    html = html_of(client_for().get(docket_url(open_period)))
    assert "Comments are open until" in html
    assert "Extended 1 time" in html
    assert "Reason: A public hearing was moved." in html
    stats = re.findall(r'<div class="stat"><dt>([^<]+)</dt><dd>([^<]+)</dd>', html)
    by_label = {label.split(",")[0]: value for label, value in stats}
    assert by_label["comments"] == "4"  # the held comment is not counted in public
    assert by_label["unique comments"] == "2"
    assert by_label["in 1 form-letter campaign"] == "2"
    assert by_label["from organizations"] == "1"
    assert "1 hidden, 1 awaiting review" in html


def test_it_shows_a_scheduled_period_without_a_form(open_period, citizen, client_for, shift_period):
    now = timezone.now()
    shift_period(open_period, opens_at=now + timedelta(days=2), closes_at=now + timedelta(days=40))
    html = html_of(client_for(citizen).get(docket_url(open_period)))
    assert "Commenting is not open yet." in html
    assert "Post comment" not in html


def test_it_replaces_the_form_with_a_message_after_the_close(closed_period, citizen, client_for):
    html = html_of(client_for(citizen).get(docket_url(closed_period)))
    assert "This comment period closed" in html
    assert "No more comments can be posted." in html
    assert "Post comment" not in html
    assert "of required items answered" in html


def test_it_lists_a_campaign_once_with_its_count(open_period, comment, client_for):
    first, *_ = [comment(u, open_period, "Stop refusing medical questions.") for u in people(4)]
    first.refresh_from_db()
    html = html_of(client_for().get(docket_url(open_period)))
    assert html.count("Stop refusing medical questions.") == 1
    assert "and 3 identical comments" in html
    assert docket_url(open_period, "cluster", cluster_id=first.cluster_id) in html


def test_it_keeps_the_place_of_hidden_and_withdrawn_comments(
    open_period, citizen, moderator, comment, client_for
):
    hidden = comment(UserFactory(), open_period, "An insult here.")
    gone = comment(citizen, open_period, "I changed my mind about this.")
    comment_services.comment_moderate(
        moderator=moderator, comment=hidden, action="hide", public_reason="Personal attack"
    )
    comment_services.comment_withdraw(actor=citizen, comment=gone)
    html = html_of(client_for().get(docket_url(open_period)))
    assert "Hidden by a moderator: Personal attack" in html
    assert "An insult here." not in html
    assert "Withdrawn by its author" in html
    assert "I changed my mind about this." not in html


def test_it_shows_held_comments_to_their_author_only(open_period, comment, client_for, citizen):
    newcomer = UserFactory(date_joined=timezone.now(), display_name="New Person")
    held = comment(newcomer, open_period, "Awaiting review text")
    mine = html_of(client_for(newcomer).get(docket_url(open_period)))
    assert "Your comments awaiting review" in mine
    assert reverse("policies:comment", args=[held.pk]) in mine
    for reader in (None, citizen):
        html = html_of(client_for(reader).get(docket_url(open_period)))
        assert "Awaiting review text" not in html
        assert "Your comments awaiting review" not in html


def test_it_escapes_hostile_comments_and_links_safely(open_period, citizen, comment, client_for):
    comment(
        citizen,
        open_period,
        '<script>alert("x")</script> <img src=x onerror=alert(1)> javascript:alert(2) '
        "see https://example.org/a?b=1&c=2 and www.example.com",
    )
    html = html_of(client_for().get(docket_url(open_period)))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert 'href="javascript' not in html
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow ugc noopener">' in html
    assert '<a href="http://www.example.com" rel="nofollow ugc noopener">' in html


def test_it_filters_by_clause_organization_and_search(
    open_period, citizen, company_editor, company, comment, client_for
):
    comment(citizen, open_period, "Knife skills are fine to teach.", clause_key="harmless.cooking")
    comment(citizen, open_period, "Crisis lines belong here.", clause_key="self-harm.support")
    comment(company_editor, open_period, "Our own view on pathogens.", on_behalf_of=company)
    client = client_for()
    by_clause = html_of(client.get(docket_url(open_period), {"clause": "harmless.cooking"}))
    assert "Knife skills" in by_clause
    assert "Crisis lines" not in by_clause
    orgs = html_of(client.get(docket_url(open_period), {"org": "1"}))
    assert "Our own view on pathogens." in orgs
    assert "Knife skills" not in orgs
    found = html_of(client.get(docket_url(open_period), {"q": "crisis"}))
    assert "Crisis lines belong here." in found
    assert "Knife skills" not in found
    assert "matching “crisis”" in found
    none = html_of(client.get(docket_url(open_period), {"q": "zeppelin"}))
    assert "No comment matches." in none


def test_it_sorts_by_endorsements(open_period, comment, client_for):
    authors = people(4)
    quiet = comment(authors[0], open_period, "Nobody endorses this one.")
    loud = comment(authors[1], open_period, "Everyone endorses this one.")
    for endorser in authors[2:]:
        comment_services.comment_endorse(user=endorser, comment=loud)
    html = html_of(client_for().get(docket_url(open_period), {"sort": "endorsed"}))
    assert html.index(f'id="comment-{loud.pk}"') < html.index(f'id="comment-{quiet.pk}"')
    oldest = html_of(client_for().get(docket_url(open_period), {"sort": "oldest"}))
    assert oldest.index(f'id="comment-{quiet.pk}"') < oldest.index(f'id="comment-{loud.pk}"')


def test_it_pages_with_older_and_newer_links(open_period, comment, client_for):
    posted = [comment(u, open_period, f"Distinct comment {i}") for i, u in enumerate(people(30))]
    client = client_for()
    first = html_of(client.get(docket_url(open_period)))
    assert f'id="comment-{posted[-1].pk}"' in first
    assert f'id="comment-{posted[0].pk}"' not in first
    older = re.search(r'<a href="([^"]+)" rel="next"[^>]*>Older →</a>', first)
    assert older, "the first page links to older comments"
    assert "← Newer</span>" in first  # nothing newer than the first page
    second = html_of(client.get(older.group(1).replace("&amp;", "&")))
    assert f'id="comment-{posted[0].pk}"' in second
    assert f'id="comment-{posted[-1].pk}"' not in second
    newer = re.search(r'<a href="([^"]+)" rel="prev"[^>]*>← Newer</a>', second)
    assert newer
    back = html_of(client.get(newer.group(1).replace("&amp;", "&")))
    assert f'id="comment-{posted[-1].pk}"' in back


def test_it_answers_htmx_with_the_list_partial_only(open_period, citizen, comment, client_for):
    comment(citizen, open_period, "Partial content.")
    response = client_for().get(
        docket_url(open_period),
        {"q": "partial"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="comment-list",
    )
    html = html_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="comment-list"')
    assert "Partial content." in html
    assert "<html" not in html


def test_it_gives_every_htmx_link_a_real_href(open_period, comment, client_for):
    for i, user in enumerate(people(30)):
        comment(user, open_period, f"Comment {i}")
    html = html_of(client_for().get(docket_url(open_period)))
    for tag in re.findall(r"<a [^>]*hx-get=[^>]*>", html):
        assert re.search(r'href="/[^"]+"', tag), tag
    for tag in re.findall(r"<form [^>]*hx-post=[^>]*>", html):
        assert 'method="post"' in tag, tag
        assert "action=" in tag, tag


def test_it_shows_the_first_page_for_a_broken_cursor(open_period, citizen, comment, client_for):
    comment(citizen, open_period, "Still listed.")
    response = client_for().get(docket_url(open_period), {"cursor": "not-a-cursor"})
    assert response.status_code == 200
    assert "That page link is not valid any more" in html_of(response)
    assert "Still listed." in html_of(response)


@pytest.mark.parametrize(
    "query",
    [
        "?cursor=%%%",
        "?sort=drop+table",
        "?cluster=abc",
        "?cluster=99999999999999999999999",
        "?q=" + "%26" * 300,
        "?q=%00",
        "?clause=%00",
        "?clause=" + "x" * 5000,
        "?org=yes",
        "?cursor=eyJkIjoibiIsImkiOiJ4In0",
        "?cursor=eyJkIjoibiIsImkiOjk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5fQ",
        "?q=%22unbalanced+-+OR",
    ],
)
def test_it_survives_hostile_query_strings(open_period, citizen, comment, client_for, query):
    comment(citizen, open_period, "A comment to list.")
    assert client_for().get(docket_url(open_period) + query).status_code == 200


def test_it_pins_the_listing_query_count(
    open_period, comment, client_for, citizen, django_assert_max_num_queries
):
    authors = people(34)
    for i, author in enumerate(authors[:26]):
        comment(author, open_period, f"Distinct comment number {i} about refusals")
    for author in authors[26:32]:
        comment(author, open_period, "The same form letter, word for word.")
    root = Comment.objects.filter(listed=True).order_by("id").last()
    for author in authors[32:]:
        comment(author, open_period, "A reply in the thread.", parent=root)
    comment_services.comment_endorse(user=citizen, comment=root)
    # Anonymous: policy, version, period, page, replies, clauses, extensions. Signed in: + the
    # user, e-mail verified?, memberships (for "posting as"), role (may extend?), moderator?,
    # endorsements on the page and its replies, their own held comments — on every page.
    for reader, most in ((None, 7), (citizen, 14)):
        client = client_for(reader)
        client.get(docket_url(open_period))  # warm the session and the counts' cache
        with django_assert_max_num_queries(most):
            page = client.get(docket_url(open_period))
        assert page.status_code == 200
        html = html_of(page)
        assert "and 5 identical comments" in html
        assert "A reply in the thread." in html
        assert html.count('class="thread"') == 25
        # The second page costs the same.
        older = re.search(r'<a href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
        with django_assert_max_num_queries(most):
            assert client.get(older).status_code == 200


def test_it_answers_404_without_a_period_or_for_a_hidden_draft(
    published_version, draft_version, citizen, company_editor, client_for
):
    policy = published_version.policy
    url = reverse("policies:comments", args=[policy.organization.slug, policy.slug, "1.0.0"])
    assert client_for(citizen).get(url).status_code == 404
    draft = reverse("policies:comments", args=[policy.organization.slug, policy.slug, "1.1.0"])
    assert client_for(citizen).get(draft).status_code == 404
    assert client_for(company_editor).get(draft).status_code == 404


def test_it_refuses_writes_to_the_listing(open_period, citizen, client_for):
    assert client_for(citizen).post(docket_url(open_period)).status_code == 405
    assert client_for(citizen).get(docket_url(open_period, "comment-post")).status_code == 405


# --- Posting -------------------------------------------------------------------------------------


def test_it_posts_a_comment_on_a_clause(open_period, citizen, client_for):
    client = client_for(citizen)
    response = client.post(
        docket_url(open_period, "comment-post"),
        {"body": "Please answer medical questions.", "clause": "self-harm.support"},
    )
    posted = Comment.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"#comment-{posted.pk}")
    assert posted.clause.key == "self-harm.support"
    assert posted.author == citizen
    page = client.get(response["Location"])
    assert "Your comment is published." in html_of(page)


def test_it_posts_once_per_form_token(open_period, citizen, client_for):
    client = client_for(citizen)
    data = {"body": "Only once, please.", FORM_TOKEN_FIELD: "5b1f7b36-7c1e-4f57-9a53-b1f1b0e3b0a1"}
    assert client.post(docket_url(open_period, "comment-post"), data).status_code == 302
    again = client.post(docket_url(open_period, "comment-post"), data)
    assert again.status_code == 302
    assert Comment.objects.count() == 1


def test_it_posts_on_behalf_of_the_company(open_period, company_editor, company, client_for):
    client_for(company_editor).post(
        docket_url(open_period, "comment-post"),
        {"body": "Acme's own position.", "on_behalf_of": "acme-ai"},
    )
    assert Comment.objects.get().on_behalf_of == company
    html = html_of(client_for().get(docket_url(open_period)))
    assert "posted by Acme Editor" in html


def test_it_refuses_to_post_on_behalf_of_someone_elses_organization(
    open_period, citizen, outsider, client_for
):
    for user in (citizen, outsider):
        response = client_for(user).post(
            docket_url(open_period, "comment-post"),
            {"body": "Pretending to be Acme.", "on_behalf_of": "acme-ai"},
        )
        assert response.status_code == 400
        assert "Select a valid choice" in html_of(response)
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"body": ""}, "This field is required."),
        ({"body": "   \n  "}, "This field is required."),
        ({"body": "x" * 10_001}, "at most 10,000 characters (this one has 10,001)"),
        ({"body": "x" * 1_000_000}, "at most 10,000 characters"),
        ({"body": "null \x00 byte"}, "Null characters are not allowed."),
        ({"body": " ".join(f"https://e{i}.example" for i in range(11))}, "at most 10 links"),
        ({"body": "Fine.", "clause": "no.such.clause"}, "Select a valid choice"),
    ],
)
def test_it_shows_bad_comments_inline(open_period, citizen, client_for, data, message):
    response = client_for(citizen).post(docket_url(open_period, "comment-post"), data)
    assert response.status_code == 400
    html = html_of(response)
    assert "There is a problem" in html
    assert message in html
    assert 'aria-invalid="true"' in html
    # Shown again at the POST's address, the page still searches and pages the docket.
    assert f'<form method="get" action="{docket_url(open_period)}"' in html
    assert not Comment.objects.exists()


def test_it_sends_anonymous_posts_to_sign_in(open_period, client_for):
    response = client_for().post(docket_url(open_period, "comment-post"), {"body": "Hello"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert not Comment.objects.exists()


def test_it_refuses_unverified_accounts_with_a_message(open_period, client_for):
    response = client_for(UserFactory(verified=False)).post(
        docket_url(open_period, "comment-post"), {"body": "Hello"}
    )
    assert response.status_code == 403
    assert "Verify your e-mail address to comment." in html_of(response)
    assert not Comment.objects.exists()


def test_it_refuses_comments_after_the_close(closed_period, citizen, client_for):
    response = client_for(citizen).post(docket_url(closed_period, "comment-post"), {"body": "x"})
    assert response.status_code == 409
    assert "This comment period closed on" in html_of(response)
    assert not Comment.objects.exists()


def test_it_refuses_comments_before_the_opening(open_period, citizen, client_for, shift_period):
    now = timezone.now()
    shift_period(open_period, opens_at=now + timedelta(hours=1), closes_at=now + timedelta(days=40))
    response = client_for(citizen).post(docket_url(open_period, "comment-post"), {"body": "x"})
    assert response.status_code == 409
    assert "not open yet" in html_of(response)
    assert not Comment.objects.exists()


def test_it_answers_429_with_retry_after_when_rate_limited(
    open_period, citizen, client_for, settings
):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "COMMENT_RATE_ACCOUNT": "1/minute"}
    client = client_for(citizen)
    assert client.post(docket_url(open_period, "comment-post"), {"body": "one"}).status_code == 302
    response = client.post(docket_url(open_period, "comment-post"), {"body": "two"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    html = html_of(response)
    assert "There is a problem" in html
    assert "two</textarea>" in html  # the text is kept for the next try
    assert Comment.objects.count() == 1


def test_it_tells_new_accounts_their_comment_is_held(open_period, client_for):
    newcomer = UserFactory(date_joined=timezone.now())
    response = client_for(newcomer).post(
        docket_url(open_period, "comment-post"), {"body": "My first comment."}, follow=True
    )
    assert Comment.objects.get().status == Comment.Status.HELD
    html = html_of(response)
    assert "held for a moderator" in html
    assert "Your comments awaiting review" in html
