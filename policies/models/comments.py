"""Public comment on a published policy version: the period, the comments and their threads,
endorsements, flags, moderation on the record, form-letter clusters and the company's responses.

The docket must hold a national rulemaking's volume (millions of comments, ~90 % form letters),
so what the pages read is kept on the row: `listed` marks the comments the main listing shows (a
campaign once, by its representative), counters are maintained by the services, and every
listing has a partial index that serves its keyset order.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone

SEARCH_CONFIG = "english"


class CommentPeriod(models.Model):
    """The one comment period of a published version: open from `opens_at` (inclusive) until
    `closes_at` (exclusive), by the server's clock. It can be extended, never shortened."""

    class State(models.TextChoices):
        SCHEDULED = "scheduled", "Not open yet"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    version = models.OneToOneField(
        "policies.PolicyVersion", on_delete=models.PROTECT, related_name="comment_period"
    )
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    # The closing time first announced, kept once the period has been extended.
    extended_from = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Each notice to the policy's followers goes out once; the periodic task stamps these.
    opening_notice_sent_at = models.DateTimeField(null=True, blank=True)
    closing_notice_sent_at = models.DateTimeField(null=True, blank=True)
    closed_notice_sent_at = models.DateTimeField(null=True, blank=True)
    # The company's "response to comments" document; published once complete, then frozen.
    responses_summary = models.TextField(blank=True, max_length=20_000)
    responses_published_at = models.DateTimeField(null=True, blank=True)
    responses_published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-opens_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="commentperiod_closes_after"
            ),
        ]
        indexes = [
            models.Index(fields=["closes_at"], name="commentperiod_closes"),
            models.Index(fields=["opens_at"], name="commentperiod_opens"),
        ]

    def __str__(self) -> str:
        return f"Comment period on {self.version}"

    def state_at(self, now: datetime | None = None) -> str:
        now = now or timezone.now()
        if now < self.opens_at:
            return self.State.SCHEDULED
        if now < self.closes_at:
            return self.State.OPEN
        return self.State.CLOSED

    @property
    def state(self) -> str:
        return self.state_at()

    @property
    def is_open(self) -> bool:
        return self.state_at() == self.State.OPEN


class CommentPeriodExtension(models.Model):
    """One extension of a period's closing time, with the company's public reason."""

    period = models.ForeignKey(CommentPeriod, on_delete=models.CASCADE, related_name="extensions")
    previous_closes_at = models.DateTimeField()
    new_closes_at = models.DateTimeField()
    reason = models.TextField(max_length=2000)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["period", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(new_closes_at__gt=models.F("previous_closes_at")),
                name="commentperiodextension_later",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period}: {self.previous_closes_at} → {self.new_closes_at}"


class CommentCluster(models.Model):
    """A form-letter campaign: comments with the same normalized text (`exact`) or near the same
    (`near`, MinHash LSH). The listing shows it once, by its representative (its first comment)."""

    class Kind(models.TextChoices):
        EXACT = "exact", "Identical text"
        NEAR = "near", "Near-identical text"

    period = models.ForeignKey(CommentPeriod, on_delete=models.CASCADE, related_name="clusters")
    representative = models.OneToOneField(
        "policies.Comment", on_delete=models.PROTECT, related_name="represented_cluster"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.EXACT)
    # All comments of the cluster, the representative included; and how many distinct
    # normalized texts they have. Kept by the services that add comments to the cluster.
    comment_count = models.PositiveIntegerField(default=1)
    variant_count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["period", "-comment_count"]
        indexes = [
            models.Index(fields=["period", "-comment_count", "id"], name="commentcluster_size"),
        ]

    def __str__(self) -> str:
        return f"Cluster {self.pk} ({self.comment_count} comments)"


