"""Browser forms for audit reports: the draft, a finding, an attachment, the declaration at
submission, the embargo, the company's response and its answers to findings. They only
validate shapes; the rules live in `audits.report_services`."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet

from audits.models import AuditReport, EvaluationRun, Finding
from governance.models import AISystem, Organization
from policies.models import PolicyVersion

DATE = forms.DateInput(attrs={"type": "date"})


class _VersionChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: PolicyVersion) -> str:
        return f"{obj.policy.title} {obj.number} ({obj.get_status_display().lower()})"


class _RunChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: EvaluationRun) -> str:
        return f"#{obj.pk} {obj.benchmark} on {obj.system.name} {obj.system_version}"


def _latest_runs(organization_id: int, limit: int) -> QuerySet[EvaluationRun]:
    """The company's latest complete runs. Limited in a subquery, not by slicing: a choice
    field filters its queryset to validate, which a sliced queryset cannot do."""
    latest = EvaluationRun.objects.filter(
        system__organization_id=organization_id, status=EvaluationRun.Status.COMPLETE
    ).order_by("-uploaded_at", "-pk")
    return (
        EvaluationRun.objects.filter(pk__in=latest.values("pk")[:limit])
        .select_related("system")
        .order_by("-uploaded_at", "-pk")
    )


class ReportForm(forms.Form):
    """A draft report on one company; the scope's choices are that company's."""

    title = forms.CharField(max_length=200)
    versions = _VersionChoice(
        queryset=PolicyVersion.objects.none(),
        label="Policy versions audited",
        widget=forms.CheckboxSelectMultiple,
    )
    systems = forms.ModelMultipleChoiceField(
        queryset=AISystem.objects.none(),
        required=False,
        label="AI systems",
        widget=forms.CheckboxSelectMultiple,
    )
    system_versions = forms.CharField(
        required=False,
        max_length=2000,
        label="System versions",
        help_text="The releases tested, one per line (e.g. 2026-10).",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    runs = _RunChoice(
        queryset=EvaluationRun.objects.none(),
        required=False,
        label="Evaluation runs cited",
        widget=forms.CheckboxSelectMultiple,
    )
    period_start = forms.DateField(widget=DATE, label="Period covered: from")
    period_end = forms.DateField(widget=DATE, label="Period covered: to")
    opinion = forms.ChoiceField(choices=AuditReport.Opinion.choices, label="Overall opinion")
    summary = forms.CharField(max_length=20_000, widget=forms.Textarea(attrs={"rows": 5}))
    methodology = forms.CharField(
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Markdown. What was tested, how, with which benchmarks and reviewers.",
    )
    embargo_days = forms.IntegerField(
        label="Embargo (days)",
        initial=30,
        help_text="How long the company has to respond privately after it is notified.",
    )

    def __init__(self, *args, audited: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        limits = settings.OPENREFUSAL
        self.fields["embargo_days"].min_value = limits["AUDIT_EMBARGO_MIN_DAYS"]
        self.fields["embargo_days"].max_value = limits["AUDIT_EMBARGO_MAX_DAYS"]
        self.fields["embargo_days"].initial = limits["AUDIT_EMBARGO_DAYS"]
        self.fields["embargo_days"].help_text = (
            "How long the company has to respond privately after it is notified: "
            f"{limits['AUDIT_EMBARGO_MIN_DAYS']} to {limits['AUDIT_EMBARGO_MAX_DAYS']} days."
        )
        self.fields["embargo_days"].widget.attrs.update(
            min=limits["AUDIT_EMBARGO_MIN_DAYS"], max=limits["AUDIT_EMBARGO_MAX_DAYS"]
        )
        self.fields["versions"].queryset = (
            PolicyVersion.objects.filter(policy__organization=audited)
            .exclude(status=PolicyVersion.Status.DRAFT)
            .select_related("policy")
            .order_by("policy__title", "-major", "-minor", "-patch")
        )
        self.fields["systems"].queryset = AISystem.objects.filter(organization=audited)
        self.fields["runs"].queryset = _latest_runs(audited.pk, 200)

    def clean_system_versions(self) -> list[str]:
        lines = self.cleaned_data["system_versions"].splitlines()
        return [line.strip() for line in lines if line.strip()]

    def clean(self):
        data = super().clean()
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", "The period covered ends before it starts.")
        return data


class FindingForm(forms.Form):
    title = forms.CharField(max_length=200)
    version = forms.ModelChoiceField(queryset=PolicyVersion.objects.none(), label="Policy version")
    clause_key = forms.CharField(
        max_length=120,
        label="Clause key",
        help_text="e.g. weapons.bio.synthesis",
        widget=forms.TextInput(attrs={"list": "clause-keys", "autocomplete": "off"}),
    )
    severity = forms.ChoiceField(choices=Finding.Severity.choices)
    criterion = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the policy or good practice requires.",
    )
    observed = forms.CharField(
        max_length=20_000, widget=forms.Textarea(attrs={"rows": 5}), label="What was observed"
    )
    recommendation = forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}))
    target_date = forms.DateField(widget=DATE, help_text="When the company should have fixed it.")
    runs = _RunChoice(
        queryset=EvaluationRun.objects.none(),
        required=False,
        label="Evidence: evaluation runs",
        widget=forms.CheckboxSelectMultiple,
    )
    sample_ids = forms.CharField(
        required=False,
        max_length=20_000,
        label="Evidence: sample ids",
        help_text="The harness's sample ids in the cited runs, one per line.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    withhold_samples = forms.BooleanField(
        required=False,
        label="Withhold the cited samples' texts from the public",
        help_text="Hazardous content: the public sees only their SHA-256.",
    )

    def __init__(self, *args, report: AuditReport, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = report.versions.select_related("policy")
        self.fields["version"].label_from_instance = lambda v: f"{v.policy.title} {v.number}"
        self.fields["runs"].queryset = report.runs.select_related("system")

    def clean_sample_ids(self) -> list[str]:
        lines = self.cleaned_data["sample_ids"].splitlines()
        ids = list(dict.fromkeys(line.strip() for line in lines if line.strip()))
        if len(ids) > 200:
            raise forms.ValidationError("Cite at most 200 samples.")
        return ids


class AttachmentForm(forms.Form):
    file = forms.FileField(label="PDF attachment", widget=forms.ClearableFileInput(
        attrs={"accept": "application/pdf,.pdf"}))  # fmt: skip


class SubmitForm(forms.Form):
    declares_no_non_audit_work = forms.BooleanField(
        required=False,
        label="We did no paid non-audit work for the audited company in the last 12 months.",
    )
    declares_no_contingent_fee = forms.BooleanField(
        required=False, label="Our fee does not depend on the audit's outcome."
    )
    relationships_disclosed = forms.CharField(
        required=False,
        max_length=5000,
        label="Relationships with the audited company",
        help_text="Disclose every relationship, or write “None”.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class EmbargoForm(forms.Form):
    embargo_until = forms.DateTimeField(
        label="Embargo ends (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    reason = forms.CharField(max_length=2000, help_text="Public, on the ledger.")


class ResponseForm(forms.Form):
    body = forms.CharField(
        max_length=20_000,
        label="The company's response",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Private to the auditor and regulators until the report is published, then "
        "published beside it.",
    )


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 2})
    )


class RemediateForm(forms.Form):
    version = forms.ModelChoiceField(
        queryset=PolicyVersion.objects.none(),
        required=False,
        label="Later policy version that fixes it",
    )
    run = forms.ModelChoiceField(
        queryset=EvaluationRun.objects.none(),
        required=False,
        label="Later evaluation run that shows the fix",
    )
    note = forms.CharField(
        max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}), label="What was done"
    )

    def __init__(self, *args, finding: Finding, **kwargs):
        super().__init__(*args, **kwargs)
        earlier = finding.version
        later = (
            Q(major__gt=earlier.major)
            | Q(major=earlier.major, minor__gt=earlier.minor)
            | Q(major=earlier.major, minor=earlier.minor, patch__gt=earlier.patch)
        )
        self.fields["version"].queryset = (
            PolicyVersion.objects.filter(later, policy_id=earlier.policy_id)
            .exclude(status__in=[PolicyVersion.Status.DRAFT, PolicyVersion.Status.WITHDRAWN])
            .select_related("policy")
            .order_by("-major", "-minor", "-patch")
        )
        self.fields["version"].label_from_instance = lambda v: f"{v.policy.title} {v.number}"
        self.fields["run"].queryset = _latest_runs(finding.report.audited_id, 100)
        self.fields["run"].label_from_instance = lambda r: (
            f"#{r.pk} {r.benchmark} on {r.system.name} {r.system_version}"
        )


class DisputeForm(forms.Form):
    reason = forms.CharField(
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Public with the report.",
    )
