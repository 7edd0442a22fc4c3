"""Reading the public ledger: pages, the JSONL export, actor names and chain verification."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from governance.canonical import canonical_json
from governance.models import LedgerEntry, Organization, User
from governance.models.ledger import GENESIS_HASH
from governance.models.users import DELETED_DISPLAY_NAME
from governance.services.ledger import SYSTEM, entry_hash, format_at, hashed_document

SYSTEM_NAME = "OpenRefusal (system)"
# Rows fetched per round trip by the server-side cursors of the export and the verifier:
# memory stays constant however long the ledger grows.
CHUNK_SIZE = 2000
# The export is written in blocks of about this many bytes rather than one write per line.
EXPORT_BLOCK_BYTES = 64 * 1024
PAGE_SIZE = 50


# --- Documents --------------------------------------------------------------------------------


def entry_document(entry: LedgerEntry) -> dict[str, Any]:
    """Exactly the dict that is hashed, plus the stored `hash`: one line of the export."""
    document = hashed_document(
        seq=entry.seq,
        at=format_at(entry.at),
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        payload=entry.payload,
        prev_hash=entry.prev_hash,
    )
    document["hash"] = entry.hash
    return document


def entry_canonical_line(entry: LedgerEntry) -> bytes:
    """The canonical JSON of the hashed fields: the very bytes whose SHA-256 is `hash`."""
    document = entry_document(entry)
    del document["hash"]
    return canonical_json(document, strict=False)


def entry_hash_matches(entry: LedgerEntry) -> bool:
    document = entry_document(entry)
    return entry_hash({k: v for k, v in document.items() if k != "hash"}) == entry.hash


def ledger_export_lines(*, after: int = 0) -> Iterator[bytes]:
    """Every entry with seq > `after`, in seq order, as canonical JSON lines (with `hash`),
    grouped into blocks. Reads through a server-side cursor, so memory stays constant."""
    entries = LedgerEntry.objects.filter(seq__gt=after).order_by("seq")
    block: list[bytes] = []
    size = 0
    for entry in entries.iterator(chunk_size=CHUNK_SIZE):
        line = canonical_json(entry_document(entry), strict=False) + b"\n"
        block.append(line)
        size += len(line)
        if size >= EXPORT_BLOCK_BYTES:
            yield b"".join(block)
            block, size = [], 0
    if block:
        yield b"".join(block)


# --- Verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int  # entries checked (all of them when the chain is whole)
    head: str | None = None  # hash of the last entry checked, when ok
    broken_seq: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"OK: {self.count} entries, head {self.head}"
        return f"BROKEN at seq {self.broken_seq}: {self.reason}"


def ledger_verify(*, start: int = 1) -> VerifyResult:
    """Recompute the chain from `start` in seq order and report the first broken link.

    Checks, per entry: the seq follows the previous one; `prev_hash` is the previous entry's
    hash (the genesis hash for seq 1); the stored hash is the SHA-256 of the canonical
    document. docs/verify_ledger.py makes the same checks, in the same order, on the export.
    """
    if start < 1:
        raise ValueError("start must be 1 or more")
    expected_seq = start
    if start == 1:
        prev_hash = GENESIS_HASH
    else:
        previous = LedgerEntry.objects.filter(seq=start - 1).values_list("hash", flat=True).first()
        if previous is None:
            return VerifyResult(False, 0, broken_seq=start - 1, reason=f"missing seq {start - 1}")
        prev_hash = previous
    count = 0
    entries = LedgerEntry.objects.filter(seq__gte=start).order_by("seq")
    for entry in entries.iterator(chunk_size=CHUNK_SIZE):
        if entry.seq != expected_seq:
            return VerifyResult(
                False, count, broken_seq=expected_seq, reason=f"missing seq {expected_seq}"
            )
        if entry.prev_hash != prev_hash:
            reason = (
                "prev_hash is not the genesis hash"
                if entry.seq == 1
                else f"prev_hash does not match entry {entry.seq - 1}"
            )
            return VerifyResult(False, count, broken_seq=entry.seq, reason=reason)
        if not entry_hash_matches(entry):
            return VerifyResult(False, count, broken_seq=entry.seq, reason="hash mismatch")
        count += 1
        prev_hash = entry.hash
        expected_seq += 1
    return VerifyResult(True, count, head=prev_hash)


# --- Pages and the API ------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerFilters:
    subject: str = ""
    subject_type: str = ""
    action: str = ""
    actor: str = ""
    since: datetime | None = None
    until: datetime | None = None


def ledger_entries(filters: LedgerFilters | None = None) -> QuerySet[LedgerEntry]:
    """Entries matching `filters`, unordered (callers order by seq one way or the other)."""
    qs = LedgerEntry.objects.all()
    f = filters or LedgerFilters()
    if f.subject:
        qs = qs.filter(subject=f.subject)
    if f.subject_type:
        qs = qs.filter(subject__startswith=f"{f.subject_type}:")
    if f.action:
        qs = qs.filter(action=f.action)
    if f.actor:
        qs = qs.filter(actor=f.actor)
    if f.since:
        qs = qs.filter(at__gte=f.since)
    if f.until:
        qs = qs.filter(at__lte=f.until)
    return qs


@dataclass(frozen=True)
class LedgerPage:
    entries: list[LedgerEntry]  # newest first
    newer_after: int | None  # `?after=` for the link to newer entries, if there are any
    older_before: int | None  # `?before=` for the link to older entries, if there are any


def ledger_page(
    *,
    filters: LedgerFilters | None = None,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> LedgerPage:
    """One page of entries, newest first, by keyset on seq: `before` walks to older entries,
    `after` to newer ones. Two queries: the page (one row more than shown, to know whether
    there is a next page) and whether anything lies on the other side of the cursor."""
    if before is not None and after is not None:
        raise ValueError("Give before or after, not both.")
    qs = ledger_entries(filters)
    has_newer = has_older = False
    if after is not None:
        rows = list(qs.filter(seq__gt=after).order_by("seq")[: size + 1])
        has_newer = len(rows) > size
        entries = rows[:size][::-1]
        has_older = qs.filter(seq__lte=after).exists()
    else:
        page = qs.filter(seq__lt=before) if before is not None else qs
        rows = list(page.order_by("-seq")[: size + 1])
        has_older = len(rows) > size
        entries = rows[:size]
        has_newer = before is not None and qs.filter(seq__gte=before).exists()
    if entries:
        newer_after = entries[0].seq if has_newer else None
        older_before = entries[-1].seq if has_older else None
    else:
        # An empty page past either end: point back across the cursor.
        newer_after = before - 1 if has_newer and before is not None else None
        older_before = after + 1 if has_older and after is not None else None
    return LedgerPage(entries=entries, newer_after=newer_after, older_before=older_before)


def ledger_actions() -> list[str]:
    """The distinct actions present, alphabetically. A loose index scan on (action, seq):
    one index probe per distinct action, not a scan of the whole ledger."""
    table = LedgerEntry._meta.db_table
    # The table name comes from the model, not from input.
    sql = f"""
        WITH RECURSIVE actions(action) AS (
            (SELECT action FROM {table} ORDER BY action LIMIT 1)
            UNION ALL
            SELECT (SELECT e.action FROM {table} e WHERE e.action > a.action
                    ORDER BY e.action LIMIT 1)
            FROM actions a WHERE a.action IS NOT NULL
        )
        SELECT action FROM actions WHERE action IS NOT NULL
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def _user_id(actor: str) -> int | None:
    kind, _, ident = actor.partition(":")
    if kind == "user" and ident.isascii() and ident.isdigit() and len(ident) < 19:
        return int(ident)  # under 19 digits: always within a bigint
    return None


