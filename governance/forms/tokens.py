"""The form for creating a personal API token (validation only; the service does the rest)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator

from governance.models import ApiToken
from governance.services.tokens import NAME_MAX_LENGTH, scopes_for


class ApiTokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        help_text="What it is for, so you can tell your tokens apart (e.g. “Monthly export”).",
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiToken.Scope.READ_PUBLIC],
        help_text="Give a token only what it needs.",
        error_messages={"required": "Choose at least one scope."},
    )
    expires_in_days = forms.IntegerField(
        label="Expires after (days)",
        required=False,
        min_value=1,
        initial=90,
        help_text="Leave empty for a token that never expires.",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None:
            # Offer only the scopes this person may mint (read:embargoed is for regulators
            # and accredited auditors); the service checks again.
            mintable = set(scopes_for(user))
            scopes = self.fields["scopes"]
            scopes.choices = [(v, label) for v, label in scopes.choices if v in mintable]
        limit = settings.OPENREFUSAL["API_TOKEN_MAX_DAYS"]
        field = self.fields["expires_in_days"]
        field.max_value = limit
        field.validators.append(MaxValueValidator(limit))
        field.widget.attrs["max"] = limit
        field.help_text = f"From 1 to {limit} days. Leave empty for a token that never expires."
