"""The duty to respond: what the response to comments must cover, who may answer (and not
another company), the document's publication once the period closes, and the gate that keeps the
next version unpublished until it is done."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import LedgerEntry
from policies.models import CommentCluster, CommentResponse, PolicyVersion
from policies.selectors.responses import next_version, response_requirements
from policies.services import comments as svc
from policies.services import policy_create, version_draft_create, version_publish
from tests.factories import UserFactory
from tests.policies.conftest import POLICY_MARKDOWN, body_with

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
FORM_LETTER = "Keep refusing bioweapon synthesis; no exceptions."


def post(author, period, body="A comment.", **kw):
    return svc.comment_post(author=author, period=period, body=body, **kw)


def answer(actor, period, **kw):
    kw.setdefault("body", "Our answer.")
    return svc.comment_response_save(actor=actor, period=period, **kw)


def close(period, shift_period):
    now = timezone.now()
    return shift_period(period, opens_at=now - 31 * DAY, closes_at=now - SECOND)


@pytest.fixture
def small_campaigns(settings):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "RESPONSE_CLUSTER_MIN": 3}


@pytest.fixture
def campaign(open_period, small_campaigns):
    """Three identical comments: one cluster of three, on the bio clause."""
    for i in range(3):
        post(
            UserFactory(email=f"campaigner{i}@example.org"),
            open_period,
            FORM_LETTER,
            clause_key="weapons.bio.synthesis",
        )
    return CommentCluster.objects.get()


@pytest.fixture
def other_period(company, company_editor, publish):
    policy = policy_create(actor=company_editor, organization=company, title="Second policy")
    version = publish(
        policy,
        "1.0.0",
        body_with(("other.clause", "Other clause", "refuse", "Something else.")),
        company_editor,
    )
    now = timezone.now()
    return svc.comment_period_open(
        actor=company_editor, version=version, opens_at=now, closes_at=now + 30 * DAY
    )


# --- What must be answered ---------------------------------------------------------------------


def test_a_quiet_period_owes_nothing(open_period):
    requirements = response_requirements(open_period)
    assert requirements.items == []
    assert (requirements.required, requirements.missing) == (0, 0)
    assert requirements.complete
    assert requirements.percent_answered == 100


def test_every_commented_clause_and_large_campaign_is_required(
    open_period, campaign, citizen, outsider
):
    post(citizen, open_period, "On cooking.", clause_key="harmless.cooking")
    post(outsider, open_period, "On the whole policy.")  # no clause: nothing owed for it
    requirements = response_requirements(open_period)
    assert [(i.kind, i.clause_key, i.comment_count) for i in requirements.items] == [
        ("cluster", "", 3),
        ("clause", "weapons.bio.synthesis", 3),
        ("clause", "harmless.cooking", 1),
    ]
    assert requirements.items[0].cluster == campaign
    assert requirements.items[1].clause_title == "Biological weapons synthesis"
    assert (requirements.required, requirements.answered, requirements.missing) == (3, 0, 3)
    assert not requirements.complete
    assert requirements.percent_answered == 0


def test_a_campaign_below_the_minimum_is_not_required(open_period, citizen, outsider):
    post(citizen, open_period, FORM_LETTER)
    post(outsider, open_period, FORM_LETTER)
    assert CommentCluster.objects.get().comment_count == 2
    assert response_requirements(open_period).required == 0  # default minimum: 25


def test_withdrawn_held_and_hidden_comments_owe_nothing(open_period, citizen, moderator):
    withdrawn = post(citizen, open_period, "Withdrawn.", clause_key="harmless.cooking")
    svc.comment_withdraw(actor=citizen, comment=withdrawn)
    post(
        UserFactory(date_joined=timezone.now()),
        open_period,
        "Held.",
        clause_key="self-harm.support",
    )
    hidden = post(citizen, open_period, "Hidden.", clause_key="weapons.bio.synthesis")
    svc.comment_moderate(moderator=moderator, comment=hidden, action="hide", public_reason="Abuse.")
    assert response_requirements(open_period).required == 0


def test_it_counts_answers_and_recorded_refusals(open_period, campaign, citizen, company_editor):
    post(citizen, open_period, "On cooking.", clause_key="harmless.cooking")
    answer(company_editor, open_period, target="cluster", cluster=campaign, body="We keep it.")
    answer(
        company_editor,
        open_period,
        target="clause",
        clause_key="harmless.cooking",
        body="Out of scope for this version.",
        declined=True,
    )
    requirements = response_requirements(open_period)
    assert (requirements.answered, requirements.declined, requirements.missing) == (1, 1, 1)
    assert requirements.percent_answered == 66  # rounded down: two of three is not 67 % done
    assert requirements.items[0].answered
    assert requirements.items[2].declined


def test_a_response_to_one_comment_does_not_answer_its_clause(open_period, citizen, company_editor):
    comment = post(citizen, open_period, clause_key="harmless.cooking")
    answer(company_editor, open_period, target="comment", comment=comment)
    assert response_requirements(open_period).missing == 1


def test_requirements_take_a_constant_number_of_queries(
    open_period, campaign, citizen, django_assert_max_num_queries
):
    for key in ("harmless.cooking", "self-harm.support"):
        post(citizen, open_period, f"On {key}.", clause_key=key)
    with django_assert_max_num_queries(4):
        requirements = response_requirements(open_period)
        shown = [(item.cluster, item.response) for item in requirements.items]
    assert len(shown) == 4  # the campaign and three clauses


# --- Saving answers ----------------------------------------------------------------------------


def test_it_answers_a_clause_on_the_ledger(open_period, citizen, company_editor):
    post(citizen, open_period, clause_key="harmless.cooking")
    response = answer(
        company_editor, open_period, target="clause", clause_key="harmless.cooking", body="Noted."
    )
    assert (response.target, response.clause_key, response.body) == (
        "clause",
        "harmless.cooking",
        "Noted.",
    )
    assert response.organization.slug == "acme-ai"
    assert response.author == company_editor
    entry = LedgerEntry.objects.get(action="comment_response.saved")
    assert entry.subject == f"commentperiod:{open_period.pk}"
    assert entry.payload["clause"] == "harmless.cooking"
    assert entry.payload["created"] is True


def test_saving_again_replaces_the_answer(open_period, campaign, company_owner):
    answer(company_owner, open_period, target="cluster", cluster=campaign, body="First.")
    response = answer(
        company_owner,
        open_period,
        target="cluster",
        cluster=campaign,
        body="Why not.",
        declined=True,
    )
    assert CommentResponse.objects.count() == 1
    assert (response.body, response.declined) == ("Why not.", True)
    assert [e.payload["created"] for e in LedgerEntry.objects.filter(
        action="comment_response.saved"
    ).order_by("seq")] == [True, False]  # fmt: skip


def test_it_answers_one_comment(open_period, citizen, company_editor):
    comment = post(citizen, open_period)
    response = answer(company_editor, open_period, target="comment", comment=comment)
    assert response.comment == comment


@pytest.mark.parametrize(
    "persona", ["outsider", "citizen", "company_member", "moderator", "staff", "auditor"]
)
def test_only_the_companys_editors_answer(request, persona, open_period, citizen):
    post(citizen, open_period, clause_key="harmless.cooking")
    with pytest.raises(NotAllowed):
        answer(
            request.getfixturevalue(persona),
            open_period,
            target="clause",
            clause_key="harmless.cooking",
        )
    assert not CommentResponse.objects.exists()


@pytest.mark.parametrize("user", [None, AnonymousUser()])
def test_anonymous_cannot_answer(open_period, user):
    with pytest.raises(NotAllowed):
        answer(user, open_period, target="clause", clause_key="harmless.cooking")


def test_another_company_cannot_answer_this_docket(open_period, outsider, citizen, company_editor):
    comment = post(citizen, open_period)
    with pytest.raises(NotAllowed, match="company that publishes this policy"):
        answer(outsider, open_period, target="comment", comment=comment, body="We answer!")
    assert not CommentResponse.objects.exists()


def test_it_refuses_targets_of_another_period(
    open_period, other_period, campaign, citizen, outsider, company_editor
):
    elsewhere = post(citizen, other_period, "Elsewhere.")
    with pytest.raises(Invalid) as error:
        answer(company_editor, open_period, target="comment", comment=elsewhere)
    assert "comment" in error.value.fields
    with pytest.raises(Invalid) as error:
        answer(company_editor, other_period, target="cluster", cluster=campaign)
    assert "cluster" in error.value.fields
    with pytest.raises(Invalid) as error:
        answer(company_editor, open_period, target="clause", clause_key="other.clause")
    assert "clause" in error.value.fields
    assert not CommentResponse.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target": "everything"}, "target"),
        ({"target": ""}, "target"),
        ({"target": "comment"}, "comment"),
        ({"target": "comment", "comment": 1}, "comment"),
        ({"target": "cluster"}, "cluster"),
        ({"target": "clause"}, "clause"),
        ({"target": "clause", "clause_key": "no.such.clause"}, "clause"),
        ({"target": "clause", "clause_key": "harmless.cooking", "body": ""}, "body"),
        ({"target": "clause", "clause_key": "harmless.cooking", "body": "x" * 20_001}, "body"),
        ({"target": "clause", "clause_key": "harmless.cooking", "body": "a\x00b"}, "body"),
    ],
)
def test_it_refuses_malformed_answers(open_period, company_editor, kwargs, field):
    with pytest.raises(Invalid) as error:
        answer(company_editor, open_period, **kwargs)
    assert field in error.value.fields
    assert not CommentResponse.objects.exists()


def test_it_refuses_to_answer_a_held_comment(open_period, company_editor):
    held = post(UserFactory(date_joined=timezone.now()), open_period)
    with pytest.raises(Invalid, match="held"):
        answer(company_editor, open_period, target="comment", comment=held)


def test_it_deletes_an_answer_on_the_ledger(open_period, company_editor, outsider):
    response = answer(company_editor, open_period, target="clause", clause_key="harmless.cooking")
    response_id = response.pk
    with pytest.raises(NotAllowed):
        svc.comment_response_delete(actor=outsider, response=response)
    svc.comment_response_delete(actor=company_editor, response=response)
    assert not CommentResponse.objects.exists()
    entry = LedgerEntry.objects.get(action="comment_response.deleted")
    assert entry.payload["response"] == response_id


# --- Publishing the document -------------------------------------------------------------------


@pytest.fixture
def answered_period(open_period, citizen, company_editor, shift_period):
    """A closed period whose one required item (the cooking clause) is answered."""
    post(citizen, open_period, clause_key="harmless.cooking")
    answer(company_editor, open_period, target="clause", clause_key="harmless.cooking")
    return close(open_period, shift_period)


def test_it_publishes_the_response_document(answered_period, company_editor):
    now = timezone.now()
    period = svc.response_document_publish(
        actor=company_editor, period=answered_period, summary="We read every comment.", now=now
    )
    assert period.responses_published_at == now
    assert period.responses_published_by == company_editor
    assert period.responses_summary == "We read every comment."
    entry = LedgerEntry.objects.get(action="comment_period.responses_published")
    assert entry.subject == f"commentperiod:{period.pk}"
    assert entry.payload == {"answered": 1, "declined": 0, "required": 1}


def test_it_waits_for_the_closing_second(open_period, citizen, company_editor):
    post(citizen, open_period, clause_key="harmless.cooking")
    answer(company_editor, open_period, target="clause", clause_key="harmless.cooking")
    close_at = open_period.closes_at
    with pytest.raises(Conflict, match="after it closes"):
        svc.response_document_publish(
            actor=company_editor, period=open_period, summary="Early.", now=close_at - SECOND
        )
    period = svc.response_document_publish(
        actor=company_editor, period=open_period, summary="On time.", now=close_at
    )
    assert period.responses_published_at == close_at


def test_it_refuses_an_incomplete_document_saying_how_much_is_missing(
    open_period, campaign, citizen, company_editor, shift_period
):
    post(citizen, open_period, clause_key="harmless.cooking")
    answer(company_editor, open_period, target="cluster", cluster=campaign)
    period = close(open_period, shift_period)
    with pytest.raises(Conflict, match="2 of 3 required items still need") as error:
        svc.response_document_publish(actor=company_editor, period=period, summary="Done?")
    assert error.value.code == "responses_incomplete"
    period.refresh_from_db()
    assert period.responses_published_at is None


@pytest.mark.parametrize("summary", ["", "  ", None, "x" * 20_001, "\x00"])
def test_it_requires_a_summary(answered_period, company_editor, summary):
    with pytest.raises(Invalid) as error:
        svc.response_document_publish(actor=company_editor, period=answered_period, summary=summary)
    assert "summary" in error.value.fields


@pytest.mark.parametrize("persona", ["outsider", "citizen", "company_member", "moderator", "staff"])
def test_only_the_companys_editors_publish_it(request, persona, answered_period):
    with pytest.raises(NotAllowed):
        svc.response_document_publish(
            actor=request.getfixturevalue(persona), period=answered_period, summary="Ours."
        )


def test_an_unverified_company_answers_but_cannot_publish(answered_period, company, company_editor):
    company.verified_at = None
    company.save(update_fields=["verified_at"])
    answered_period.refresh_from_db()
    answer(company_editor, answered_period, target="clause", clause_key="harmless.cooking")
    with pytest.raises(NotAllowed):
        svc.response_document_publish(actor=company_editor, period=answered_period, summary="Ours.")


def test_a_published_document_is_frozen(answered_period, company_editor):
    response = CommentResponse.objects.get()
    svc.response_document_publish(actor=company_editor, period=answered_period, summary="Done.")
    with pytest.raises(Conflict, match="already published"):
        svc.response_document_publish(
            actor=company_editor, period=answered_period, summary="Again."
        )
    with pytest.raises(Conflict, match="can no longer change"):
        answer(company_editor, answered_period, target="clause", clause_key="harmless.cooking")
    with pytest.raises(Conflict, match="can no longer change"):
        svc.comment_response_delete(actor=company_editor, response=response)
    assert CommentResponse.objects.get().body == "Our answer."


def test_a_period_without_comments_publishes_an_empty_document(
    open_period, company_editor, shift_period
):
    period = close(open_period, shift_period)
    period = svc.response_document_publish(
        actor=company_editor, period=period, summary="No comments came in."
    )
    assert period.responses_published_at is not None


# --- The gate on the next version --------------------------------------------------------------


def draft_next(policy, actor, number="1.1.0"):
    return version_draft_create(
        actor=actor,
        policy=policy,
        number=number,
        body_markdown=POLICY_MARKDOWN.replace("normally", "gladly"),
        summary_of_changes="After the comment period.",
    )


def test_the_next_version_waits_for_the_response_document(
    policy, open_period, company_editor, citizen, shift_period
):
    post(citizen, open_period, clause_key="harmless.cooking")
    draft = draft_next(policy, company_editor)
    with pytest.raises(Conflict, match=r"v1\.0\.0's comment period needs its response to comments"):
        version_publish(actor=company_editor, version=draft)
    draft.refresh_from_db()
    assert draft.status == PolicyVersion.Status.DRAFT
    assert not LedgerEntry.objects.filter(
        action="policy_version.published", subject=f"policyversion:{draft.pk}"
    ).exists()
    period = close(open_period, shift_period)
    with pytest.raises(Conflict, match="response to comments"):
        version_publish(actor=company_editor, version=draft)
    answer(company_editor, period, target="clause", clause_key="harmless.cooking")
    svc.response_document_publish(actor=company_editor, period=period, summary="Answered.")
    published = version_publish(actor=company_editor, version=draft)
    assert published.status == PolicyVersion.Status.PUBLISHED
    assert next_version(period) == published


def test_the_gate_checks_permission_first(policy, open_period, company_editor, outsider):
    draft = draft_next(policy, company_editor)
    with pytest.raises(NotAllowed):
        version_publish(actor=outsider, version=draft)


def test_the_gate_holds_even_for_a_scheduled_period(policy, published_version, company_editor):
    now = timezone.now()
    svc.comment_period_open(
        actor=company_editor,
        version=published_version,
        opens_at=now + DAY,
        closes_at=now + 31 * DAY,
    )
    draft = draft_next(policy, company_editor)
    with pytest.raises(Conflict, match=r"v1\.0\.0's comment period"):
        version_publish(actor=company_editor, version=draft)


def test_the_gate_concerns_only_the_same_policy(
    open_period, other_period, company, company_editor, publish
):
    policy = policy_create(actor=company_editor, organization=company, title="Third policy")
    assert publish(policy, "1.0.0", POLICY_MARKDOWN, company_editor).status == "published"


def test_a_policy_without_periods_publishes_as_before(policy, published_version, company_editor):
    draft = draft_next(policy, company_editor)
    assert version_publish(actor=company_editor, version=draft).status == "published"


def test_require_responses_names_the_version(
    policy, published_version, open_period, company_editor
):
    draft = draft_next(policy, company_editor)
    with pytest.raises(Conflict, match=r"^v1\.0\.0's comment period") as error:
        svc.require_responses_before_publish(policy=policy, version=draft)
    assert error.value.code == "responses_missing"
    # The commented version itself is not what the gate waits for.
    svc.require_responses_before_publish(policy=policy, version=published_version)


# --- The next version --------------------------------------------------------------------------


def test_next_version_is_the_following_published_one(
    policy, answered_period, company_editor, publish
):
    assert next_version(answered_period) is None
    svc.response_document_publish(actor=company_editor, period=answered_period, summary="Done.")
    draft = draft_next(policy, company_editor, "1.0.1")
    assert next_version(answered_period) is None  # a draft is not published
    version_publish(actor=company_editor, version=draft)
    later = publish(policy, "2.0.0", POLICY_MARKDOWN, company_editor)
    assert later.status == "published"
    assert next_version(answered_period) == draft  # the next one, superseded since
