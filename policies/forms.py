"""Forms for the policy pages: they parse and bound the input; the services decide."""

from __future__ import annotations

from pathlib import PurePath

from django import forms
from django.core.exceptions import ValidationError

from governance.models import AISystem
from policies.models import Policy, PolicyVersion
from policies.selectors import NUMBER_RE

BODY_MAX_CHARS = 1_000_000
UPLOAD_MAX_BYTES = 1_000_000
UPLOAD_EXTENSIONS = (".md", ".markdown")


def _max(model, name: str) -> int | None:
    return model._meta.get_field(name).max_length


class DirectoryFilterForm(forms.Form):
    organization = forms.ChoiceField(label="Organization", required=False)
    system = forms.ChoiceField(label="AI system", required=False)

    def __init__(self, *args, organizations=(), systems=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = [("", "All organizations")] + [
            (o.slug, o.name) for o in organizations
        ]
        self.fields["system"].choices = [("", "All systems")] + [
            (f"{s.organization.slug}/{s.slug}", f"{s.name} ({s.organization.name})")
            for s in systems
        ]


class SystemForm(forms.Form):
    name = forms.CharField(
        max_length=_max(AISystem, "name"),
        help_text="The product's public name, for example “Acme Assistant”.",
    )
    slug = forms.SlugField(
        label="Address",
        max_length=_max(AISystem, "slug"),
        required=False,
        help_text="Lower-case letters, digits and hyphens. Leave empty to make one from the name.",
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=_max(AISystem, "description"),
        required=False,
    )


class PolicyForm(forms.Form):
    title = forms.CharField(max_length=_max(Policy, "title"))
    slug = forms.SlugField(
        label="Address",
        max_length=_max(Policy, "slug"),
        required=False,
        help_text="Lower-case letters, digits and hyphens. Leave empty to make one from the title.",
    )
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=_max(Policy, "summary"),
        required=False,
        help_text="One or two sentences: what the policy covers.",
    )
    systems = forms.ModelMultipleChoiceField(
        label="AI systems it applies to",
        queryset=AISystem.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def __init__(self, *args, organization, with_slug: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["systems"].queryset = organization.systems.order_by("name")
        if not organization.systems.exists():
            self.fields["systems"].help_text = "This organization has no AI system yet."
        if not with_slug:
            del self.fields["slug"]


class DraftForm(forms.Form):
    number = forms.CharField(
        label="Version number",
        max_length=20,
        help_text="Semantic version, major.minor.patch, above every earlier version (e.g. 1.2.0).",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    summary_of_changes = forms.CharField(
        label="Summary of changes",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=_max(PolicyVersion, "summary_of_changes"),
        required=False,
        help_text="Shown on the policy's timeline and in the feeds; needed to publish.",
    )
    effective_at = forms.DateTimeField(
        label="Effective from",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In your time zone. Leave empty for “when published”; it may be in the future.",
    )
    body_markdown = forms.CharField(
        label="Policy text (Markdown)",
        max_length=BODY_MAX_CHARS,
        error_messages={"required": "Write the policy text here, or upload a Markdown file."},
        strip=False,
        widget=forms.Textarea(
            attrs={"rows": 24, "spellcheck": "true", "class": "policy-editor__textarea"}
        ),
        help_text="Each clause is a “## Title {#key}” heading, then a metadata line such as "
        "“behavior: refuse; categories: weapons”, then its text.",
    )
    upload = forms.FileField(
        label="Or upload a Markdown file",
        required=False,
        help_text="A .md file in UTF-8, at most 1,000,000 bytes. It replaces the text above.",
        widget=forms.ClearableFileInput(attrs={"accept": ".md,.markdown,text/markdown"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The text is required unless a file brings it.
        if self.files.get("upload"):
            self.fields["body_markdown"].required = False

    def clean_number(self) -> str:
        number = self.cleaned_data["number"].strip()
        if not NUMBER_RE.fullmatch(number):
            raise ValidationError(
                "Use major.minor.patch with whole numbers, e.g. 1.2.0 (no leading zeros).",
                code="invalid_number",
            )
        return number

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if not upload:
            return None
        if PurePath(upload.name or "").suffix.lower() not in UPLOAD_EXTENSIONS:
            raise ValidationError(
                "Upload a Markdown file whose name ends in .md or .markdown.", code="file_type"
            )
        if upload.size > UPLOAD_MAX_BYTES:
            raise ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {UPLOAD_MAX_BYTES:,} bytes.",
                code="file_too_large",
            )
        raw = b"".join(upload.chunks())
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValidationError(
                f"The file is not UTF-8 text (invalid byte at position {error.start:,}). "
                "Save it as UTF-8 and upload it again.",
                code="not_utf8",
            ) from error
        if "\x00" in text:
            raise ValidationError(
                "The file contains NUL characters, so it is not a text file.", code="binary"
            )
        return text

    def clean(self):
        data = super().clean()
        if data.get("upload"):
            data["body_markdown"] = data["upload"]
        blank = "body_markdown" in data and not (data["body_markdown"] or "").strip()
        if blank and not self.has_error("upload") and not self.has_error("body_markdown"):
            self.add_error(
                "body_markdown", "Write the policy text here, or upload a Markdown file."
            )
        return data


class PreviewForm(forms.Form):
    """The live preview reads only the text (the rest of the draft form is ignored)."""

    body_markdown = forms.CharField(max_length=BODY_MAX_CHARS, required=False, strip=False)


class PublishForm(forms.Form):
    """Publishing has nothing to fill in: the page shows what will be published."""


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Reason for withdrawal",
        max_length=_max(PolicyVersion, "withdrawn_reason"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Shown publicly on the version and on the ledger. The text stays readable.",
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError("Say why this version is withdrawn.", code="required")
        return reason


class DiffPickForm(forms.Form):
    old = forms.ChoiceField(label="From version")
    new = forms.ChoiceField(label="To version")
    view = forms.ChoiceField(
        label="View",
        choices=[("unified", "Unified"), ("side-by-side", "Side by side")],
        required=False,
    )

    def __init__(self, *args, numbers=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(n, f"v{n}") for n in numbers]
        self.fields["old"].choices = choices
        self.fields["new"].choices = choices
