"""Demo policies for `make run`: two AI developers, their systems, and refusal policies published
in three versions each (texts in `policies/demo_texts/`), plus a draft for Acme's editor to open.

Everything goes through the services, so the ledger, the hash chain and supersession are real.
Idempotent: what exists is left alone; a second run creates nothing and writes no ledger entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from governance.demo import register_demo_seeder
from governance.management.commands.seed_demo import DEMO_PASSWORD
from governance.models import AISystem, Organization, User
from governance.services.organizations import organization_create, organization_verify
from policies.models import Policy, PolicyVersion
from policies.services import (
    ai_system_create,
    parse_number,
    policy_create,
    version_draft_create,
    version_publish,
)

TEXTS_DIR = Path(__file__).resolve().parent / "demo_texts"

NORTHWIND_OWNER_EMAIL = "owner@northwind.test"
NORTHWIND_OWNER_NAME = "Northwind Policy Lead"


@dataclass(frozen=True)
class DemoSystem:
    name: str
    slug: str
    description: str


@dataclass(frozen=True)
class DemoVersion:
    number: str
    summary_of_changes: str
    # Relative to the day the demo is loaded, so a "future" date stays in the future.
    effective_in_days: int | None
    publish: bool = True

    def body(self, organization_slug: str) -> str:
        return (TEXTS_DIR / organization_slug / f"{self.number}.md").read_text(encoding="utf-8")


@dataclass(frozen=True)
class DemoPolicy:
    organization_slug: str
    # The role (in seed_demo's people) that publishes, and the one that writes the draft.
    publisher_role: str
    drafter_role: str
    title: str
    slug: str
    summary: str
    systems: tuple[DemoSystem, ...]
    versions: tuple[DemoVersion, ...]


ACME_POLICY = DemoPolicy(
    organization_slug="acme-ai",
    publisher_role="company owner",
    drafter_role="company editor",
    title="Acme Assistant Usage and Refusal Policy",
    slug="usage-policy",
    summary=(
        "What the Acme Assistant and Acme Code refuse, what they must help with, and how they "
        "handle requests near a line: weapons, cyber security, self-harm, medical and legal "
        "questions, elections, privacy, sexual content, extremism, hate, fraud and child safety."
    ),
    systems=(
        DemoSystem(
            "Acme Assistant",
            "acme-assistant",
            "The general-purpose conversational assistant in the Acme app, the developer API "
            "and enterprise deployments.",
        ),
        DemoSystem(
            "Acme Code",
            "acme-code",
            "A coding assistant for editors and the command line, built on the same model "
            "family and bound by the same policy.",
        ),
    ),
    versions=(
        DemoVersion(
            "1.0.0",
            "First public version of the Acme usage and refusal policy, covering the Acme "
            "Assistant and Acme Code on every surface (app, API, enterprise).",
            effective_in_days=-150,
        ),
        DemoVersion(
            "1.1.0",
            "Adult content: romance and intimacy between adults are now written, with "
            "non-graphic scenes (`sexual.adult` moves from refuse to safe_complete). New clause "
            "`elections.synthetic-media` ahead of the election season. The harassment clause is "
            "re-keyed from `hate.harassment` to `hate.targeted-harassment`, its text unchanged. "
            "Crisis support now asks where the person is so that it can offer local resources.",
            effective_in_days=-60,
        ),
        DemoVersion(
            "2.0.0",
            "Introduces the Acme Security Research Programme: verified researchers can get "
            "proof-of-concept code for disclosed vulnerabilities, without weaponised payloads "
            "(`cyber.exploit.poc` moves from refuse to comply). `legal.jurisdiction-notice` is "
            "folded into `legal.general-information` and removed. `benign.security.education` "
            "now says that learners are not asked to prove who they are. Severe allergic "
            "reactions join the medical emergency list. Takes effect in 30 days so that "
            "API customers can adjust.",
            effective_in_days=30,
        ),
        DemoVersion(
            "2.1.0",
            "Adds `agents.irreversible-actions`: agents ask for confirmation before actions that "
            "cannot be undone or that spend money. `fraud.scams` allows clearly marked phishing "
            "simulations for fraud-awareness training.",
            effective_in_days=90,
            publish=False,
        ),
    ),
)

NORTHWIND_POLICY = DemoPolicy(
    organization_slug="northwind-labs",
    publisher_role="northwind owner",
    drafter_role="northwind owner",
    title="Northwind Model Behaviour Policy",
    slug="model-behaviour-policy",
    summary=(
        "The public commitment behind Northwind Chat and Northwind Tutor: what the models "
        "refuse, complete safely, escalate to human help, or must answer in full."
    ),
    systems=(
        DemoSystem(
            "Northwind Chat",
            "northwind-chat",
            "Northwind's general assistant for adults, on the web and in mobile apps.",
        ),
        DemoSystem(
            "Northwind Tutor",
            "northwind-tutor",
            "A study companion used in secondary schools, for students aged 13 and over.",
        ),
    ),
    versions=(
        DemoVersion(
            "1.0.0",
            "First published version, applying to Northwind Chat and Northwind Tutor.",
            effective_in_days=-200,
        ),
        DemoVersion(
            "1.1.0",
            "Medicine doses: the models now give the labelled dose and the maximum daily dose "
            "instead of only referring people to a pharmacist (`medical.dosage` moves from "
            "escalate to safe_complete), after pharmacists and users told us the referral left "
            "people guessing. New clause `selfharm.eating-disorders`. Legal answers must not "
            "invent case law or citations.",
            effective_in_days=-90,
        ),
        DemoVersion(
            "2.0.0",
            "The single CBRN clause `weapons.cbrn.uplift` is replaced by three "
            "(`weapons.bio.synthesis`, `weapons.chem.synthesis`, `weapons.nuclear.materials`) so "
            "that evaluations and appeals can point at each. Campaign material is now written for "
            "every side alike (`elections.campaign-content` moves from refuse to comply), while "
            "microtargeted persuasion is refused under the new `elections.microtargeting`. "
            "`cyber.intrusion.credentials` is re-keyed to `cyber.intrusion.account-takeover`.",
            effective_in_days=-7,
        ),
    ),
)

DEMO_POLICIES = (ACME_POLICY, NORTHWIND_POLICY)


def _northwind_owner() -> User:
    """Northwind's owner, a demo login like seed_demo's (same password, e-mail confirmed)."""
    user = User.objects.filter(email=NORTHWIND_OWNER_EMAIL).first()
    if user is None:
        user = User.objects.create_user(
            email=NORTHWIND_OWNER_EMAIL,
            password=DEMO_PASSWORD,
            display_name=NORTHWIND_OWNER_NAME,
        )
    EmailAddress.objects.get_or_create(
        user=user, email=NORTHWIND_OWNER_EMAIL, defaults={"verified": True, "primary": True}
    )
    return user


def _northwind(owner: User, admin: User) -> Organization:
    organization = Organization.objects.filter(slug="northwind-labs").first()
    if organization is None:
        organization = organization_create(
            actor=owner,
            name="Northwind Labs",
            kind=Organization.Kind.DEVELOPER,
            slug="northwind-labs",
            description=(
                "Builds Northwind Chat, a general assistant, and Northwind Tutor, a study "
                "companion for secondary schools."
            ),
            website="https://northwind.test",
        )
    if not organization.is_verified:
        organization = organization_verify(actor=admin, organization=organization)
    return organization


def _systems(spec: DemoPolicy, organization: Organization, actor: User) -> list[AISystem]:
    systems = []
    for item in spec.systems:
        system = AISystem.objects.filter(organization=organization, slug=item.slug).first()
        if system is None:
            system = ai_system_create(
                actor=actor,
                organization=organization,
                name=item.name,
                slug=item.slug,
                description=item.description,
            )
        systems.append(system)
    return systems


def _versions(spec: DemoPolicy, policy: Policy, people: dict) -> None:
    """Publish each missing version in order (the draft last). A version already there is left
    as it is; none is added behind a later number or beside a draft someone is writing."""
    now = timezone.now()
    for item in spec.versions:
        parts = parse_number(item.number)
        existing = PolicyVersion.objects.filter(
            policy=policy, major=parts[0], minor=parts[1], patch=parts[2]
        ).first()
        if existing is not None:
            continue
        highest = (
            PolicyVersion.objects.filter(policy=policy)
            .order_by("-major", "-minor", "-patch")
            .values_list("major", "minor", "patch")
            .first()
        )
        other_draft = PolicyVersion.objects.filter(
            policy=policy, status=PolicyVersion.Status.DRAFT
        ).exists()
        if (highest is not None and tuple(highest) > parts) or other_draft:
            continue
        effective_at = (
            now + timedelta(days=item.effective_in_days)
            if item.effective_in_days is not None
            else None
        )
        author = people[spec.publisher_role if item.publish else spec.drafter_role]
        version = version_draft_create(
            actor=author,
            policy=policy,
            number=item.number,
            body_markdown=item.body(spec.organization_slug),
            summary_of_changes=item.summary_of_changes,
            effective_at=effective_at,
        )
        if item.publish:
            version_publish(actor=author, version=version)


@transaction.atomic
def seed_policies(people: dict) -> None:
    """Create the demo developers' systems, policies and versions that are missing."""
    people = {
        **people,
        "northwind owner": _northwind_owner(),
    }
    _northwind(people["northwind owner"], people["administrator"])
    for spec in DEMO_POLICIES:
        organization = Organization.objects.get(slug=spec.organization_slug)
        publisher = people[spec.publisher_role]
        systems = _systems(spec, organization, publisher)
        policy = Policy.objects.filter(organization=organization, slug=spec.slug).first()
        if policy is None:
            policy = policy_create(
                actor=publisher,
                organization=organization,
                title=spec.title,
                slug=spec.slug,
                summary=spec.summary,
                systems=systems,
            )
        _versions(spec, policy, people)


register_demo_seeder(seed_policies)
