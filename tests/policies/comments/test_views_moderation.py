"""The moderators' queue and moderation actions in the browser: who may see and act, the public
reason every action needs (shown inline where the moderator acted when missing), and the
header's link to the queue."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.models import User
from policies.models import Comment, Flag, ModerationAction
from policies.services import comments as comment_services
from tests.factories import UserFactory
from tests.policies.comments.test_views_docket import docket_url, html_of, people

pytestmark = pytest.mark.django_db

QUEUE = "policies:moderation-queue"


def moderate_url(comment: Comment) -> str:
    return reverse("policies:comment-moderate", args=[comment.pk])


@pytest.fixture
def held(open_period, comment):
    return comment(UserFactory(date_joined=timezone.now()), open_period, "A newcomer's comment.")


@pytest.fixture
def flagged(open_period, comment, citizen):
    posted = comment(UserFactory(), open_period, "Buy cheap followers here.")
    comment_services.comment_flag(user=citizen, comment=posted, reason="spam")
    return posted


def test_it_shows_the_queue_to_moderators_and_staff_only(
    held, flagged, client_for, moderator, staff, citizen, company_editor, outsider
):
    for user in (moderator, staff):
        response = client_for(user).get(reverse(QUEUE))
        assert response.status_code == 200
        html = html_of(response)
        # Oldest first: the held comment was posted before the flagged one.
        assert html.index("A newcomer&#x27;s comment.") < html.index("Buy cheap followers here.")
        assert "Spam or advertising" in html
        assert "(Citizen Ada," in html
    for user in (citizen, company_editor, outsider):
        assert client_for(user).get(reverse(QUEUE)).status_code == 403
    anonymous = client_for().get(reverse(QUEUE))
    assert anonymous.status_code == 302
    assert client_for(moderator).post(reverse(QUEUE)).status_code == 405


def test_it_links_moderators_to_the_queue_from_every_page(
    open_period, client_for, moderator, citizen
):
    link = f'href="{reverse(QUEUE)}"'
    assert link in html_of(client_for(moderator).get(reverse("home")))
    assert link in html_of(client_for(moderator).get(docket_url(open_period)))
    for reader in (None, citizen):
        assert link not in html_of(client_for(reader).get(reverse("home")))


def test_it_says_when_the_queue_is_empty(client_for, moderator):
    assert "Nothing to review" in html_of(client_for(moderator).get(reverse(QUEUE)))


def test_it_pages_the_queue_oldest_first(
    open_period, comment, client_for, moderator, django_assert_max_num_queries
):
    newcomers = people(55, "newcomer")
    # New accounts: their comments are held for review.
    User.objects.filter(pk__in=[u.pk for u in newcomers]).update(date_joined=timezone.now())
    newcomers = list(User.objects.filter(pk__in=[u.pk for u in newcomers]).order_by("pk"))
    posted = [comment(u, open_period, f"Held comment {i}") for i, u in enumerate(newcomers)]
    client = client_for(moderator)
    client.get(reverse(QUEUE))
    with django_assert_max_num_queries(8):
        first = html_of(client.get(reverse(QUEUE)))
    assert f"Comment #{posted[0].pk}<" in first
    assert f"Comment #{posted[50].pk}<" not in first
    assert f'?cursor={posted[49].pk}"' in first
    second = html_of(client.get(reverse(QUEUE), {"cursor": posted[49].pk}))
    assert f"Comment #{posted[50].pk}<" in second
    assert f"Comment #{posted[0].pk}<" not in second
    for bad in ("abc", "-5", "9" * 40):
        assert client.get(reverse(QUEUE), {"cursor": bad}).status_code == 200


def test_it_hides_with_a_public_reason_and_shows_the_placeholder(
    flagged, open_period, client_for, moderator
):
    response = client_for(moderator).post(
        moderate_url(flagged),
        {"action": "hide", "public_reason": "Advertising", "next": reverse(QUEUE)},
        follow=True,
    )
    assert f"Comment #{flagged.pk}: hidden." in html_of(response)
    flagged.refresh_from_db()
    assert flagged.status == Comment.Status.HIDDEN
    assert Flag.objects.get().resolved_at is not None
    html = html_of(client_for().get(docket_url(open_period)))
    assert "Hidden by a moderator: Advertising" in html
    assert "Buy cheap followers here." not in html
    # Counted in public.
    assert "1 hidden" in html


def test_it_shows_a_missing_reason_inline_on_the_queue(flagged, held, client_for, moderator):
    response = client_for(moderator).post(
        moderate_url(flagged), {"action": "hide", "public_reason": "  ", "from": "queue"}
    )
    assert response.status_code == 400
    html = html_of(response)
    card = html[html.index(f'id="queue-{flagged.pk}"') :]
    card = card[: card.index("</section>")]
    assert "Give a public reason: moderation is on the record." in card
    assert 'aria-invalid="true"' in card
    # The other cards are untouched.
    other = html[html.index(f'id="queue-{held.pk}"') :]
    assert "Give a public reason" not in other[: other.index("</section>")]
    flagged.refresh_from_db()
    assert flagged.status == Comment.Status.PUBLISHED
    assert not ModerationAction.objects.filter(comment=flagged).exists()


def test_it_shows_a_missing_reason_inline_on_the_comment_page(
    open_period, citizen, comment, client_for, moderator
):
    posted = comment(citizen, open_period, "Not flagged, not held.")
    response = client_for(moderator).post(
        moderate_url(posted), {"action": "hold", "public_reason": "", "from": "thread"}
    )
    assert response.status_code == 400
    html = html_of(response)
    assert "Not flagged, not held." in html
    assert "Give a public reason: moderation is on the record." in html


@pytest.mark.parametrize(
    ("setup", "action", "status"),
    [
        ("held", "approve", Comment.Status.PUBLISHED),
        ("held", "hide", Comment.Status.HIDDEN),
        ("flagged", "hold", Comment.Status.HELD),
        ("flagged", "dismiss", Comment.Status.PUBLISHED),
    ],
)
def test_it_applies_each_action(request, client_for, moderator, setup, action, status):
    target = request.getfixturevalue(setup)
    response = client_for(moderator).post(
        moderate_url(target), {"action": action, "public_reason": "Checked by a person"}
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.status == status
    entry = ModerationAction.objects.filter(comment=target, moderator=moderator).get()
    assert (entry.action, entry.public_reason) == (action, "Checked by a person")
    assert not Flag.objects.filter(comment=target, resolved_at__isnull=True).exists()


def test_it_restores_a_hidden_comment(flagged, client_for, moderator):
    client = client_for(moderator)
    client.post(moderate_url(flagged), {"action": "hide", "public_reason": "Spam"})
    client.post(moderate_url(flagged), {"action": "restore", "public_reason": "Was not spam"})
    flagged.refresh_from_db()
    assert flagged.status == Comment.Status.PUBLISHED
    page = html_of(client.get(reverse("policies:comment", args=[flagged.pk])))
    assert "Restored by a moderator. Reason: Was not spam" in page


def test_it_refuses_actions_that_do_not_apply_inline(flagged, client_for, moderator):
    response = client_for(moderator).post(
        moderate_url(flagged), {"action": "restore", "public_reason": "Why not"}
    )
    assert response.status_code == 409
    assert "does not apply to it" in html_of(response)
    bad = client_for(moderator).post(
        moderate_url(flagged), {"action": "delete", "public_reason": "x"}
    )
    assert bad.status_code == 400
    assert "Choose an action." in html_of(bad)
    flagged.refresh_from_db()
    assert flagged.status == Comment.Status.PUBLISHED


def test_it_lets_only_moderators_act(flagged, client_for, citizen, company_editor):
    for user in (citizen, company_editor):
        response = client_for(user).post(
            moderate_url(flagged), {"action": "hide", "public_reason": "Mine to hide?"}
        )
        assert response.status_code == 403
    assert client_for().post(moderate_url(flagged), {"action": "hide"}).status_code == 302
    flagged.refresh_from_db()
    assert flagged.status == Comment.Status.PUBLISHED


def test_it_escapes_hostile_reasons_and_flags(open_period, comment, client_for, moderator, citizen):
    posted = comment(UserFactory(), open_period, "Plain text.")
    comment_services.comment_flag(
        user=citizen, comment=posted, reason="other", details="<script>alert(1)</script>"
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_of(
        client_for(moderator).get(reverse(QUEUE))
    )
    client_for(moderator).post(
        moderate_url(posted), {"action": "hide", "public_reason": "<b>bold</b> reason"}
    )
    html = html_of(client_for().get(docket_url(open_period)))
    assert "Hidden by a moderator: &lt;b&gt;bold&lt;/b&gt; reason" in html
