"""Appeals against what an AI system did (a refusal, or a harmful compliance): the appeal and its
timeline, decisions by the company or an independent panel, panel seats and votes,
recommendations and the company's answers, the policy versions that cite what they resolve, and
quarterly transparency reports. The state machine itself is `appeals.workflow`."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Status(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    UNDER_REVIEW = "under_review", "Under review"
    NEEDS_INFO = "needs_info", "Needs information from the filer"
    DECIDED = "decided", "Decided by the company"
    ESCALATED = "escalated", "Escalated to the panel"
    PANEL_REVIEW = "panel_review", "Under panel review"
    PANEL_DECIDED = "panel_decided", "Decided by the panel"
    IMPLEMENTED = "implemented", "Decision implemented"
    CLOSED = "closed", "Closed"
    REJECTED_OUT_OF_SCOPE = "rejected_out_of_scope", "Rejected as out of scope"
    WITHDRAWN = "withdrawn", "Withdrawn by the filer"


class Kind(models.TextChoices):
    OVER_REFUSAL = "over_refusal", "Over-refusal: it refused something legitimate"
    UNDER_REFUSAL = "under_refusal", "Under-refusal: it complied with something harmful"
    OTHER = "other", "Other"


class RejectionReason(models.TextChoices):
    LATE = "late", "Filed too late"
    DUPLICATE = "duplicate", "A duplicate of another appeal"
    MANIFESTLY_UNFOUNDED = "manifestly_unfounded", "Manifestly unfounded"


class Outcome(models.TextChoices):
    UPHELD = "upheld", "Upheld (the original behaviour stands)"
    OVERTURNED = "overturned", "Overturned"
    PARTLY_OVERTURNED = "partly_overturned", "Partly overturned"


class Appeal(models.Model):
    filer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="appeals"
    )
    # The appealed company: the system's organization, kept on the row for the queues' index.
    organization = models.ForeignKey(
        "governance.Organization", on_delete=models.PROTECT, related_name="appeals"
    )
    system = models.ForeignKey("governance.AISystem", on_delete=models.PROTECT, related_name="+")
    system_version = models.CharField(max_length=120, blank=True)
    version = models.ForeignKey(
        "policies.PolicyVersion", on_delete=models.PROTECT, related_name="appeals"
    )
    # None: the filer does not know which clause applies (the company then names it).
    clause = models.ForeignKey(
        "policies.Clause", null=True, blank=True, on_delete=models.PROTECT, related_name="appeals"
    )
    clause_key = models.CharField(max_length=120, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Private: the filer, the company's reviewers and the assigned panel only.
    transcript_raw = models.TextField()
    # What is ever displayed: redaction ran on it, and the filer confirmed it.
    transcript_redacted = models.TextField()
    redaction_marked_names = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    redaction_counts = models.JSONField(default=dict, blank=True)
    redaction_confirmed_at = models.DateTimeField()
    requested_outcome = models.TextField(max_length=5000)
    occurred_at = models.DateTimeField()
    consent_to_publish = models.BooleanField(default=False)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.SUBMITTED)
    rejection_reason = models.CharField(max_length=24, choices=RejectionReason.choices, blank=True)
    submitted_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    panel_decided_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The clock: each deadline, moved on by the time the appeal waited for the filer.
    ack_due_at = models.DateTimeField()
    decision_due_at = models.DateTimeField()
    escalation_due_at = models.DateTimeField(null=True, blank=True)
    panel_due_at = models.DateTimeField(null=True, blank=True)
    implement_due_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="rejected_out_of_scope") | ~Q(rejection_reason=""),
                name="appeal_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(clause__isnull=True) | ~Q(clause_key=""),
                name="appeal_clause_has_key",
            ),
            models.CheckConstraint(
                condition=Q(status="needs_info") | Q(paused_at__isnull=True),
                name="appeal_paused_only_when_needs_info",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status"], name="appeal_org_status"),
            models.Index(fields=["status", "submitted_at"], name="appeal_status_submitted"),
            models.Index(fields=["clause_key"], name="appeal_clause_key"),
        ]

    def __str__(self) -> str:
        return f"Appeal #{self.pk}"


class AppealEvent(models.Model):
    """One transition of one appeal: who (in which role), when, from and to, and a note."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=32)
    from_status = models.CharField(max_length=24, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=24, choices=Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    role = models.CharField(max_length=16)
    note = models.TextField(blank=True, max_length=10_000)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} on appeal #{self.appeal_id}"


class Decision(models.Model):
    class By(models.TextChoices):
        COMPANY = "company", "The company"
        PANEL = "panel", "The independent panel"

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="decisions")
    by = models.CharField(max_length=8, choices=By.choices)
    # A company reversing itself while the panel has the case.
    summary = models.BooleanField(default=False)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    clause = models.ForeignKey(
        "policies.Clause", on_delete=models.PROTECT, related_name="appeal_decisions"
    )
    clause_key = models.CharField(max_length=120)
    rationale = models.TextField(max_length=20_000)
    facts = models.TextField(max_length=20_000)
    automation_used = models.BooleanField()
    automation_note = models.TextField(blank=True, max_length=5000)
    further_redress = models.TextField(max_length=5000)
    # A person always decides: the database refuses a decision with nobody behind it.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    votes_for = models.PositiveSmallIntegerField(default=0)
    votes_against = models.PositiveSmallIntegerField(default=0)
    dissent = models.TextField(blank=True, max_length=20_000)
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["decided_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(rationale="") & ~Q(facts=""), name="decision_has_rationale"
            ),
            models.CheckConstraint(
                condition=Q(by="panel") | Q(votes_for=0, votes_against=0),
                name="decision_votes_only_panel",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.get_by_display()}) on appeal #{self.appeal_id}"


