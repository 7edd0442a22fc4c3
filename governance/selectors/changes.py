"""The change feed: every public change (every ledger entry) after a seq, in seq order, with
links to the changed resource, so a client keeps an exact mirror by remembering one number.

The ledger holds only what is public — services record hashes, slugs and states, never an
embargoed report's text or a private transcript — so the feed is the ledger, entry for entry.
Links come from the apps' resolvers (governance.public_data) and are null while a resource has
no public address (an embargoed report, a held comment)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max
from django.urls import reverse

from governance.errors import Invalid
from governance.models import LedgerEntry, Organization
from governance.public_data import SubjectLink, subject_links
from governance.selectors.ledger import entry_document, ledger_actor_names, ledger_subject_labels

FEED_DEFAULT_LIMIT = 100
FEED_MAX_LIMIT = 1000
MAX_SEQ = 2**63 - 1


@dataclass(frozen=True)
class ChangePage:
    changes: list[dict[str, Any]]
    after: int
    head: int  # the newest seq on the ledger (0 when it is empty)
    has_more: bool
    # When the `head` entry was appended: nothing in the page changes without a later entry
    # (every public change is one, renames and publications included).
    head_at: datetime | None = None

    @property
    def last_seq(self) -> int:
        return self.changes[-1]["seq"] if self.changes else self.after


def ledger_head() -> int:
    return LedgerEntry.objects.aggregate(head=Max("seq"))["head"] or 0


def change_documents(entries: list[LedgerEntry]) -> list[dict[str, Any]]:
    """Each entry's ledger document (everything needed to recompute its hash) plus its
    subject's type and label, the actor's public name, and links. Three queries per page plus
    one per subject type, whatever its length."""
    actors = ledger_actor_names(e.actor for e in entries)
    labels = ledger_subject_labels(e.subject for e in entries)
    links = subject_links(e.subject for e in entries)
    documents = []
    for entry in entries:
        document = entry_document(entry)
        link: SubjectLink = links[entry.subject]
        document |= {
            "actor_name": actors[entry.actor],
            "subject_type": entry.subject_type,
            "subject_label": labels[entry.subject],
            "links": {
                "ledger": reverse("ledger-detail", kwargs={"seq": entry.seq}),
                "api": link.api,
                "page": link.page,
            },
            "organization": link.organization,
            "policy": link.policy,
        }
        documents.append(document)
    return documents


def change_page(*, after: int, limit: int = FEED_DEFAULT_LIMIT) -> ChangePage:
    """Changes with seq > `after`, oldest first. Appends commit in seq order (they queue on one
    lock), so a client that stores the last seq it saw never misses one.

    `after` below 0, or beyond the newest entry (the feed never hands out such a number: a
    client holding one is mirroring another platform or a reset database), is Invalid."""
    if not isinstance(after, int) or isinstance(after, bool) or after < 0 or after > MAX_SEQ:
        raise Invalid("`after` is a seq from 0.", fields={"after": ["A whole number from 0."]})
    if not 1 <= limit <= FEED_MAX_LIMIT:
        raise Invalid(
            f"`limit` is 1 to {FEED_MAX_LIMIT}.",
            fields={"limit": [f"A whole number from 1 to {FEED_MAX_LIMIT}."]},
        )
    rows = list(LedgerEntry.objects.filter(seq__gt=after).order_by("seq")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    head = ledger_head()  # read after the page, so it is never below the page's last seq
    if after > head:
        raise Invalid(
            f"`after` is {after}, but the newest change is {head}: this feed never handed out "
            "that number. Start again from 0 (is the mirror of another platform?).",
            fields={"after": [f"At most {head}, the newest seq."]},
            code="after_beyond_head",
        )
    head_at = LedgerEntry.objects.filter(seq=head).values_list("at", flat=True).first()
    return ChangePage(
        changes=change_documents(rows), after=after, head=head, has_more=has_more, head_at=head_at
    )


def organization_links(ids: set[int]) -> dict[int, SubjectLink]:
    rows = Organization.objects.filter(pk__in=ids).values_list("pk", "slug")
    return {
        pk: SubjectLink(
            api=reverse("organization-detail", kwargs={"slug": slug}),
            page=reverse("organizations:detail", kwargs={"slug": slug}),
            organization=slug,
        )
        for pk, slug in rows
    }


# The core's own events (apps add theirs from their AppConfig.ready()).
CORE_EVENT_TYPES = {
    "organization.created": "An organization registered.",
    "organization.updated": "An organization changed its name, description or website.",
    "organization.verified": "Staff verified an organization.",
    "organization.unverified": "Staff withdrew an organization's verification.",
    "organization.accredited": "Staff accredited an auditor (or changed its accreditation).",
    "membership.added": "Someone joined an organization.",
    "membership.role_changed": "A member's role changed.",
    "membership.removed": "Someone left or was removed from an organization.",
}
