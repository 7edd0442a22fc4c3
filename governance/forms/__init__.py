"""Forms of the core domain: they validate input; services make the changes."""

from __future__ import annotations

from django import forms

from governance.errors import DomainError


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's error inline on `form`: on the fields it names (unknown names become
    form-wide errors), or as a form-wide error when it names none."""
    for name, messages in error.fields.items():
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, str(message))
    if not error.fields:
        form.add_error(None, error.message)
