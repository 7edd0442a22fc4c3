"""Forms of the appeal pages: they validate input; services make the changes."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from appeals.models import Kind, Outcome, Recommendation, RejectionReason
from appeals.transcripts import transcript_from_export
from governance.errors import Invalid
from governance.models import AISystem, Organization, User
from policies.models import Policy, PolicyVersion

FILING_STEPS = {
    1: ("system", "system_version", "version"),
    2: ("clause", "kind", "occurred_at", "requested_outcome"),
    3: ("transcript", "transcript_file", "names"),
    4: ("confirmed_redaction", "confirm", "consent_to_publish"),
}
STEP_TITLES = {
    1: "The AI system and the policy",
    2: "What happened",
    3: "The conversation",
    4: "Check the redaction and send",
}
UNKNOWN_CLAUSE = "__unknown__"


def appealable_systems():
    published = PolicyVersion.objects.filter(
        policy__organization=OuterRef("organization"),
        status__in=(PolicyVersion.Status.PUBLISHED, PolicyVersion.Status.SUPERSEDED),
    )
    return (
        AISystem.objects.filter(
            organization__kind=Organization.Kind.DEVELOPER, organization__verified_at__isnull=False
        )
        .filter(Exists(published))
        .select_related("organization")
        .order_by("organization__name", "name")
    )


def versions_for(system: AISystem | None):
    qs = PolicyVersion.objects.filter(
        status__in=(PolicyVersion.Status.PUBLISHED, PolicyVersion.Status.SUPERSEDED)
    ).select_related("policy")
    if system is None:
        return qs.none()
    covering = Policy.objects.filter(organization=system.organization).filter(
        Q(systems=system) | Q(systems__isnull=True)
    )
    return qs.filter(policy__in=covering).order_by("policy__title", "-major", "-minor", "-patch")


class SystemChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.organization.name})"


class VersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        state = "" if obj.status == PolicyVersion.Status.PUBLISHED else f", {obj.status}"
        return f"{obj.policy.title} {obj.number} ({obj.policy.organization.name}{state})"


def appealable_versions():
    return (
        PolicyVersion.objects.filter(
            status__in=(PolicyVersion.Status.PUBLISHED, PolicyVersion.Status.SUPERSEDED),
            policy__organization__kind=Organization.Kind.DEVELOPER,
            policy__organization__verified_at__isnull=False,
        )
        .select_related("policy__organization")
        .order_by("policy__organization__name", "policy__title", "-major", "-minor", "-patch")
    )


# Required once their step is reached (earlier steps' fields are carried along hidden).
REQUIRED = {
    "system": 1,
    "version": 1,
    "clause": 2,
    "kind": 2,
    "occurred_at": 2,
    "requested_outcome": 2,
}


class FilingForm(forms.Form):
    """All the filing's fields; the page shows one step's and carries the others hidden, so it
    works without JavaScript. `step` says which steps are validated (1 up to it)."""

    system = SystemChoice(
        queryset=AISystem.objects.none(),
        label="AI system",
        error_messages={"required": "Choose the AI system."},
    )
    system_version = forms.CharField(
        max_length=120,
        required=False,
        label="System version (if you know it)",
        help_text="As the app or the API showed it, e.g. 2026-10 or v4.1.",
    )
    version = VersionChoice(
        queryset=PolicyVersion.objects.none(),
        label="Policy version",
        error_messages={"required": "Choose the policy version."},
        help_text="The version in force when it happened (the latest, unless you know otherwise).",
    )
    clause = forms.ChoiceField(
        label="Which clause of the policy applies?",
        error_messages={"required": "Choose a clause, or “I don't know which clause”."},
        help_text="If you are not sure, choose “I don't know which clause”: the company names it.",
    )
    kind = forms.ChoiceField(
        choices=Kind.choices,
        widget=forms.RadioSelect,
        label="What went wrong?",
        error_messages={"required": "Choose what went wrong."},
    )
    occurred_at = forms.DateTimeField(
        label="When did it happen? (UTC)",
        error_messages={"required": "When did it happen?"},
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    requested_outcome = forms.CharField(
        max_length=5000,
        error_messages={"required": "Say what outcome you ask for."},
        label="What outcome do you ask for?",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    transcript = forms.CharField(
        required=False,
        label="Paste the conversation",
        help_text="Your prompt and the system's answer. E-mail addresses, phone numbers, links "
        "with secrets, IBANs and card numbers are removed before anything is shown.",
        widget=forms.Textarea(attrs={"rows": 10}),
        strip=False,
    )
    transcript_file = forms.FileField(
        required=False,
        label="…or upload a chat export (JSON)",
        help_text="A list of messages with a role and a content, as chat apps export them.",
    )
    names = forms.CharField(
        required=False,
        label="Names to remove (one per line)",
        help_text="Your name, or anyone else's, wherever it appears.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    confirmed_redaction = forms.CharField(required=False, widget=forms.HiddenInput, strip=False)
    confirm = forms.BooleanField(
        required=False, label="I checked the redacted text: nothing private is left in it."
    )
    consent_to_publish = forms.BooleanField(
        required=False,
        label="Publish a redacted summary with the decision",
        help_text="Without your consent only the outcome and the clause are published.",
    )

    def __init__(self, *args, step: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.step = step
        for name, needed_from in REQUIRED.items():
            self.fields[name].required = needed_from <= step
        self.fields["system"].queryset = appealable_systems()
        self.fields["version"].queryset = appealable_versions()
        version = self._raw_version()
        choices = [(UNKNOWN_CLAUSE, "I don't know which clause")]
        if version is not None:
            choices += [(c.key, f"{c.title} ({c.key})") for c in version.clauses.all()]
        self.fields["clause"].choices = choices
        limit = settings.OPENREFUSAL["APPEAL_EXPORT_MAX_BYTES"]
        self.fields["transcript_file"].widget.attrs["accept"] = "application/json,.json"
        self.fields["transcript_file"].help_text += f" At most {limit // 1024:,} KB."

    def _raw_version(self) -> PolicyVersion | None:
        value = self.data.get("version") if self.is_bound else None
        if not value or not str(value).isdigit():
            return None
        return self.fields["version"].queryset.filter(pk=value).first()

    def fields_of(self, step: int) -> list:
        return [self[name] for name in FILING_STEPS[step]]

    def hidden_fields_except(self, step: int) -> list:
        return [
            self[name]
            for s, names in FILING_STEPS.items()
            if s != step
            for name in names
            if name not in ("transcript_file", "confirm")
        ]

    def clean(self):
        data = super().clean()
        system, version = data.get("system"), data.get("version")
        if system is not None and version is not None and version not in versions_for(system):
            self.add_error(
                "version",
                f"{version.policy.title} {version.number} is not a policy that covers "
                f"{system.name}: choose one of {system.organization.name}'s.",
            )
        if self.step >= 3:
            upload = data.get("transcript_file")
            if upload is not None:
                limit = settings.OPENREFUSAL["APPEAL_EXPORT_MAX_BYTES"]
                if upload.size > limit:
                    self.add_error(
                        "transcript_file", f"The file is larger than {limit // 1024:,} KB."
                    )
                else:
                    try:
                        data["transcript"] = transcript_from_export(
                            upload.read(limit + 1), max_bytes=limit
                        )
                    except Invalid as error:
                        self.add_error("transcript_file", error.message)
            transcript = data.get("transcript") or ""
            limit = settings.OPENREFUSAL["APPEAL_TRANSCRIPT_MAX_CHARS"]
            if not transcript.strip() and "transcript_file" not in self.errors:
                self.add_error("transcript", "Paste the conversation or upload its export.")
            elif len(transcript) > limit:
                self.add_error(
                    "transcript",
                    f"At most {limit:,} characters (this has {len(transcript):,}): keep the part "
                    "of the conversation that matters.",
                )
        if self.step >= 4 and not data.get("confirm"):
            self.add_error("confirm", "Check the redacted text, then tick this box.")
        return data

    def clause_key(self) -> str | None:
        value = self.cleaned_data.get("clause")
        return None if value in (None, "", UNKNOWN_CLAUSE) else value

    def name_list(self) -> list[str]:
        return [line.strip() for line in (self.cleaned_data.get("names") or "").splitlines()]


class NoteForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=10_000, label="Note", widget=forms.Textarea(attrs={"rows": 3})
    )


class RequiredNoteForm(forms.Form):
    note = forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, label: str = "Note", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].label = label


class RejectForm(forms.Form):
    reason = forms.ChoiceField(choices=RejectionReason.choices, label="Reason")
    note = forms.CharField(
        max_length=10_000,
        label="Explanation for the filer",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outcome.choices, widget=forms.RadioSelect)
    clause_key = forms.ChoiceField(label="Clause relied on")
    rationale = forms.CharField(
        max_length=20_000, widget=forms.Textarea(attrs={"rows": 5}), label="Why (the reasoning)"
    )
    facts = forms.CharField(
        max_length=20_000, widget=forms.Textarea(attrs={"rows": 4}), label="The facts relied on"
    )
    automation_used = forms.TypedChoiceField(
        choices=[("", "—"), ("no", "No"), ("yes", "Yes")],
        coerce=lambda v: v == "yes",
        label="Were automated means used in reaching this decision?",
    )
    automation_note = forms.CharField(
        required=False,
        max_length=5000,
        label="If so, which",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    further_redress = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Further redress open to the filer",
        help_text="Leave empty for the standard text (escalation to the panel, courts, regulator).",
    )

    def __init__(self, *args, appeal=None, outcomes=None, **kwargs):
        super().__init__(*args, **kwargs)
        if appeal is not None:
            self.fields["clause_key"].choices = [
                (c.key, f"{c.title} ({c.key})") for c in appeal.version.clauses.all()
            ]
            if appeal.clause_key:
                self.fields["clause_key"].initial = appeal.clause_key
        if outcomes is not None:
            self.fields["outcome"].choices = [c for c in Outcome.choices if c[0] in outcomes]


class PanelDecisionForm(DecisionForm):
    """The outcome comes from the votes; a recommendation may go with the decision."""

    recommendation_text = forms.CharField(
        required=False,
        max_length=10_000,
        label="Recommendation to the company (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    recommendation_priority = forms.ChoiceField(
        required=False,
        choices=[("", "—"), ("high", "High"), ("medium", "Medium"), ("low", "Low")],
        label="Priority",
    )
    recommendation_target_date = forms.DateField(
        required=False, label="Target date", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["outcome"]

    def recommendations(self) -> list[dict]:
        text = (self.cleaned_data.get("recommendation_text") or "").strip()
        if not text:
            return []
        return [
            {
                "text": text,
                "priority": self.cleaned_data.get("recommendation_priority"),
                "target_date": self.cleaned_data.get("recommendation_target_date"),
            }
        ]


class VoteForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outcome.choices, widget=forms.RadioSelect, label="Vote")
    note = forms.CharField(
        required=False,
        max_length=20_000,
        label="Reasons (your dissent, if any)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class PanelAssignForm(forms.Form):
    panel = forms.ModelChoiceField(queryset=Organization.objects.none())
    panelists = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label="Panelists (at least three)"
    )

    def __init__(self, *args, panels=(), candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["panel"].queryset = Organization.objects.filter(pk__in=[p.pk for p in panels])
        if len(panels) == 1:
            self.fields["panel"].initial = panels[0].pk
        self.fields["panelists"].queryset = User.objects.filter(
            pk__in=[u.pk for u in candidates]
        ).order_by("display_name", "pk")
        self.fields["panelists"].label_from_instance = lambda u: u.public_name


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(choices=Recommendation.Answer.choices)
    text = forms.CharField(
        max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}), label="Explanation"
    )


class CiteForm(forms.Form):
    version = forms.ModelChoiceField(
        queryset=PolicyVersion.objects.none(), label="Later policy version that resolves it"
    )
    note = forms.CharField(required=False, max_length=5000, label="How it resolves it")

    def __init__(self, *args, appeal=None, **kwargs):
        super().__init__(*args, **kwargs)
        if appeal is not None:
            self.fields["version"].queryset = self.later_than(appeal.version)
            self.fields["version"].label_from_instance = lambda v: f"{v.number} ({v.status})"

    @staticmethod
    def later_than(earlier: PolicyVersion):
        """Versions of the same policy after `earlier`, drafts included, withdrawn ones not."""
        return (
            PolicyVersion.objects.filter(policy=earlier.policy)
            .exclude(status=PolicyVersion.Status.WITHDRAWN)
            .filter(
                Q(major__gt=earlier.major)
                | Q(major=earlier.major, minor__gt=earlier.minor)
                | Q(major=earlier.major, minor=earlier.minor, patch__gt=earlier.patch)
            )
            .select_related("policy")
            .order_by("major", "minor", "patch")
        )
