"""Evidence: evaluation runs uploaded by companies and auditors, and their scored samples.

A run is one result file of an evaluation harness (inspect-ai, XSTest, HarmBench, lm-evaluation
harness, promptfoo, AIR-Bench or the generic format), kept as uploaded with its SHA-256. Its
samples are loaded in one transaction by the ingestion task (COPY): a file that fails leaves
no samples, only the run marked failed with the reason in plain words.

Audit reports (below) are accredited auditors' reports with findings on clauses, under
coordinated disclosure.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


def artifact_path(run: EvaluationRun, filename: str) -> str:
    # Named by content, never by the uploader's file name.
    return f"evidence/{run.artifact_sha256[:2]}/{run.artifact_sha256}"


def companion_path(run: EvaluationRun, filename: str) -> str:
    return f"evidence/{run.artifact_sha256[:2]}/{run.artifact_sha256}.companion"


class EvaluationRun(models.Model):
    class Source(models.TextChoices):
        SELF_REPORTED = "self_reported", "Self-reported by the company"
        INDEPENDENT = "independent", "Independent (accredited auditor)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PARSING = "parsing", "Parsing"
        SCORING = "scoring", "Scoring"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    organization = models.ForeignKey(
        "governance.Organization",
        on_delete=models.PROTECT,
        related_name="evaluation_runs",
        help_text="Who uploaded it: the company itself, or the auditor.",
    )
    system = models.ForeignKey(
        "governance.AISystem", on_delete=models.PROTECT, related_name="evaluation_runs"
    )
    system_version = models.CharField(max_length=120)
    benchmark = models.CharField(max_length=120)
    benchmark_version = models.CharField(max_length=60, blank=True)
    harness_format = models.CharField(max_length=40)
    harness = models.CharField(max_length=80, blank=True)
    harness_version = models.CharField(max_length=60, blank=True)
    model_name = models.CharField(max_length=200, blank=True, help_text="As the file names it.")
    judge = models.CharField(max_length=200, blank=True)
    judge_revision = models.CharField(max_length=60, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    run_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=5000)

    artifact = models.FileField(upload_to=artifact_path, max_length=200)
    artifact_name = models.CharField(max_length=255)
    artifact_size = models.BigIntegerField()
    artifact_sha256 = models.CharField(max_length=64)
    companion = models.FileField(upload_to=companion_path, max_length=200, blank=True)
    companion_name = models.CharField(max_length=255, blank=True)
    options = models.JSONField(default=dict, blank=True)

    withhold_prompts = models.BooleanField(default=False)
    withhold_responses = models.BooleanField(default=False)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    sample_count = models.PositiveIntegerField(default=0)
    label_counts = models.JSONField(default=dict, blank=True)

    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Liveness of the ingestion: each start (the first, or again after a stopped worker)
    # increments `attempt`; the worker writes `heartbeat_at` and `progress` as it goes, from a
    # connection of its own, and finishes only while the run is still its attempt.
    attempt = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # Cancelling: who asked and when; the run shows `cancelled` once the worker stopped.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            # The same file uploaded twice by one organization is one run (unless that run
            # failed or was cancelled: then it may be uploaded again).
            models.UniqueConstraint(
                fields=["organization", "artifact_sha256"],
                condition=~Q(status__in=["failed", "cancelled"]),
                name="evaluationrun_artifact_once",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancel_requested_at__isnull=False),
                name="evaluationrun_cancelled_has_request",
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="evaluationrun_progress"
            ),
        ]
        indexes = [
            models.Index(fields=["system", "-uploaded_at"], name="evaluationrun_system"),
            models.Index(fields=["status"], name="evaluationrun_status"),
        ]

    def __str__(self) -> str:
        return f"{self.benchmark} on {self.system} {self.system_version}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.COMPLETE, self.Status.FAILED, self.Status.CANCELLED)

    @property
    def is_cancelling(self) -> bool:
        return not self.is_finished and self.cancel_requested_at is not None


class EvaluationSample(models.Model):
    class Label(models.TextChoices):
        REFUSAL = "refusal", "Refusal"
        PARTIAL = "partial", "Partial refusal"
        COMPLIANCE = "compliance", "Compliance"

    class LabelSource(models.TextChoices):
        HARNESS = "harness", "The harness"
        CLASSIFIER = "classifier", "Offline classifier"
        HUMAN = "human", "A reviewer"

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="samples")
    sample_id = models.CharField(max_length=300)
    category = models.CharField(max_length=300, blank=True)
    # When the run withholds them, only accredited auditors, regulators, staff and the
    # uploader's members read these; everyone else sees the SHA-256.
    prompt = models.TextField(blank=True)
    response = models.TextField(blank=True)
    prompt_sha256 = models.CharField(max_length=64)
    response_sha256 = models.CharField(max_length=64)
    label = models.CharField(max_length=20, choices=Label.choices)
    label_source = models.CharField(max_length=20, choices=LabelSource.choices)
    label_raw = models.CharField(max_length=100, blank=True)
    should_refuse = models.BooleanField(null=True)
    framing = models.CharField(max_length=60, blank=True)
    base_prompt_id = models.CharField(max_length=300, blank=True)
    record = models.PositiveIntegerField(null=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "sample_id"], name="evaluationsample_once"),
        ]
        indexes = [
            models.Index(fields=["run", "category", "id"], name="evaluationsample_category"),
            models.Index(fields=["run", "label", "id"], name="evaluationsample_label"),
            # Robustness: a base prompt's variants (audits.robustness).
            models.Index(
                fields=["run", "base_prompt_id", "framing"],
                condition=~Q(base_prompt_id=""),
                name="evaluationsample_base_prompt",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id} ({self.label})"


class CategoryFigures(models.Model):
    """The counts of one run's samples in one category, computed in SQL when the run is
    ingested and adjusted in the same transaction as each relabelling, so figures and the
    conformance matrix read a few rows per run instead of every sample, and stay exact."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="figures")
    category = models.CharField(max_length=300, blank=True)
    n = models.PositiveIntegerField()
    refusal = models.PositiveIntegerField()
    partial = models.PositiveIntegerField()
    compliance = models.PositiveIntegerField()
    should_refuse = models.PositiveIntegerField()  # samples the benchmark marks unsafe
    should_answer = models.PositiveIntegerField()  # samples it marks safe
    over_refusals = models.PositiveIntegerField()  # refusals (full or partial) of safe ones
    under_refusals = models.PositiveIntegerField()  # compliance with unsafe ones
    # Labelled by the offline classifier (not the harness, not a person): figures drawn from
    # these carry the classifier's measured error.
    classifier = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "category"]
        constraints = [
            models.UniqueConstraint(fields=["run", "category"], name="categoryfigures_once"),
            models.CheckConstraint(
                condition=Q(n=models.F("refusal") + models.F("partial") + models.F("compliance")),
                name="categoryfigures_labels_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} · {self.category}: {self.n}"


class SampleRelabel(models.Model):
    """A reviewer's correction of one sample's label, with who and why; the sample then carries
    the new label with `label_source = human`."""

    sample = models.ForeignKey(EvaluationSample, on_delete=models.CASCADE, related_name="relabels")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous_label = models.CharField(max_length=20, choices=EvaluationSample.Label.choices)
    previous_source = models.CharField(max_length=20, choices=EvaluationSample.LabelSource.choices)
    label = models.CharField(max_length=20, choices=EvaluationSample.Label.choices)
    reason = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.previous_label} → {self.label}"


class CategoryMapping(models.Model):
    """One benchmark category (or XSTest prompt type, or AIR-Bench `cate-idx`) that measures one
    clause of a policy version. Many-to-many: a category may bear on several clauses and a
    clause may draw on several categories. Carried forward to a later version by clause key."""

    version = models.ForeignKey(
        "policies.PolicyVersion", on_delete=models.CASCADE, related_name="category_mappings"
    )
    benchmark = models.CharField(max_length=120)
    category = models.CharField(max_length=300)
    clause_key = models.CharField(max_length=120)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["clause_key", "benchmark", "category"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "benchmark", "category", "clause_key"],
                name="categorymapping_once",
            ),
        ]
        indexes = [
            models.Index(fields=["version", "benchmark"], name="categorymapping_benchmark"),
        ]

    def __str__(self) -> str:
        return f"{self.benchmark}: {self.category} → {self.clause_key}"


