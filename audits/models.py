"""Evidence: evaluation runs uploaded by companies and auditors, and their scored samples.

A run is one result file of an evaluation harness (inspect-ai, XSTest, HarmBench, lm-evaluation
harness, promptfoo, AIR-Bench or the generic format), kept as uploaded with its SHA-256. Its
samples are loaded in one transaction by the ingestion task (COPY): a file that fails leaves
no samples, only the run marked failed with the reason in plain words.
"""

from __future__ import annotations

from django.conf import settings
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

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            # The same file uploaded twice by one organization is one run.
            models.UniqueConstraint(
                fields=["organization", "artifact_sha256"], name="evaluationrun_artifact_once"
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
        return self.status in (self.Status.COMPLETE, self.Status.FAILED)


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
        ]

    def __str__(self) -> str:
        return f"{self.sample_id} ({self.label})"


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
