"""Forms of the account pages: the public profile and the confirmation of account deletion."""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from allauth.mfa.base.forms import ReauthenticateForm as MfaReauthenticateForm
from allauth.mfa.utils import is_mfa_enabled
from django import forms
from django.core.exceptions import ValidationError

from governance.errors import Invalid
from governance.models import User
from governance.services.accounts import (
    DISPLAY_NAME_MAX,
    REQUIRED_MESSAGE,
    display_name_clean,
    timezone_choices,
)

DELETE_CONFIRMATION_PHRASE = "delete my account"


def verify_password(user: User, password: str) -> None:
    """Raise `ValidationError` unless `password` is the user's current password.

    Goes through allauth, so failures count against the same `login_failed` rate limit as
    signing in: a stolen session or token cannot be used to guess the password here."""
    if not password or not get_adapter().reauthenticate(user, password):
        raise ValidationError("This is not your current password.", code="incorrect_password")


def verify_mfa_code(user: User, code: str) -> None:
    """Raise `ValidationError` unless `code` is a current TOTP code or an unused recovery code
    (allauth's own check, rate limit included)."""
    form = MfaReauthenticateForm(user=user, data={"code": code or ""})
    if not form.is_valid():
        raise ValidationError(form.errors.get("code") or ["This code is not valid."])


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        label="Public display name",
        strip=False,  # the service trims and normalises, the same way for the API
        help_text=(
            "Shown beside everything you write. A pseudonym is fine. 2 to 80 characters; "
            "no e-mail or web addresses."
        ),
        error_messages={"required": REQUIRED_MESSAGE},
        widget=forms.TextInput(attrs={"maxlength": DISPLAY_NAME_MAX, "autocomplete": "nickname"}),
    )
    timezone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text="Times on the site are shown in this zone. Not shown to anyone else.",
        error_messages={
            "invalid_choice": "Choose a time zone from the list, or “Use my browser's time zone”."
        },
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [
            ("", "Use my browser's time zone"),
            *((name, name.replace("_", " ")) for name in timezone_choices()),
        ]

    def clean_display_name(self) -> str:
        try:
            return display_name_clean(self.cleaned_data.get("display_name", ""))
        except Invalid as exc:
            raise ValidationError(exc.fields.get("display_name") or [exc.message]) from exc


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(
        label="I understand that this cannot be undone",
        help_text="You will be signed out everywhere and cannot sign in to this account again.",
        error_messages={"required": "Tick this box to confirm."},
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        self.user = user
        super().__init__(*args, **kwargs)
        self.mfa_enabled = is_mfa_enabled(user)
        if self.mfa_enabled:
            self.fields["code"] = forms.CharField(
                label="Authenticator code",
                help_text="A current code from your authenticator app, or an unused recovery code.",
                widget=forms.TextInput(
                    attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
                ),
            )
            # Password, then code, then the final confirmation.
            self.order_fields(["password", "code", "confirm"])

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password", "")
        verify_password(self.user, password)
        return password

    def clean_code(self) -> str:
        code = self.cleaned_data.get("code", "")
        if "password" not in self.cleaned_data:
            # A code is checked (and a recovery code used up) only with the right password.
            return code
        verify_mfa_code(self.user, code)
        return code
