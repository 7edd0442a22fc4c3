"""Every page built so far, checked with axe-core in Chromium as the people who use it see it:
anonymous readers, a signed-in citizen, a company owner, and staff — including forms showing
their error messages."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client

from governance.services.ledger import ledger_append
from governance.services.organizations import invitation_create

pytestmark = pytest.mark.e2e


def sign_in(context, user, live_server) -> None:
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )


PUBLIC_PAGES = [
    "/",
    "/ledger/",
    "/ledger/1/",
    "/organizations/",
    "/organizations/acme-ai/",
    "/evidence/",
    "/evidence/compare/",
    "/audits/",
    "/audits/scorecards/",
    "/audits/scorecards/acme-ai/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/no-such-page/",
]

OWNER_PAGES = [
    "/accounts/profile/",
    "/accounts/email/",
    "/accounts/password/change/",
    "/accounts/2fa/",
    "/accounts/2fa/totp/activate/",
    "/accounts/tokens/",
    "/accounts/tokens/new/",
    "/accounts/delete/",
    "/organizations/new/",
    "/organizations/acme-ai/edit/",
    "/organizations/acme-ai/members/",
    "/organizations/acme-ai/members/invite/",
    "/evidence/upload/",
]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_it_has_no_serious_accessibility_problems_for_anonymous_readers(
    path, page, axe_check, company_owner
):
    with transaction.atomic():
        ledger_append(actor=company_owner, action="organization.updated", subject="organization:1")
    page.goto(path)
    assert page.locator("main h1").count() == 1, "each page has exactly one main heading"
    axe_check(page)


@pytest.mark.parametrize("path", OWNER_PAGES)
def test_it_has_no_serious_accessibility_problems_for_a_company_owner(
    path, new_context, live_server, axe_check, company_owner
):
    context = new_context()
    sign_in(context, company_owner, live_server)
    page = context.new_page()
    response = page.goto(path)
    assert response.status == 200, path
    axe_check(page)


def test_it_shows_accessible_inline_errors_on_a_rejected_form(
    new_context, live_server, axe_check, company_owner
):
    context = new_context()
    sign_in(context, company_owner, live_server)
    page = context.new_page()
    page.goto("/organizations/new/")
    page.get_by_role("button", name="Register", exact=True).click()
    # The error summary names the problem, the field is marked invalid, nothing was created.
    assert page.locator("[aria-invalid=true]").count() >= 1
    assert page.get_by_text("Error:").first.is_visible()
    axe_check(page)


def test_it_lets_an_invited_person_accept_in_an_accessible_page(
    new_context, live_server, axe_check, company_owner, citizen
):
    _, raw = invitation_create(
        actor=company_owner,
        organization=company_owner.memberships.get().organization,
        email=citizen.email,
        role="editor",
    )
    context = new_context()
    sign_in(context, citizen, live_server)
    page = context.new_page()
    page.goto(f"/organizations/invitations/{raw}/")
    axe_check(page)
    page.get_by_role("button", name="Accept and join").click()
    assert page.get_by_text("Acme AI").first.is_visible()
    assert citizen.memberships.filter(organization__slug="acme-ai", role="editor").exists()
