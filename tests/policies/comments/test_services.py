"""Public comment services: periods and their clock, posting rules, edits, endorsements, flags,
moderation on the record, the duty to respond and the publish gate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from governance.errors import Conflict, Invalid, NotAllowed, RateLimited
from governance.models import LedgerEntry
from policies.models import (
    Comment,
    CommentPeriod,
    CommentResponse,
    Endorsement,
    ModerationAction,
    PolicyFollow,
)
from policies.services import comments as svc
from policies.services import policy_create, version_draft_create, version_publish
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


# --- Periods ---------------------------------------------------------------------------------


def test_it_opens_a_period_on_the_ledger(open_period, published_version):
    assert open_period.version == published_version
    assert open_period.is_open
    entry = LedgerEntry.objects.filter(action="comment_period.opened").get()
    assert entry.payload["version"] == "1.0.0"


def test_it_refuses_periods_shorter_than_the_minimum(published_version, company_editor):
    now = timezone.now()
    with pytest.raises(Invalid) as error:
        svc.comment_period_open(
            actor=company_editor,
            version=published_version,
            opens_at=now,
            closes_at=now + timedelta(days=29),
        )
    assert "closes_at" in error.value.fields
    assert not CommentPeriod.objects.exists()


def test_it_refuses_a_period_on_a_draft(draft_version, company_editor):
    now = timezone.now()
    with pytest.raises(Conflict):
        svc.comment_period_open(
            actor=company_editor,
            version=draft_version,
            opens_at=now,
            closes_at=now + timedelta(days=30),
        )


@pytest.mark.parametrize("persona", ["citizen", "outsider", "company_member", "moderator", "staff"])
def test_it_lets_only_company_editors_open_periods(request, persona, published_version):
    user = request.getfixturevalue(persona)
    now = timezone.now()
    with pytest.raises(NotAllowed):
        svc.comment_period_open(
            actor=user, version=published_version, opens_at=now, closes_at=now + timedelta(days=30)
        )


def test_it_extends_but_never_shortens(open_period, company_editor):
    later = open_period.closes_at + timedelta(days=7)
    with pytest.raises(Invalid):
        svc.comment_period_extend(actor=company_editor, period=open_period, closes_at=later,
                                  reason="")  # fmt: skip
    with pytest.raises(Invalid) as error:
        svc.comment_period_extend(
            actor=company_editor,
            period=open_period,
            closes_at=open_period.closes_at - timedelta(days=1),
            reason="Shorter",
        )
    assert "never shortened" in error.value.fields["closes_at"][0]
    original = open_period.closes_at
    period = svc.comment_period_extend(
        actor=company_editor, period=open_period, closes_at=later, reason="Many requests."
    )
    assert period.closes_at == later
    assert period.extended_from == original
    assert period.extensions.get().reason == "Many requests."
    assert LedgerEntry.objects.filter(action="comment_period.extended").count() == 1


def test_it_cannot_extend_a_closed_period(closed_period, company_editor):
    with pytest.raises(Conflict):
        svc.comment_period_extend(
            actor=company_editor,
            period=closed_period,
            closes_at=timezone.now() + timedelta(days=5),
            reason="Reopen",
        )


def test_it_enforces_the_period_at_the_second(open_period, citizen, comment, shift_period):
    closes = timezone.now().replace(microsecond=0) + timedelta(days=2)
    shift_period(open_period, closes_at=closes)
    comment(citizen, open_period, "Just in time.", now=closes - timedelta(seconds=1))
    with pytest.raises(Conflict, match="closed"):
        comment(citizen, open_period, "Too late.", now=closes)
    opens = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    shift_period(open_period, opens_at=opens)
    with pytest.raises(Conflict, match="not open yet"):
        comment(citizen, open_period, "Too early.", now=opens - timedelta(seconds=1))
    comment(citizen, open_period, "Right on time.", now=opens)
    assert Comment.objects.count() == 2


def test_it_sends_each_notice_once(open_period, citizen, shift_period):
    PolicyFollow.objects.create(user=citizen, policy=open_period.version.policy)
    sent = svc.comment_period_send_notices()
    assert sent["opening"] == 1
    assert svc.comment_period_send_notices()["opening"] == 0
    now = timezone.now()
    shift_period(open_period, closes_at=now + timedelta(days=2))
    assert svc.comment_period_send_notices()["closing"] == 1
    shift_period(
        open_period, opens_at=now - timedelta(days=30), closes_at=now - timedelta(seconds=1)
    )
    assert svc.comment_period_send_notices() == {"opening": 0, "closing": 0, "closed": 1}
    assert len(mail.outbox) == 3
    assert "closed" in mail.outbox[-1].subject.lower()


# --- Posting ---------------------------------------------------------------------------------


def test_it_posts_on_a_clause_and_replies_in_threads(open_period, citizen, outsider, comment):
    top = comment(citizen, open_period, "Keep this.", clause_key="weapons.bio.synthesis")
    assert top.status == Comment.Status.PUBLISHED
    assert top.listed
    reply = comment(outsider, open_period, "Agreed.", parent=top)
    assert reply.root == top
    assert reply.clause == top.clause
    assert not reply.listed
    nested = comment(citizen, open_period, "Thanks.", parent=reply)
    assert nested.root == top
    top.refresh_from_db()
    assert top.reply_count == 2


def test_it_refuses_unverified_accounts(open_period, comment):
    with pytest.raises(NotAllowed):
        comment(UserFactory(verified=False), open_period, "Hello")
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("", "body"),
        ("   ", "body"),
        ("x" * 10_001, "body"),
        ("a\x00b", "body"),
        (" ".join(f"https://e{i}.example" for i in range(11)), "body"),
    ],
)
def test_it_rejects_bad_bodies(open_period, citizen, comment, body, field):
    with pytest.raises(Invalid) as error:
        comment(citizen, open_period, body)
    assert field in error.value.fields
    assert not Comment.objects.exists()


def test_it_rejects_a_megabyte(open_period, citizen, comment):
    with pytest.raises(Invalid):
        comment(citizen, open_period, "x" * 1_000_000)


def test_it_keeps_html_as_text(open_period, citizen, comment):
    posted = comment(citizen, open_period, "<script>alert(1)</script> hi")
    assert posted.body == "<script>alert(1)</script> hi"


def test_it_rejects_unknown_clauses_and_foreign_parents(
    open_period, citizen, comment, company, company_editor, publish, policy_markdown
):
    with pytest.raises(Invalid) as error:
        comment(citizen, open_period, "Hi", clause_key="no.such")
    assert "clause" in error.value.fields
    second = policy_create(
        actor=company_editor, organization=company, title="Second policy", summary="Another"
    )
    other = publish(second, "1.0.0", policy_markdown, company_editor)
    now = timezone.now()
    other_period = svc.comment_period_open(
        actor=company_editor, version=other, opens_at=now, closes_at=now + timedelta(days=30)
    )
    foreign = comment(citizen, other_period, "Elsewhere")
    with pytest.raises(Invalid) as error:
        comment(citizen, open_period, "Reply", parent=foreign)
    assert "parent" in error.value.fields


def test_it_holds_new_accounts_and_link_heavy_comments(open_period, citizen, comment):
    newcomer = UserFactory(date_joined=timezone.now())
    held = comment(newcomer, open_period, "First post")
    assert held.status == Comment.Status.HELD
    assert not held.listed
    assert held.held_reason == Comment.HeldReason.NEW_ACCOUNT
    links = comment(citizen, open_period, "See https://a.example https://b.example www.c.example")
    assert links.status == Comment.Status.HELD
    assert links.held_reason == "links"
    assert ModerationAction.objects.filter(action="hold", moderator=None).count() == 2


def test_it_posts_on_behalf_of_own_organizations_only(
    open_period, company_member, company, other_company, comment
):
    posted = comment(company_member, open_period, "Our view.", on_behalf_of=company)
    assert posted.on_behalf_of == company
    with pytest.raises(NotAllowed) as error:
        comment(company_member, open_period, "Not ours.", on_behalf_of=other_company)
    assert "on_behalf_of" in error.value.fields


def test_it_rate_limits_per_account(open_period, citizen, comment, settings):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "COMMENT_RATE_ACCOUNT": "2/minute"}
    comment(citizen, open_period, "one")
    comment(citizen, open_period, "two")
    with pytest.raises(RateLimited) as error:
        comment(citizen, open_period, "three")
    assert error.value.retry_after >= 1
    assert Comment.objects.count() == 2


def test_it_clusters_identical_comments_at_once(open_period, citizen, outsider, comment):
    first = comment(citizen, open_period, "Stop refusing medical questions!")
    second = comment(outsider, open_period, "stop   refusing MEDICAL questions")
    first.refresh_from_db()
    assert first.cluster_id == second.cluster_id is not None
    assert first.listed
    assert not second.listed
    assert second.cluster.comment_count == 2


# --- Edit and withdraw -----------------------------------------------------------------------


def test_it_edits_within_the_window_keeping_history(open_period, citizen, comment):
    posted = comment(citizen, open_period, "Frist")
    svc.comment_edit(actor=citizen, comment=posted, body="First")
    posted.refresh_from_db()
    assert posted.body == "First"
    assert posted.edited_at
    assert posted.revisions.get().body == "Frist"
    with pytest.raises(Conflict, match="no longer be edited"):
        svc.comment_edit(
            actor=citizen,
            comment=posted,
            body="Late",
            now=posted.created_at + timedelta(minutes=15, seconds=1),
        )


def test_it_lets_only_the_author_edit_or_withdraw(open_period, citizen, outsider, comment):
    posted = comment(citizen, open_period, "Mine")
    with pytest.raises(NotAllowed):
        svc.comment_edit(actor=outsider, comment=posted, body="Yours")
    with pytest.raises(NotAllowed):
        svc.comment_withdraw(actor=outsider, comment=posted)


def test_it_withdraws_leaving_a_tombstone(open_period, citizen, outsider, comment):
    posted = comment(citizen, open_period, "Changed my mind")
    svc.comment_withdraw(actor=citizen, comment=posted)
    posted.refresh_from_db()
    assert posted.status == Comment.Status.WITHDRAWN
    assert posted.listed
    with pytest.raises(Conflict):
        svc.comment_withdraw(actor=citizen, comment=posted)


# --- Endorsements and flags ------------------------------------------------------------------


def test_it_endorses_once_per_person(open_period, citizen, outsider, comment):
    posted = comment(citizen, open_period, "Endorse me")
    assert svc.comment_endorse(user=outsider, comment=posted) == 1
    with pytest.raises(Conflict):
        svc.comment_endorse(user=outsider, comment=posted)
    assert svc.comment_endorsement_toggle(user=outsider, comment=posted) == (False, 0)
    assert svc.comment_endorsement_toggle(user=outsider, comment=posted) == (True, 1)
    assert Endorsement.objects.count() == 1
    with pytest.raises(Invalid):
        svc.comment_endorse(user=citizen, comment=posted)


def test_it_holds_a_comment_its_author_disowns(open_period, citizen, comment):
    posted = comment(citizen, open_period, "Not written by me")
    with pytest.raises(Invalid):
        svc.comment_flag(user=citizen, comment=posted, reason="not_me", details="")
    svc.comment_flag(user=citizen, comment=posted, reason="not_me", details="A campaign used me")
    posted.refresh_from_db()
    assert posted.status == Comment.Status.HELD
    assert posted.held_reason == "not_me"
    assert LedgerEntry.objects.filter(action="comment.reported_not_me").exists()


def test_it_refuses_bad_flags(open_period, citizen, outsider, comment):
    posted = comment(citizen, open_period, "Flag me")
    with pytest.raises(Invalid):
        svc.comment_flag(user=outsider, comment=posted, reason="because")
    svc.comment_flag(user=outsider, comment=posted, reason="spam")
    with pytest.raises(Conflict):
        svc.comment_flag(user=outsider, comment=posted, reason="spam")


# --- Moderation ------------------------------------------------------------------------------


def test_it_moderates_on_the_record(open_period, citizen, outsider, moderator, comment):
    posted = comment(citizen, open_period, "Rude words")
    svc.comment_flag(user=outsider, comment=posted, reason="abuse")
    with pytest.raises(Invalid):
        svc.comment_moderate(moderator=moderator, comment=posted, action="hide", public_reason="")
    svc.comment_moderate(
        moderator=moderator, comment=posted, action="hide", public_reason="Personal attack"
    )
    posted.refresh_from_db()
    assert posted.status == Comment.Status.HIDDEN
    assert posted.hidden_reason == "Personal attack"
    assert posted.listed  # its place stays visible
    assert not posted.flags.filter(resolved_at__isnull=True).exists()
    with pytest.raises(Conflict):
        svc.comment_moderate(moderator=moderator, comment=posted, action="approve",
                             public_reason="x")  # fmt: skip
    svc.comment_moderate(moderator=moderator, comment=posted, action="restore",
                         public_reason="On appeal")  # fmt: skip
    actions = list(LedgerEntry.objects.filter(action__startswith="comment.").values_list(
        "action", flat=True))  # fmt: skip
    assert sorted(actions) == ["comment.hide", "comment.restore"]


def test_it_approves_held_comments_into_the_listing(open_period, moderator, comment):
    held = comment(UserFactory(date_joined=timezone.now()), open_period, "New here")
    svc.comment_moderate(moderator=moderator, comment=held, action="approve",
                         public_reason="Fine")  # fmt: skip
    held.refresh_from_db()
    assert held.status == Comment.Status.PUBLISHED
    assert held.listed


@pytest.mark.parametrize("persona", ["citizen", "company_editor", "outsider"])
def test_it_lets_only_moderators_moderate(request, persona, open_period, comment, citizen):
    posted = comment(citizen, open_period, "Hmm")
    with pytest.raises(NotAllowed):
        svc.comment_moderate(
            moderator=request.getfixturevalue(persona),
            comment=posted,
            action="hide",
            public_reason="x",
        )


# --- The duty to respond ---------------------------------------------------------------------


def test_it_requires_responses_before_the_next_version(
    closed_period, citizen, comment, company_editor, outsider, policy, shift_period, policy_markdown
):
    shift_period(closed_period, closes_at=timezone.now() + timedelta(days=1))
    comment(citizen, closed_period, "About bio.", clause_key="weapons.bio.synthesis")
    shift_period(closed_period, closes_at=timezone.now() - timedelta(seconds=1))
    draft = version_draft_create(
        actor=company_editor, policy=policy, number="1.1.0", body_markdown=policy_markdown,
        summary_of_changes="After comments",
    )  # fmt: skip
    with pytest.raises(Conflict, match="response to comments"):
        version_publish(actor=company_editor, version=draft)
    with pytest.raises(Conflict, match="1 of 1"):
        svc.response_document_publish(actor=company_editor, period=closed_period, summary="Done")
    with pytest.raises(NotAllowed):
        svc.comment_response_save(
            actor=outsider,
            period=closed_period,
            target="clause",
            clause_key="weapons.bio.synthesis",
            body="Not your docket",
        )
    svc.comment_response_save(
        actor=company_editor,
        period=closed_period,
        target="clause",
        clause_key="weapons.bio.synthesis",
        body="We keep refusing.",
    )
    svc.response_document_publish(actor=company_editor, period=closed_period, summary="Thanks")
    with pytest.raises(Conflict):
        svc.comment_response_save(
            actor=company_editor,
            period=closed_period,
            target="clause",
            clause_key="weapons.bio.synthesis",
            body="Changed",
        )
    version_publish(actor=company_editor, version=draft)
    assert CommentResponse.objects.count() == 1


def test_it_refuses_publishing_responses_while_open(open_period, company_editor):
    with pytest.raises(Conflict, match="open until"):
        svc.response_document_publish(actor=company_editor, period=open_period, summary="x")
