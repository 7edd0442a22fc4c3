"""Personal API tokens: shown once, stored as a SHA-256 hash, revocable, with scopes."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "orf_"  # noqa: S105 — a public marker that makes leaked tokens findable, not a secret


class ApiToken(models.Model):
    class Scope(models.TextChoices):
        READ_PUBLIC = "read:public", "Read public records"
        READ_EMBARGOED = (
            "read:embargoed",
            "Read audit reports under embargo (regulators and accredited auditors only)",
        )
        WRITE_ACCOUNT = "write:account", "Manage your account and organizations"
        WRITE_POLICIES = "write:policies", "Write and publish your organizations' policies"
        WRITE_COMMENTS = "write:comments", "Comment, reply, endorse and flag in comment periods"
        WRITE_MODERATION = "write:moderation", "Moderate comments (moderators only)"
        WRITE_EVIDENCE = "write:evidence", "Upload evaluation runs and relabel samples"
        WRITE_WEBHOOKS = (
            "write:webhooks",
            "Subscribe to webhooks, see their deliveries and send test pings",
        )
        WRITE_AUDITS = (
            "write:audits",
            "File audit reports and findings; answer them for your company",
        )
        WRITE_APPEALS = (
            "write:appeals",
            "File and follow appeals; review, decide and answer them for your company or panel",
        )

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    # The first characters, kept in clear so people can tell their tokens apart.
    prefix = models.CharField(max_length=16)
    key_sha256 = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=40), default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
