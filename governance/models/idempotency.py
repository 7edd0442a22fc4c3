"""Remembered results of POSTs sent with an `Idempotency-Key` (or a browser form token)."""

from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    # Who sent it ("user:12", "token:5", "anon:<session>"): keys are private to their sender.
    owner = models.CharField(max_length=80)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_sha256 = models.CharField(max_length=64)
    # Null while the first request is still being processed.
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    response_location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
