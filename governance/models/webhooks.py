"""Webhooks: subscriptions to public changes, and every attempt to deliver one.

Deliveries are signed with the subscription's secret (HMAC-SHA256), so the secret is kept in
clear: it is shown once to its owner and never again by the site or the API."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class WebhookSubscription(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    # Held on behalf of an organization: its owners and editors manage it too.
    organization = models.ForeignKey(
        "governance.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
    )
    target_url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=80)
    # Ledger actions sent (governance.public_data.EVENT_TYPES); empty means all of them.
    event_types = ArrayField(models.CharField(max_length=80), default=list, blank=True)
    # Only changes concerning this policy (an id: the core holds no foreign key into an app)
    # and/or this organization.
    filter_policy = models.BigIntegerField(null=True, blank=True)
    filter_organization = models.ForeignKey(
        "governance.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Set when a delivery used up its retry budget; cleared by the next successful delivery.
    failing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["active"], name="webhook_active")]

    def __str__(self) -> str:
        return f"Webhook #{self.pk} → {self.target_url}"

    @property
    def secret_hint(self) -> str:
        return f"{self.secret[:10]}…"


class WebhookDelivery(models.Model):
    """One attempt to deliver one event to one subscription. A failed attempt with retries
    left names the time of the next; that next attempt is its own row."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=80)
    seq = models.BigIntegerField(
        null=True, blank=True, help_text="The ledger entry; none for pings."
    )
    # The exact bytes sent (the same on every attempt); the signature covers them.
    body = models.TextField()
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When this attempt is to be made; a periodic task sends pending ones whose task was lost.
    due_at = models.DateTimeField(default=timezone.now)
    attempted_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "seq", "attempt"],
                condition=models.Q(seq__isnull=False),
                name="webhook_delivery_once",
            )
        ]
        indexes = [
            models.Index(fields=["subscription", "-id"], name="webhook_delivery_sub"),
            models.Index(
                fields=["due_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → webhook #{self.subscription_id} (attempt {self.attempt})"
