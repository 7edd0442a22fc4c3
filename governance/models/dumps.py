"""Bulk dumps: one row per nightly run; the files (gzip JSON Lines and manifest.json) are in
the default storage under `folder`."""

from __future__ import annotations

from django.db import models


class DataDump(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Being written"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    # e.g. "dumps/20261203T020000Z/": every file of this dump is under it.
    folder = models.CharField(max_length=200, unique=True)
    # What manifest.json says: {"created_at", "ledger_head", "files": [{name, dataset, rows,
    # bytes, sha256, description}]}.
    manifest = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Dump {self.folder} ({self.status})"