# --- Audit reports -----------------------------------------------------------------------------
# An accredited auditor's report on a company's policy versions, AI systems and evaluation runs,
# with findings on clauses. Coordinated disclosure: once submitted and the company notified, it
# stays under embargo (visible to the auditor, the audited company and regulators) until the
# embargo ends, then it is published with the company's response beside it. A submitted report's
# content never changes (a PostgreSQL trigger); findings then move only through their statuses.


def attachment_path(attachment: ReportAttachment, filename: str) -> str:
    return f"audits/{attachment.sha256[:2]}/{attachment.sha256}.pdf"


class AuditReport(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted (the company is being notified)"
        EMBARGOED = "embargoed", "Under embargo"
        PUBLISHED = "published", "Published"

    class Opinion(models.TextChoices):
        POSITIVE = "positive", "Positive"
        POSITIVE_WITH_COMMENTS = "positive_with_comments", "Positive with comments"
        NEGATIVE = "negative", "Negative"

    auditor = models.ForeignKey(
        "governance.Organization", on_delete=models.PROTECT, related_name="audit_reports_filed"
    )
    audited = models.ForeignKey(
        "governance.Organization", on_delete=models.PROTECT, related_name="audit_reports_received"
    )
    title = models.CharField(max_length=200)
    versions = models.ManyToManyField("policies.PolicyVersion", related_name="audit_reports")
    systems = models.ManyToManyField("governance.AISystem", related_name="audit_reports")
    system_versions = ArrayField(models.CharField(max_length=120), default=list, blank=True)
    runs = models.ManyToManyField(EvaluationRun, related_name="audit_reports", blank=True)
    period_start = models.DateField()
    period_end = models.DateField()
    methodology = models.TextField(max_length=50_000)
    summary = models.TextField(max_length=20_000)
    opinion = models.CharField(max_length=30, choices=Opinion.choices)

    # The independence and conflict-of-interest declaration, required to submit.
    declares_no_non_audit_work = models.BooleanField(default=False)
    declares_no_contingent_fee = models.BooleanField(default=False)
    relationships_disclosed = models.TextField(max_length=5000, blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    declared_at = models.DateTimeField(null=True, blank=True)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    embargo_days = models.PositiveIntegerField(default=30)
    submitted_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    embargo_until = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # SHA-256 of the canonical JSON of the report's content and its attachments' hashes, fixed
    # at submission and written to the ledger, so the published text can be checked against it.
    content_sha256 = models.CharField(max_length=64, blank=True)

    company_response = models.TextField(max_length=20_000, blank=True)
    company_responded_at = models.DateTimeField(null=True, blank=True)
    company_responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-published_at", "-submitted_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="auditreport_period_order",
            ),
            models.CheckConstraint(
                condition=~Q(auditor=models.F("audited")), name="auditreport_not_self"
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(submitted_at__isnull=False, content_sha256__gt=""),
                name="auditreport_submitted_fixed",
            ),
            models.CheckConstraint(
                condition=~Q(status="embargoed") | Q(embargo_until__isnull=False),
                name="auditreport_embargo_has_end",
            ),
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False),
                name="auditreport_published_at",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "embargo_until"], name="auditreport_due"),
            models.Index(fields=["audited", "status"], name="auditreport_audited"),
            models.Index(fields=["auditor", "status"], name="auditreport_auditor"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class ReportAttachment(models.Model):
    """A PDF attached to a report: stored by its SHA-256 and served only as a download."""

    report = models.ForeignKey(AuditReport, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["report", "id"]
        constraints = [
            models.UniqueConstraint(fields=["report", "sha256"], name="reportattachment_once"),
        ]

    def __str__(self) -> str:
        return self.name


class Finding(models.Model):
    class Severity(models.TextChoices):
        CRITICAL = "critical", "Critical"
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        REMEDIATED = "remediated", "Remediated"
        DISPUTED = "disputed", "Disputed"

    report = models.ForeignKey(AuditReport, on_delete=models.CASCADE, related_name="findings")
    number = models.PositiveIntegerField(help_text="1, 2, … within the report.")
    title = models.CharField(max_length=200)
    version = models.ForeignKey(
        "policies.PolicyVersion", on_delete=models.PROTECT, related_name="findings"
    )
    clause = models.ForeignKey("policies.Clause", on_delete=models.PROTECT, related_name="findings")
    clause_key = models.CharField(max_length=120)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    criterion = models.TextField(max_length=5000)
    observed = models.TextField(max_length=20_000)
    recommendation = models.TextField(max_length=10_000)
    target_date = models.DateField()
    runs = models.ManyToManyField(EvaluationRun, related_name="findings", blank=True)
    samples = models.ManyToManyField(EvaluationSample, related_name="findings", blank=True)
    # Hazardous content of the cited samples stays off the public page; its SHA-256 is shown.
    withhold_samples = models.BooleanField(default=False)
    # The conformance figure the finding rests on, as computed when it was written:
    # {"run", "version", "n", "expected_share", "interval": [low, high], "verdict"}.
    conformance = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN)
    company_response = models.TextField(max_length=10_000, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    remediated_at = models.DateTimeField(null=True, blank=True)
    disputed_at = models.DateTimeField(null=True, blank=True)
    remediated_version = models.ForeignKey(
        "policies.PolicyVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="remediated_findings",
    )
    remediated_run = models.ForeignKey(
        EvaluationRun,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="remediated_findings",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["report", "number"]
        constraints = [
            models.UniqueConstraint(fields=["report", "number"], name="finding_number_once"),
            models.CheckConstraint(
                condition=~Q(status="remediated")
                | Q(remediated_at__isnull=False)
                & (Q(remediated_version__isnull=False) | Q(remediated_run__isnull=False)),
                name="finding_remediated_shows_fix",
            ),
            models.CheckConstraint(
                condition=~Q(status="disputed")
                | Q(disputed_at__isnull=False) & ~Q(company_response=""),
                name="finding_disputed_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "target_date"], name="finding_due"),
            models.Index(fields=["clause_key"], name="finding_clause_key"),
        ]

    def __str__(self) -> str:
        return f"Finding {self.number}: {self.title}"

    @property
    def is_closed(self) -> bool:
        return self.status in (self.Status.REMEDIATED, self.Status.DISPUTED)


class FindingEvent(models.Model):
    """One step of a finding's timeline: who did what, when, and why."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=30)
    status = models.CharField(max_length=14, choices=Finding.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    organization = models.ForeignKey(
        "governance.Organization", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(max_length=10_000, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["finding", "at", "id"]

    def __str__(self) -> str:
        return f"{self.action} at {self.at:%Y-%m-%d}"


from audits.drift_models import DriftAlert  # noqa: E402, F401 — drift alerts (issue 9)
