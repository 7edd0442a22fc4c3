"""What each app tells the core about its public data: links to the resources its ledger
subjects name, the ledger actions that are webhook events, and the datasets of the nightly
dumps. Apps fill these registries from `AppConfig.ready()`, so the core imports no app.

    from governance.public_data import (
        SubjectLink, register_dump_dataset, register_event_types, register_subject_links,
    )
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SubjectLink:
    """Where a ledger subject can be read, and what it belongs to (for webhook filters).

    `api` and `page` are site paths ("/api/v1/policies/3/"), or None when the resource has
    no public address (yet: an embargoed report, a held comment)."""

    api: str | None = None
    page: str | None = None
    organization: str | None = None  # the slug of the organization it concerns
    policy: int | None = None  # the id of the policy it concerns


LinkResolver = Callable[[set[int]], dict[int, SubjectLink]]
SUBJECT_LINKS: dict[str, LinkResolver] = {}


def register_subject_links(subject_type: str, resolve: LinkResolver) -> None:
    """`resolve(ids)` answers {id: SubjectLink} for the subjects "<subject_type>:<id>" in one
    query (or a few) whatever the number of ids; ids it leaves out have no link."""
    SUBJECT_LINKS[subject_type] = resolve


def subject_links(subjects: Iterable[str]) -> dict[str, SubjectLink]:
    """Links for ledger subjects ("policy:3"); a subject of an unregistered type, or whose row
    is gone, gets an empty SubjectLink."""
    by_type: dict[str, set[int]] = {}
    subjects = set(subjects)
    for subject in subjects:
        kind, _, ident = subject.partition(":")
        if kind in SUBJECT_LINKS and ident.isascii() and ident.isdigit() and len(ident) < 19:
            by_type.setdefault(kind, set()).add(int(ident))
    resolved = {kind: SUBJECT_LINKS[kind](ids) for kind, ids in by_type.items()}
    links = {}
    for subject in subjects:
        kind, _, ident = subject.partition(":")
        found = resolved.get(kind, {}).get(int(ident)) if kind in resolved else None
        links[subject] = found or SubjectLink()
    return links


# --- Webhook event types ----------------------------------------------------------------------

# Ledger action → what it means, for people choosing what to subscribe to. Only these actions
# are sent to webhooks; account bookkeeping (API tokens, display names) is not.
EVENT_TYPES: dict[str, str] = {}


def register_event_types(types: dict[str, str]) -> None:
    EVENT_TYPES.update(types)


# --- Bulk dump datasets -----------------------------------------------------------------------


@dataclass(frozen=True)
class DumpDataset:
    name: str  # the file's stem: `<name>.jsonl.gz`
    description: str
    # Yields one JSON-ready dict per public row, reading in chunks (QuerySet.iterator()).
    rows: Callable[[], Iterator[dict[str, Any]]]


DUMP_DATASETS: dict[str, DumpDataset] = {}


def register_dump_dataset(
    name: str, *, description: str, rows: Callable[[], Iterator[dict[str, Any]]]
) -> None:
    DUMP_DATASETS[name] = DumpDataset(name=name, description=description, rows=rows)


# --- Choices for subscription filters ---------------------------------------------------------

# "policy" → a function listing (id, label) of the policies a subscription may filter on.
FILTER_CHOICES: dict[str, Callable[[], list[tuple[int, str]]]] = {}


def register_filter_choices(name: str, choices: Callable[[], list[tuple[int, str]]]) -> None:
    FILTER_CHOICES[name] = choices
