"""The web base: allauth pages inside the site's layout, and accessible form rendering."""

from __future__ import annotations

import pytest
from django import forms
from django.urls import reverse

pytestmark = pytest.mark.django_db


def assert_site_layout(html: str) -> None:
    assert 'class="skip-link" href="#main"' in html
    assert '<main id="main"' in html
    assert 'class="site-header"' in html
    assert 'aria-label="Main"' in html
    assert "css/app.css" in html
    assert "<h1" in html


@pytest.mark.parametrize(
    "name",
    [
        "account_login",
        "account_signup",
        "account_reset_password",
        "account_reset_password_done",
        "account_email_verification_sent",
    ],
)
def test_it_renders_account_entrance_pages_in_the_site_layout(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert_site_layout(html)
    assert 'class="auth-entrance"' in html
    assert " · OpenRefusal</title>" in html


def test_it_labels_every_login_field_visibly(client):
    html = client.get(reverse("account_login")).content.decode()
    assert '<label class="field-label" for="id_login">' in html
    assert '<label class="field-label" for="id_password">' in html
    assert '<label class="checkbox__label" for="id_remember">' in html
    assert 'class="button button--primary"' in html


@pytest.mark.parametrize(
    "name",
    [
        "account_email",
        "account_change_password",
        "mfa_index",
        "account_logout",
    ],
)
def test_it_renders_account_settings_pages_with_their_own_navigation(client_for, citizen, name):
    response = client_for(citizen).get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert_site_layout(html)
    assert 'aria-label="Account settings"' in html
    assert f'href="{reverse(name)}" aria-current="page"' in html or name == "account_logout"
    assert reverse("account:profile") in html
    assert reverse("tokens:list") in html
    assert citizen.email not in html.split('class="auth-manage__content"')[0]


def test_it_asks_to_confirm_access_before_activating_totp(client_for, citizen):
    response = client_for(citizen).get(reverse("mfa_activate_totp"), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert_site_layout(html)
    assert 'for="id_password"' in html


def test_it_summarises_errors_and_ties_them_to_fields(client):
    response = client.post(reverse("account_signup"), {"email": "not-an-email"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="error-summary" role="alert"' in html
    assert "There is a problem" in html
    assert 'href="#id_email">Email: Enter a valid email address.</a>' in html
    assert 'id="id_email_error"' in html
    assert '<span class="field-errors__prefix">Error:</span>' in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_email_error"' in html


def test_it_escapes_hostile_input_echoed_in_forms(client):
    hostile = '"><script>alert(1)</script>'
    html = client.post(reverse("account_signup"), {"email": hostile}).content.decode()
    assert "<script>alert(1)</script>" not in html


def test_it_shows_a_non_field_error_once_in_the_summary(client, citizen):
    response = client.post(
        reverse("account_login"), {"login": citizen.email, "password": "wrong password"}
    )
    html = response.content.decode()
    assert "There is a problem" in html
    assert html.count("The email address and/or password you specified are not correct.") == 1


class _ExampleForm(forms.Form):
    name = forms.CharField(help_text="Shown publicly.")
    website = forms.URLField(required=False, assume_scheme="https")
    agree = forms.BooleanField()
    kind = forms.ChoiceField(choices=[("a", "A"), ("b", "B")], widget=forms.RadioSelect)


def test_it_renders_help_optional_marks_checkboxes_and_fieldsets():
    html = str(_ExampleForm())
    assert 'id="id_name_helptext"' in html
    assert 'aria-describedby="id_name_helptext"' in html
    assert 'for="id_website">Website <span class="field-optional">(optional)</span>' in html
    # The box comes before its label.
    assert html.index('id="id_agree"') < html.index('for="id_agree"')
    assert '<fieldset class="fieldset">' in html
    assert '<legend class="field-label">Kind</legend>' in html
    assert "error-summary" not in html


def test_it_links_the_summary_to_each_invalid_field():
    form = _ExampleForm(data={"website": "not a url"})
    html = str(form)
    for field in ("name", "website", "agree"):
        assert f'href="#id_{field}"' in html
        assert f'id="id_{field}_error"' in html
    assert 'href="#id_kind_0"' in html  # a radio group links to its first option
    assert 'class="field field--error' in html
