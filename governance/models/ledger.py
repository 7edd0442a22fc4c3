"""The public ledger: an append-only, hash-chained record of every state change.

Rows are written only by `governance.services.ledger.ledger_append`; a PostgreSQL trigger
rejects UPDATE and DELETE, and anyone can re-compute the chain from the export.
"""

from __future__ import annotations

from django.db import models

GENESIS_HASH = "0" * 64


class LedgerEntry(models.Model):
    seq = models.BigIntegerField(primary_key=True)
    at = models.DateTimeField()
    # Opaque references ("user:12", "system"), not foreign keys: the ledger never changes,
    # even when an account is deleted. Names are looked up when the entry is shown.
    actor = models.CharField(max_length=80)
    action = models.CharField(max_length=80)
    subject = models.CharField(max_length=120)
    payload = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["subject", "seq"], name="ledger_subject_seq"),
            models.Index(fields=["action", "seq"], name="ledger_action_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.subject}"

    @property
    def subject_type(self) -> str:
        return self.subject.partition(":")[0]
