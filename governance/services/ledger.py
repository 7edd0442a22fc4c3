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


def format_at(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_document(
    *, seq: int, at: str, actor: str, action: str, subject: str, payload: Any, prev_hash: str
) -> dict:
    """What is hashed, and exactly what the JSONL export prints (plus `hash`)."""
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
    return sha256_hex(canonical_json(document))


def actor_ref(user) -> str:
    """ "user:<id>" for a person, "system" for the platform's own periodic work."""
    if user is None or not getattr(user, "is_authenticated", False):
        return SYSTEM
    return f"user:{user.pk}"


def subject_ref(obj: models.Model | str) -> str:
    if isinstance(obj, str):
        return obj
    return f"{obj._meta.model_name}:{obj.pk}"


def ledger_append(*, actor, action: str, subject: models.Model | str, payload: Any = None):
    """Append one entry, chained to the last. Must run inside the caller's transaction, so the
    entry commits or rolls back with the change it records."""
    payload = {} if payload is None else payload
    canonical_json(payload)  # refuse unhashable payloads before taking the lock
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_append must be called inside transaction.atomic()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])
    last = LedgerEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    now = timezone.now()
    document = entry_document(
        seq=seq,
        at=format_at(now),
        actor=actor if isinstance(actor, str) else actor_ref(actor),
        action=action,
        subject=subject_ref(subject),
        payload=payload,
        prev_hash=prev_hash,
    )
    return LedgerEntry.objects.create(
        seq=seq,
        at=now,
        actor=document["actor"],
        action=action,
        subject=document["subject"],
        payload=payload,
        prev_hash=prev_hash,
        hash=entry_hash(document),
    )
