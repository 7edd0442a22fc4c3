"""A "submitted in my name without my consent" report reaches the moderators: each of them is
e-mailed once when it commits, the queue leads with such reports and filters to them, in the
browser and through the API."""

from __future__ import annotations

import smtplib

import pytest
from django.core import mail
from django.urls import reverse

from policies.models import Comment, Flag
from policies.selectors import comments as reads
from policies.services import comments as svc
from tests.api.test_policies import assert_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("policies:moderation-queue")
API_QUEUE = "/api/v1/moderation-queue/"


@pytest.fixture
def posted(open_period, comment, citizen):
    return comment(citizen, open_period, "Please keep refusing bioweapon synthesis.")


@pytest.fixture
def spam(open_period, comment, outsider):
    flagged = comment(UserFactory(), open_period, "Buy cheap followers here.")
    svc.comment_flag(user=outsider, comment=flagged, reason="spam")
    return flagged


def report(user, comment, details="I never wrote this; someone used my name."):
    return svc.comment_flag(user=user, comment=comment, reason="not_me", details=details)


def test_it_emails_every_moderator_once_when_the_report_commits(
    posted, outsider, moderator, staff, citizen, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True):
        flag = report(outsider, posted)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([moderator.email, staff.email])
    message = mail.outbox[0]
    assert f"comment #{posted.pk}" in message.subject
    assert "submitted in their name without their consent" in message.body
    assert "I never wrote this" in message.body
    assert f"/comments/{posted.pk}/" in message.body
    assert "moderation/?reason=not_me" in message.body
    assert citizen.email not in {m.to[0] for m in mail.outbox}  # not the accused author
    # Run again (a retry): nobody is told twice.
    assert svc.moderators_notify_not_me_report(flag_id=flag.pk) == 0
    assert len(mail.outbox) == 2


def test_the_authors_own_report_says_the_comment_is_held(posted, citizen, moderator):
    flag = report(citizen, posted)
    assert svc.moderators_notify_not_me_report(flag_id=flag.pk) == 1
    assert "held from public view" in mail.outbox[0].body
    assert Comment.objects.get(pk=posted.pk).status == Comment.Status.HELD


def test_other_flags_email_nobody(
    posted, outsider, moderator, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        svc.comment_flag(user=outsider, comment=posted, reason="spam")
    assert callbacks == []
    assert mail.outbox == []


def test_no_email_once_a_moderator_has_acted(posted, outsider, moderator):
    flag = report(outsider, posted)
    svc.comment_moderate(
        moderator=moderator, comment=posted, action="dismiss", public_reason="Checked: genuine."
    )
    assert svc.moderators_notify_not_me_report(flag_id=flag.pk) == 0
    assert svc.moderators_notify_not_me_report(flag_id=10**12) == 0
    assert mail.outbox == []


def test_a_failed_send_is_retried_for_that_moderator(posted, outsider, moderator, monkeypatch):
    flag = report(outsider, posted)

    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("down")

    with monkeypatch.context() as patch:
        patch.setattr("django.core.mail.EmailMessage.send", refuse)
        with pytest.raises(smtplib.SMTPException):
            svc.moderators_notify_not_me_report(flag_id=flag.pk)
    assert svc.moderators_notify_not_me_report(flag_id=flag.pk) == 1


def test_the_queue_leads_with_identity_reports_and_filters_to_them(
    posted, spam, outsider, client_for, moderator
):
    report(outsider, posted)
    client = client_for(moderator)
    page = client.get(QUEUE).content.decode()
    assert "1 comment reported as submitted in someone's name" in page
    assert "Identity report" in page
    assert f"queue-{spam.pk}" in page
    only = client.get(QUEUE, {"reason": "not_me"}).content.decode()
    assert f"queue-{posted.pk}" in only
    assert f"queue-{spam.pk}" not in only
    # A moderator's action from the filtered queue comes back to it.
    assert f'name="next" value="{QUEUE}?reason=not_me"' in only
    # An unknown reason shows the whole queue rather than failing.
    assert f"queue-{spam.pk}" in client.get(QUEUE, {"reason": "<b>"}).content.decode()


def test_the_selector_includes_comments_held_for_the_authors_report(
    open_period, comment, citizen, spam
):
    mine = comment(citizen, open_period, "Posted from my account, not by me.")
    report(citizen, mine)
    assert [c.pk for c in reads.moderation_queue(reason="not_me")] == [mine.pk]
    assert reads.open_report_counts() == {"spam": 1, "not_me": 1}


def test_the_api_queue_filters_by_reason(posted, spam, outsider, api_for, moderator, citizen):
    report(outsider, posted)
    body = api_for(moderator).get(API_QUEUE, {"reason": "not_me"}).json()
    assert [c["id"] for c in body["results"]] == [posted.pk]
    assert body["results"][0]["flags"][0]["reason"] == "not_me"
    assert body["results"][0]["flags"][0]["by_author"] is False
    assert body["open_reports"] == {"not_me": 1, "spam": 1}
    assert_error(api_for(moderator).get(API_QUEUE, {"reason": "nope"}), 400)
    assert_error(api_for(citizen).get(API_QUEUE, {"reason": "not_me"}), 403)
    assert Flag.objects.count() == 2
