"""Forms of public comment: they bound and parse the input; the services decide."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils import timezone

from policies.models import Flag, ModerationAction

REASON_MAX = 2000
RESPONSE_MAX = 20_000


def _body_max() -> int:
    return settings.OPENREFUSAL["COMMENT_MAX_CHARS"]


def _body_field(label: str, rows: int, help_text: str = "") -> forms.CharField:
    # Django's max_length check would count the text before the service strips it; the
    # service gives the message with both numbers, so the field only caps absurd bodies.
    return forms.CharField(
        label=label,
        widget=forms.Textarea(attrs={"rows": rows}),
        help_text=help_text,
    )


def _on_behalf_of_choices(person_name: str, organizations) -> list[tuple[str, str]]:
    return [("", f"Yourself ({person_name})")] + [
        (o.slug, f"On behalf of {o.name}") for o in organizations
    ]


class _BodyMixin:
    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        limit = _body_max()
        if len(body) > limit:
            raise forms.ValidationError(
                f"A comment has at most {limit:,} characters (this one has {len(body):,})."
            )
        return body


class CommentForm(_BodyMixin, forms.Form):
    """A new top-level comment: on the whole version or on one clause, as yourself or on
    behalf of one of your (verified) organizations."""

    body = _body_field("Your comment", 7)
    clause = forms.ChoiceField(label="About", required=False)
    on_behalf_of = forms.ChoiceField(label="Posting as", required=False)

    def __init__(self, *args, clauses=(), organizations=(), person_name="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].widget.attrs["maxlength"] = _body_max()
        self.fields["clause"].choices = [("", "The whole version")] + [
            (c.key, f"{c.title} ({c.key})") for c in clauses
        ]
        self.fields["on_behalf_of"].choices = _on_behalf_of_choices(person_name, organizations)
        if organizations:
            shown_as = "under your name or your organization's (choose below)"
        else:
            self.fields["on_behalf_of"].widget = forms.HiddenInput()
            shown_as = f"under your name, {person_name}"
        self.fields["body"].help_text = (
            f"Plain text; web addresses become links. Public, {shown_as}. You can edit it for "
            f"{settings.OPENREFUSAL['COMMENT_EDIT_MINUTES']} minutes."
        )


class ReplyForm(_BodyMixin, forms.Form):
    """A reply in a thread; it takes the thread's clause."""

    body = _body_field("Your reply", 4)
    parent = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    on_behalf_of = forms.ChoiceField(label="Posting as", required=False)

    def __init__(self, *args, organizations=(), person_name="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].widget.attrs["maxlength"] = _body_max()
        self.fields["on_behalf_of"].choices = _on_behalf_of_choices(person_name, organizations)
        if not organizations:
            self.fields["on_behalf_of"].widget = forms.HiddenInput()


class EditForm(_BodyMixin, forms.Form):
    body = _body_field("Your comment", 7)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].widget.attrs["maxlength"] = _body_max()


class FlagForm(forms.Form):
    reason = forms.ChoiceField(
        label="What is wrong with it?", choices=Flag.Reason.choices, widget=forms.RadioSelect
    )
    details = forms.CharField(
        label="Details",
        required=False,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Required for “Submitted in my name without my consent” and “Something "
        "else”. Only moderators read it.",
    )


class ModerateForm(forms.Form):
    action = forms.ChoiceField(
        choices=ModerationAction.Action.choices,
        error_messages={"required": "Choose an action.", "invalid_choice": "Choose an action."},
    )
    public_reason = forms.CharField(
        label="Public reason",
        max_length=REASON_MAX,
        help_text="Shown publicly in the comment's place and on the ledger.",
        error_messages={"required": "Give a public reason: moderation is on the record."},
    )


def _zone_label() -> str:
    return timezone.get_current_timezone_name()


def local_input(value) -> str:
    """A datetime as a `datetime-local` input's value, in the reader's zone."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


class _LocalDateTimeField(forms.DateTimeField):
    widget = forms.DateTimeInput(attrs={"type": "datetime-local"})


class PeriodOpenForm(forms.Form):
    """Times are entered and parsed in the reader's zone (the active time zone)."""

    opens_at = _LocalDateTimeField(label="Opens at")
    closes_at = _LocalDateTimeField(label="Closes at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zone = _zone_label()
        self.fields["opens_at"].help_text = f"Your time ({zone}). Now or later."
        self.fields["closes_at"].help_text = f"Your time ({zone})."


class PeriodExtendForm(forms.Form):
    closes_at = _LocalDateTimeField(label="New closing time")
    reason = forms.CharField(
        label="Public reason",
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown on the comments page and recorded on the public ledger.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[
            "closes_at"
        ].help_text = f"Your time ({_zone_label()}). Later than the current closing time."


class ResponseForm(forms.Form):
    """One answer (or recorded reason for not answering) to a comment, a campaign or a
    clause's comments. The page renders it by hand, once per item."""

    target = forms.ChoiceField(
        choices=[("comment", "comment"), ("cluster", "cluster"), ("clause", "clause")]
    )
    comment = forms.IntegerField(required=False, min_value=1)
    cluster = forms.IntegerField(required=False, min_value=1)
    clause = forms.CharField(required=False, max_length=120)
    body = forms.CharField(
        label="Response",
        max_length=RESPONSE_MAX,
        error_messages={"required": "Write the response, or the reason for not answering."},
    )
    declined = forms.BooleanField(required=False)


class PublishResponsesForm(forms.Form):
    summary = forms.CharField(
        label="Summary of the response to comments",
        max_length=RESPONSE_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What you heard and what you changed. Public once published; it cannot be "
        "changed afterwards.",
    )
