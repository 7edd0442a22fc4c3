"""Recent public activity and headline counts for the home page, read from the public ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max

from governance.models import LedgerEntry, Organization
from governance.selectors.ledger import ledger_actor_names, ledger_subject_labels


@dataclass(frozen=True)
class Activity:
    seq: int
    at: datetime
    action: str
    subject: str
    actor: str
    actor_name: str
    subject_label: str

    @property
    def action_label(self) -> str:
        """ "organization.verified" → "Organization verified"."""
        words = self.action.replace(".", " ").replace("_", " ").strip()
        return words[:1].upper() + words[1:]


@dataclass(frozen=True)
class PlatformCounts:
    verified_organizations: int
    ledger_entries: int


def recent_activity(*, limit: int = 10) -> list[Activity]:
    """The latest `limit` ledger entries, newest first, with their actors' public names."""
    rows = list(
        LedgerEntry.objects.order_by("-seq").values_list("seq", "at", "action", "subject", "actor")[
            :limit
        ]
    )
    names = ledger_actor_names(row[4] for row in rows)
    labels = ledger_subject_labels(row[3] for row in rows)
    return [
        Activity(
            seq=seq,
            at=at,
            action=action,
            subject=subject,
            actor=actor,
            actor_name=names[actor],
            subject_label=labels[subject],
        )
        for seq, at, action, subject, actor in rows
    ]


def platform_counts() -> PlatformCounts:
    verified = Organization.objects.filter(verified_at__isnull=False).count()
    # The chain is gapless from 1 (appends are serialised by an advisory lock), so the highest
    # seq is the number of entries, read from the primary key index instead of counting rows.
    last_seq = LedgerEntry.objects.aggregate(last=Max("seq"))["last"] or 0
    return PlatformCounts(verified_organizations=verified, ledger_entries=last_seq)