class PanelAssignment(models.Model):
    """One panelist's seat on an escalated appeal, and their vote."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="panel_seats")
    panel = models.ForeignKey("governance.Organization", on_delete=models.PROTECT, related_name="+")
    panelist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="panel_seats"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField()
    vote = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    vote_note = models.TextField(blank=True, max_length=20_000)
    voted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assigned_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["appeal", "panelist"], name="panel_seat_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.panelist} on appeal #{self.appeal_id}"


class Recommendation(models.Model):
    class Priority(models.TextChoices):
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"

    class Answer(models.TextChoices):
        IMPLEMENTING_FULLY = "implementing_fully", "Implementing fully"
        IMPLEMENTING_IN_PART = "implementing_in_part", "Implementing in part"
        ASSESSING_FEASIBILITY = "assessing_feasibility", "Assessing feasibility"
        ALREADY_DONE = "already_done", "Already done"
        NO_FURTHER_ACTION = "no_further_action", "No further action"

    class Source(models.TextChoices):
        DECISION = "decision", "A decision on an appeal"
        FINDING = "finding", "A finding of an audit report"

    # Exactly one source: a decision on an appeal, or a finding of a published audit report
    # (made when the report is published; the finding's recommendation text is its text).
    decision = models.ForeignKey(
        Decision,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="recommendations",
    )
    finding = models.OneToOneField(
        "audits.Finding",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appeals_recommendation",
    )
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="+")
    clause_key = models.CharField(max_length=120)
    text = models.TextField(max_length=10_000)
    priority = models.CharField(max_length=8, choices=Priority.choices)
    target_date = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    answer_due_at = models.DateTimeField()
    answer = models.CharField(max_length=24, choices=Answer.choices, blank=True)
    answer_text = models.TextField(blank=True, max_length=10_000)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when a later published version cites it and the clause really changed.
    implemented_version = models.ForeignKey(
        "policies.PolicyVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    implemented_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(answer="") | Q(answered_at__isnull=False),
                name="recommendation_answer_dated",
            ),
            models.CheckConstraint(
                condition=Q(decision__isnull=False, finding__isnull=True)
                | Q(decision__isnull=True, finding__isnull=False),
                name="recommendation_has_one_source",
            ),
        ]

    def __str__(self) -> str:
        return f"Recommendation #{self.pk} on {self.clause_key}"

    @property
    def source(self) -> str:
        return self.Source.DECISION if self.decision_id else self.Source.FINDING

    @property
    def answer_overdue(self) -> bool:
        return not self.answer and self.answer_due_at < timezone.now()

    @property
    def source_version(self):
        """The policy version the recommendation was made on: a later version that cites it is
        diffed against this one."""
        return self.decision.appeal.version if self.decision_id else self.finding.version


class VersionResolution(models.Model):
    """A later policy version cites an appeal or a recommendation it resolves. `clause_changed`
    is computed from the diff when the citation is made or the version is published."""

    version = models.ForeignKey(
        "policies.PolicyVersion", on_delete=models.CASCADE, related_name="appeal_resolutions"
    )
    appeal = models.ForeignKey(
        Appeal, null=True, blank=True, on_delete=models.CASCADE, related_name="resolutions"
    )
    recommendation = models.ForeignKey(
        Recommendation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="resolutions",
    )
    clause_key = models.CharField(max_length=120)
    note = models.TextField(blank=True, max_length=5000)
    clause_changed = models.BooleanField(null=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(appeal__isnull=True, recommendation__isnull=False)
                | Q(appeal__isnull=False, recommendation__isnull=True),
                name="resolution_cites_one_thing",
            ),
            models.UniqueConstraint(
                fields=["version", "appeal"],
                condition=Q(appeal__isnull=False),
                name="resolution_appeal_once",
            ),
            models.UniqueConstraint(
                fields=["version", "recommendation"],
                condition=Q(recommendation__isnull=False),
                name="resolution_recommendation_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} resolves {self.appeal or self.recommendation}"


class DeadlineNotice(models.Model):
    """A deadline that passed and whose responsible side was told: once per deadline."""

    # None for a recommendation from an audit finding (its deadline is "rec:<pk>").
    appeal = models.ForeignKey(
        Appeal, null=True, on_delete=models.CASCADE, related_name="deadline_notices"
    )
    deadline = models.CharField(max_length=20)
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["appeal", "deadline", "due_at"], name="deadline_notice_once"
            ),
            models.UniqueConstraint(
                fields=["deadline", "due_at"],
                condition=Q(appeal__isnull=True),
                name="deadline_notice_once_without_appeal",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.deadline} deadline of appeal #{self.appeal_id}"


class TransparencyReport(models.Model):
    """A company's figures for one quarter, computed from the records and frozen when compiled
    (the figures' SHA-256 goes on the ledger). The current quarter is computed live instead."""

    organization = models.ForeignKey(
        "governance.Organization", on_delete=models.PROTECT, related_name="transparency_reports"
    )
    year = models.PositiveSmallIntegerField()
    quarter = models.PositiveSmallIntegerField()
    figures = models.JSONField()
    figures_sha256 = models.CharField(max_length=64)
    compiled_at = models.DateTimeField()

    class Meta:
        ordering = ["organization", "-year", "-quarter"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "year", "quarter"], name="transparency_report_unique"
            ),
            models.CheckConstraint(
                condition=Q(quarter__gte=1, quarter__lte=4), name="transparency_quarter_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization} {self.year} Q{self.quarter}"