class Comment(models.Model):
    class Status(models.TextChoices):
        PUBLISHED = "published", "Published"
        HELD = "held", "Held for review"
        HIDDEN = "hidden", "Hidden by a moderator"
        WITHDRAWN = "withdrawn", "Withdrawn by its author"

    class HeldReason(models.TextChoices):
        NONE = "", "—"
        NEW_ACCOUNT = "new_account", "New account"
        LINKS = "links", "Many links"
        NOT_ME = "not_me", "Reported as posted without its author's consent"
        MODERATOR = "moderator", "Held by a moderator"

    period = models.ForeignKey(CommentPeriod, on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="comments"
    )
    # Optional: a comment on one clause of the period's version; none for the whole version.
    clause = models.ForeignKey(
        "policies.Clause", null=True, blank=True, on_delete=models.PROTECT, related_name="comments"
    )
    # Threads: `parent` is what this replies to; `root` the top-level comment of the thread.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies"
    )
    root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="thread"
    )
    on_behalf_of = models.ForeignKey(
        "governance.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="comments",
    )
    body = models.TextField()
    # SHA-256 of the normalized text (see policies.clustering.normalize_comment_text).
    normalized_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PUBLISHED)
    held_reason = models.CharField(
        max_length=12, choices=HeldReason.choices, default=HeldReason.NONE, blank=True
    )
    # The moderator's public reason while hidden (the placeholder shows it).
    hidden_reason = models.TextField(blank=True, max_length=2000)
    # Shown in the main listing: a top-level comment that is not held and is not a
    # non-representative member of a cluster. Maintained by the services.
    listed = models.BooleanField(default=False)
    cluster = models.ForeignKey(
        CommentCluster,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="comments",
    )
    # False until the near-duplicate task has looked at it (and stored its LSH band keys).
    clustering_done = models.BooleanField(default=False)
    endorsement_count = models.PositiveIntegerField(default=0)
    reply_count = models.PositiveIntegerField(default=0)
    link_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    search_vector = models.GeneratedField(
        expression=SearchVector("body", config=SEARCH_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="hidden") | ~Q(hidden_reason=""),
                name="comment_hidden_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True) | Q(root__isnull=False),
                name="comment_reply_has_root",
            ),
            models.CheckConstraint(
                condition=~Q(listed=True) | Q(parent__isnull=True),
                name="comment_listed_top_level",
            ),
        ]
        indexes = [
            # The main listing, newest/oldest first (id order is posting order).
            models.Index(fields=["period", "-id"], name="comment_listed", condition=Q(listed=True)),
            models.Index(
                fields=["period", "-endorsement_count", "-id"],
                name="comment_listed_endorsed",
                condition=Q(listed=True),
            ),
            models.Index(
                fields=["period", "clause", "-id"],
                name="comment_listed_clause",
                condition=Q(listed=True),
            ),
            models.Index(
                fields=["period", "-id"],
                name="comment_listed_org",
                condition=Q(listed=True, on_behalf_of__isnull=False),
            ),
            GinIndex(fields=["search_vector"], name="comment_search", condition=Q(listed=True)),
            # Exact duplicates are found at posting time by their normalized text.
            models.Index(fields=["period", "normalized_sha256", "id"], name="comment_text"),
            models.Index(fields=["cluster", "id"], name="comment_cluster"),
            models.Index(fields=["root", "id"], name="comment_thread"),
            models.Index(fields=["author", "-id"], name="comment_author"),
            models.Index(
                fields=["id"], name="comment_clustering_pending", condition=Q(clustering_done=False)
            ),
            models.Index(fields=["period", "id"], name="comment_held", condition=Q(status="held")),
        ]

    def __str__(self) -> str:
        return f"Comment {self.pk} on {self.period_id}"

    @property
    def is_top_level(self) -> bool:
        return self.parent_id is None


