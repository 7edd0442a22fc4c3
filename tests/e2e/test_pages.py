"""The site's base pages in a real browser: accessibility (axe-core), keyboard use, JavaScript
off, and times shown in the reader's zone."""

from __future__ import annotations

import zoneinfo
from datetime import UTC

import pytest
from django.db import transaction

from governance.services.ledger import ledger_append
from tests.factories import UserFactory

pytestmark = pytest.mark.e2e


def test_it_serves_static_files_under_the_live_server(page, live_server):
    response = page.request.get(f"{live_server.url}/static/css/app.css")
    assert response.status == 200
    assert "text/css" in response.headers["content-type"]
    assert page.request.get(f"{live_server.url}/static/js/app.js").status == 200


def test_home_page_passes_axe(page, axe_check):
    with transaction.atomic():
        ledger_append(
            actor=UserFactory(display_name="Ada"), action="organization.verified", subject="o:1"
        )
    page.goto("/")
    assert page.get_by_role("heading", level=1).is_visible()
    # The stylesheet really applied (a broken static setup would still pass axe).
    assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).display") in (
        "block",
        "flex",
    )
    axe_check(page)


def test_home_page_passes_axe_on_a_small_screen(new_context, axe_check):
    page = new_context(viewport={"width": 320, "height": 640}).new_page()
    page.goto("/")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 320, "the page scrolls sideways at 320px"
    axe_check(page)


def test_not_found_page_passes_axe(page, axe_check):
    response = page.goto("/this-does-not-exist")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    axe_check(page)


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/"])
def test_account_entrance_pages_pass_axe(page, axe_check, path):
    page.goto(path)
    assert page.get_by_role("heading", level=1).is_visible()
    axe_check(page)


def test_signup_errors_are_summarised_and_pass_axe(page, axe_check):
    page.goto("/accounts/signup/")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_role("button", name="Sign Up").click()
    summary = page.locator("[data-error-summary]")
    assert summary.is_visible()
    assert "There is a problem" in summary.inner_text()
    # app.js moves focus to the summary so it is read first.
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    email = page.get_by_label("Email")
    assert email.get_attribute("aria-invalid") == "true"
    described_by = email.get_attribute("aria-describedby") or ""
    assert "id_email_error" in described_by.split()
    assert "Error:" in page.locator("#id_email_error").inner_text()
    axe_check(page)


def test_skip_link_moves_focus_to_main(page):
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to main content"
    assert page.locator(".skip-link").is_visible()  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_home_page_works_without_javascript(new_context):
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    response = page.goto("/")
    assert response.status == 200
    assert page.get_by_role("heading", level=1).is_visible()
    assert page.get_by_role("heading", name="Open comment periods").is_visible()
    page.get_by_role("link", name="Sign in").click()
    assert page.get_by_role("heading", name="Sign In").is_visible()
    # Without the script there is no tz cookie: the server keeps showing UTC.
    assert not [c for c in context.cookies() if c["name"] == "tz"]


def test_times_show_in_the_browser_time_zone(new_context):
    with transaction.atomic():
        entry = ledger_append(
            actor=UserFactory(display_name="Ada"), action="organization.verified", subject="o:1"
        )
    context = new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.goto("/")
    time = page.locator(".activity time").first
    utc = entry.at.astimezone(UTC)
    assert time.get_attribute("datetime") == utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    # First visit: the server does not know the zone yet, so it says UTC.
    assert time.inner_text().endswith(f"{utc:%H:%M} UTC")
    cookie = next(c for c in context.cookies() if c["name"] == "tz")
    assert cookie["value"] == "Asia/Tokyo"
    assert cookie["path"] == "/"
    assert cookie["sameSite"] == "Lax"
    page.reload()
    tokyo = entry.at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert page.locator(".activity time").first.inner_text().endswith(f"{tokyo:%H:%M} JST")


@pytest.fixture
def signed_in_page(new_context, live_server):
    """A page whose context carries a real session for a fresh verified user."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(UserFactory(display_name="Ada Lovelace"))
    context = new_context()
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return context.new_page()


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/email/",
        "/accounts/password/change/",
        "/accounts/2fa/",
        "/accounts/2fa/totp/activate/",  # asks to confirm access first
        "/accounts/logout/",
    ],
)
def test_account_settings_pages_pass_axe(signed_in_page, axe_check, path):
    page = signed_in_page
    response = page.goto(path)
    assert response.status == 200
    assert page.get_by_role("link", name="Ada Lovelace").is_visible()
    assert page.get_by_role("heading", level=1).is_visible()
    axe_check(page)


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/password/reset/",
        "/accounts/password/reset/done/",
        "/accounts/confirm-email/",
        "/accounts/confirm-email/not-a-real-key/",
        "/accounts/password/reset/key/1-not-a-real-key/",
    ],
)
def test_account_recovery_pages_pass_axe(page, axe_check, path):
    response = page.goto(path)
    assert response.status == 200
    assert page.get_by_role("heading", level=1).is_visible()
    axe_check(page)


def test_axe_helper_reports_serious_violations_readably(page, axe_check):
    page.set_content('<html lang="en"><body><main><img src="x.png"><input></main></body></html>')
    with pytest.raises(pytest.fail.Exception) as failure:
        axe_check(page)
    message = str(failure.value)
    assert "image-alt" in message
    assert "[critical]" in message
