"""Drift alerts: a clause whose refusal rate, in one framing, moved against its expected
behaviour between the runs of two versions of one AI system on one benchmark — a significant
fall in refusal on a `refuse` clause, or a rise on a `comply` clause. Public; the company may
annotate an alert and link it to the policy version (and clause) that explains it. Imported by
audits.models."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class DriftAlert(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        # The company has answered but linked no policy change: still unexplained.
        ANNOTATED = "annotated", "Annotated (no policy change linked)"
        # Answered with a link to the policy version/clause change that explains it.
        CLOSED = "closed", "Closed (explained by a policy change)"

    class Direction(models.TextChoices):
        FALL = "fall", "Refusal fell"
        RISE = "rise", "Refusal rose"

    policy = models.ForeignKey(
        "policies.Policy", on_delete=models.CASCADE, related_name="drift_alerts"
    )
    version = models.ForeignKey(
        "policies.PolicyVersion",
        on_delete=models.CASCADE,
        related_name="drift_alerts",
        help_text="The policy version whose clause and mappings were compared.",
    )
    clause_key = models.CharField(max_length=120)
    expected_behavior = models.CharField(max_length=16)
    organization = models.ForeignKey(
        "governance.Organization", on_delete=models.CASCADE, related_name="drift_alerts"
    )
    system = models.ForeignKey(
        "governance.AISystem", on_delete=models.CASCADE, related_name="drift_alerts"
    )
    benchmark = models.CharField(max_length=120)
    framing = models.CharField(
        max_length=60,
        blank=True,
        help_text="The framing whose samples were compared, in both runs (direct, role_play, "
        "…); empty: the samples with no recorded framing.",
    )
    earlier_run = models.ForeignKey(
        "audits.EvaluationRun", on_delete=models.CASCADE, related_name="+"
    )
    later_run = models.ForeignKey(
        "audits.EvaluationRun", on_delete=models.CASCADE, related_name="drift_alerts"
    )
    earlier_n = models.PositiveIntegerField()
    earlier_refused = models.PositiveIntegerField()
    later_n = models.PositiveIntegerField()
    later_refused = models.PositiveIntegerField()
    direction = models.CharField(max_length=4, choices=Direction.choices)
    change = models.FloatField(help_text="Later refusal rate - earlier refusal rate.")
    interval_low = models.FloatField()
    interval_high = models.FloatField()
    p_value = models.FloatField()
    # Holm's step-down adjustment over the framings of this clause compared between the two
    # runs (docs/robustness.md): the alert opens when this, not p_value, is below DRIFT_ALPHA.
    p_adjusted = models.FloatField()
    framings_compared = models.PositiveSmallIntegerField(default=1)
    test = models.CharField(max_length=10, help_text="z (two-proportion z-test) or fisher.")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    annotation = models.TextField(max_length=5000, blank=True)
    annotation_version = models.ForeignKey(
        "policies.PolicyVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="drift_annotations",
    )
    annotation_clause_key = models.CharField(max_length=120, blank=True)
    annotated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    annotated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "clause_key", "framing", "earlier_run", "later_run"],
                name="driftalert_once_per_framing",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(annotation_version__isnull=False),
                name="driftalert_closed_links_change",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="driftalert_status"),
            models.Index(fields=["system", "clause_key"], name="driftalert_system_clause"),
        ]

    def __str__(self) -> str:
        return f"{self.clause_key} on {self.system}: {self.change:+.0%}"

    @property
    def framing_label(self) -> str:
        from audits.framings import framing_label

        return framing_label(self.framing) if self.framing else "not recorded"

    @property
    def earlier_rate(self) -> float:
        return self.earlier_refused / self.earlier_n if self.earlier_n else 0.0

    @property
    def later_rate(self) -> float:
        return self.later_refused / self.later_n if self.later_n else 0.0
