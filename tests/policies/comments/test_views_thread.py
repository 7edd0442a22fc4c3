"""One comment's page (its thread, history, edit, withdraw, reply and the company's answer), the
endorse toggle (htmx in place, or POST/redirect/GET) and the flag page — per role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from policies.models import Comment, CommentResponse, Flag
from policies.services import comments as comment_services
from tests.factories import UserFactory
from tests.policies.comments.test_views_docket import docket_url, html_of, people

pytestmark = pytest.mark.django_db


def thread_url(comment: Comment, name: str = "comment") -> str:
    return reverse(f"policies:{name}", args=[comment.pk])


# --- The thread page ---------------------------------------------------------------------------


def test_it_shows_a_thread_to_everyone(open_period, citizen, outsider, comment, client_for):
    root = comment(citizen, open_period, "The root comment.", clause_key="harmless.cooking")
    reply = comment(outsider, open_period, "A reply to it.", parent=root)
    for reader in (None, citizen, outsider):
        response = client_for(reader).get(thread_url(root))
        assert response.status_code == 200
        html = html_of(response)
        assert "The root comment." in html
        assert "A reply to it." in html
        assert "Everyday cooking questions" in html
        assert 'id="replies"' in html
    # A reply's own address shows its whole thread.
    assert "The root comment." in html_of(client_for().get(thread_url(reply)))


def test_it_reads_a_long_thread_in_a_fixed_number_of_queries(
    open_period, citizen, comment, client_for, django_assert_max_num_queries
):
    root = comment(citizen, open_period, "Root of a busy thread.")
    comment(UserFactory(), open_period, "Root of a busy thread.")  # a campaign of two
    for author in people(12):
        comment(author, open_period, f"Reply by {author.display_name}", parent=root)
    client = client_for(citizen)
    client.get(thread_url(root))
    # The same twelve whatever the thread's length: user, comment, thread, endorsements (twice),
    # verified?, role, responses, revisions, moderation record, memberships, moderator?
    with django_assert_max_num_queries(12):
        response = client.get(thread_url(root))
    html = html_of(response)
    assert html.count('class="comment"') == 13
    assert "and 1 identical comment<" in html


def test_it_answers_404_for_unknown_and_held_comments(open_period, comment, client_for, moderator):
    newcomer = UserFactory(date_joined=timezone.now())
    held = comment(newcomer, open_period, "Held text")
    assert client_for().get(reverse("policies:comment", args=[999_999])).status_code == 404
    assert client_for(UserFactory()).get(thread_url(held)).status_code == 404
    mine = client_for(newcomer).get(thread_url(held))
    assert mine.status_code == 200
    assert "Held for review: only you and moderators see it" in html_of(mine)
    assert client_for(moderator).get(thread_url(held)).status_code == 200


def test_it_shows_moderators_the_text_of_a_hidden_comment(
    open_period, citizen, comment, client_for, moderator
):
    posted = comment(citizen, open_period, "Text a moderator hid.")
    comment_services.comment_moderate(
        moderator=moderator, comment=posted, action="hide", public_reason="Doxxing"
    )
    public = html_of(client_for().get(thread_url(posted)))
    assert "Hidden by a moderator: Doxxing" in public
    assert "Text a moderator hid." not in public
    assert "Moderation record" in public
    assert "Text a moderator hid." in html_of(client_for(moderator).get(thread_url(posted)))


def test_it_refuses_writes_to_the_thread_page(open_period, citizen, comment, client_for):
    posted = comment(citizen, open_period)
    assert client_for(citizen).post(thread_url(posted)).status_code == 405
    for name in ("comment-edit", "comment-withdraw", "comment-endorse", "comment-moderate"):
        assert client_for(citizen).get(thread_url(posted, name)).status_code == 405


# --- Edit and withdraw --------------------------------------------------------------------------


def test_it_lets_the_author_edit_within_the_window(open_period, citizen, comment, client_for):
    posted = comment(citizen, open_period, "Typo hree")
    client = client_for(citizen)
    page = html_of(client.get(thread_url(posted)))
    assert "Edit your comment" in page
    response = client.post(thread_url(posted, "comment-edit"), {"body": "Typo here"})
    assert response.status_code == 302
    page = html_of(client.get(thread_url(posted)))
    assert "Typo here" in page
    assert "Earlier text" in page
    assert "Typo hree" in page
    assert ">edited</span>" in page


def test_it_shows_edit_errors_inline(open_period, citizen, comment, client_for):
    posted = comment(citizen, open_period, "Original")
    client = client_for(citizen)
    empty = client.post(thread_url(posted, "comment-edit"), {"body": ""})
    assert empty.status_code == 400
    assert "There is a problem" in html_of(empty)
    huge = client.post(thread_url(posted, "comment-edit"), {"body": "x" * 1_000_000})
    assert huge.status_code == 400
    assert "at most 10,000 characters" in html_of(huge)
    posted.refresh_from_db()
    assert posted.body == "Original"


def test_it_refuses_edits_after_the_window(open_period, citizen, comment, client_for):
    posted = comment(citizen, open_period, "Too late to change")
    Comment.objects.filter(pk=posted.pk).update(created_at=timezone.now() - timedelta(minutes=16))
    client = client_for(citizen)
    assert "Edit your comment" not in html_of(client.get(thread_url(posted)))
    response = client.post(thread_url(posted, "comment-edit"), {"body": "Changed"})
    assert response.status_code == 409
    assert "can no longer be edited" in html_of(response)
    posted.refresh_from_db()
    assert posted.body == "Too late to change"


def test_it_lets_only_the_author_edit_or_withdraw(
    open_period, citizen, outsider, moderator, comment, client_for
):
    posted = comment(citizen, open_period, "Mine")
    for other in (outsider, moderator):
        client = client_for(other)
        assert "Edit your comment" not in html_of(client.get(thread_url(posted)))
        assert client.post(thread_url(posted, "comment-edit"), {"body": "x"}).status_code == 403
        assert client.post(thread_url(posted, "comment-withdraw")).status_code == 403
    anonymous = client_for().post(thread_url(posted, "comment-edit"), {"body": "x"})
    assert anonymous.status_code == 302
    posted.refresh_from_db()
    assert (posted.body, posted.status) == ("Mine", Comment.Status.PUBLISHED)


def test_it_withdraws_and_leaves_a_tombstone(open_period, citizen, comment, client_for):
    posted = comment(citizen, open_period, "Second thoughts")
    client = client_for(citizen)
    response = client.post(thread_url(posted, "comment-withdraw"), follow=True)
    assert "Your comment is withdrawn." in html_of(response)
    posted.refresh_from_db()
    assert posted.status == Comment.Status.WITHDRAWN
    html = html_of(client_for().get(docket_url(open_period)))
    assert "Withdrawn by its author" in html
    assert "Second thoughts" not in html
    assert "Second thoughts" not in html_of(client_for().get(thread_url(posted)))


def test_it_refuses_withdrawal_after_the_close(
    open_period, citizen, comment, client_for, shift_period
):
    posted = comment(citizen, open_period, "Stays")
    shift_period(
        open_period,
        opens_at=timezone.now() - timedelta(days=31),
        closes_at=timezone.now() - timedelta(seconds=1),
    )
    response = client_for(citizen).post(thread_url(posted, "comment-withdraw"), follow=True)
    assert "closed" in html_of(response)
    posted.refresh_from_db()
    assert posted.status == Comment.Status.PUBLISHED


# --- Replies -----------------------------------------------------------------------------------


def test_it_posts_a_reply_from_the_thread_page(open_period, citizen, outsider, comment, client_for):
    root = comment(citizen, open_period, "Root comment", clause_key="harmless.cooking")
    assert "Post reply" in html_of(client_for(outsider).get(thread_url(root)))
    response = client_for(outsider).post(
        docket_url(open_period, "comment-post"), {"body": "A reply", "parent": root.pk}
    )
    reply = Comment.objects.get(parent=root)
    assert response.status_code == 302
    assert response["Location"] == f"{thread_url(root)}#comment-{reply.pk}"
    assert reply.clause.key == "harmless.cooking"  # replies take their thread's clause
    assert "A reply" in html_of(client_for().get(thread_url(root)))
    listing = html_of(client_for().get(docket_url(open_period)))
    assert "1 reply" in listing
    assert "A reply" in listing  # the first replies show under their comment


def test_it_shows_reply_errors_on_the_thread_page(
    open_period, citizen, outsider, comment, client_for
):
    root = comment(citizen, open_period, "Root comment")
    response = client_for(outsider).post(
        docket_url(open_period, "comment-post"), {"body": "", "parent": root.pk}
    )
    assert response.status_code == 400
    html = html_of(response)
    assert "Root comment" in html
    assert "There is a problem" in html
    assert not Comment.objects.filter(parent=root).exists()


def test_it_refuses_replies_to_comments_elsewhere(
    open_period, citizen, comment, client_for, moderator
):
    root = comment(citizen, open_period, "Root")
    client = client_for(UserFactory())
    url = docket_url(open_period, "comment-post")
    for parent in ("999999", "abc", "-1", "9" * 40):
        assert client.post(url, {"body": "x", "parent": parent}).status_code == 404
    comment_services.comment_moderate(
        moderator=moderator, comment=root, action="hide", public_reason="Spam"
    )
    hidden = client.post(url, {"body": "To a hidden one", "parent": root.pk})
    assert hidden.status_code == 400
    assert "takes no replies" in html_of(hidden)
    assert Comment.objects.count() == 1


# --- Endorsements -------------------------------------------------------------------------------


def test_it_toggles_an_endorsement_in_place_with_htmx(
    open_period, citizen, outsider, comment, client_for
):
    posted = comment(citizen, open_period, "Endorse me")
    client = client_for(outsider)
    url = thread_url(posted, "comment-endorse")
    response = client.post(url, {"next": "/somewhere/"}, HTTP_HX_REQUEST="true")
    html = html_of(response)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<span id="endorse-{posted.pk}"')
    assert 'aria-pressed="true"' in html
    assert '<span class="endorse__count">1</span>' in html
    posted.refresh_from_db()
    assert posted.endorsement_count == 1
    again = html_of(client.post(url, HTTP_HX_REQUEST="true"))
    assert 'aria-pressed="false"' in again
    assert '<span class="endorse__count">0</span>' in again


def test_it_endorses_without_javascript_and_goes_back(
    open_period, citizen, outsider, comment, client_for
):
    posted = comment(citizen, open_period, "Endorse me")
    client = client_for(outsider)
    url = thread_url(posted, "comment-endorse")
    back = docket_url(open_period) + f"?sort=oldest#comment-{posted.pk}"
    response = client.post(url, {"next": back})
    assert response.status_code == 302
    assert response["Location"] == back
    offsite = client.post(url, {"next": "https://evil.example/"})
    assert offsite["Location"] == thread_url(posted)
    assert Comment.objects.get(pk=posted.pk).endorsement_count == 0


def test_it_shows_endorsement_refusals_in_place(
    open_period, citizen, comment, client_for, shift_period
):
    posted = comment(citizen, open_period, "My own")
    url = thread_url(posted, "comment-endorse")
    own = client_for(citizen).post(url, HTTP_HX_REQUEST="true")
    assert own.status_code == 200  # htmx swaps 2xx only: the message takes the button's place
    assert "You cannot endorse your own comment." in html_of(own)
    assert 'role="alert"' in html_of(own)
    shift_period(
        open_period,
        opens_at=timezone.now() - timedelta(days=31),
        closes_at=timezone.now() - timedelta(seconds=1),
    )
    late = client_for(UserFactory()).post(url, follow=True)
    assert "closed" in html_of(late)
    assert Comment.objects.get(pk=posted.pk).endorsement_count == 0


def test_it_sends_anonymous_endorsers_to_sign_in(open_period, citizen, comment, client_for):
    posted = comment(citizen, open_period)
    url = thread_url(posted, "comment-endorse")
    plain = client_for().post(url)
    assert plain.status_code == 302
    assert "/accounts/login/" in plain["Location"]
    htmx = client_for().post(url, HTTP_HX_REQUEST="true")
    assert "/accounts/login/" in htmx["HX-Redirect"]
    assert Comment.objects.get(pk=posted.pk).endorsement_count == 0


def test_it_shows_counts_but_no_button_to_readers_who_cannot_endorse(
    open_period, citizen, comment, client_for
):
    posted = comment(citizen, open_period)
    comment_services.comment_endorse(user=UserFactory(), comment=posted)
    for reader in (None, citizen):  # anonymous, and the author
        html = html_of(client_for(reader).get(thread_url(posted)))
        assert "1</span> endorsement" in html
        assert thread_url(posted, "comment-endorse") not in html


# --- Flags -------------------------------------------------------------------------------------


def test_it_flags_a_comment_for_the_moderators(
    open_period, citizen, outsider, comment, client_for, moderator
):
    posted = comment(citizen, open_period, "Buy followers now")
    url = thread_url(posted, "comment-flag")
    client = client_for(outsider)
    form = client.get(url)
    assert form.status_code == 200
    assert "Spam or advertising" in html_of(form)
    response = client.post(url, {"reason": "spam"}, follow=True)
    assert "A moderator will review this comment." in html_of(response)
    assert Flag.objects.get().reason == "spam"
    assert "Buy followers now" in html_of(
        client_for(moderator).get(reverse("policies:moderation-queue"))
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "This field is required."),
        ({"reason": "nonsense"}, "Select a valid choice"),
        ({"reason": "other", "details": ""}, "Details"),
        ({"reason": "spam", "details": "x" * 2001}, "at most 2000 characters"),
        ({"reason": "spam", "details": "nul\x00"}, "Null characters are not allowed."),
    ],
)
def test_it_shows_flag_errors_inline(
    open_period, citizen, outsider, comment, client_for, data, message
):
    posted = comment(citizen, open_period)
    response = client_for(outsider).post(thread_url(posted, "comment-flag"), data)
    assert response.status_code == 400
    assert message in html_of(response)
    assert not Flag.objects.exists()


def test_it_refuses_a_second_flag_inline(open_period, citizen, outsider, comment, client_for):
    posted = comment(citizen, open_period)
    client = client_for(outsider)
    client.post(thread_url(posted, "comment-flag"), {"reason": "spam"})
    again = client.post(thread_url(posted, "comment-flag"), {"reason": "abuse"})
    assert again.status_code == 409
    assert "You have already flagged this comment." in html_of(again)
    assert Flag.objects.count() == 1


def test_it_holds_a_comment_its_author_reports_as_not_theirs(
    open_period, citizen, comment, client_for
):
    posted = comment(citizen, open_period, "I never wrote this")
    response = client_for(citizen).post(
        thread_url(posted, "comment-flag"),
        {"reason": "not_me", "details": "Someone used my account."},
        follow=True,
    )
    assert "held from public view" in html_of(response)
    posted.refresh_from_db()
    assert posted.status == Comment.Status.HELD
    assert "I never wrote this" not in html_of(client_for().get(docket_url(open_period)))


def test_it_sends_anonymous_flaggers_to_sign_in(open_period, citizen, comment, client_for):
    posted = comment(citizen, open_period)
    response = client_for().get(thread_url(posted, "comment-flag"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- The company's answer to one comment --------------------------------------------------------


def test_it_lets_the_company_answer_a_comment_from_its_page(
    open_period, citizen, company_editor, outsider, comment, client_for
):
    posted = comment(citizen, open_period, "Why refuse knife questions?")
    assert "Respond for Acme AI" in html_of(client_for(company_editor).get(thread_url(posted)))
    for other in (None, citizen, outsider):
        assert "Respond for Acme AI" not in html_of(client_for(other).get(thread_url(posted)))
    save = docket_url(open_period, "response-save")
    data = {
        "target": "comment",
        "comment": posted.pk,
        "body": "We will not refuse them.",
        "next": thread_url(posted),
    }
    assert client_for(outsider).post(save, data).status_code == 403
    empty = client_for(company_editor).post(save, {**data, "body": ""})
    assert empty.status_code == 400
    assert "Write the response" in html_of(empty)
    assert "Why refuse knife questions?" in html_of(empty)  # shown on the comment's page
    done = client_for(company_editor).post(save, data)
    assert done.status_code == 302
    assert done["Location"] == thread_url(posted)
    assert CommentResponse.objects.get().body == "We will not refuse them."
    assert "Acme AI responds" in html_of(client_for().get(thread_url(posted)))
