"""The form for subscribing a webhook (validation only; the service checks the URL)."""

from __future__ import annotations

from django import forms

from governance.models import Membership, Organization, User
from governance.public_data import EVENT_TYPES, FILTER_CHOICES


class WebhookCreateForm(forms.Form):
    target_url = forms.CharField(
        label="Delivery address",
        max_length=500,
        help_text="An http:// or https:// address on the public internet that accepts POSTs.",
        widget=forms.URLInput(attrs={"placeholder": "https://regulator.example/hooks/openrefusal"}),
    )
    description = forms.CharField(
        max_length=200, required=False, help_text="What it is for (only you see it)."
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to receive every event.",
    )
    filter_organization = forms.ModelChoiceField(
        label="Only about this organization",
        queryset=Organization.objects.order_by("name"),
        required=False,
        to_field_name="slug",
        empty_label="Any organization",
    )
    filter_policy = forms.TypedChoiceField(
        label="Only about this policy",
        required=False,
        coerce=int,
        empty_value=None,
    )
    organization = forms.ModelChoiceField(
        label="Held for",
        queryset=Organization.objects.none(),
        required=False,
        to_field_name="slug",
        empty_label="Just me",
        help_text="An organization you own or edit: its owners and editors manage it too.",
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_types"].choices = [
            (name, f"{name} — {meaning}") for name, meaning in sorted(EVENT_TYPES.items())
        ]
        policies = FILTER_CHOICES.get("policy")
        self.fields["filter_policy"].choices = [("", "Any policy")] + (
            [(str(pk), label) for pk, label in policies()] if policies else []
        )
        self.fields["organization"].queryset = Organization.objects.filter(
            memberships__user=user,
            memberships__role__in=(Membership.Role.OWNER, Membership.Role.EDITOR),
        ).order_by("name")
