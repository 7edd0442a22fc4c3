"""Recent public activity and headline counts for the home page, read from the public ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max

from governance.models import LedgerEntry, Organization, User
from governance.models.users import DELETED_DISPLAY_NAME
from governance.services.ledger import SYSTEM

SYSTEM_NAME = "OpenRefusal (automatic)"


@dataclass(frozen=True)
class Activity:
    seq: int
    at: datetime
    action: str
    subject: str
    actor: str
    actor_name: str

    @property
    def action_label(self) -> str:
        """ "organization.verified" → "Organization verified"."""
        words = self.action.replace(".", " ").replace("_", " ").strip()
        return words[:1].upper() + words[1:]

    @property
    def subject_label(self) -> str:
        """ "organization:12" → "organization #12"."""
        kind, _, ident = self.subject.partition(":")
        kind = kind.replace("_", " ")
        return f"{kind} #{ident}" if ident else kind


@dataclass(frozen=True)
class PlatformCounts:
    verified_organizations: int
    ledger_entries: int


def actor_names(actors: list[str]) -> dict[str, str]:
    """Public names for ledger actor references ("user:<id>", "system"), in one query.

    A person whose row is gone (or was never there) is shown as a former member: the ledger
    outlives accounts, and e-mail addresses are never shown."""
    ids = set()
    for actor in actors:
        kind, _, ident = actor.partition(":")
        if kind == "user" and ident.isdigit():
            ids.add(int(ident))
    users = User.objects.only("id", "display_name", "deleted_at").in_bulk(ids) if ids else {}
    names = {}
    for actor in actors:
        kind, _, ident = actor.partition(":")
        if actor == SYSTEM:
            names[actor] = SYSTEM_NAME
        elif kind == "user" and ident.isdigit() and int(ident) in users:
            names[actor] = users[int(ident)].public_name
        else:
            names[actor] = DELETED_DISPLAY_NAME
    return names


def recent_activity(*, limit: int = 10) -> list[Activity]:
    """The latest `limit` ledger entries, newest first, with their actors' public names."""
    rows = list(
        LedgerEntry.objects.order_by("-seq").values_list("seq", "at", "action", "subject", "actor")[
            :limit
        ]
    )
    names = actor_names([row[4] for row in rows])
    return [
        Activity(
            seq=seq, at=at, action=action, subject=subject, actor=actor, actor_name=names[actor]
        )
        for seq, at, action, subject, actor in rows
    ]


def platform_counts() -> PlatformCounts:
    verified = Organization.objects.filter(verified_at__isnull=False).count()
    # The chain is gapless from 1 (appends are serialised by an advisory lock), so the highest
    # seq is the number of entries, read from the primary key index instead of counting rows.
    last_seq = LedgerEntry.objects.aggregate(last=Max("seq"))["last"] or 0
    return PlatformCounts(verified_organizations=verified, ledger_entries=last_seq)
