"""Browser forms for evidence: upload a result file, relabel a sample."""

from __future__ import annotations

from django import forms

from audits.ingest import FORMATS
from audits.ingest.detect import TITLES
from audits.models import EvaluationRun, EvaluationSample
from governance.models import AISystem, Organization


class RunUploadForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(),
        to_field_name="slug",
        help_text="The organization you upload for.",
    )
    system = forms.ModelChoiceField(
        queryset=AISystem.objects.select_related("organization"),
        label="AI system",
        help_text="The system that was evaluated.",
    )
    system_version = forms.CharField(
        max_length=120, label="System version", help_text='As released, e.g. "2026-10-01".'
    )
    benchmark = forms.CharField(max_length=120, help_text='e.g. "XSTest", "HarmBench".')
    benchmark_version = forms.CharField(max_length=60, required=False)
    source = forms.ChoiceField(choices=EvaluationRun.Source.choices)
    harness_format = forms.ChoiceField(
        label="Format",
        required=False,
        choices=[("", "Detect from the file")] + [(name, TITLES[name]) for name in FORMATS],
    )
    artifact = forms.FileField(label="Result file", help_text="As the harness wrote it.")
    companion = forms.FileField(
        required=False,
        label="Companion file",
        help_text="HarmBench: the behaviors CSV. lm-evaluation-harness: the results JSON.",
    )
    withhold_prompts = forms.BooleanField(
        required=False, help_text="Hazardous prompts: the public sees only their SHA-256."
    )
    withhold_responses = forms.BooleanField(required=False)
    notes = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, organizations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = Organization.objects.filter(
            pk__in=[o.pk for o in organizations]
        )


class RelabelForm(forms.Form):
    label = forms.ChoiceField(choices=EvaluationSample.Label.choices)
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
