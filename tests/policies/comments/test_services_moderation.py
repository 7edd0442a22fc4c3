"""Endorsements (one per person, counted right under races), flags and the "not me" report, and
moderation on the record: each transition, its public reason, its ledger entry, and what it does
to the listing, the campaign clusters and the reply counts."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.utils import timezone

from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import LedgerEntry
from governance.selectors.ledger import ledger_subject_labels
from policies.models import Comment, CommentCluster, Endorsement, Flag, ModerationAction
from policies.services import comments as svc
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
TEXT = "Please keep refusing bioweapon synthesis."


def post(author, period, body=TEXT, **kw):
    return svc.comment_post(author=author, period=period, body=body, **kw)


def moderate(moderator, comment, action, reason="A public reason.", **kw):
    return svc.comment_moderate(
        moderator=moderator, comment=comment, action=action, public_reason=reason, **kw
    )


def fresh(comment: Comment) -> Comment:
    return Comment.objects.select_related("period").get(pk=comment.pk)


@pytest.fixture
def posted(open_period, citizen):
    return post(citizen, open_period)


@pytest.fixture
def newcomer(db):
    return UserFactory(email="newcomer@example.org", date_joined=timezone.now())


# --- Endorsements ------------------------------------------------------------------------------


def test_it_endorses_and_counts(posted, outsider, company_member):
    assert svc.comment_endorse(user=outsider, comment=posted) == 1
    assert svc.comment_endorse(user=company_member, comment=posted) == 2
    assert fresh(posted).endorsement_count == 2
    assert Endorsement.objects.filter(comment=posted).count() == 2


def test_it_refuses_endorsing_twice(posted, outsider):
    svc.comment_endorse(user=outsider, comment=posted)
    with pytest.raises(Conflict, match="already endorse") as error:
        svc.comment_endorse(user=outsider, comment=posted)
    assert error.value.code == "already_endorsed"
    assert fresh(posted).endorsement_count == 1
    assert Endorsement.objects.count() == 1


def test_it_refuses_endorsing_ones_own_comment(posted, citizen):
    with pytest.raises(Invalid, match="your own comment"):
        svc.comment_endorse(user=citizen, comment=posted)
    with pytest.raises(Invalid):
        svc.comment_endorsement_toggle(user=citizen, comment=posted)
    assert not Endorsement.objects.exists()


@pytest.mark.parametrize("user", [None, AnonymousUser()])
def test_it_refuses_anonymous_endorsements(posted, user):
    with pytest.raises(NotAllowed):
        svc.comment_endorse(user=user, comment=posted)


def test_it_refuses_unverified_endorsements(posted):
    with pytest.raises(NotAllowed, match="Verify"):
        svc.comment_endorse(user=UserFactory(verified=False), comment=posted)
    assert fresh(posted).endorsement_count == 0


@pytest.mark.parametrize("persona", ["company_editor", "moderator", "staff", "outsider"])
def test_any_verified_account_may_endorse(request, persona, posted):
    assert svc.comment_endorse(user=request.getfixturevalue(persona), comment=posted) == 1


def test_it_endorses_only_published_comments(open_period, citizen, outsider, moderator, newcomer):
    held = post(newcomer, open_period)
    hidden = post(citizen, open_period, "To be hidden.")
    moderate(moderator, hidden, "hide")
    withdrawn = post(citizen, open_period, "To be withdrawn.")
    svc.comment_withdraw(actor=citizen, comment=withdrawn)
    for comment in (held, hidden, withdrawn):
        with pytest.raises(Conflict, match="only published comments"):
            svc.comment_endorse(user=outsider, comment=fresh(comment))
    assert not Endorsement.objects.exists()


def test_it_endorses_until_the_closing_second(open_period, posted, outsider, company_member):
    close = open_period.closes_at
    assert svc.comment_endorse(user=outsider, comment=posted, now=close - SECOND) == 1
    with pytest.raises(Conflict, match="closed"):
        svc.comment_endorse(user=company_member, comment=posted, now=close)
    with pytest.raises(Conflict, match="closed"):
        svc.comment_unendorse(user=outsider, comment=posted, now=close)


def test_it_takes_an_endorsement_back(posted, outsider):
    svc.comment_endorse(user=outsider, comment=posted)
    assert svc.comment_unendorse(user=outsider, comment=posted) == 0
    assert not Endorsement.objects.exists()
    with pytest.raises(Conflict, match="do not endorse") as error:
        svc.comment_unendorse(user=outsider, comment=posted)
    assert error.value.code == "not_endorsed"
    assert fresh(posted).endorsement_count == 0


def test_it_toggles(posted, outsider, company_member):
    svc.comment_endorse(user=company_member, comment=posted)
    assert svc.comment_endorsement_toggle(user=outsider, comment=posted) == (True, 2)
    assert svc.comment_endorsement_toggle(user=outsider, comment=posted) == (False, 1)
    assert svc.comment_endorsement_toggle(user=outsider, comment=posted) == (True, 2)
    assert Endorsement.objects.count() == 2


def test_a_toggle_follows_the_same_rules(open_period, posted, outsider):
    with pytest.raises(NotAllowed):
        svc.comment_endorsement_toggle(user=UserFactory(verified=False), comment=posted)
    with pytest.raises(Conflict):
        svc.comment_endorsement_toggle(user=outsider, comment=posted, now=open_period.closes_at)


def _race(count: int, work) -> tuple[list, list[BaseException]]:
    """Run `work(i)` in `count` threads released together; each thread closes its connection."""
    barrier = threading.Barrier(count)
    results: list = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results.append(work(i))
        except BaseException as error:  # collected for the test to inspect
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_two_racing_endorsements_by_one_person_make_one(posted, outsider):
    results, errors = _race(2, lambda _: svc.comment_endorse(user=outsider, comment=posted))
    assert results == [1]
    assert len(errors) == 1
    assert isinstance(errors[0], Conflict)
    assert Endorsement.objects.filter(comment=posted).count() == 1
    assert fresh(posted).endorsement_count == 1


@pytest.mark.django_db(transaction=True)
def test_racing_endorsements_by_many_people_are_all_counted(posted):
    people = [UserFactory(email=f"fan{i}@example.org") for i in range(8)]
    results, errors = _race(8, lambda i: svc.comment_endorse(user=people[i], comment=posted))
    assert not errors
    assert sorted(results)[-1] == 8
    assert fresh(posted).endorsement_count == Endorsement.objects.count() == 8


# --- Flags -------------------------------------------------------------------------------------


def test_it_flags_for_the_moderators(posted, outsider):
    flag = svc.comment_flag(user=outsider, comment=posted, reason="spam")
    assert (flag.comment, flag.user, flag.reason, flag.details) == (posted, outsider, "spam", "")
    assert flag.resolved_at is None
    assert fresh(posted).status == Comment.Status.PUBLISHED  # it waits in the queue
    assert not LedgerEntry.objects.filter(action__startswith="comment.").exists()


@pytest.mark.parametrize("reason", ["", "nonsense", "SPAM", None, 3, ["spam"]])
def test_it_refuses_an_unknown_reason(posted, outsider, reason):
    with pytest.raises(Invalid) as error:
        svc.comment_flag(user=outsider, comment=posted, reason=reason)
    assert list(error.value.fields) == ["reason"]
    assert not Flag.objects.exists()


@pytest.mark.parametrize("reason", ["other", "not_me"])
def test_some_reasons_need_details(posted, outsider, reason):
    with pytest.raises(Invalid) as error:
        svc.comment_flag(user=outsider, comment=posted, reason=reason, details="  ")
    assert "details" in error.value.fields
    flag = svc.comment_flag(user=outsider, comment=posted, reason=reason, details="Explained.")
    assert flag.details == "Explained."


@pytest.mark.parametrize("details", ["x" * 2001, "nul\x00"])
def test_it_refuses_bad_details(posted, outsider, details):
    with pytest.raises(Invalid) as error:
        svc.comment_flag(user=outsider, comment=posted, reason="abuse", details=details)
    assert "details" in error.value.fields


def test_it_refuses_flagging_twice(posted, outsider):
    svc.comment_flag(user=outsider, comment=posted, reason="spam")
    with pytest.raises(Conflict, match="already flagged"):
        svc.comment_flag(user=outsider, comment=posted, reason="abuse")
    assert Flag.objects.count() == 1


@pytest.mark.parametrize("user", [None, AnonymousUser()])
def test_it_refuses_anonymous_flags(posted, user):
    with pytest.raises(NotAllowed):
        svc.comment_flag(user=user, comment=posted, reason="spam")


def test_it_refuses_unverified_flags(posted):
    with pytest.raises(NotAllowed):
        svc.comment_flag(user=UserFactory(verified=False), comment=posted, reason="spam")


def test_it_refuses_flagging_a_withdrawn_comment(posted, citizen, outsider):
    svc.comment_withdraw(actor=citizen, comment=posted)
    with pytest.raises(Conflict, match="withdrawn"):
        svc.comment_flag(user=outsider, comment=fresh(posted), reason="spam")


def test_the_authors_not_me_report_holds_the_comment_at_once(posted, citizen):
    svc.comment_flag(user=citizen, comment=posted, reason="not_me", details="Not my words.")
    comment = fresh(posted)
    assert comment.status == Comment.Status.HELD
    assert comment.held_reason == Comment.HeldReason.NOT_ME
    assert not comment.listed
    action = ModerationAction.objects.get(comment=comment)
    assert (action.action, action.moderator) == (ModerationAction.Action.HOLD, None)
    entry = LedgerEntry.objects.get(action="comment.reported_not_me")
    assert entry.subject == f"comment:{posted.pk}"
    assert entry.payload["comment"] == posted.pk
    assert Flag.objects.get().resolved_at is None  # and it waits for a moderator


def test_someone_elses_not_me_report_waits_for_a_moderator(posted, outsider):
    svc.comment_flag(user=outsider, comment=posted, reason="not_me", details="Uses my name.")
    assert fresh(posted).status == Comment.Status.PUBLISHED
    assert not LedgerEntry.objects.filter(action="comment.reported_not_me").exists()


def test_a_not_me_report_on_a_held_comment_records_why(open_period, newcomer):
    comment = post(newcomer, open_period)
    svc.comment_flag(user=newcomer, comment=comment, reason="not_me", details="Not me.")
    comment = fresh(comment)
    assert comment.status == Comment.Status.HELD
    assert comment.held_reason == Comment.HeldReason.NOT_ME
    assert ModerationAction.objects.filter(comment=comment).count() == 1  # the automatic hold


def test_a_not_me_report_uncounts_a_reply(posted, outsider):
    reply = post(outsider, posted.period, "A reply.", parent=posted)
    svc.comment_flag(user=outsider, comment=reply, reason="not_me", details="Not me.")
    assert fresh(posted).reply_count == 0


# --- Moderation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "persona", ["citizen", "company_owner", "company_editor", "outsider", "auditor", "regulator"]
)
def test_only_moderators_moderate(request, persona, posted):
    with pytest.raises(NotAllowed):
        moderate(request.getfixturevalue(persona), posted, "hide")
    assert fresh(posted).status == Comment.Status.PUBLISHED
    assert not ModerationAction.objects.exists()


@pytest.mark.parametrize("user", [None, AnonymousUser()])
def test_anonymous_cannot_moderate(posted, user):
    with pytest.raises(NotAllowed):
        moderate(user, posted, "hide")


def test_staff_moderate_too(posted, staff):
    assert moderate(staff, posted, "hide").moderator == staff


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 2001, "nul\x00"])
def test_a_moderator_must_give_a_clean_public_reason(posted, moderator, reason):
    with pytest.raises(Invalid) as error:
        moderate(moderator, posted, "hide", reason)
    assert list(error.value.fields) == ["public_reason"]
    assert fresh(posted).status == Comment.Status.PUBLISHED
    assert not LedgerEntry.objects.filter(action__startswith="comment.").exists()


@pytest.mark.parametrize("action", ["delete", "", None, "HIDE", 1])
def test_it_refuses_an_unknown_action(posted, moderator, action):
    with pytest.raises(Invalid) as error:
        moderate(moderator, posted, action)
    assert "action" in error.value.fields


def test_it_hides_with_a_public_reason_on_the_ledger(posted, moderator, outsider):
    flag = svc.comment_flag(user=outsider, comment=posted, reason="abuse")
    now = timezone.now()
    action = moderate(moderator, posted, "hide", "Harassment of another commenter.", now=now)
    comment = fresh(posted)
    assert comment.status == Comment.Status.HIDDEN
    assert comment.hidden_reason == "Harassment of another commenter."
    assert comment.listed  # its place stays, as "hidden by a moderator: <reason>"
    assert (action.action, action.moderator, action.period) == ("hide", moderator, posted.period)
    flag.refresh_from_db()
    assert (flag.resolved_at, flag.resolved_by) == (now, moderator)
    entry = LedgerEntry.objects.get(action="comment.hide")
    assert entry.subject == f"comment:{posted.pk}"
    assert entry.payload == {
        "comment": posted.pk,
        "period": posted.period_id,
        "reason": "Harassment of another commenter.",
    }
    assert ledger_subject_labels([entry.subject])[entry.subject] == (
        f"Comment #{posted.pk} on Acme Assistant Usage Policy v1.0.0"
    )


def test_it_restores_a_hidden_comment(posted, moderator):
    moderate(moderator, posted, "hide")
    moderate(moderator, posted, "restore", "Hidden by mistake.")
    comment = fresh(posted)
    assert comment.status == Comment.Status.PUBLISHED
    assert comment.hidden_reason == ""
    assert comment.listed
    assert list(LedgerEntry.objects.filter(action__startswith="comment.").values_list(
        "action", flat=True
    ).order_by("seq")) == ["comment.hide", "comment.restore"]  # fmt: skip


def test_it_holds_and_approves(posted, moderator):
    moderate(moderator, posted, "hold", "Checking a claim.")
    comment = fresh(posted)
    assert (comment.status, comment.held_reason) == ("held", Comment.HeldReason.MODERATOR)
    assert not comment.listed
    moderate(moderator, posted, "approve", "Checked.")
    comment = fresh(posted)
    assert (comment.status, comment.held_reason) == ("published", "")
    assert comment.listed


def test_approving_a_held_form_letter_joins_its_campaign(open_period, posted, moderator, newcomer):
    held = post(newcomer, open_period, TEXT.upper())
    moderate(moderator, held, "approve", "A real person.")
    held = fresh(held)
    original = fresh(posted)
    assert held.status == Comment.Status.PUBLISHED
    assert held.cluster_id == original.cluster_id is not None
    assert not held.listed
    assert original.listed
    assert CommentCluster.objects.get().comment_count == 2


def test_an_approved_comment_goes_to_the_near_duplicate_pass(open_period, moderator, newcomer):
    held = post(newcomer, open_period, "Unique words from a new account.")
    assert fresh(held).clustering_done  # held: nothing to cluster yet
    moderate(moderator, held, "approve", "Fine.")
    held = fresh(held)
    assert held.listed
    assert not held.clustering_done


def test_hiding_a_held_comment_keeps_it_out_of_view(open_period, moderator, newcomer):
    held = post(newcomer, open_period, "Buy pills at https://a.x https://b.x https://c.x")
    moderate(moderator, held, "hide", "Spam.")
    comment = fresh(held)
    assert comment.status == Comment.Status.HIDDEN
    assert not comment.listed  # it was never public: no placeholder
    moderate(moderator, held, "restore", "Not spam after all.")
    assert fresh(held).listed


def test_hiding_and_restoring_a_reply_keeps_the_count(posted, outsider, moderator):
    reply = post(outsider, posted.period, "A reply.", parent=posted)
    assert fresh(posted).reply_count == 1
    moderate(moderator, reply, "hide")
    assert fresh(posted).reply_count == 0
    assert not fresh(reply).listed
    moderate(moderator, reply, "restore")
    assert fresh(posted).reply_count == 1
    assert not fresh(reply).listed


def test_approving_a_held_reply_counts_it(posted, moderator, newcomer):
    reply = post(newcomer, posted.period, "A reply.", parent=posted)
    assert fresh(posted).reply_count == 0
    moderate(moderator, reply, "approve")
    assert fresh(posted).reply_count == 1
    assert not fresh(reply).listed


def test_hiding_a_campaign_copy_keeps_its_cluster(open_period, posted, outsider, moderator):
    copy = post(outsider, open_period, TEXT)
    moderate(moderator, copy, "hide")
    copy = fresh(copy)
    assert copy.cluster_id == fresh(posted).cluster_id is not None
    assert not copy.listed
    moderate(moderator, copy, "restore")
    assert not fresh(copy).listed


def test_it_dismisses_flags_leaving_the_comment(posted, moderator, outsider, company_member):
    svc.comment_flag(user=outsider, comment=posted, reason="spam")
    svc.comment_flag(user=company_member, comment=posted, reason="off_topic")
    action = moderate(moderator, posted, "dismiss", "Within the rules.")
    assert action.action == ModerationAction.Action.DISMISS
    assert fresh(posted).status == Comment.Status.PUBLISHED
    assert not Flag.objects.filter(resolved_at__isnull=True).exists()
    assert Flag.objects.filter(resolved_by=moderator).count() == 2
    assert LedgerEntry.objects.filter(action="comment.dismiss").count() == 1


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ("published", "restore"),
        ("published", "approve"),
        ("held", "hold"),
        ("held", "restore"),
        ("hidden", "hide"),
        ("hidden", "hold"),
        ("hidden", "approve"),
        ("withdrawn", "hide"),
        ("withdrawn", "restore"),
        ("withdrawn", "dismiss"),
    ],
)
def test_it_refuses_transitions_that_do_not_apply(
    open_period, citizen, moderator, newcomer, setup, action
):
    comment = post(newcomer if setup == "held" else citizen, open_period)
    if setup == "hidden":
        moderate(moderator, comment, "hide")
    if setup == "withdrawn":
        svc.comment_withdraw(actor=citizen, comment=comment)
    before = LedgerEntry.objects.count()
    with pytest.raises(Conflict) as error:
        moderate(moderator, comment, action)
    assert error.value.code == "wrong_status"
    assert fresh(comment).status == setup
    assert LedgerEntry.objects.count() == before


def test_moderation_works_after_the_period_closes(open_period, posted, moderator, shift_period):
    shift_period(
        open_period,
        opens_at=timezone.now() - timedelta(days=40),
        closes_at=timezone.now() - SECOND,
    )
    moderate(moderator, posted, "hide", "Found later.")
    assert fresh(posted).status == Comment.Status.HIDDEN
