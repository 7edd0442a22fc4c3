"""Posting, editing and withdrawing comments: who may, when (at the second), what a body may
hold, threads, speaking for an organization, holds, rate limits and form-letter clusters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from governance.errors import Conflict, Invalid, NotAllowed, RateLimited
from governance.models import LedgerEntry, Membership
from policies import clustering
from policies.models import (
    Comment,
    CommentBand,
    CommentCluster,
    CommentRevision,
    ModerationAction,
)
from policies.services import comments as svc
from policies.services import policy_create, version_withdraw
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.policies.conftest import body_with

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
TEXT = "Please keep refusing bioweapon synthesis, whatever the framing."


def post(author, period, body=TEXT, **kw):
    return svc.comment_post(author=author, period=period, body=body, **kw)


@pytest.fixture
def other_period(company, company_editor, publish):
    """An open period on another policy of the same company (v1.0.0 of "Second policy")."""
    policy = policy_create(actor=company_editor, organization=company, title="Second policy")
    version = publish(
        policy,
        "1.0.0",
        body_with(("other.clause", "Other clause", "refuse", "Something else entirely.")),
        company_editor,
    )
    now = timezone.now()
    return svc.comment_period_open(
        actor=company_editor, version=version, opens_at=now, closes_at=now + timedelta(days=30)
    )


@pytest.fixture
def fast_rates(settings):
    settings.OPENREFUSAL = {
        **settings.OPENREFUSAL,
        "COMMENT_RATE_ACCOUNT": "1000/minute",
        "COMMENT_RATE_IP": "1000/minute",
    }


# --- Posting -----------------------------------------------------------------------------------


def test_it_posts_a_comment_on_the_whole_version(open_period, citizen):
    now = timezone.now()
    comment = post(citizen, open_period, "  Keep the bio refusal.  ", now=now)
    comment.refresh_from_db()
    assert comment.body == "Keep the bio refusal."
    assert comment.status == Comment.Status.PUBLISHED
    assert comment.held_reason == ""
    assert comment.clause is None
    assert comment.parent is None
    assert comment.root is None
    assert comment.listed
    assert comment.created_at == now
    assert comment.normalized_sha256 == clustering.comment_text_sha256("Keep the bio refusal.")
    assert comment.link_count == 0
    # The docket is the record of posting; the ledger is not touched.
    assert not LedgerEntry.objects.filter(action__startswith="comment.").exists()


def test_it_posts_on_one_clause(open_period, citizen, published_version):
    comment = post(citizen, open_period, clause_key="self-harm.support")
    assert comment.clause == published_version.clauses.get(key="self-harm.support")


def test_a_blank_clause_means_the_whole_version(open_period, citizen):
    assert post(citizen, open_period, clause_key="  ").clause is None


@pytest.mark.parametrize(
    "persona",
    ["citizen", "company_owner", "company_editor", "company_member", "outsider", "moderator"],
)
def test_every_verified_account_may_comment(request, persona, open_period):
    user = request.getfixturevalue(persona)
    assert post(user, open_period).author == user


def test_it_refuses_an_unverified_account(open_period):
    with pytest.raises(NotAllowed, match="Verify your e-mail address to comment"):
        post(UserFactory(verified=False), open_period)
    assert not Comment.objects.exists()


@pytest.mark.parametrize("user", [None, AnonymousUser()])
def test_it_refuses_anonymous_comments(open_period, user):
    with pytest.raises(NotAllowed):
        post(user, open_period)


def test_it_refuses_an_inactive_account(open_period):
    with pytest.raises(NotAllowed):
        post(UserFactory(is_active=False), open_period)


# --- The clock, at the second ------------------------------------------------------------------


def test_it_refuses_a_second_before_the_period_opens(open_period, citizen):
    with pytest.raises(Conflict, match="not open yet") as error:
        post(citizen, open_period, now=open_period.opens_at - SECOND)
    assert error.value.code == "period_not_open"
    assert not Comment.objects.exists()


def test_it_accepts_at_the_opening_second(open_period, citizen):
    assert post(citizen, open_period, now=open_period.opens_at).pk


def test_it_accepts_a_second_before_the_close(open_period, citizen):
    assert post(citizen, open_period, now=open_period.closes_at - SECOND).pk


def test_it_refuses_at_the_closing_second(open_period, citizen):
    with pytest.raises(Conflict, match="closed on") as error:
        post(citizen, open_period, now=open_period.closes_at)
    assert error.value.code == "period_closed"
    assert not Comment.objects.exists()


def test_it_refuses_comments_on_a_closed_period(closed_period, citizen):
    with pytest.raises(Conflict, match="closed"):
        post(citizen, closed_period)


def test_it_refuses_comments_once_the_version_is_withdrawn(
    open_period, citizen, company_editor, published_version
):
    version_withdraw(actor=company_editor, version=published_version, reason="Pulled.")
    open_period.refresh_from_db()
    with pytest.raises(Conflict, match="no longer the published version"):
        post(citizen, open_period)


# --- The body ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["", "   \n\t ", None, b"bytes", 42, ["list"]])
def test_it_refuses_an_empty_or_non_text_body(open_period, citizen, body):
    with pytest.raises(Invalid) as error:
        post(citizen, open_period, body)
    assert list(error.value.fields) == ["body"]
    assert not Comment.objects.exists()


def test_it_refuses_a_one_megabyte_body(open_period, citizen):
    with pytest.raises(Invalid) as error:
        post(citizen, open_period, "a" * 1_000_000)
    assert "at most 10,000 characters" in error.value.fields["body"][0]
    assert "1,000,000" in error.value.fields["body"][0]
    assert not Comment.objects.exists()


def test_it_accepts_exactly_the_maximum_length(open_period, citizen):
    assert len(post(citizen, open_period, "é" * 10_000).body) == 10_000


def test_it_refuses_one_character_over_the_maximum(open_period, citizen):
    with pytest.raises(Invalid):
        post(citizen, open_period, "é" * 10_001)


def test_it_follows_the_configured_maximum(settings, open_period, citizen):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "COMMENT_MAX_CHARS": 20}
    with pytest.raises(Invalid, match="at most 20 characters"):
        post(citizen, open_period, "x" * 21)


@pytest.mark.parametrize("body", ["before\x00after", "lone \ud800 surrogate"])
def test_it_refuses_characters_postgresql_cannot_store(open_period, citizen, body):
    with pytest.raises(Invalid) as error:
        post(citizen, open_period, body)
    assert "body" in error.value.fields
    assert not Comment.objects.exists()


def test_it_keeps_html_and_script_as_plain_text(open_period, citizen):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> & <b>bold</b>'
    comment = post(citizen, open_period, hostile)
    comment.refresh_from_db()
    assert comment.body == hostile  # stored verbatim; templates escape it on output
    assert comment.status == Comment.Status.PUBLISHED


@pytest.mark.parametrize(
    ("body", "links"),
    [
        ("no links here", 0),
        ("see https://example.org/a?b=c", 1),
        ("see http://example.org and https://example.com", 2),
        ("bare www.example.org works too", 1),
        ("https://www.example.org counts once", 1),
        ("HTTPS://EXAMPLE.ORG in capitals", 1),
        ("[markdown](https://example.org)", 1),
        ("https://a.example/?next=https://b.example is one URL", 1),
        ("mail someone@www.example.org is an address", 0),
        ("xhttps://example.org is not a link", 0),
        ("www. alone is not a link", 0),
    ],
)
def test_it_counts_links(body, links):
    assert svc.count_links(body) == links


def test_it_refuses_more_than_ten_links(open_period, citizen):
    body = " ".join(f"https://example.org/{i}" for i in range(11))
    with pytest.raises(Invalid) as error:
        post(citizen, open_period, body)
    assert "at most 10 links" in error.value.fields["body"][0]
    assert not Comment.objects.exists()


def test_it_holds_a_comment_with_ten_links(open_period, citizen):
    body = " ".join(f"https://example.org/{i}" for i in range(10))
    comment = post(citizen, open_period, body)
    assert comment.status == Comment.Status.HELD
    assert comment.link_count == 10


# --- Holds -------------------------------------------------------------------------------------


def test_it_holds_a_link_heavy_comment_on_the_record(open_period, citizen):
    comment = post(citizen, open_period, "a https://a.example b www.b.example c http://c.example")
    comment.refresh_from_db()
    assert comment.status == Comment.Status.HELD
    assert comment.held_reason == Comment.HeldReason.LINKS
    assert not comment.listed
    action = ModerationAction.objects.get(comment=comment)
    assert action.action == ModerationAction.Action.HOLD
    assert action.moderator is None
    assert "links" in action.public_reason


def test_it_publishes_a_comment_with_two_links(open_period, citizen):
    comment = post(citizen, open_period, "see https://a.example and www.b.example")
    assert comment.status == Comment.Status.PUBLISHED
    assert comment.link_count == 2


def test_it_holds_comments_from_new_accounts(open_period):
    now = timezone.now()
    newcomer = UserFactory(date_joined=now - timedelta(hours=24) + SECOND)
    comment = post(newcomer, open_period, now=now)
    assert comment.status == Comment.Status.HELD
    assert comment.held_reason == Comment.HeldReason.NEW_ACCOUNT
    assert not comment.listed
    action = ModerationAction.objects.get(comment=comment)
    assert (action.action, action.moderator) == (ModerationAction.Action.HOLD, None)
    assert "less than a day old" in action.public_reason


def test_it_publishes_once_the_account_is_a_day_old(open_period):
    now = timezone.now()
    day_old = UserFactory(date_joined=now - timedelta(hours=24))
    assert post(day_old, open_period, now=now).status == Comment.Status.PUBLISHED


def test_a_held_comment_joins_no_cluster(open_period, citizen):
    post(citizen, open_period, TEXT)
    held = post(UserFactory(date_joined=timezone.now()), open_period, TEXT)
    held.refresh_from_db()
    assert held.cluster is None
    assert not CommentCluster.objects.exists()


# --- Threads -----------------------------------------------------------------------------------


def test_it_threads_replies_under_their_root(open_period, citizen, company_editor, outsider):
    top = post(citizen, open_period, clause_key="weapons.bio.synthesis")
    reply = post(company_editor, open_period, "We agree.", parent=top)
    deeper = post(outsider, open_period, "So do we.", parent=reply)
    assert (reply.parent, reply.root) == (top, top)
    assert (deeper.parent, deeper.root) == (reply, top)
    assert reply.clause == deeper.clause == top.clause
    assert not reply.listed
    assert not deeper.listed
    top.refresh_from_db()
    reply.refresh_from_db()
    assert top.reply_count == 2
    assert reply.reply_count == 0


def test_a_reply_keeps_its_threads_clause_whatever_is_asked(open_period, citizen, outsider):
    top = post(citizen, open_period, clause_key="weapons.bio.synthesis")
    reply = post(outsider, open_period, "Reply.", parent=top, clause_key="harmless.cooking")
    assert reply.clause.key == "weapons.bio.synthesis"


def test_it_refuses_a_parent_in_another_period(open_period, other_period, citizen, outsider):
    elsewhere = post(citizen, other_period)
    with pytest.raises(Invalid) as error:
        post(outsider, open_period, "Reply.", parent=elsewhere)
    assert "parent" in error.value.fields
    assert not Comment.objects.filter(period=open_period).exists()


@pytest.mark.parametrize("parent", [0, "12", object()])
def test_it_refuses_a_parent_that_is_not_a_comment(open_period, citizen, parent):
    with pytest.raises(Invalid) as error:
        post(citizen, open_period, parent=parent)
    assert "parent" in error.value.fields


def test_it_refuses_replies_to_held_comments(open_period, citizen):
    held = post(UserFactory(date_joined=timezone.now()), open_period)
    with pytest.raises(Invalid, match="held"):
        post(citizen, open_period, "Reply.", parent=held)


def test_it_refuses_replies_to_withdrawn_comments(open_period, citizen, outsider):
    top = post(citizen, open_period)
    svc.comment_withdraw(actor=citizen, comment=top)
    top.refresh_from_db()
    with pytest.raises(Invalid, match="withdrawn"):
        post(outsider, open_period, "Reply.", parent=top)


def test_a_held_reply_is_not_counted(open_period, citizen):
    top = post(citizen, open_period)
    post(UserFactory(date_joined=timezone.now()), open_period, "Reply.", parent=top)
    top.refresh_from_db()
    assert top.reply_count == 0


# --- Clauses -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["no.such.clause", "WEAPONS.BIO.SYNTHESIS", "x" * 500, "<b>"])
def test_it_refuses_an_unknown_clause(open_period, citizen, key):
    with pytest.raises(Invalid) as error:
        post(citizen, open_period, clause_key=key)
    assert list(error.value.fields) == ["clause"]
    assert len(error.value.fields["clause"][0]) < 200
    assert not Comment.objects.exists()


def test_it_refuses_a_clause_of_another_version(open_period, other_period, citizen):
    with pytest.raises(Invalid, match=r"has no clause 'other\.clause'"):
        post(citizen, open_period, clause_key="other.clause")


def test_it_refuses_a_clause_key_that_is_not_text(open_period, citizen):
    with pytest.raises(Invalid) as error:
        post(citizen, open_period, clause_key=["weapons.bio.synthesis"])
    assert "clause" in error.value.fields


# --- On behalf of an organization --------------------------------------------------------------


def test_a_member_comments_on_behalf_of_their_organization(open_period, company_member, company):
    comment = post(company_member, open_period, on_behalf_of=company)
    assert comment.on_behalf_of == company


def test_it_refuses_speaking_for_an_organization_one_is_not_in(open_period, citizen, company):
    with pytest.raises(NotAllowed) as error:
        post(citizen, open_period, on_behalf_of=company)
    assert "on_behalf_of" in error.value.fields
    assert not Comment.objects.exists()


def test_it_refuses_speaking_for_an_unverified_organization(open_period, citizen):
    unverified = OrganizationFactory(name="Unverified NGO", slug="unverified-ngo", verified_at=None)
    MembershipFactory(organization=unverified, user=citizen, role=Membership.Role.MEMBER)
    with pytest.raises(NotAllowed) as error:
        post(citizen, open_period, on_behalf_of=unverified)
    assert "on_behalf_of" in error.value.fields


def test_it_refuses_an_organization_that_is_not_one(open_period, citizen):
    with pytest.raises(Invalid) as error:
        post(citizen, open_period, on_behalf_of="acme-ai")
    assert "on_behalf_of" in error.value.fields


# --- Rate limits -------------------------------------------------------------------------------


def test_it_limits_each_account(settings, open_period, citizen, outsider):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "COMMENT_RATE_ACCOUNT": "2/minute"}
    now = timezone.now()
    post(citizen, open_period, "One.", now=now)
    post(citizen, open_period, "Two.", now=now)
    with pytest.raises(RateLimited) as error:
        post(citizen, open_period, "Three.", now=now)
    assert 1 <= error.value.retry_after <= 60
    assert Comment.objects.count() == 2
    post(outsider, open_period, "Someone else.", now=now)  # a limit per account


def test_the_account_limit_is_ten_a_minute_by_default(open_period, citizen):
    now = timezone.now()
    for i in range(10):
        post(citizen, open_period, f"Comment number {i}.", now=now)
    with pytest.raises(RateLimited):
        post(citizen, open_period, "Eleven.", now=now)
    assert Comment.objects.count() == 10


def test_it_limits_each_address(settings, open_period, citizen, outsider, company_member):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "COMMENT_RATE_IP": "2/minute"}
    now = timezone.now()
    post(citizen, open_period, "One.", ip="203.0.113.7", now=now)
    post(outsider, open_period, "Two.", ip="203.0.113.7", now=now)
    with pytest.raises(RateLimited):
        post(company_member, open_period, "Three.", ip="203.0.113.7", now=now)
    post(company_member, open_period, "Elsewhere.", ip="2001:db8::1", now=now)
    assert Comment.objects.count() == 3


def test_an_unverified_account_is_refused_before_it_is_counted(settings, open_period, citizen):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "COMMENT_RATE_IP": "1/minute"}
    now = timezone.now()
    for _ in range(3):
        with pytest.raises(NotAllowed):
            post(UserFactory(verified=False), open_period, ip="203.0.113.9", now=now)
    assert post(citizen, open_period, ip="203.0.113.9", now=now).pk


# --- Form letters ------------------------------------------------------------------------------


def test_identical_comments_form_one_cluster_at_once(open_period, citizen, outsider, fast_rates):
    first = post(citizen, open_period, "Keep the refusal!")
    second = post(outsider, open_period, "  keep THE refusal  ")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.cluster_id == second.cluster_id is not None
    assert first.listed
    assert not second.listed
    assert CommentCluster.objects.get().comment_count == 2


def test_it_schedules_near_duplicate_clustering_for_top_level_comments(
    open_period, citizen, monkeypatch
):
    calls = []
    monkeypatch.setattr(clustering, "schedule_clustering", lambda: calls.append(1))
    top = post(citizen, open_period)
    assert calls == [1]
    post(citizen, open_period, "A reply.", parent=top)
    post(UserFactory(date_joined=timezone.now()), open_period, "Held.")
    assert calls == [1]  # replies and held comments wait for no clustering
    top.refresh_from_db()
    assert not top.clustering_done


# --- Editing -----------------------------------------------------------------------------------


def test_it_edits_within_the_window_keeping_history(open_period, citizen):
    now = timezone.now()
    comment = post(citizen, open_period, "Frist draft.", now=now)
    edited = svc.comment_edit(actor=citizen, comment=comment, body="First draft.", now=now + MINUTE)
    assert edited.body == "First draft."
    assert edited.edited_at == now + MINUTE
    assert edited.normalized_sha256 == clustering.comment_text_sha256("First draft.")
    revision = CommentRevision.objects.get(comment=comment)
    assert (revision.body, revision.created_at) == ("Frist draft.", now)
    svc.comment_edit(actor=citizen, comment=comment, body="Final draft.", now=now + 2 * MINUTE)
    assert list(comment.revisions.values_list("body", "created_at")) == [
        ("Frist draft.", now),
        ("First draft.", now + MINUTE),
    ]


def test_an_unchanged_body_is_not_an_edit(open_period, citizen):
    comment = post(citizen, open_period, "Same.")
    edited = svc.comment_edit(actor=citizen, comment=comment, body="  Same.  ")
    assert edited.edited_at is None
    assert not CommentRevision.objects.exists()


def test_it_edits_a_second_before_the_window_ends(open_period, citizen):
    now = timezone.now()
    comment = post(citizen, open_period, now=now)
    edited = svc.comment_edit(
        actor=citizen, comment=comment, body="Changed.", now=now + 15 * MINUTE - SECOND
    )
    assert edited.body == "Changed."


def test_it_refuses_edits_when_the_window_ends(open_period, citizen):
    now = timezone.now()
    comment = post(citizen, open_period, now=now)
    with pytest.raises(Conflict, match="15 minutes") as error:
        svc.comment_edit(actor=citizen, comment=comment, body="Changed.", now=now + 15 * MINUTE)
    assert error.value.code == "edit_window_closed"
    comment.refresh_from_db()
    assert comment.body == TEXT


def test_it_refuses_edits_once_the_period_closes(open_period, citizen):
    close = open_period.closes_at
    comment = post(citizen, open_period, now=close - MINUTE)
    with pytest.raises(Conflict, match="closed"):
        svc.comment_edit(actor=citizen, comment=comment, body="Changed.", now=close)


@pytest.mark.parametrize(
    "persona", ["outsider", "company_editor", "moderator", "staff", "company_owner"]
)
def test_only_the_author_edits(request, persona, open_period, citizen):
    comment = post(citizen, open_period)
    with pytest.raises(NotAllowed, match="Only the author"):
        svc.comment_edit(actor=request.getfixturevalue(persona), comment=comment, body="Mine.")
    with pytest.raises(NotAllowed):
        svc.comment_edit(actor=AnonymousUser(), comment=comment, body="Mine.")


def test_it_refuses_to_edit_a_withdrawn_comment(open_period, citizen):
    comment = post(citizen, open_period)
    svc.comment_withdraw(actor=citizen, comment=comment)
    with pytest.raises(Conflict, match="withdrawn"):
        svc.comment_edit(actor=citizen, comment=comment, body="Back.")


def test_it_refuses_to_edit_a_hidden_comment(open_period, citizen, moderator):
    comment = post(citizen, open_period)
    svc.comment_moderate(
        moderator=moderator, comment=comment, action="hide", public_reason="Abuse."
    )
    with pytest.raises(Conflict, match="hidden"):
        svc.comment_edit(actor=citizen, comment=comment, body="Nicer now.")


@pytest.mark.parametrize(
    "body",
    ["", "x" * 10_001, "nul\x00", " ".join(f"https://example.org/{i}" for i in range(11))],
)
def test_an_edit_follows_the_body_rules(open_period, citizen, body):
    comment = post(citizen, open_period)
    with pytest.raises(Invalid) as error:
        svc.comment_edit(actor=citizen, comment=comment, body=body)
    assert "body" in error.value.fields
    comment.refresh_from_db()
    assert comment.body == TEXT
    assert not CommentRevision.objects.exists()


def test_an_edit_that_adds_links_holds_the_comment(open_period, citizen):
    comment = post(citizen, open_period)
    edited = svc.comment_edit(
        actor=citizen, comment=comment, body="https://a.example https://b.example www.c.example"
    )
    edited.refresh_from_db()
    assert edited.status == Comment.Status.HELD
    assert edited.held_reason == Comment.HeldReason.LINKS
    assert edited.link_count == 3
    assert not edited.listed
    assert ModerationAction.objects.filter(comment=comment, action="hold").count() == 1


def test_an_edit_that_adds_links_to_a_reply_uncounts_it(open_period, citizen, outsider):
    top = post(citizen, open_period)
    reply = post(outsider, open_period, "Reply.", parent=top)
    svc.comment_edit(actor=outsider, comment=reply, body="https://a.x https://b.x https://c.x")
    top.refresh_from_db()
    assert top.reply_count == 0


def test_an_edit_to_new_words_leaves_the_campaign(open_period, citizen, outsider, fast_rates):
    first = post(citizen, open_period, "Keep the refusal.")
    second = post(outsider, open_period, "Keep the refusal.")
    CommentBand.objects.create(period=open_period, comment=second, key=42)  # stale LSH keys
    svc.comment_edit(actor=outsider, comment=second, body="Loosen the refusal for researchers.")
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.cluster is None
    assert second.listed
    assert not second.clustering_done  # the near-duplicate pass looks at the new words
    assert not CommentBand.objects.filter(comment=second).exists()
    assert first.cluster is None  # a cluster of one dissolves
    assert first.listed
    assert not CommentCluster.objects.exists()


def test_an_edit_into_a_campaigns_words_joins_it(open_period, citizen, outsider, fast_rates):
    first = post(citizen, open_period, "Keep the refusal.")
    second = post(outsider, open_period, "Something else.")
    svc.comment_edit(actor=outsider, comment=second, body="keep the refusal")
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.cluster_id == first.cluster_id is not None
    assert not second.listed


# --- Withdrawing -------------------------------------------------------------------------------


def test_it_withdraws_leaving_a_tombstone(open_period, citizen):
    now = timezone.now()
    comment = post(citizen, open_period, now=now)
    withdrawn = svc.comment_withdraw(actor=citizen, comment=comment, now=now + MINUTE)
    withdrawn.refresh_from_db()
    assert withdrawn.status == Comment.Status.WITHDRAWN
    assert withdrawn.withdrawn_at == now + MINUTE
    assert withdrawn.listed  # its place stays in the listing
    assert withdrawn.body == TEXT  # kept in the database, never shown


def test_it_refuses_to_withdraw_twice(open_period, citizen):
    comment = post(citizen, open_period)
    svc.comment_withdraw(actor=citizen, comment=comment)
    with pytest.raises(Conflict, match="already withdrawn"):
        svc.comment_withdraw(actor=citizen, comment=comment)


@pytest.mark.parametrize("persona", ["outsider", "company_editor", "moderator", "staff"])
def test_only_the_author_withdraws(request, persona, open_period, citizen):
    comment = post(citizen, open_period)
    with pytest.raises(NotAllowed):
        svc.comment_withdraw(actor=request.getfixturevalue(persona), comment=comment)
    comment.refresh_from_db()
    assert comment.status == Comment.Status.PUBLISHED


def test_it_withdraws_a_second_before_the_close_but_not_at_it(open_period, citizen, outsider):
    close = open_period.closes_at
    mine = post(citizen, open_period, now=close - MINUTE)
    theirs = post(outsider, open_period, now=close - MINUTE)
    assert svc.comment_withdraw(actor=citizen, comment=mine, now=close - SECOND).withdrawn_at
    with pytest.raises(Conflict, match="closed"):
        svc.comment_withdraw(actor=outsider, comment=theirs, now=close)


def test_a_hidden_comment_cannot_be_withdrawn(open_period, citizen, moderator):
    comment = post(citizen, open_period)
    svc.comment_moderate(moderator=moderator, comment=comment, action="hide", public_reason="Spam.")
    with pytest.raises(Conflict, match="hidden"):
        svc.comment_withdraw(actor=citizen, comment=comment)


def test_a_withdrawn_reply_is_uncounted(open_period, citizen, outsider):
    top = post(citizen, open_period)
    reply = post(outsider, open_period, "Reply.", parent=top)
    svc.comment_withdraw(actor=outsider, comment=reply)
    top.refresh_from_db()
    reply.refresh_from_db()
    assert top.reply_count == 0
    assert not reply.listed


def test_a_withdrawn_held_comment_never_appears(open_period):
    newcomer = UserFactory(date_joined=timezone.now())
    comment = post(newcomer, open_period)
    svc.comment_withdraw(actor=newcomer, comment=comment)
    comment.refresh_from_db()
    assert comment.status == Comment.Status.WITHDRAWN
    assert not comment.listed


def test_withdrawing_a_campaign_copy_takes_it_out(open_period, citizen, outsider, fast_rates):
    first = post(citizen, open_period, "Keep the refusal.")
    second = post(outsider, open_period, "Keep the refusal.")
    svc.comment_withdraw(actor=outsider, comment=second)
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.cluster is None
    assert first.cluster is None
    assert first.listed
    assert not CommentCluster.objects.exists()


# --- The account export ------------------------------------------------------------------------


def test_the_account_export_holds_ones_comments_endorsements_and_flags(
    open_period, citizen, outsider
):
    from governance.services.accounts import user_export

    now = timezone.now()
    mine = post(citizen, open_period, "My first words.", clause_key="harmless.cooking", now=now)
    svc.comment_edit(actor=citizen, comment=mine, body="My words.", now=now + MINUTE)
    gone = post(citizen, open_period, "Withdrawn words.", now=now)
    svc.comment_withdraw(actor=citizen, comment=gone, now=now + MINUTE)
    theirs = post(outsider, open_period, "Their words.", now=now)
    svc.comment_endorse(user=citizen, comment=theirs)
    svc.comment_flag(user=citizen, comment=theirs, reason="off_topic")

    section = user_export(user=citizen)["comments"]
    assert [(c["id"], c["status"], c["body"]) for c in section["comments"]] == [
        (mine.pk, "published", "My words."),
        (gone.pk, "withdrawn", "Withdrawn words."),  # one's own text, even withdrawn
    ]
    first = section["comments"][0]
    assert first["period"] == open_period.pk
    assert first["clause"] == "harmless.cooking"
    assert first["created_at"] == now.isoformat()
    assert first["on"] == "Acme Assistant Usage Policy v1.0.0"
    assert first["revisions"] == [{"body": "My first words.", "created_at": now.isoformat()}]
    assert [e["comment"] for e in section["endorsements"]] == [theirs.pk]
    assert [(f["comment"], f["reason"]) for f in section["flags"]] == [(theirs.pk, "off_topic")]
    # Someone else's export holds none of it.
    assert [c["id"] for c in user_export(user=outsider)["comments"]["comments"]] == [theirs.pk]
