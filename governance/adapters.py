"""allauth adapter: the e-mail is the login; new accounts get a neutral public name."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def populate_username(self, request, user):
        # There is no username; the public name is chosen on the profile page.
        return None
