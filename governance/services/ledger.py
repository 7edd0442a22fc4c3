"""Appending to the public ledger: the one place that writes `LedgerEntry` rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import connection, models
from django.utils import timezone

from governance.canonical import canonical_json, sha256_hex
from governance.models import LedgerEntry
from governance.models.ledger import GENESIS_HASH

# A fixed key for pg_advisory_xact_lock: appends from every process queue on it, so the chain
# has exactly one successor per entry. The lock is held until the surrounding transaction
# ends, so services append as their last write.
LEDGER_LOCK_KEY = 0x4C454447  # "LEDG"
SYSTEM = "system"
AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

_ACTION_MAX = LedgerEntry._meta.get_field("action").max_length
_SUBJECT_MAX = LedgerEntry._meta.get_field("subject").max_length
_ACTOR_MAX = LedgerEntry._meta.get_field("actor").max_length


def format_at(at: datetime) -> str:
    """The timestamp as hashed: UTC, microseconds, a literal `Z` (PostgreSQL keeps
    microseconds, so a stored entry re-formats to exactly these characters)."""
    return at.astimezone(UTC).strftime(AT_FORMAT)


def hashed_document(
    *, seq: int, at: str, actor: str, action: str, subject: str, payload: Any, prev_hash: str
) -> dict:
    """The fields that are hashed. The export prints this plus `hash`, one per line."""
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "payload": payload,
        "prev_hash": prev_hash,
    }


def entry_hash(document: dict) -> str:
    # Not strict: verification recomputes hashes of rows that may have been tampered with.
    return sha256_hex(canonical_json(document, strict=False))


def actor_ref(user) -> str:
    """ "user:<id>" for a person, "system" for the platform's own periodic work."""
    if user is None or not getattr(user, "is_authenticated", False):
        return SYSTEM
    return f"user:{user.pk}"


def subject_ref(obj: models.Model | str) -> str:
    if isinstance(obj, str):
        return obj
    return f"{obj._meta.model_name}:{obj.pk}"


def _check_reference(name: str, value: str, max_length: int | None) -> None:
    if not value or (max_length and len(value) > max_length):
        raise ValueError(f"A ledger {name} must be 1 to {max_length} characters, not {value!r}.")


def ledger_append(
    *, actor, action: str, subject: models.Model | str, payload: Any = None
) -> LedgerEntry:
    """Append one entry, chained to the last. Must run inside the caller's transaction, so the
    entry commits or rolls back with the change it records. When `actor` came from an API
    token the payload also names the token (`via_token`)."""
    payload = {} if payload is None else payload
    # A write made through an API token names the token (its id, never its name or secret).
    via_token = getattr(actor, "api_token_id", None)
    if via_token is not None and isinstance(payload, dict):
        payload = {**payload, "via_token": via_token}
    actor_text = actor if isinstance(actor, str) else actor_ref(actor)
    subject_text = subject_ref(subject)
    _check_reference("action", action, _ACTION_MAX)
    _check_reference("subject", subject_text, _SUBJECT_MAX)
    _check_reference("actor", actor_text, _ACTOR_MAX)
    # Refuse unhashable content (floats, NUL, …) before taking the lock.
    canonical_json([actor_text, action, subject_text, payload])
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_append must be called inside transaction.atomic()")
    # Subscribers hear of the change once it commits (asked before the lock is taken; a lazy
    # import, as webhooks append to the ledger too).
    from governance.services import webhooks

    notify = webhooks.wants_event(action)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])
    # Read after the lock: under READ COMMITTED this statement sees the previous holder's
    # commit, which PostgreSQL makes visible before it releases the lock.
    last = LedgerEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    now = timezone.now()
    document = hashed_document(
        seq=seq,
        at=format_at(now),
        actor=actor_text,
        action=action,
        subject=subject_text,
        payload=payload,
        prev_hash=prev_hash,
    )
    entry = LedgerEntry.objects.create(
        seq=seq,
        at=now,
        actor=actor_text,
        action=action,
        subject=subject_text,
        payload=payload,
        prev_hash=prev_hash,
        hash=entry_hash(document),
    )
    if notify:
        webhooks.on_ledger_append(entry)
    return entry
