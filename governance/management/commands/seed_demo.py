"""Demo data for `make run`: organizations of every kind and one person per role.

Idempotent: running it again changes nothing and writes nothing to the ledger. Other apps add
their demo data through `governance.demo.register_demo_seeder`.
"""

from __future__ import annotations

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from governance.demo import DEMO_SEEDERS
from governance.demo_data import seed_regulators
from governance.models import Membership, Organization, User
from governance.services.organizations import (
    membership_add,
    organization_accredit,
    organization_create,
    organization_verify,
)

DEMO_PASSWORD = "openrefusal-demo"  # noqa: S105 — published demo password, local only

# (role label, e-mail, public name, staff?)
PEOPLE = [
    ("administrator", "admin@openrefusal.test", "Platform Administrator", True),
    ("moderator", "moderator@openrefusal.test", "Moderator Maya", False),
    ("company owner", "owner@acme-ai.test", "Acme Policy Lead", False),
    ("company editor", "editor@acme-ai.test", "Acme Policy Editor", False),
    ("auditor", "auditor@fair-audit.test", "Auditor Ines", False),
    ("regulator", "analyst@regulator.test", "Regulator Analyst", False),
    ("panel member", "panelist@appeals-panel.test", "Panelist Omar", False),
    ("citizen", "citizen@example.test", "Citizen Ada", False),
    # Owner of a second developer, Northwind Labs, whose organization the policies demo adds.
    ("company owner (Northwind)", "owner@northwind.test", "Northwind Policy Lead", False),
]

# (name, slug, kind, description, owner role, other members: [(role label, membership role)])
ORGANIZATIONS = [
    (
        "Acme AI",
        "acme-ai",
        Organization.Kind.DEVELOPER,
        "Builds the Acme assistant family of large language models.",
        "company owner",
        [("company editor", Membership.Role.EDITOR)],
    ),
    (
        "Fair Audit Collective",
        "fair-audit",
        Organization.Kind.AUDITOR,
        "An independent auditor of AI refusal behaviour.",
        "auditor",
        [],
    ),
    (
        "Digital Services Regulator",
        "digital-regulator",
        Organization.Kind.REGULATOR,
        "The national regulator for digital services.",
        "regulator",
        [],
    ),
    (
        "Independent Appeals Panel",
        "appeals-panel",
        Organization.Kind.PANEL,
        "Hears escalated appeals against AI refusals, independently of the companies.",
        "panel member",
        [],
    ),
]


def _person(email: str, display_name: str, staff: bool) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email,
            password=DEMO_PASSWORD,
            display_name=display_name,
            is_staff=staff,
            is_superuser=staff,
        )
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


@transaction.atomic
def seed() -> list[tuple[str, str, str]]:
    """Create what is missing; return (role, e-mail, password) for the banner."""
    people = {role: _person(email, name, staff) for role, email, name, staff in PEOPLE}
    people["moderator"].groups.add(Group.objects.get(name="moderators"))
    admin = people["administrator"]

    for name, slug, kind, description, owner_role, members in ORGANIZATIONS:
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            org = organization_create(
                actor=people[owner_role],
                name=name,
                kind=kind,
                slug=slug,
                description=description,
            )
        if not org.is_verified:
            org = organization_verify(actor=admin, organization=org)
        if kind == Organization.Kind.AUDITOR and org.accredited_at is None:
            organization_accredit(
                actor=admin, organization=org, expires_at=timezone.now() + timedelta(days=365)
            )
        for role_label, role in members:
            user = people[role_label]
            if not Membership.objects.filter(organization=org, user=user).exists():
                membership_add(actor=people[owner_role], organization=org, user=user, role=role)

    for seeder in DEMO_SEEDERS:
        seeder(people)
    # Last, so the first bulk dump holds what every app seeded.
    seed_regulators(people)
    return [(role, email, DEMO_PASSWORD) for role, email, _, _ in PEOPLE]


class Command(BaseCommand):
    help = "Load the demo organizations and people (idempotent). Refused in production."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, quiet: bool = False, **options):
        if not settings.LOCAL:
            raise CommandError("Demo data (with known passwords) is only for DJANGO_ENV=local.")
        logins = seed()
        if not quiet:
            self.stdout.write("Demo logins (e-mail / password):")
            for role, email, password in logins:
                self.stdout.write(f"  {role:<16} {email:<34} {password}")
