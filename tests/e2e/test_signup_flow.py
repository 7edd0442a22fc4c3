"""A new person's first visit, in a real browser: sign up, verify the e-mail from the outbox,
sign in, choose a public name, create an API token and use it."""

from __future__ import annotations

import re

import pytest
from django.core import mail

pytestmark = pytest.mark.e2e

EMAIL = "new.person@example.org"
PASSWORD = "a long and unusual passphrase 7"


def _verification_link(live_server_url: str) -> str:
    message = next(m for m in reversed(mail.outbox) if EMAIL in m.to)
    match = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body)
    assert match, message.body
    # The link is built from the request's host, i.e. the live server's.
    return match.group(0)


def test_it_signs_up_verifies_signs_in_names_and_creates_a_token(
    new_context, live_server, axe_check
):
    page = new_context().new_page()
    page.goto("/accounts/signup/")
    axe_check(page)
    page.get_by_label("Email").first.fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label(re.compile(r"Password \(again\)|Confirm password|Repeat")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign up|Create account", re.I)).click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    assert page.get_by_text(re.compile("verify", re.I)).first.is_visible()

    # Mandatory verification: signing in before confirming is refused.
    other = new_context().new_page()
    other.goto("/accounts/login/")
    other.get_by_label("Email").fill(EMAIL)
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_role("button", name=re.compile("Sign in", re.I)).click()
    assert "/accounts/confirm-email/" in other.url

    # Open the link from the outbox and confirm.
    page.goto(_verification_link(live_server.url))
    page.get_by_role("button", name=re.compile("Confirm", re.I)).click()

    # Sign in from a fresh browser.
    fresh = new_context().new_page()
    fresh.goto("/accounts/login/")
    fresh.get_by_label("Email").fill(EMAIL)
    fresh.get_by_label("Password").fill(PASSWORD)
    fresh.get_by_role("button", name=re.compile("Sign in", re.I)).click()
    fresh.wait_for_url(f"{live_server.url}/")

    # Choose a public name (a pseudonym).
    fresh.goto("/accounts/profile/")
    axe_check(fresh)
    fresh.get_by_label("Display name").fill("Quiet Heron")
    fresh.get_by_role("button", name=re.compile("Save", re.I)).click()
    assert fresh.get_by_text("Quiet Heron").first.is_visible()

    # Create an API token; it is shown once.
    fresh.goto("/accounts/tokens/new/")
    axe_check(fresh)
    fresh.get_by_label("Name").fill("my laptop")
    fresh.get_by_role("button", name=re.compile("Create", re.I)).click()
    raw = fresh.locator("#new-token").input_value().strip()
    assert raw.startswith("orf_")
    axe_check(fresh)

    # The token works against the API, and the API speaks the public name only.
    response = fresh.request.get(
        f"{live_server.url}/api/v1/me/", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status == 200
    assert response.json()["display_name"] == "Quiet Heron"

    # Reloading the tokens page never shows the raw token again.
    fresh.goto("/accounts/tokens/")
    assert raw not in fresh.content()
