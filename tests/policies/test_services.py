"""The policy services: systems, policies, drafts, publication (hash chain, supersession, ledger),
withdrawal, following, and the follower e-mail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import LedgerEntry, Organization
from policies import services
from policies.models import Clause, Policy, PolicyFollow, PolicyVersion
from policies.parsing import content_sha256
from policies.tasks import notify_followers_of_version
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.policies.conftest import body_with

pytestmark = pytest.mark.django_db

ZEROS = "0" * 64


def entries(action: str) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(action=action).order_by("seq"))


# --- AI systems -------------------------------------------------------------------------------


def test_it_creates_a_system_with_a_slug_and_a_ledger_entry(company, company_editor):
    system = services.ai_system_create(
        actor=company_editor, organization=company, name="  Acme   Coder ", description="Code."
    )
    assert (system.name, system.slug, system.created_by) == (
        "Acme Coder",
        "acme-coder",
        company_editor,
    )
    (entry,) = entries("ai_system.created")
    assert entry.actor == f"user:{company_editor.pk}"
    assert entry.subject == f"aisystem:{system.pk}"
    assert entry.payload == {"organization": "acme-ai", "name": "Acme Coder", "slug": "acme-coder"}


def test_it_numbers_colliding_slugs_and_avoids_reserved_ones(company, company_editor):
    first = services.ai_system_create(actor=company_editor, organization=company, name="Coder")
    second = services.ai_system_create(actor=company_editor, organization=company, name="Coder")
    reserved = services.ai_system_create(actor=company_editor, organization=company, name="New")
    assert (first.slug, second.slug) == ("coder", "coder-2")
    assert reserved.slug == "new-system"


@pytest.mark.parametrize(
    ("slug", "message"),
    [("draft", "reserved"), ("Bad Slug!", "not valid"), ("x" * 81, "too long")],
)
def test_it_refuses_bad_explicit_slugs(company, company_editor, slug, message):
    with pytest.raises(Invalid, match=message) as error:
        services.ai_system_create(actor=company_editor, organization=company, name="X", slug=slug)
    assert "slug" in error.value.fields


def test_it_refuses_a_taken_slug_within_an_organization_only(
    company, other_company, outsider, system
):
    with pytest.raises(Invalid, match="taken"):
        services.ai_system_create(
            actor=services_editor(company), organization=company, name="X", slug=system.slug
        )
    other = services.ai_system_create(
        actor=outsider, organization=other_company, name="Y", slug=system.slug
    )
    assert other.slug == system.slug


def services_editor(organization: Organization):
    return MembershipFactory(organization=organization, role="editor").user


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "ok", "description": "x" * 5001}, "description"),
        ({"name": "nul\x00"}, "name"),
    ],
)
def test_it_validates_systems(company, company_editor, fields, field):
    with pytest.raises(Invalid) as error:
        services.ai_system_create(actor=company_editor, organization=company, **fields)
    assert field in error.value.fields
    assert not LedgerEntry.objects.filter(action="ai_system.created").exists()


@pytest.mark.parametrize("persona", ["company_member", "outsider", "citizen", "staff", "auditor"])
def test_only_the_companys_editors_add_systems(request, company, persona):
    with pytest.raises(NotAllowed):
        services.ai_system_create(
            actor=request.getfixturevalue(persona), organization=company, name="Nope"
        )


def test_it_refuses_systems_for_organizations_that_are_not_developers(auditor_org, auditor):
    with pytest.raises(NotAllowed):
        services.ai_system_create(actor=auditor, organization=auditor_org, name="Audit bot")


def test_it_updates_a_system_and_records_only_real_changes(system, company_owner):
    services.ai_system_update(actor=company_owner, system=system, name=system.name)
    assert not entries("ai_system.updated")
    updated = services.ai_system_update(actor=company_owner, system=system, description="New.")
    assert updated.description == "New."
    (entry,) = entries("ai_system.updated")
    assert entry.payload == {"organization": "acme-ai", "slug": system.slug, "description": "New."}


def test_outsiders_cannot_update_a_system(system, outsider):
    with pytest.raises(NotAllowed):
        services.ai_system_update(actor=outsider, system=system, name="Hijacked")


# --- Policies ---------------------------------------------------------------------------------


def test_it_creates_a_policy_for_its_own_systems(policy, system, company_editor):
    assert policy.slug == "acme-assistant-usage-policy"
    assert list(policy.systems.all()) == [system]
    (entry,) = entries("policy.created")
    assert entry.payload == {
        "organization": "acme-ai",
        "title": "Acme Assistant Usage Policy",
        "slug": "acme-assistant-usage-policy",
        "systems": ["acme-assistant"],
    }
    assert entry.actor == f"user:{company_editor.pk}"


def test_it_refuses_another_organizations_systems(company, company_editor, outsider, other_company):
    foreign = services.ai_system_create(actor=outsider, organization=other_company, name="Theirs")
    with pytest.raises(Invalid, match="own organization") as error:
        services.policy_create(
            actor=company_editor, organization=company, title="Mine", systems=[foreign]
        )
    assert "systems" in error.value.fields
    assert not Policy.objects.exists()


def test_it_refuses_unknown_system_ids(company, company_editor):
    with pytest.raises(Invalid):
        services.policy_create(actor=company_editor, organization=company, title="T", systems=[999])


def test_it_updates_a_policy_and_its_systems(policy, company_editor, company):
    coder = services.ai_system_create(actor=company_editor, organization=company, name="Coder")
    services.policy_update(actor=company_editor, policy=policy, summary="New", systems=[coder.pk])
    policy.refresh_from_db()
    assert policy.summary == "New"
    assert list(policy.systems.all()) == [coder]
    (entry,) = entries("policy.updated")
    assert entry.payload["systems"] == ["coder"]
    assert entry.payload["summary"] == "New"


@pytest.mark.parametrize("persona", ["company_member", "outsider", "citizen", "staff"])
def test_only_editors_change_a_policy(request, policy, persona):
    with pytest.raises(NotAllowed):
        services.policy_update(actor=request.getfixturevalue(persona), policy=policy, title="X")


# --- Drafts -----------------------------------------------------------------------------------


def test_it_saves_a_draft_with_its_clauses(policy, company_editor, policy_markdown):
    draft = services.version_draft_create(
        actor=company_editor, policy=policy, number="0.1.0", body_markdown=policy_markdown
    )
    assert draft.status == "draft"
    assert draft.number == "0.1.0"
    clauses = list(draft.clauses.order_by("position"))
    assert [(c.key, c.position, c.expected_behavior) for c in clauses] == [
        ("weapons.bio.synthesis", 1, "refuse"),
        ("self-harm.support", 2, "safe_complete"),
        ("harmless.cooking", 3, "comply"),
    ]
    assert clauses[0].categories == ["weapons", "cbrn"]
    assert clauses[0].line == 5
    assert not LedgerEntry.objects.filter(subject=f"policyversion:{draft.pk}").exists()


def test_it_saves_a_draft_that_does_not_parse_without_clauses(policy, company_editor):
    broken = "## No key here\nbehavior: refuse\n\nText.\n"
    draft = services.version_draft_create(
        actor=company_editor, policy=policy, number="1.0.0", body_markdown=broken
    )
    assert draft.body_markdown == broken
    assert not draft.clauses.exists()


def test_it_replaces_clauses_on_each_save_and_keeps_them_in_order(draft_version, company_editor):
    body = body_with(
        ("b.second", "Second", "comply", "B."),
        ("a.first", "First", "refuse", "A."),
    )
    services.version_draft_update(actor=company_editor, version=draft_version, body_markdown=body)
    assert list(draft_version.clauses.order_by("position").values_list("key", "position")) == [
        ("b.second", 1),
        ("a.first", 2),
    ]
    services.version_draft_update(
        actor=company_editor, version=draft_version, body_markdown="## Broken\n"
    )
    assert not draft_version.clauses.exists()
    draft_version.refresh_from_db()
    assert draft_version.body_markdown == "## Broken\n"


def test_it_normalises_line_endings_and_drops_the_bom(policy, company_editor, policy_markdown):
    draft = services.version_draft_create(
        actor=company_editor,
        policy=policy,
        number="1.0.0",
        body_markdown="\ufeff" + policy_markdown.replace("\n", "\r\n"),
    )
    assert draft.body_markdown == policy_markdown
    assert draft.clauses.count() == 3


@pytest.mark.parametrize(
    "number", ["1", "1.0", "01.0.0", "1.0.0-beta", "v1.0.0", "1.0.0.0", "", "1000000.0.0", None, 1]
)
def test_it_refuses_bad_version_numbers(policy, company_editor, policy_markdown, number):
    with pytest.raises(Invalid) as error:
        services.version_draft_create(
            actor=company_editor, policy=policy, number=number, body_markdown=policy_markdown
        )
    assert "number" in error.value.fields
    assert not PolicyVersion.objects.exists()


@pytest.mark.parametrize("number", ["1.0.0", "0.9.9", "0.99.0"])
def test_it_refuses_a_number_that_goes_backwards(published_version, company_editor, number):
    with pytest.raises(Invalid, match="backwards") as error:
        services.version_draft_create(
            actor=company_editor, policy=published_version.policy, number=number, body_markdown="x"
        )
    assert "1.0.0" in error.value.fields["number"][0]


def test_it_refuses_a_backwards_number_on_update_too(draft_version, company_editor):
    with pytest.raises(Invalid, match="backwards"):
        services.version_draft_update(actor=company_editor, version=draft_version, number="0.5.0")
    updated = services.version_draft_update(
        actor=company_editor, version=draft_version, number="2.0.0"
    )
    assert updated.number == "2.0.0"


def test_a_number_is_never_reused_after_withdrawal(published_version, company_editor):
    services.version_withdraw(actor=company_editor, version=published_version, reason="Oops.")
    with pytest.raises(Invalid, match="backwards"):
        services.version_draft_create(
            actor=company_editor, policy=published_version.policy, number="1.0.0", body_markdown="x"
        )


def test_a_policy_has_one_draft_at_a_time(draft_version, company_editor, policy_markdown):
    with pytest.raises(Conflict) as error:
        services.version_draft_create(
            actor=company_editor,
            policy=draft_version.policy,
            number="3.0.0",
            body_markdown=policy_markdown,
        )
    assert error.value.code == "draft_exists"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("   \n", "empty"),
        ("x" * 1_000_001, "too long"),
        ("bad \x00 byte", "NUL"),
        ("lone \ud800 surrogate", "Unicode"),
        (b"bytes", "must be text"),
    ],
)
def test_it_refuses_bad_bodies(policy, company_editor, body, message):
    with pytest.raises(Invalid, match=message) as error:
        services.version_draft_create(
            actor=company_editor, policy=policy, number="1.0.0", body_markdown=body
        )
    assert "body_markdown" in error.value.fields


def test_it_accepts_a_body_of_exactly_the_limit(policy, company_editor):
    body = "x" * 1_000_000
    draft = services.version_draft_create(
        actor=company_editor, policy=policy, number="1.0.0", body_markdown=body
    )
    assert len(draft.body_markdown) == 1_000_000


def test_it_refuses_a_naive_effective_date(policy, company_editor, policy_markdown):
    with pytest.raises(Invalid) as error:
        services.version_draft_create(
            actor=company_editor,
            policy=policy,
            number="1.0.0",
            body_markdown=policy_markdown,
            effective_at=timezone.now().replace(tzinfo=None),
        )
    assert "effective_at" in error.value.fields


def test_members_cannot_write_drafts(policy, company_member, policy_markdown):
    with pytest.raises(NotAllowed):
        services.version_draft_create(
            actor=company_member, policy=policy, number="1.0.0", body_markdown=policy_markdown
        )


def test_it_deletes_a_draft_and_its_clauses(draft_version, company_editor):
    services.version_draft_delete(actor=company_editor, version=draft_version)
    assert not PolicyVersion.objects.filter(pk=draft_version.pk).exists()
    assert not Clause.objects.filter(version_id=draft_version.pk).exists()


def test_it_never_deletes_a_published_version(published_version, company_owner):
    with pytest.raises(Conflict, match="withdraw"):
        services.version_draft_delete(actor=company_owner, version=published_version)
    assert PolicyVersion.objects.filter(pk=published_version.pk).exists()


# --- Publication ------------------------------------------------------------------------------


def test_it_publishes_the_first_version_at_the_start_of_the_chain(
    published_version, company_editor, policy_markdown
):
    version = published_version
    assert version.status == "published"
    assert version.published_by == company_editor
    assert version.published_at is not None
    assert version.effective_at == version.published_at
    assert version.content_sha256 == content_sha256(policy_markdown)
    assert version.previous_sha256 == ZEROS
    assert not entries("policy_version.superseded")
    (entry,) = entries("policy_version.published")
    assert entry.actor == f"user:{company_editor.pk}"
    assert entry.subject == f"policyversion:{version.pk}"
    assert entry.payload == {
        "policy": version.policy_id,
        "organization": "acme-ai",
        "number": "1.0.0",
        "content_sha256": version.content_sha256,
        "previous_sha256": ZEROS,
        "clauses": 3,
        "behavior_changes": 0,
    }


def test_publishing_supersedes_and_chains_to_the_previous_version(
    published_version, company_owner, policy_markdown, publish
):
    flipped = policy_markdown.replace("behavior: comply; categories: harmless", "behavior: refuse")
    second = publish(published_version.policy, "2.0.0", flipped, company_owner)
    published_version.refresh_from_db()
    assert published_version.status == "superseded"
    assert published_version.superseded_at == second.published_at
    assert second.previous_sha256 == published_version.content_sha256
    superseded, published = (
        entries("policy_version.superseded"),
        entries("policy_version.published"),
    )
    assert len(superseded) == 1
    assert len(published) == 2
    assert superseded[0].seq < published[1].seq  # superseded first, then published
    assert superseded[0].subject == f"policyversion:{published_version.pk}"
    assert superseded[0].payload == {
        "policy": published_version.policy_id,
        "number": "1.0.0",
        "superseded_by": "2.0.0",
    }
    assert superseded[0].actor == f"user:{company_owner.pk}"
    assert published[1].payload["behavior_changes"] == 1
    assert PolicyVersion.objects.filter(status="published").count() == 1


def test_the_chain_keeps_withdrawn_versions(
    published_version, company_owner, policy_markdown, publish
):
    policy = published_version.policy
    second = publish(policy, "1.1.0", policy_markdown + "\nMore.\n", company_owner)
    services.version_withdraw(actor=company_owner, version=second, reason="Mistake.")
    third = publish(policy, "1.2.0", policy_markdown + "\nEven more.\n", company_owner)
    assert third.previous_sha256 == second.content_sha256
    assert list(PolicyVersion.objects.filter(status="published")) == [third]


def test_it_keeps_a_future_effective_date(policy, company_editor, policy_markdown, publish):
    later = timezone.now() + timedelta(days=30)
    version = publish(policy, "1.0.0", policy_markdown, company_editor, effective_at=later)
    assert version.effective_at == later


def test_it_refuses_to_publish_text_with_errors_listing_line_numbers(policy, company_editor):
    body = body_with(("a.one", "One", "refuse", "A."), ("a.one", "Again", "comply", "B."))
    draft = services.version_draft_create(
        actor=company_editor, policy=policy, number="1.0.0", body_markdown=body,
        summary_of_changes="First.",
    )  # fmt: skip
    with pytest.raises(Invalid, match="problem") as error:
        services.version_publish(actor=company_editor, version=draft)
    messages = error.value.fields["body_markdown"]
    assert messages
    assert all(m.startswith("line ") for m in messages)
    assert "a.one" in " ".join(messages)
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not entries("policy_version.published")


def test_it_refuses_to_publish_without_a_summary_of_changes(
    policy, company_editor, policy_markdown
):
    draft = services.version_draft_create(
        actor=company_editor, policy=policy, number="1.0.0", body_markdown=policy_markdown
    )
    with pytest.raises(Invalid) as error:
        services.version_publish(actor=company_editor, version=draft)
    assert "summary_of_changes" in error.value.fields


def test_publishing_a_published_version_is_a_conflict(published_version, company_editor):
    with pytest.raises(Conflict) as error:
        services.version_publish(actor=company_editor, version=published_version)
    assert error.value.code == "not_draft"


def test_an_unverified_developer_cannot_publish(company_editor, company, policy, policy_markdown):
    Organization.objects.filter(pk=company.pk).update(verified_at=None)
    draft = services.version_draft_create(
        actor=company_editor, policy=policy, number="1.0.0", body_markdown=policy_markdown,
        summary_of_changes="First.",
    )  # fmt: skip
    with pytest.raises(NotAllowed, match="verified") as error:
        services.version_publish(actor=company_editor, version=draft)
    assert error.value.code == "not_verified"


@pytest.mark.parametrize("persona", ["company_member", "outsider", "citizen", "staff", "regulator"])
def test_only_the_companys_editors_publish(request, draft_version, persona):
    with pytest.raises(NotAllowed):
        services.version_publish(actor=request.getfixturevalue(persona), version=draft_version)
    draft_version.refresh_from_db()
    assert draft_version.status == "draft"


def test_publishing_enqueues_the_follower_e_mail_on_commit(
    draft_version, company_editor, citizen, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    services.policy_follow(user=citizen, policy=draft_version.policy)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.version_publish(actor=company_editor, version=draft_version)
    assert len(callbacks) == 1
    assert [m.to for m in mail.outbox] == [[citizen.email]]


# --- Withdrawal -------------------------------------------------------------------------------


def test_it_withdraws_with_a_public_reason(published_version, company_owner):
    version = services.version_withdraw(
        actor=company_owner, version=published_version, reason="  Published too early.  "
    )
    assert version.status == "withdrawn"
    assert version.withdrawn_reason == "Published too early."
    (entry,) = entries("policy_version.withdrawn")
    assert entry.payload == {
        "policy": version.policy_id,
        "number": "1.0.0",
        "content_sha256": version.content_sha256,
        "reason": "Published too early.",
    }


def test_it_withdraws_a_superseded_version(
    published_version, company_owner, policy_markdown, publish
):
    publish(published_version.policy, "1.0.1", policy_markdown + "\nTypo.\n", company_owner)
    published_version.refresh_from_db()
    version = services.version_withdraw(actor=company_owner, version=published_version, reason="R")
    assert version.status == "withdrawn"


@pytest.mark.parametrize("reason", ["", "   ", "x" * 5001, None])
def test_it_needs_a_reason(published_version, company_owner, reason):
    with pytest.raises(Invalid) as error:
        services.version_withdraw(actor=company_owner, version=published_version, reason=reason)
    assert "reason" in error.value.fields


def test_it_refuses_to_withdraw_twice_or_to_withdraw_a_draft(
    published_version, draft_version, company_owner
):
    services.version_withdraw(actor=company_owner, version=published_version, reason="R")
    with pytest.raises(Conflict, match="already"):
        services.version_withdraw(actor=company_owner, version=published_version, reason="R")
    with pytest.raises(Conflict, match="delete"):
        services.version_withdraw(actor=company_owner, version=draft_version, reason="R")


@pytest.mark.parametrize("persona", ["company_member", "outsider", "staff"])
def test_only_editors_withdraw(request, published_version, persona):
    with pytest.raises(NotAllowed):
        services.version_withdraw(
            actor=request.getfixturevalue(persona), version=published_version, reason="R"
        )


# --- Following and the e-mail -----------------------------------------------------------------


def test_following_is_idempotent_and_private(policy, citizen):
    first = services.policy_follow(user=citizen, policy=policy)
    again = services.policy_follow(user=citizen, policy=policy)
    assert first.pk == again.pk
    assert PolicyFollow.objects.count() == 1
    assert not LedgerEntry.objects.filter(action__startswith="policy_follow").exists()
    services.policy_unfollow(user=citizen, policy=policy)
    services.policy_unfollow(user=citizen, policy=policy)
    assert not PolicyFollow.objects.exists()


def test_following_needs_a_confirmed_address(policy):
    with pytest.raises(NotAllowed):
        services.policy_follow(user=UserFactory(verified=False), policy=policy)


def test_the_e_mail_links_the_version_and_the_diff(
    published_version, company_owner, citizen, policy_markdown, publish, settings
):
    settings.SITE_URL = "https://openrefusal.example"
    policy = published_version.policy
    services.policy_follow(user=citizen, policy=policy)
    flipped = policy_markdown.replace(
        "behavior: refuse; categories: weapons, cbrn", "behavior: comply"
    )
    second = publish(policy, "2.0.0", flipped, company_owner, summary_of_changes="Loosened.")
    assert notify_followers_of_version(second.pk) == 1
    (message,) = mail.outbox
    assert message.to == [citizen.email]
    assert "Acme Assistant Usage Policy" in message.subject
    assert "2.0.0" in message.subject
    base = "https://openrefusal.example/policies/acme-ai/acme-assistant-usage-policy/"
    assert f"{base}v/2.0.0/" in message.body
    assert f"{base}diff/1.0.0...2.0.0/" in message.body
    assert "weapons.bio.synthesis: refuse → comply" in message.body
    assert "Loosened." in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="{base}v/2.0.0/"' in html


def test_the_e_mail_goes_once_per_follower_even_when_retried(published_version, citizen, regulator):
    for user in (citizen, regulator):
        services.policy_follow(user=user, policy=published_version.policy)
    assert notify_followers_of_version(published_version.pk) == 2
    assert notify_followers_of_version(published_version.pk) == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted([citizen.email, regulator.email])
    assert "diff" not in mail.outbox[0].body  # a first version has nothing to compare with


def test_the_e_mail_skips_inactive_people_and_drafts(draft_version, published_version, citizen):
    services.policy_follow(user=citizen, policy=published_version.policy)
    assert notify_followers_of_version(draft_version.pk) == 0
    assert notify_followers_of_version(999_999) == 0
    citizen.is_active = False
    citizen.save()
    assert notify_followers_of_version(published_version.pk) == 0
    assert not mail.outbox


def test_a_failed_send_is_retried_for_that_person(published_version, citizen, settings):
    services.policy_follow(user=citizen, policy=published_version.policy)
    settings.EMAIL_BACKEND = "tests.policies.test_services.FailingBackend"
    with pytest.raises(OSError, match="unreachable"):
        notify_followers_of_version(published_version.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notify_followers_of_version(published_version.pk) == 1


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("SMTP server unreachable")


def test_it_does_not_leak_between_organizations(other_company, outsider, policy):
    assert not services.policy_create(
        actor=outsider, organization=other_company, title="Theirs"
    ).systems.exists()
    stranger_org = OrganizationFactory(kind="developer", verified_at=timezone.now())
    with pytest.raises(NotAllowed):
        services.policy_create(actor=outsider, organization=stranger_org, title="Not mine")