class CommentRevision(models.Model):
    """A comment's earlier text, kept when its author edits it (within the edit window)."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    created_at = models.DateTimeField()  # when this text was posted or last edited
    replaced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["comment", "replaced_at"]

    def __str__(self) -> str:
        return f"Revision of comment {self.comment_id}"


class CommentBand(models.Model):
    """One MinHash LSH band key of a comment's text: comments sharing a key are candidates for
    the same near-duplicate cluster. Kept in PostgreSQL so clustering scales past memory."""

    period = models.ForeignKey(CommentPeriod, on_delete=models.CASCADE, related_name="+")
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="bands")
    # 64-bit hash of (band number, the band's MinHash values), signed for PostgreSQL's bigint.
    key = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["period", "key"], name="commentband_key")]

    def __str__(self) -> str:
        return f"Band {self.key} of comment {self.comment_id}"


class Endorsement(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="endorsements"
    )
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="endorsements")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "comment"], name="endorsement_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} endorses comment {self.comment_id}"


class Flag(models.Model):
    class Reason(models.TextChoices):
        SPAM = "spam", "Spam or advertising"
        ABUSE = "abuse", "Harassment or hate"
        PRIVACY = "privacy", "Reveals someone's private information"
        OFF_TOPIC = "off_topic", "Not about this policy"
        NOT_ME = "not_me", "Submitted in my name without my consent"
        OTHER = "other", "Something else"

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="flags")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    details = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when a moderator acts on the comment (hide, restore, approve or dismiss).
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "comment"], name="flag_unique"),
        ]
        indexes = [
            models.Index(
                fields=["comment"], name="flag_open", condition=Q(resolved_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"Flag on comment {self.comment_id}: {self.reason}"


class ModerationAction(models.Model):
    """Every moderation step, public with its reason. `moderator` is empty for automatic holds."""

    class Action(models.TextChoices):
        HOLD = "hold", "Held for review"
        APPROVE = "approve", "Approved for publication"
        HIDE = "hide", "Hidden"
        RESTORE = "restore", "Restored"
        DISMISS = "dismiss", "Flags dismissed"

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="moderation")
    period = models.ForeignKey(CommentPeriod, on_delete=models.CASCADE, related_name="+")
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=8, choices=Action.choices)
    public_reason = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["period", "action"], name="moderation_period")]

    def __str__(self) -> str:
        return f"{self.action} comment {self.comment_id}"


class CommentResponse(models.Model):
    """The company's answer to one comment, one cluster or one clause's thread — or its recorded
    reason for not answering (`declined`)."""

    class Target(models.TextChoices):
        COMMENT = "comment", "A comment"
        CLUSTER = "cluster", "A form-letter campaign"
        CLAUSE = "clause", "A clause's comments"

    period = models.ForeignKey(CommentPeriod, on_delete=models.PROTECT, related_name="responses")
    target = models.CharField(max_length=8, choices=Target.choices)
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.PROTECT, related_name="responses"
    )
    cluster = models.ForeignKey(
        CommentCluster, null=True, blank=True, on_delete=models.PROTECT, related_name="responses"
    )
    clause_key = models.CharField(max_length=120, blank=True)
    body = models.TextField(max_length=20_000)
    # True: `body` records why the company does not answer, rather than an answer.
    declined = models.BooleanField(default=False)
    organization = models.ForeignKey(
        "governance.Organization", on_delete=models.PROTECT, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["period", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        target="comment",
                        comment__isnull=False,
                        cluster__isnull=True,
                        clause_key="",
                    )
                    | Q(
                        target="cluster", comment__isnull=True, cluster__isnull=False, clause_key=""
                    )
                    | (
                        Q(target="clause", comment__isnull=True, cluster__isnull=True)
                        & ~Q(clause_key="")
                    )
                ),
                name="commentresponse_one_target",
            ),
            models.UniqueConstraint(
                fields=["period", "comment"],
                condition=Q(target="comment"),
                name="commentresponse_comment_unique",
            ),
            models.UniqueConstraint(
                fields=["period", "cluster"],
                condition=Q(target="cluster"),
                name="commentresponse_cluster_unique",
            ),
            models.UniqueConstraint(
                fields=["period", "clause_key"],
                condition=Q(target="clause"),
                name="commentresponse_clause_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Response to {self.target} in {self.period}"
