"""The demo public comment behind `make run`: Acme's open docket and Northwind's closed one with
its published response, seeded by the whole `seed_demo`, idempotent, and every page of it
rendering for the people who use it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from governance.demo import DEMO_SEEDERS
from governance.management.commands.seed_demo import seed
from governance.models import LedgerEntry, User
from policies.demo import seed_policies
from policies.demo_comments import (
    ACME_COMMENTS,
    ACME_LETTER_COPIES,
    ACME_LETTER_VARIANT_COPIES,
    NORTHWIND_LETTER_COPIES,
    NORTHWIND_LETTER_VARIANTS,
    seed_comments,
)
from policies.models import (
    Comment,
    CommentBand,
    CommentCluster,
    CommentPeriod,
    CommentResponse,
    Endorsement,
    Flag,
    ModerationAction,
)
from policies.selectors.responses import response_requirements

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The seed creates ten demo logins; real PBKDF2 would make each test take seconds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seeded():
    seed()


def _period(organization: str) -> CommentPeriod:
    return CommentPeriod.objects.select_related("version__policy__organization").get(
        version__policy__organization__slug=organization
    )


def _kwargs(period: CommentPeriod) -> dict[str, str]:
    version = period.version
    return {
        "org_slug": version.policy.organization.slug,
        "policy_slug": version.policy.slug,
        "number": version.number,
    }


def _counts() -> dict[str, int]:
    models = (
        User,
        CommentPeriod,
        Comment,
        CommentCluster,
        CommentBand,
        Endorsement,
        Flag,
        ModerationAction,
        CommentResponse,
        LedgerEntry,
    )
    return {model.__name__: model.objects.count() for model in models}


def test_it_registers_the_seeder_after_the_policies_one():
    assert DEMO_SEEDERS.index(seed_policies) < DEMO_SEEDERS.index(seed_comments)


def test_it_seeds_twice_with_the_same_result():
    seed()
    first = _counts()
    head = LedgerEntry.objects.order_by("-seq").values_list("seq", "hash").first()

    seed()

    assert _counts() == first
    assert LedgerEntry.objects.order_by("-seq").values_list("seq", "hash").first() == head
    assert first["CommentPeriod"] == 2


def test_it_opens_acme_s_current_version_through_the_service_on_the_record(seeded):
    period = _period("acme-ai")

    assert period.version.number == "2.0.0"
    assert period.is_open
    assert period.opened_by.email == "owner@acme-ai.test"
    assert (period.closes_at - period.opens_at).days == 45
    opened = LedgerEntry.objects.get(
        action="comment_period.opened", payload__organization="acme-ai"
    )
    assert opened.payload["version"] == "2.0.0"


def test_it_gives_acme_about_forty_individual_comments_with_replies_and_clauses(seeded):
    period = _period("acme-ai")
    individual = Comment.objects.filter(period=period, cluster__isnull=True)
    replies = individual.filter(parent__isnull=False)

    assert 40 <= individual.count() <= 50
    assert replies.count() == sum(1 for c in ACME_COMMENTS if c.reply_to is not None)
    assert individual.filter(parent__isnull=True, clause__isnull=False).count() >= 25
    assert individual.filter(parent__isnull=True, clause__isnull=True).count() >= 5
    # A reply joins its thread's clause, and the thread counts it.
    reply = replies.select_related("root").get(author__email="editor@acme-ai.test")
    assert reply.clause_id == reply.root.clause_id is not None
    assert reply.root.reply_count == 1
    # Posting times spread over the period, in posting (id) order.
    times = list(Comment.objects.filter(period=period).order_by("id").values_list("created_at"))
    assert times == sorted(times)
    assert times[-1][0] - times[0][0] > timedelta(days=10)


def test_it_posts_one_comment_on_behalf_of_the_auditors(seeded):
    period = _period("acme-ai")
    on_behalf = Comment.objects.get(period=period, on_behalf_of__isnull=False)

    assert on_behalf.on_behalf_of.slug == "fair-audit"
    assert on_behalf.author.email == "auditor@fair-audit.test"
    assert on_behalf.listed


def test_it_endorses_the_thoughtful_comments(seeded):
    period = _period("acme-ai")
    top = Comment.objects.filter(period=period).order_by("-endorsement_count").first()

    assert top.endorsement_count >= 10
    assert Endorsement.objects.filter(comment=top).count() == top.endorsement_count
    assert not Endorsement.objects.filter(comment__author=F("user")).exists()


def test_it_clusters_the_form_letter_campaign_with_its_near_variants(seeded):
    period = _period("acme-ai")
    campaign = CommentCluster.objects.filter(period=period).order_by("-comment_count").first()
    members = Comment.objects.filter(cluster=campaign)

    assert campaign.comment_count == ACME_LETTER_COPIES + ACME_LETTER_VARIANT_COPIES
    assert members.count() == campaign.comment_count
    assert campaign.kind == CommentCluster.Kind.NEAR
    assert campaign.variant_count > 1
    assert campaign.comment_count >= settings.OPENREFUSAL["RESPONSE_CLUSTER_MIN"]
    # Shown once, by its first letter; the clustering pass has seen every comment.
    assert list(members.filter(listed=True)) == [campaign.representative]
    assert campaign.representative == members.order_by("id").first()
    assert not Comment.objects.filter(period=period, clustering_done=False).exists()
    # A second, smaller campaign stays below the size the company must answer.
    small = CommentCluster.objects.filter(period=period).exclude(pk=campaign.pk).get()
    assert 1 < small.comment_count < settings.OPENREFUSAL["RESPONSE_CLUSTER_MIN"]


def test_it_puts_one_hidden_one_flagged_and_one_held_comment_on_the_record(seeded):
    period = _period("acme-ai")

    hidden = Comment.objects.get(period=period, status=Comment.Status.HIDDEN)
    assert hidden.hidden_reason.startswith("A personal attack")
    assert hidden.listed
    assert LedgerEntry.objects.filter(action="comment.hide", payload__comment=hidden.pk).exists()

    flagged = Comment.objects.get(
        pk__in=Flag.objects.filter(comment__period=period, resolved_at__isnull=True)
        .values("comment_id")
        .distinct()
    )
    assert flagged.status == Comment.Status.PUBLISHED
    assert flagged.flags.filter(reason="spam").count() == 2

    held = Comment.objects.get(period=period, status=Comment.Status.HELD)
    assert held.held_reason == Comment.HeldReason.NEW_ACCOUNT
    assert not held.listed
    assert ModerationAction.objects.filter(comment=held, action="hold").exists()


def test_it_closes_northwind_s_period_with_comments_in_the_past(seeded):
    period = _period("northwind-labs")
    now = timezone.now()

    assert period.state == CommentPeriod.State.CLOSED
    assert period.opens_at < now - timedelta(days=30)
    comments = Comment.objects.filter(period=period)
    assert comments.count() == NORTHWIND_LETTER_COPIES + len(NORTHWIND_LETTER_VARIANTS) + 7
    assert not comments.filter(created_at__gte=period.closes_at).exists()
    assert not comments.filter(created_at__lt=period.opens_at).exists()
    assert not Endorsement.objects.filter(
        comment__period=period, created_at__gte=period.closes_at
    ).exists()
    assert period.closed_notice_sent_at == period.closes_at


def test_it_answers_every_required_item_and_publishes_northwind_s_response(seeded):
    period = _period("northwind-labs")
    requirements = response_requirements(period)

    assert requirements.complete
    assert requirements.required >= 6
    assert {item.kind for item in requirements.items} == {"cluster", "clause"}
    assert requirements.declined >= 1
    campaign = next(item for item in requirements.items if item.kind == "cluster")
    assert campaign.comment_count >= settings.OPENREFUSAL["RESPONSE_CLUSTER_MIN"]
    assert period.responses_published_at is not None
    assert period.responses_published_by.email == "owner@northwind.test"
    assert CommentResponse.objects.filter(period=period, target="comment").count() == 1
    published = LedgerEntry.objects.get(action="comment_period.responses_published")
    assert published.payload["required"] == requirements.required


def test_it_leaves_acme_s_next_version_waiting_for_its_response(seeded):
    """The duty to respond holds in the demo too: Acme's draft cannot be published while its
    current version's period has no published response."""
    from governance.errors import Conflict
    from policies.models import PolicyVersion
    from policies.services import version_publish

    draft = PolicyVersion.objects.get(policy__organization__slug="acme-ai", status="draft")

    with pytest.raises(Conflict, match="needs its response to comments"):
        version_publish(actor=User.objects.get(email="owner@acme-ai.test"), version=draft)


