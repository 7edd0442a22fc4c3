"""allauth adapter: the e-mail is the login; new accounts get a neutral public name."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError

from governance.services.accounts import DELETED_EMAIL_DOMAIN


class AccountAdapter(DefaultAccountAdapter):
    def populate_username(self, request, user):
        # There is no username; the public name is chosen on the profile page.
        return None

    def clean_email(self, email: str) -> str:
        email = super().clean_email(email).strip().lower()
        # Deleted accounts keep a placeholder address in this (undeliverable) domain; letting
        # anyone register one would collide with, or pose as, a former member.
        if email.rpartition("@")[2] == DELETED_EMAIL_DOMAIN:
            raise ValidationError("This e-mail address cannot be used.", code="reserved_email")
        return email