def ledger_actor_names(actors: Iterable[str]) -> dict[str, str]:
    """Public names for `actors` ("user:<id>", "system"), in one query whatever their number.

    "system" is the platform itself; an account that was deleted (or no longer exists) is
    a "Former member"; e-mail addresses are never used."""
    actors = set(actors)
    ids = {uid for actor in actors if (uid := _user_id(actor)) is not None}
    users = (
        {u.pk: u for u in User.objects.filter(pk__in=ids).only("id", "display_name", "deleted_at")}
        if ids
        else {}
    )
    names: dict[str, str] = {}
    for actor in actors:
        uid = _user_id(actor)
        if actor == SYSTEM:
            names[actor] = SYSTEM_NAME
        elif uid is not None:
            user = users.get(uid)
            names[actor] = user.public_name if user is not None else DELETED_DISPLAY_NAME
        else:
            names[actor] = actor
    return names


# Readable names for ledger subjects ("organization:3" → "Acme AI"), by subject type. Each app
# registers the types it writes (in its AppConfig.ready) with a function from ids to names, so
# a page of entries costs one query per type whatever its length.
SUBJECT_RESOLVERS: dict[str, Callable[[set[int]], dict[int, str]]] = {}


def register_subject_resolver(subject_type: str, resolve: Callable[[set[int]], dict[int, str]]):
    SUBJECT_RESOLVERS[subject_type] = resolve


def ledger_subject_labels(subjects: Iterable[str]) -> dict[str, str]:
    """Human names for subjects; an unknown type, or a subject whose row is gone, keeps its
    reference ("organization:3")."""
    by_type: dict[str, set[int]] = {}
    subjects = set(subjects)
    for subject in subjects:
        kind, _, ident = subject.partition(":")
        if kind in SUBJECT_RESOLVERS and ident.isascii() and ident.isdigit() and len(ident) < 19:
            by_type.setdefault(kind, set()).add(int(ident))
    names = {kind: SUBJECT_RESOLVERS[kind](ids) for kind, ids in by_type.items()}
    labels = {}
    for subject in subjects:
        kind, _, ident = subject.partition(":")
        name = names.get(kind, {}).get(int(ident)) if kind in names else None
        labels[subject] = name or subject
    return labels


def _organization_names(ids: set[int]) -> dict[int, str]:
    return dict(Organization.objects.filter(pk__in=ids).values_list("pk", "name"))


def _user_names(ids: set[int]) -> dict[int, str]:
    users = User.objects.filter(pk__in=ids).only("id", "display_name", "deleted_at")
    return {user.pk: user.public_name for user in users}


register_subject_resolver("organization", _organization_names)
register_subject_resolver("user", _user_names)


def payload_summary(payload: Any, *, limit: int = 90) -> str:
    """A one-line reading of a payload for tables: `key: value · key: value`, shortened."""
    if payload in ({}, [], None, ""):
        return ""
    if isinstance(payload, dict):
        parts = []
        for key in sorted(payload):
            value = payload[key]
            text = value if isinstance(value, str) else canonical_json(value, strict=False).decode()
            parts.append(f"{key}: {text}")
        summary = " · ".join(parts)
    else:
        summary = canonical_json(payload, strict=False).decode()
    return summary if len(summary) <= limit else summary[: limit - 1].rstrip() + "…"
