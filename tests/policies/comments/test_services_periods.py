"""Comment periods: who may open and extend them, their length and clock (at the second), the
ledger entries they write, and the "opening" / "closing" / "closed" notices sent once each."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.core.mail import EmailMessage
from django.db import connection
from django.utils import timezone

from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import LedgerEntry
from governance.selectors.ledger import ledger_subject_labels
from policies import tasks
from policies.models import CommentPeriod, CommentPeriodExtension, PolicyFollow
from policies.services import comments as svc
from policies.services import version_withdraw
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def open_for(actor, version, *, opens_at=None, days=30, **kw):
    opens_at = opens_at or timezone.now()
    return svc.comment_period_open(
        actor=actor, version=version, opens_at=opens_at, closes_at=opens_at + days * DAY, **kw
    )


# --- Opening -----------------------------------------------------------------------------------


def test_it_opens_a_period_on_the_ledger(published_version, company_editor):
    now = timezone.now()
    period = svc.comment_period_open(
        actor=company_editor, version=published_version, opens_at=now, closes_at=now + 30 * DAY
    )
    assert period.version == published_version
    assert period.opened_by == company_editor
    assert period.is_open
    assert period.extended_from is None
    entry = LedgerEntry.objects.get(action="comment_period.opened")
    assert entry.subject == f"commentperiod:{period.pk}"
    assert entry.payload == {
        "organization": "acme-ai",
        "policy": published_version.policy_id,
        "version": "1.0.0",
        "opens_at": now.isoformat(),
        "closes_at": (now + 30 * DAY).isoformat(),
    }
    labels = ledger_subject_labels([entry.subject])
    assert labels[entry.subject] == "Comment period on Acme Assistant Usage Policy v1.0.0"


def test_it_schedules_a_period_that_opens_later(published_version, company_owner):
    period = open_for(company_owner, published_version, opens_at=timezone.now() + 7 * DAY)
    assert period.state == CommentPeriod.State.SCHEDULED


@pytest.mark.parametrize(
    "persona",
    ["citizen", "company_member", "outsider", "auditor", "regulator", "moderator", "staff"],
)
def test_it_lets_only_the_companys_editors_open_a_period(request, persona, published_version):
    user = request.getfixturevalue(persona)
    with pytest.raises(NotAllowed):
        open_for(user, published_version)
    assert not CommentPeriod.objects.exists()
    assert not LedgerEntry.objects.filter(action="comment_period.opened").exists()


@pytest.mark.parametrize("user", [None, AnonymousUser()])
def test_it_refuses_anonymous_openers(published_version, user):
    with pytest.raises(NotAllowed):
        open_for(user, published_version)


def test_it_refuses_an_editor_of_an_unverified_company(published_version, company, company_editor):
    company.verified_at = None
    company.save(update_fields=["verified_at"])
    published_version.refresh_from_db()  # as a request would load it
    with pytest.raises(NotAllowed):
        open_for(company_editor, published_version)


def test_it_refuses_a_period_on_a_draft(draft_version, company_editor):
    with pytest.raises(Conflict, match="is draft"):
        open_for(company_editor, draft_version)
    assert not CommentPeriod.objects.exists()


def test_it_refuses_a_period_on_a_withdrawn_version(published_version, company_editor):
    version_withdraw(actor=company_editor, version=published_version, reason="Replaced.")
    with pytest.raises(Conflict, match="withdrawn"):
        open_for(company_editor, published_version)


def test_it_refuses_a_superseded_version(policy, published_version, company_editor, publish):
    from tests.policies.conftest import POLICY_MARKDOWN

    publish(policy, "2.0.0", POLICY_MARKDOWN.replace("normally", "gladly"), company_editor)
    with pytest.raises(Conflict, match="superseded"):
        open_for(company_editor, published_version)


def test_it_allows_one_period_per_version(published_version, company_editor):
    open_for(company_editor, published_version)
    with pytest.raises(Conflict, match="already has a comment period"):
        open_for(company_editor, published_version, opens_at=timezone.now() + DAY)
    assert CommentPeriod.objects.count() == 1


def test_it_allows_opening_up_to_five_minutes_in_the_past(published_version, company_editor):
    now = timezone.now()
    period = open_for(
        company_editor, published_version, opens_at=now - timedelta(minutes=5), now=now
    )
    assert period.opens_at == now - timedelta(minutes=5)


def test_it_refuses_opening_further_in_the_past(published_version, company_editor):
    now = timezone.now()
    with pytest.raises(Invalid) as error:
        open_for(
            company_editor, published_version, opens_at=now - timedelta(minutes=5) - SECOND, now=now
        )
    assert "opens_at" in error.value.fields


def test_it_accepts_exactly_the_minimum_length(published_version, company_editor):
    period = open_for(company_editor, published_version, days=30)
    assert period.closes_at - period.opens_at == 30 * DAY


def test_it_refuses_a_second_less_than_the_minimum(published_version, company_editor):
    now = timezone.now()
    with pytest.raises(Invalid) as error:
        svc.comment_period_open(
            actor=company_editor,
            version=published_version,
            opens_at=now,
            closes_at=now + 30 * DAY - SECOND,
        )
    assert list(error.value.fields) == ["closes_at"]
    assert "at least 30 days" in error.value.fields["closes_at"][0]
    assert not CommentPeriod.objects.exists()


def test_it_follows_the_configured_minimum(settings, published_version, company_editor):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "COMMENT_PERIOD_MIN_DAYS": 45}
    with pytest.raises(Invalid, match="at least 45 days"):
        open_for(company_editor, published_version, days=44)
    assert open_for(company_editor, published_version, days=45)


def test_it_refuses_more_than_the_maximum(published_version, company_editor):
    with pytest.raises(Invalid) as error:
        svc.comment_period_open(
            actor=company_editor,
            version=published_version,
            opens_at=timezone.now(),
            closes_at=timezone.now() + 365 * DAY + timedelta(minutes=1),
        )
    assert "at most 365 days" in error.value.fields["closes_at"][0]
    assert open_for(company_editor, published_version, days=365)


def test_it_refuses_a_close_before_the_opening(published_version, company_editor):
    now = timezone.now()
    with pytest.raises(Invalid):
        svc.comment_period_open(
            actor=company_editor, version=published_version, opens_at=now, closes_at=now - DAY
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("opens_at", "2030-01-01T00:00:00Z"),
        ("opens_at", datetime(2030, 1, 1)),  # naive: which time zone?
        ("opens_at", None),
        ("closes_at", "next month"),
        ("closes_at", 1_900_000_000),
    ],
)
def test_it_refuses_malformed_times(published_version, company_editor, field, value):
    now = timezone.now() + DAY
    times = {"opens_at": now, "closes_at": now + 30 * DAY, field: value}
    with pytest.raises(Invalid) as error:
        svc.comment_period_open(actor=company_editor, version=published_version, **times)
    assert field in error.value.fields


# --- Extending ---------------------------------------------------------------------------------


def test_it_extends_with_a_reason_on_the_ledger(open_period, company_editor):
    first_close = open_period.closes_at
    later = first_close + 7 * DAY
    period = svc.comment_period_extend(
        actor=company_editor, period=open_period, closes_at=later, reason="Many late requests."
    )
    assert period.closes_at == later
    assert period.extended_from == first_close
    extension = CommentPeriodExtension.objects.get()
    assert (extension.previous_closes_at, extension.new_closes_at) == (first_close, later)
    assert extension.reason == "Many late requests."
    assert extension.actor == company_editor
    entry = LedgerEntry.objects.get(action="comment_period.extended")
    assert entry.subject == f"commentperiod:{period.pk}"
    assert entry.payload == {
        "previous_closes_at": first_close.isoformat(),
        "closes_at": later.isoformat(),
        "reason": "Many late requests.",
    }


def test_it_keeps_the_first_announced_close_over_several_extensions(open_period, company_owner):
    first_close = open_period.closes_at
    svc.comment_period_extend(
        actor=company_owner, period=open_period, closes_at=first_close + DAY, reason="One."
    )
    period = svc.comment_period_extend(
        actor=company_owner, period=open_period, closes_at=first_close + 2 * DAY, reason="Two."
    )
    assert period.extended_from == first_close
    assert period.closes_at == first_close + 2 * DAY
    assert CommentPeriodExtension.objects.count() == 2


@pytest.mark.parametrize("reason", ["", "   \n ", None, "x" * 2001, "nul\x00byte", 42])
def test_it_requires_a_clean_reason_to_extend(open_period, company_editor, reason):
    with pytest.raises(Invalid) as error:
        svc.comment_period_extend(
            actor=company_editor,
            period=open_period,
            closes_at=open_period.closes_at + DAY,
            reason=reason,
        )
    assert "reason" in error.value.fields
    assert not CommentPeriodExtension.objects.exists()


@pytest.mark.parametrize("delta", [timedelta(0), -SECOND, -7 * DAY])
def test_it_never_shortens_a_period(open_period, company_editor, delta):
    close = open_period.closes_at
    with pytest.raises(Invalid) as error:
        svc.comment_period_extend(
            actor=company_editor, period=open_period, closes_at=close + delta, reason="Shorter."
        )
    assert "never shortened" in error.value.fields["closes_at"][0]
    open_period.refresh_from_db()
    assert open_period.closes_at == close


def test_it_extends_a_second_before_the_close(open_period, company_editor):
    close = open_period.closes_at
    period = svc.comment_period_extend(
        actor=company_editor,
        period=open_period,
        closes_at=close + DAY,
        reason="Last-minute extension.",
        now=close - SECOND,
    )
    assert period.closes_at == close + DAY


def test_it_refuses_to_extend_at_the_close(open_period, company_editor):
    close = open_period.closes_at
    with pytest.raises(Conflict, match="closed"):
        svc.comment_period_extend(
            actor=company_editor,
            period=open_period,
            closes_at=close + DAY,
            reason="Too late.",
            now=close,
        )
    assert not LedgerEntry.objects.filter(action="comment_period.extended").exists()


def test_it_extends_a_scheduled_period(published_version, company_editor):
    period = open_for(company_editor, published_version, opens_at=timezone.now() + DAY)
    period = svc.comment_period_extend(
        actor=company_editor, period=period, closes_at=period.closes_at + DAY, reason="Longer."
    )
    assert period.extended_from is not None


def test_it_refuses_to_extend_past_the_maximum(open_period, company_editor):
    with pytest.raises(Invalid, match="at most 365 days"):
        svc.comment_period_extend(
            actor=company_editor,
            period=open_period,
            closes_at=open_period.opens_at + 365 * DAY + SECOND,
            reason="A very long time.",
        )


@pytest.mark.parametrize(
    "persona", ["citizen", "company_member", "outsider", "moderator", "staff", "regulator"]
)
def test_it_lets_only_the_companys_editors_extend(request, persona, open_period):
    user = request.getfixturevalue(persona)
    with pytest.raises(NotAllowed):
        svc.comment_period_extend(
            actor=user, period=open_period, closes_at=open_period.closes_at + DAY, reason="Me."
        )
    open_period.refresh_from_db()
    assert open_period.extended_from is None


def test_an_extension_past_the_notice_window_rearms_the_closing_notice(
    open_period, company_editor, shift_period
):
    now = timezone.now()
    period = shift_period(open_period, closes_at=now + DAY, closing_notice_sent_at=now)
    period = svc.comment_period_extend(
        actor=company_editor, period=period, closes_at=now + 10 * DAY, reason="More time."
    )
    assert period.closing_notice_sent_at is None


def test_an_extension_within_the_notice_window_keeps_the_closing_notice(
    open_period, company_editor, shift_period
):
    now = timezone.now()
    period = shift_period(open_period, closes_at=now + DAY, closing_notice_sent_at=now)
    period = svc.comment_period_extend(
        actor=company_editor, period=period, closes_at=now + 2 * DAY, reason="A day more."
    )
    assert period.closing_notice_sent_at == now


# --- Notices -----------------------------------------------------------------------------------


@pytest.fixture
def followers(policy):
    people = [UserFactory(email=f"follower{i}@example.org") for i in range(3)]
    for person in people:
        PolicyFollow.objects.create(user=person, policy=policy)
    gone = UserFactory(email="gone@example.org", is_active=False)
    PolicyFollow.objects.create(user=gone, policy=policy)
    UserFactory(email="stranger@example.org")  # follows nothing
    return people


def recipients(kind_subject: str) -> list[str]:
    return sorted(m.to[0] for m in mail.outbox if kind_subject in m.subject)


def test_it_sends_the_opening_notice_to_active_followers_once(open_period, followers):
    sent = svc.comment_period_send_notices()
    assert sent == {"opening": 3, "closing": 0, "closed": 0}
    assert recipients("Comment period open") == sorted(f.email for f in followers)
    message = mail.outbox[0]
    assert message.subject.startswith(django_settings.ACCOUNT_EMAIL_SUBJECT_PREFIX)
    assert "Acme Assistant Usage Policy v1.0.0" in message.subject
    assert "/policies/acme-ai/" in message.body
    assert len(message.to) == 1  # no one sees the other followers' addresses
    open_period.refresh_from_db()
    assert open_period.opening_notice_sent_at is not None
    assert svc.comment_period_send_notices() == {"opening": 0, "closing": 0, "closed": 0}
    assert len(mail.outbox) == 3


def test_it_waits_for_the_opening_second(published_version, company_editor, followers):
    opens = timezone.now() + DAY
    period = open_for(company_editor, published_version, opens_at=opens)
    assert svc.comment_period_send_notices(now=opens - SECOND)["opening"] == 0
    assert svc.comment_period_send_notices(now=opens)["opening"] == 3
    period.refresh_from_db()
    assert period.opening_notice_sent_at == opens


def test_it_sends_the_closing_notice_within_the_notice_window(open_period, followers):
    svc.comment_period_send_notices()
    mail.outbox.clear()
    notice_starts = open_period.closes_at - 3 * DAY
    assert svc.comment_period_send_notices(now=notice_starts - SECOND)["closing"] == 0
    assert svc.comment_period_send_notices(now=notice_starts)["closing"] == 3
    assert svc.comment_period_send_notices(now=notice_starts + DAY)["closing"] == 0
    assert recipients("closing soon") == sorted(f.email for f in followers)
    assert len(mail.outbox) == 3


def test_it_sends_the_closed_notice_at_the_closing_second(open_period, followers):
    close = open_period.closes_at
    assert svc.comment_period_send_notices(now=close - SECOND)["closed"] == 0
    assert svc.comment_period_send_notices(now=close)["closed"] == 3
    assert svc.comment_period_send_notices(now=close + DAY)["closed"] == 0
    assert len(recipients("Comment period closed")) == 3
    # A closed period is no longer "opening" or "closing".
    open_period.refresh_from_db()
    assert open_period.closed_notice_sent_at == close


def test_it_announces_the_close_again_after_an_extension(open_period, company_editor, followers):
    first_close = open_period.closes_at
    assert svc.comment_period_send_notices(now=first_close - DAY)["closing"] == 3
    svc.comment_period_extend(
        actor=company_editor,
        period=open_period,
        closes_at=first_close + 10 * DAY,
        reason="More time to read the technical annex.",
        now=first_close - DAY,
    )
    assert svc.comment_period_send_notices(now=first_close)["closing"] == 0
    assert svc.comment_period_send_notices(now=first_close + 8 * DAY)["closing"] == 3


def test_a_failed_send_is_retried_without_telling_anyone_twice(open_period, followers, monkeypatch):
    real_send = EmailMessage.send
    failing = {followers[1].email}

    def flaky_send(message, *args, **kwargs):
        if message.to[0] in failing:
            failing.clear()  # the SMTP server is back for the next run
            raise OSError("SMTP connection refused")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", flaky_send)
    assert svc.comment_period_send_notices()["opening"] == 0  # failed part-way: not counted
    open_period.refresh_from_db()
    assert open_period.opening_notice_sent_at is None  # the next run tries again
    assert recipients("Comment period open") == [followers[0].email]
    assert svc.comment_period_send_notices()["opening"] == 2
    assert recipients("Comment period open") == sorted(f.email for f in followers)


def test_the_task_runs_the_service_and_beat_schedules_it(open_period, followers):
    assert tasks.comment_period_notices() == {"opening": 3, "closing": 0, "closed": 0}
    entry = next(
        e
        for e in django_settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "policies.tasks.comment_period_notices"
    )
    assert entry["schedule"] == 300.0


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_send_each_notice_once(open_period, followers):
    barrier = threading.Barrier(3)
    results: list[dict] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(svc.comment_period_send_notices())
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(r["opening"] for r in results) == 3
    assert len(mail.outbox) == 3


def test_notice_times_are_written_in_utc(open_period, followers, shift_period):
    shift_period(open_period, closes_at=datetime(2030, 5, 17, 9, 30, tzinfo=UTC))
    svc.comment_period_send_notices(now=datetime(2030, 5, 15, tzinfo=UTC))
    body = next(m.body for m in mail.outbox if "closing soon" in m.subject)
    assert "17 May 2030, 09:30:00 UTC" in body
