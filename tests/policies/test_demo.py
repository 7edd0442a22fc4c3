"""The demo policies behind `make run`: loaded through the services by the whole `seed_demo`,
idempotent, parseable, and rich enough (every topic, real behaviour changes) to show the product."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from django.utils import timezone

from governance.demo import DEMO_SEEDERS
from governance.management.commands.seed_demo import DEMO_PASSWORD, seed
from governance.models import AISystem, LedgerEntry, Membership, Organization, User
from governance.services.ledger import subject_ref
from policies.demo import (
    DEMO_POLICIES,
    NORTHWIND_OWNER_EMAIL,
    TEXTS_DIR,
    DemoPolicy,
    seed_policies,
)
from policies.diff import diff_clauses
from policies.models import Clause, Policy, PolicyVersion
from policies.parsing import content_sha256, parse_policy_markdown

pytestmark = pytest.mark.django_db

GENESIS = "0" * 64
# Every topic the issue asks the demo to cover, as key prefixes of a published version.
REQUIRED_PREFIXES = (
    "weapons.",  # CBRN is checked by category below; conventional weapons by key
    "weapons.conventional.",
    "cyber.",
    "cyber.defense.",
    "selfharm.",
    "medical.",
    "legal.",
    "elections.",
    "privacy.",
    "sexual.minors",
    "sexual.",
    "extremism.",
    "hate.",
    "fraud.",
    "child.",
    "benign.fiction.",
    "benign.history.",
    "benign.chemistry.",
    "benign.security.",
)
NOT_REFUSED = ("benign.fiction.", "benign.history.", "benign.chemistry.", "benign.security.")


def _counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "organizations": Organization.objects.count(),
        "memberships": Membership.objects.count(),
        "systems": AISystem.objects.count(),
        "policies": Policy.objects.count(),
        "versions": PolicyVersion.objects.count(),
        "clauses": Clause.objects.count(),
        "ledger": LedgerEntry.objects.count(),
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The seed creates ten demo logins; real PBKDF2 would make each test take seconds."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seeded():
    seed()


def _policy(spec: DemoPolicy) -> Policy:
    return Policy.objects.get(organization__slug=spec.organization_slug, slug=spec.slug)


def _published(policy: Policy) -> list[PolicyVersion]:
    """Oldest first, drafts left out."""
    return list(
        policy.versions.exclude(status=PolicyVersion.Status.DRAFT)
        .order_by("major", "minor", "patch")
        .prefetch_related("clauses")
    )


def test_it_registers_the_seeder_with_seed_demo():
    assert seed_policies in DEMO_SEEDERS


def test_it_seeds_twice_with_the_same_result():
    seed()
    first = _counts()
    ledger_head = LedgerEntry.objects.order_by("-seq").values_list("seq", "hash").first()

    seed()

    assert _counts() == first
    assert LedgerEntry.objects.order_by("-seq").values_list("seq", "hash").first() == ledger_head
    assert first["policies"] == 2
    assert first["versions"] == 7  # 3 published each, and Acme's draft


def test_it_creates_northwind_as_a_verified_developer_with_a_demo_login(seeded):
    northwind = Organization.objects.get(slug="northwind-labs")
    owner = User.objects.get(email=NORTHWIND_OWNER_EMAIL)

    assert northwind.kind == Organization.Kind.DEVELOPER
    assert northwind.is_verified
    assert northwind.verified_by.email == "admin@openrefusal.test"
    assert Membership.objects.get(organization=northwind, user=owner).role == "owner"
    assert owner.check_password(DEMO_PASSWORD)
    assert owner.emailaddress_set.get(email=NORTHWIND_OWNER_EMAIL).verified


def test_it_gives_each_developer_its_systems_and_policy(seeded):
    for spec in DEMO_POLICIES:
        policy = _policy(spec)
        assert policy.title == spec.title
        assert sorted(policy.systems.values_list("slug", flat=True)) == sorted(
            s.slug for s in spec.systems
        )


def test_it_publishes_three_versions_per_policy_in_a_hash_chain(seeded):
    for spec in DEMO_POLICIES:
        versions = _published(_policy(spec))

        assert [v.number for v in versions] == [v.number for v in spec.versions if v.publish]
        assert len(versions) == 3
        assert [v.status for v in versions] == ["superseded", "superseded", "published"]
        assert versions[0].previous_sha256 == GENESIS
        for older, newer in itertools.pairwise(versions):
            assert newer.previous_sha256 == older.content_sha256
        for version in versions:
            assert version.content_sha256 == content_sha256(version.body_markdown)
            assert version.summary_of_changes.strip()
            assert version.effective_at is not None


def test_it_records_each_publication_on_the_ledger(seeded):
    published = LedgerEntry.objects.filter(action="policy_version.published")
    assert published.count() == 6
    assert LedgerEntry.objects.filter(action="policy_version.superseded").count() == 4
    payload = published.get(payload__organization="acme-ai", payload__number="2.0.0").payload
    assert payload["behavior_changes"] >= 1
    assert payload["clauses"] == 29


def test_it_parses_every_demo_version_cleanly_into_its_clauses(seeded):
    for version in PolicyVersion.objects.prefetch_related("clauses"):
        parsed = parse_policy_markdown(version.body_markdown)
        assert parsed.ok, (version, parsed.errors)
        assert parsed.title
        assert [c.key for c in parsed.clauses] == [c.key for c in version.clauses.all()]


def test_it_keeps_every_version_between_15_and_30_clauses(seeded):
    for version in PolicyVersion.objects.all():
        assert 15 <= version.clauses.count() <= 30, version


def test_it_changes_behaviour_in_every_published_version(seeded):
    kinds: set[str] = set()
    for spec in DEMO_POLICIES:
        versions = _published(_policy(spec))
        for older, newer in itertools.pairwise(versions):
            diff = diff_clauses(list(older.clauses.all()), list(newer.clauses.all()))
            assert diff.headline(), f"{spec.slug} {older.number} → {newer.number}"
            kinds |= {change.kind for change in diff.changes}
    assert {"added", "removed", "rekeyed", "changed"} <= kinds


@pytest.mark.parametrize(
    ("organization", "old", "new", "key", "change"),
    [
        ("acme-ai", "1.0.0", "1.1.0", "sexual.adult", ("refuse", "safe_complete")),
        ("acme-ai", "1.1.0", "2.0.0", "cyber.exploit.poc", ("refuse", "comply")),
        ("northwind-labs", "1.0.0", "1.1.0", "medical.dosage", ("escalate", "safe_complete")),
        ("northwind-labs", "1.1.0", "2.0.0", "elections.campaign-content", ("refuse", "comply")),
    ],
)
def test_it_headlines_the_demo_behaviour_changes(seeded, organization, old, new, key, change):
    versions = {
        v.number: v for v in PolicyVersion.objects.filter(policy__organization__slug=organization)
    }
    diff = diff_clauses(list(versions[old].clauses.all()), list(versions[new].clauses.all()))

    assert (key, change) in [(c.key, c.behavior_change) for c in diff.headline()]


def test_it_rekeys_a_clause_without_losing_its_history(seeded):
    versions = {
        v.number: v for v in PolicyVersion.objects.filter(policy__organization__slug="acme-ai")
    }
    diff = diff_clauses(
        list(versions["1.0.0"].clauses.all()), list(versions["1.1.0"].clauses.all())
    )

    rekeyed = [(c.old_key, c.key) for c in diff.changes if c.kind == "rekeyed"]
    assert ("hate.harassment", "hate.targeted-harassment") in rekeyed


def test_it_covers_every_topic_the_issue_lists(seeded):
    for version in PolicyVersion.objects.exclude(status=PolicyVersion.Status.DRAFT):
        clauses = list(version.clauses.all())
        keys = [c.key for c in clauses]
        missing = [p for p in REQUIRED_PREFIXES if not any(k.startswith(p) for k in keys)]
        assert not missing, (version, missing)
        assert any("cbrn" in c.categories for c in clauses), version
        for clause in clauses:
            if clause.key.startswith(NOT_REFUSED):
                assert clause.expected_behavior == "comply", clause
            if clause.key.startswith(("sexual.minors", "child.")):
                assert clause.expected_behavior == "refuse", clause


def test_it_uses_every_behaviour(seeded):
    behaviours = set(Clause.objects.values_list("expected_behavior", flat=True))
    assert behaviours == {"refuse", "comply", "safe_complete", "escalate"}


def test_it_dates_acme_2_in_the_future(seeded):
    acme = _published(_policy(DEMO_POLICIES[0]))
    assert acme[-1].number == "2.0.0"
    assert acme[-1].effective_at > timezone.now()
    assert acme[0].effective_at < acme[1].effective_at < timezone.now()


def test_it_leaves_a_private_draft_for_acme_s_editor(seeded):
    draft = PolicyVersion.objects.get(
        policy__organization__slug="acme-ai", status=PolicyVersion.Status.DRAFT
    )

    assert draft.number == "2.1.0"
    assert draft.created_by.email == "editor@acme-ai.test"
    assert draft.clauses.filter(key="agents.irreversible-actions").exists()
    assert not LedgerEntry.objects.filter(subject=subject_ref(draft)).exists()
    assert not LedgerEntry.objects.filter(payload__number="2.1.0").exists()


def test_it_adds_nothing_beside_a_draft_someone_is_writing(seeded):
    from policies.services import version_draft_create, version_draft_delete

    editor = User.objects.get(email="editor@acme-ai.test")
    policy = _policy(DEMO_POLICIES[0])
    version_draft_delete(actor=editor, version=policy.versions.get(status="draft"))
    own = version_draft_create(
        actor=editor,
        policy=policy,
        number="3.0.0",
        body_markdown=DEMO_POLICIES[0].versions[-1].body("acme-ai"),
        summary_of_changes="Our own next version.",
    )
    before = _counts()

    seed()

    assert _counts() == before
    assert list(policy.versions.filter(status="draft")) == [own]


def test_it_restores_a_deleted_demo_draft(seeded):
    from policies.services import version_draft_delete

    editor = User.objects.get(email="editor@acme-ai.test")
    policy = _policy(DEMO_POLICIES[0])
    version_draft_delete(actor=editor, version=policy.versions.get(status="draft"))
    ledger = LedgerEntry.objects.count()

    seed_policies(
        {
            "administrator": User.objects.get(email="admin@openrefusal.test"),
            "company owner": User.objects.get(email="owner@acme-ai.test"),
            "company editor": editor,
        }
    )

    assert policy.versions.get(status="draft").number == "2.1.0"
    assert LedgerEntry.objects.count() == ledger


def test_it_ships_a_text_for_every_demo_version_and_nothing_else():
    expected = {
        Path(spec.organization_slug) / f"{v.number}.md"
        for spec in DEMO_POLICIES
        for v in spec.versions
    }
    shipped = {p.relative_to(TEXTS_DIR) for p in TEXTS_DIR.rglob("*.md")}
    assert shipped == expected