@pytest.mark.parametrize("organization", ["acme-ai", "northwind-labs"])
def test_it_renders_every_page_of_the_demo_dockets(seeded, client, organization):
    period = _period(organization)
    kwargs = _kwargs(period)
    cluster = CommentCluster.objects.filter(period=period).order_by("-comment_count").first()
    thread = Comment.objects.filter(period=period, reply_count__gt=0).first()
    paths = [
        reverse("policies:version", kwargs=kwargs),
        reverse("policies:comments", kwargs=kwargs),
        reverse("policies:comments", kwargs=kwargs) + "?sort=endorsed",
        reverse("policies:comments", kwargs=kwargs) + f"?clause={thread.clause.key}"
        if thread.clause_id
        else reverse("policies:comments", kwargs=kwargs) + "?org=1",
        reverse("policies:comments", kwargs=kwargs) + "?q=clause",
        reverse("policies:cluster", kwargs={**kwargs, "cluster_id": cluster.pk}),
        reverse("policies:responses", kwargs=kwargs),
        reverse("policies:comments-feed", kwargs=kwargs),
        reverse("policies:comments-export", kwargs={**kwargs, "fmt": "csv"}),
        reverse("policies:comment", kwargs={"pk": thread.pk}),
        f"/api/v1/comments/?period={period.pk}",
        f"/api/v1/comment-periods/{period.pk}/",
        f"/api/v1/comment-periods/{period.pk}/responses/",
        f"/api/v1/comment-clusters/{cluster.pk}/",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path


def test_it_shows_the_campaign_once_with_its_count_on_the_docket(seeded, client):
    period = _period("acme-ai")
    campaign = CommentCluster.objects.filter(period=period).order_by("-comment_count").first()
    docket = reverse("policies:comments", kwargs=_kwargs(period))

    newest = client.get(docket).content.decode()
    on_clause = client.get(docket + "?clause=cyber.exploit.poc").content.decode()

    assert "hidden by a moderator" in newest.lower()
    assert "GrowthHacker2000" in newest
    assert "First-time Commenter" not in newest  # held: only its author and moderators see it
    assert on_clause.count(f"/clusters/{campaign.pk}/") >= 1
    assert f"{campaign.comment_count - 1}" in on_clause


def test_it_shows_northwind_s_published_response(seeded, client):
    period = _period("northwind-labs")

    page = client.get(reverse("policies:responses", kwargs=_kwargs(period))).content.decode()

    assert "never completes graded work" in page
    assert "we decline to change the clause" in page.lower()


def test_it_gives_the_moderator_a_queue_with_the_flag_and_the_hold(seeded, client):
    client.force_login(User.objects.get(email="moderator@openrefusal.test"))

    page = client.get(reverse("policies:moderation-queue")).content.decode()

    assert "GrowthHacker2000" in page
    assert "First-time Commenter" in page


def test_it_lists_the_demo_periods_in_the_api(seeded, client):
    results = client.get("/api/v1/comment-periods/").json()["results"]

    by_org = {p["organization"]: p for p in results}
    assert by_org["acme-ai"]["state"] == "open"
    assert by_org["northwind-labs"]["state"] == "closed"
    assert by_org["northwind-labs"]["responses_published_at"] is not None
    period = by_org["acme-ai"]["id"]
    listing = client.get(f"/api/v1/comments/?period={period}").json()
    listed = Comment.objects.filter(period_id=period, listed=True).count()
    assert len(listing["results"]) == listed
    # The 83 campaign letters appear as their two representatives.
    assert sum(1 for c in listing["results"] if c["cluster"]) == 2
