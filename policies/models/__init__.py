"""Refusal policies: documents made of clauses with stable keys, published as immutable versions.

A version's Markdown is the one source of truth; its clauses are parsed from it while it is a
draft. Once published, PostgreSQL triggers (migration 0002) refuse any change to its text or
clauses: only the move to superseded or withdrawn is allowed.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q


class Behavior(models.TextChoices):
    REFUSE = "refuse", "Refuse"
    COMPLY = "comply", "Comply"
    SAFE_COMPLETE = "safe_complete", "Safe completion"
    ESCALATE = "escalate", "Escalate"


class Policy(models.Model):
    organization = models.ForeignKey(
        "governance.Organization", on_delete=models.PROTECT, related_name="policies"
    )
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    summary = models.TextField(blank=True, max_length=2000)
    systems = models.ManyToManyField("governance.AISystem", blank=True, related_name="policies")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["organization__name", "title"]
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="policy_slug_unique"),
        ]

    def __str__(self) -> str:
        return self.title


class PolicyVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        SUPERSEDED = "superseded", "Superseded"
        WITHDRAWN = "withdrawn", "Withdrawn"

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    # Semantic version, kept as numbers so ordering and "goes backwards" checks are exact.
    major = models.PositiveIntegerField(validators=[MaxValueValidator(999_999)])
    minor = models.PositiveIntegerField(validators=[MaxValueValidator(999_999)])
    patch = models.PositiveIntegerField(validators=[MaxValueValidator(999_999)])
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    body_markdown = models.TextField()
    summary_of_changes = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    effective_at = models.DateTimeField(null=True, blank=True)
    # SHA-256 of the UTF-8 Markdown; previous_sha256 is the policy's previous published
    # version's content hash (64 zeros for the first), so versions form a per-policy chain.
    content_sha256 = models.CharField(max_length=64, blank=True)
    previous_sha256 = models.CharField(max_length=64, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True, max_length=5000)

    class Meta:
        ordering = ["policy", "-major", "-minor", "-patch"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "major", "minor", "patch"], name="policyversion_number_unique"
            ),
            # At most one draft per policy: the next version being written.
            models.UniqueConstraint(
                fields=["policy"], condition=Q(status="draft"), name="policyversion_one_draft"
            ),
            models.CheckConstraint(
                condition=Q(status="draft")
                | (Q(published_at__isnull=False) & ~Q(content_sha256="")),
                name="policyversion_published_has_hash",
            ),
            models.CheckConstraint(
                condition=~Q(status="withdrawn") | ~Q(withdrawn_reason=""),
                name="policyversion_withdrawn_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-published_at"], name="policyversion_published"),
        ]

    def __str__(self) -> str:
        return f"{self.policy} v{self.number}"

    @property
    def number(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT


class Clause(models.Model):
    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="clauses")
    # Stable across versions (e.g. "weapons.bio.synthesis"): diffs, comments, evidence and
    # appeals follow a clause from version to version by its key.
    key = models.CharField(max_length=120)
    title = models.CharField(max_length=300)
    text = models.TextField()
    expected_behavior = models.CharField(max_length=16, choices=Behavior.choices)
    categories = ArrayField(models.CharField(max_length=80), default=list, blank=True)
    position = models.PositiveIntegerField()
    # The Markdown line of the clause's heading, for error messages and "view source".
    line = models.PositiveIntegerField()

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="clause_key_unique"),
            models.UniqueConstraint(fields=["version", "position"], name="clause_position_unique"),
        ]
        indexes = [models.Index(fields=["key"], name="clause_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.version})"


class PolicyFollow(models.Model):
    """A signed-in person follows a policy: they hear when a new version is published."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_follows"
    )
    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="follows")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "policy"], name="policyfollow_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} follows {self.policy}"


# Public comment lives in its own module; imported here so Django registers its models.
from policies.models.comments import (  # noqa: E402
    Comment,
    CommentBand,
    CommentCluster,
    CommentPeriod,
    CommentPeriodExtension,
    CommentResponse,
    CommentRevision,
    Endorsement,
    Flag,
    ModerationAction,
)

__all__ = [
    "Behavior",
    "Clause",
    "Comment",
    "CommentBand",
    "CommentCluster",
    "CommentPeriod",
    "CommentPeriodExtension",
    "CommentResponse",
    "CommentRevision",
    "Endorsement",
    "Flag",
    "ModerationAction",
    "Policy",
    "PolicyFollow",
    "PolicyVersion",
]
