"""Demo data of the regulators' part for `make run`: the regulator's webhook subscription and
a first bulk dump. Run by seed_demo after every app's seeder, so the dump holds all of it.
Idempotent: a second run finds both and changes nothing."""

from __future__ import annotations

from django.db import transaction

from governance.models import DataDump, Organization, WebhookSubscription
from governance.services.dumps import dump_write
from governance.services.ledger import ledger_append
from governance.services.webhooks import SECRET_PREFIX

# A reserved name (RFC 2606) that never resolves: the demo never sends anything anywhere, and
# a test ping shows, honestly, a failed attempt "could not be found".
DEMO_WEBHOOK_URL = "https://hooks.regulator.test/openrefusal"


def seed_regulators(people: dict) -> None:
    regulator = people["regulator"]
    if not WebhookSubscription.objects.filter(owner=regulator).exists():
        organization = Organization.objects.filter(slug="digital-regulator").first()
        acme = Organization.objects.filter(slug="acme-ai").first()
        with transaction.atomic():
            # Made directly: the service would refuse the unresolvable demo host, as it should.
            subscription = WebhookSubscription.objects.create(
                owner=regulator,
                organization=organization,
                target_url=DEMO_WEBHOOK_URL,
                description="Acme AI's policy versions and audit reports (demo)",
                secret=SECRET_PREFIX + "demo-secret-not-for-production",
                event_types=["audit_report.published", "policy_version.published"],
                filter_organization=acme,
            )
            ledger_append(
                actor=regulator,
                action="webhook.subscribed",
                subject=subscription,
                payload={"event_types": subscription.event_types},
            )
    if not DataDump.objects.filter(status=DataDump.Status.COMPLETE).exists():
        dump_write()
