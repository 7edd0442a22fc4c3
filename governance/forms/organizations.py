"""Forms for organizations, roles and invitations: they only parse input; services decide."""

from __future__ import annotations

from django import forms

from governance.models import Membership, Organization
from governance.services.organizations import DESCRIPTION_MAX, NAME_MAX, SLUG_MAX


class DirectoryFilterForm(forms.Form):
    q = forms.CharField(label="Name", max_length=200, required=False)
    kind = forms.ChoiceField(
        label="Kind", choices=[("", "All kinds"), *Organization.Kind.choices], required=False
    )
    verified = forms.ChoiceField(
        label="Verification",
        choices=[("", "Verified or not"), ("yes", "Verified only"), ("no", "Not verified")],
        required=False,
    )


class OrganizationForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX,
        help_text="The organization's public name, as it appears on the record.",
    )
    kind = forms.ChoiceField(choices=Organization.Kind.choices, widget=forms.RadioSelect)
    slug = forms.SlugField(
        label="Address",
        max_length=SLUG_MAX,
        required=False,
        help_text="Lower-case letters, digits and hyphens, used in the page's address. "
        "Leave empty to make one from the name.",
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=DESCRIPTION_MAX,
        required=False,
        help_text="What the organization does, in plain words.",
    )
    website = forms.URLField(
        required=False, assume_scheme="https", help_text="For example https://example.com"
    )


class OrganizationEditForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}), max_length=DESCRIPTION_MAX, required=False
    )
    website = forms.URLField(required=False, assume_scheme="https")


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address",
        max_length=254,
        help_text="We send the invitation link to this address; it is never shown publicly.",
    )
    role = forms.ChoiceField(
        choices=Membership.Role.choices,
        initial=Membership.Role.MEMBER,
        help_text="Owners manage members; editors speak for the organization; "
        "members take part under its name.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class UnverifyForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Shown publicly on the ledger.",
    )
