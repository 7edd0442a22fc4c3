"""Accounts in the browser: allauth's real flows (verification, reset, rate limit, TOTP), the
profile page, the data export and account deletion."""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.core import mail
from django.test import Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.errors import Conflict, Invalid
from governance.models import ApiToken, LedgerEntry, Membership, User
from governance.services import accounts as account_services
from governance.services.accounts import (
    display_name_clean,
    user_delete,
    user_export,
    user_profile_update,
)
from governance.services.tokens import api_token_create
from tests.factories import PASSWORD, MembershipFactory, UserFactory

PROFILE = "/accounts/profile/"
EXPORT = "/accounts/export/"
DELETE = "/accounts/delete/"
NEW_PASSWORD = "a brand new passphrase 77"


def sign_in(client: Client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def signed_in_as(client: Client):
    return client.session.get("_auth_user_id")


def link_in(message, marker: str) -> str:
    """The path of the first link in an e-mail whose URL contains `marker`."""
    urls = re.findall(r"https?://[^\s\"'<>]+", message.body)
    matching = [u for u in urls if marker in u]
    assert matching, message.body
    return urlparse(matching[0]).path


def current_code(secret: str, offset: int = 0) -> str:
    import time

    from allauth.mfa import app_settings

    counter = int(time.time()) // app_settings.TOTP_PERIOD + offset
    return format_hotp_value(hotp_value(secret, counter))


def enable_totp(user) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


# --- Sign-up, verification, reset, rate limit (allauth's real flows) -------------------------


@pytest.mark.django_db
def test_it_requires_email_verification_before_signing_in(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "New.Person@Example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "new.person@example.org"  # stored lower-cased
    assert not signed_in_as(client)
    assert len(mail.outbox) == 1
    confirm_path = link_in(mail.outbox[0], "/accounts/confirm-email/")

    # A new account cannot sign in until the link is followed.
    other = Client()
    response = sign_in(other, "new.person@example.org")
    assert not signed_in_as(other)
    assert response.status_code == 302
    assert "confirm-email" in response["Location"]

    # The link shows a confirmation page (no change on GET), then confirms on POST.
    assert client.get(confirm_path).status_code == 200
    assert not EmailAddress.objects.get(user=user).verified
    response = client.post(confirm_path)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified

    fresh = Client()
    response = sign_in(fresh, "new.person@example.org")
    assert response.status_code == 302
    assert signed_in_as(fresh) == str(user.pk)


@pytest.mark.django_db
def test_it_refuses_to_register_the_placeholder_address_of_a_deleted_account(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "deleted-1@invalid.openrefusal", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 200
    assert "This e-mail address cannot be used." in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_it_resets_a_forgotten_password_through_the_emailed_link(client, citizen):
    response = client.post(reverse("account_reset_password"), {"email": "citizen@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["citizen@example.org"]
    reset_path = link_in(mail.outbox[0], "/accounts/password/reset/key/")

    # allauth moves the key from the URL into the session, then shows the form.
    response = client.get(reset_path)
    form_path = response["Location"] if response.status_code == 302 else reset_path
    response = client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302, response.content.decode()

    citizen.refresh_from_db()
    assert citizen.check_password(NEW_PASSWORD)
    assert not citizen.check_password(PASSWORD)
    fresh = Client()
    sign_in(fresh, "citizen@example.org", NEW_PASSWORD)
    assert signed_in_as(fresh) == str(citizen.pk)


@pytest.mark.django_db
def test_it_blocks_sign_in_after_repeated_failures(citizen):
    browser = Client()
    for _ in range(5):
        response = sign_in(browser, "citizen@example.org", "wrong password")
        assert response.status_code == 200
        assert not signed_in_as(browser)
    # Now even the right password is refused for a while: guessing is stopped.
    response = sign_in(browser, "citizen@example.org", PASSWORD)
    assert not signed_in_as(browser)
    assert "Too many failed login attempts" in response.content.decode()


@pytest.mark.django_db
def test_it_activates_totp_and_then_asks_for_a_code_at_sign_in(settings, citizen):
    # One step of tolerance, so the sign-in below can use the next code: allauth refuses a
    # code that was already used (here: for the activation).
    settings.MFA_TOTP_TOLERANCE = 1
    browser = Client()
    sign_in(browser, "citizen@example.org")
    assert signed_in_as(browser)

    activate = reverse("mfa_activate_totp")
    response = browser.get(activate)
    if response.status_code == 302 and "reauthenticate" in response["Location"]:
        browser.post(response["Location"], {"password": PASSWORD})
        response = browser.get(activate)
    assert response.status_code == 200
    secret = browser.session["mfa.totp.secret"]
    assert secret in response.content.decode()  # shown for manual entry

    response = browser.post(
        activate, {"code": "000000" if current_code(secret) != "000000" else "1"}
    )
    assert response.status_code == 200
    assert not Authenticator.objects.filter(user=citizen, type="totp").exists()

    response = browser.post(activate, {"code": current_code(secret)})
    assert response.status_code == 302, response.content.decode()
    assert Authenticator.objects.filter(user=citizen, type="totp").exists()

    browser.post(reverse("account_logout"))
    assert not signed_in_as(browser)

    response = sign_in(browser, "citizen@example.org")
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert not signed_in_as(browser)  # the password alone is not enough any more

    response = browser.post(reverse("mfa_authenticate"), {"code": "12345"})
    assert not signed_in_as(browser)
    response = browser.post(reverse("mfa_authenticate"), {"code": current_code(secret, 1)})
    assert response.status_code == 302
    assert signed_in_as(browser) == str(citizen.pk)


# --- Profile ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_the_profile_with_the_public_name_and_every_setting(client_for, citizen):
    response = client_for(citizen).get(PROFILE)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Your public name" in page
    assert "Citizen Ada" in page
    for name in ("account_email", "account_change_password", "mfa_index", "tokens:list"):
        assert f'href="{reverse(name)}"' in page, name
    assert f'action="{reverse("account:export")}"' in page
    assert f'href="{reverse("account:delete")}"' in page
    assert "citizen@example.org" not in page  # not even to its owner (screens are shared)
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
@pytest.mark.parametrize("url", [PROFILE, EXPORT, DELETE])
def test_it_sends_anonymous_visitors_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert client.post(url).status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_it_refuses_other_methods_on_the_account_pages(client_for, citizen, method):
    browser = client_for(citizen)
    for url in (PROFILE, EXPORT, DELETE):
        assert getattr(browser, method)(url).status_code == 405


@pytest.mark.django_db
def test_it_saves_the_display_name_and_time_zone(client_for, citizen):
    browser = client_for(citizen)
    response = browser.post(
        PROFILE, {"display_name": "  Quiet   Heron ", "timezone": "Europe/Lisbon"}
    )
    assert response.status_code == 302
    assert response["Location"] == PROFILE
    citizen.refresh_from_db()
    assert citizen.display_name == "Quiet Heron"
    assert citizen.timezone == "Europe/Lisbon"
    page = browser.get(PROFILE).content.decode()
    assert "You are shown as “Quiet Heron”" in page
    assert 'value="Europe/Lisbon" selected' in page


@pytest.mark.django_db
def test_it_records_only_the_new_public_name_on_the_ledger(client_for, citizen):
    browser = client_for(citizen)
    browser.post(PROFILE, {"display_name": "Quiet Heron", "timezone": ""})
    entry = LedgerEntry.objects.get(action="user.display_name_changed")
    assert entry.actor == f"user:{citizen.pk}"
    assert entry.subject == f"user:{citizen.pk}"
    assert entry.payload == {"public_name": "Quiet Heron"}  # not the old name, no e-mail

    # A time zone is private: changing only it writes nothing to the ledger.
    browser.post(PROFILE, {"display_name": "Quiet Heron", "timezone": "Asia/Tokyo"})
    assert LedgerEntry.objects.filter(subject=f"user:{citizen.pk}").count() == 1
    citizen.refresh_from_db()
    assert citizen.timezone == "Asia/Tokyo"


BAD_PROFILES = [
    ({"display_name": "", "timezone": ""}, "Enter a display name"),
    ({"display_name": "   ", "timezone": ""}, "Enter a display name"),
    ({"display_name": "A", "timezone": ""}, "at least 2 characters"),
    ({"display_name": "x" * 81, "timezone": ""}, "at most 80 characters"),
    ({"display_name": "x" * 100_000, "timezone": ""}, "at most 80 characters"),
    ({"display_name": "Ada\tLovelace", "timezone": ""}, "control and invisible"),
    ({"display_name": "Ada\u202eecalevol", "timezone": ""}, "control and invisible"),
    ({"display_name": "Ada\x00", "timezone": ""}, "Null characters are not allowed"),
    ({"display_name": "ada@example.org", "timezone": ""}, "e-mail address cannot"),
    ({"display_name": "write to me at a.b@c.de", "timezone": ""}, "e-mail address cannot"),
    ({"display_name": "https://spam.example", "timezone": ""}, "web address cannot"),
    ({"display_name": "visit www.spam", "timezone": ""}, "web address cannot"),
    ({"display_name": "cheap-pills.com", "timezone": ""}, "web address cannot"),
    ({"display_name": "Former member", "timezone": ""}, "reserved"),
    ({"display_name": "former  MEMBER", "timezone": ""}, "reserved"),
    ({"display_name": "OpenRefusal", "timezone": ""}, "reserved"),
    ({"display_name": "Open Refusal Support", "timezone": ""}, "reserved"),
    ({"display_name": "MODERATOR", "timezone": ""}, "reserved"),
    ({"display_name": "\uff33\uff54\uff41\uff46\uff46", "timezone": ""}, "reserved"),
    ({"display_name": "Member #3", "timezone": ""}, "how others are shown"),
    ({"display_name": "Ada", "timezone": "Mars/Olympus_Mons"}, "Choose a time zone from the list"),
    ({"display_name": "Ada", "timezone": "<script>"}, "Choose a time zone from the list"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "message"), BAD_PROFILES)
def test_it_shows_inline_errors_and_changes_nothing(client_for, citizen, data, message):
    citizen.timezone = "Europe/Paris"
    citizen.save()
    response = client_for(citizen).post(PROFILE, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert "There is a problem" in page  # the error summary, linked to the field
    assert 'aria-invalid="true"' in page
    citizen.refresh_from_db()
    assert citizen.display_name == "Citizen Ada"
    assert citizen.timezone == "Europe/Paris"
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_it_never_shows_the_email_on_public_pages(client_for, citizen):
    client_for(citizen).post(PROFILE, {"display_name": "Quiet Heron", "timezone": ""})
    anonymous = client_for(None)
    for url in (reverse("home"), reverse("ledger:list")):
        page = anonymous.get(url).content.decode()
        assert "citizen@example.org" not in page
        assert "citizen@" not in page
    ledger_page = anonymous.get(reverse("ledger:list")).content.decode()
    assert "Quiet Heron" in ledger_page
    # Signed-in pages show the person's name in the header, never the address.
    for url in (PROFILE, DELETE, reverse("home")):
        assert "citizen@example.org" not in client_for(citizen).get(url).content.decode()


VALID_NAMES = ["Ada", "Quiet Heron", "J.R.R. Tolkien", "李小龙", "Zoë O'Brien", "@ada", "Ed 2"]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_it_accepts_pseudonyms_in_any_script(name):
    assert display_name_clean(f"  {name} ") == name


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_it_either_refuses_a_name_or_stores_a_clean_one(value):
    try:
        cleaned = display_name_clean(value)
    except Invalid as exc:
        errors = exc.fields["display_name"]
        cleaned = None
    else:
        errors = []
    assert bool(errors) != (cleaned is not None)
    if cleaned is None:
        return
    assert 2 <= len(cleaned) <= 80
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned
    assert "@" not in cleaned or not re.search(r"\S@\S+\.\S", cleaned)
    assert display_name_clean(cleaned) == cleaned  # cleaning is idempotent


@pytest.mark.django_db
def test_it_does_not_write_when_nothing_changed(citizen):
    user_profile_update(user=citizen, display_name="Citizen Ada", timezone="")
    assert not LedgerEntry.objects.exists()


# --- Export -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_exports_the_account_as_a_json_file_without_secrets(
    client_for, company_editor, django_assert_max_num_queries
):
    EmailAddress.objects.create(user=company_editor, email="second@acme.example", verified=False)
    token, raw = api_token_create(
        user=company_editor, name="Laptop", scopes=["read:public"], expires_in_days=None
    )
    secret = enable_totp(company_editor)
    user_profile_update(user=company_editor, display_name="Quiet Heron")
    browser = client_for(company_editor)

    with django_assert_max_num_queries(25):
        response = browser.post(EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert re.fullmatch(
        r'attachment; filename="openrefusal-export-\d{4}-\d{2}-\d{2}\.json"',
        response["Content-Disposition"],
    )
    body = response.content.decode()
    data = json.loads(body)
    assert data["format"] == "openrefusal-account-export"
    assert data["version"] == 1
    assert data["profile"]["id"] == company_editor.pk
    assert data["profile"]["email"] == "editor@acme.example"
    assert data["profile"]["public_name"] == "Quiet Heron"
    assert {(a["email"], a["verified"]) for a in data["email_addresses"]} == {
        ("editor@acme.example", True),
        ("second@acme.example", False),
    }
    assert [(m["organization"]["name"], m["role"]) for m in data["memberships"]] == [
        ("Acme AI", "editor")
    ]
    assert data["memberships"][0]["since"].endswith("Z")
    assert data["api_tokens"] == [
        {
            "name": "Laptop",
            "prefix": token.prefix,
            "scopes": ["read:public"],
            "created_at": data["api_tokens"][0]["created_at"],
            "expires_at": None,
            "last_used_at": None,
            "revoked_at": None,
        }
    ]
    assert sorted(a["type"] for a in data["mfa_authenticators"]) == ["recovery_codes", "totp"]
    assert [e["action"] for e in data["ledger_entries"]] == [
        "api_token.created",
        "user.display_name_changed",
    ]
    # No secrets, no hashes.
    stored = Authenticator.objects.get(user=company_editor, type="totp").data["secret"]
    for forbidden in (raw, token.key_sha256, secret, stored, company_editor.password):
        assert forbidden not in body
    assert "key_sha256" not in body
    assert "password" not in body
    for code in RecoveryCodes(
        Authenticator.objects.get(user=company_editor, type="recovery_codes")
    ).get_unused_codes():
        assert code not in body
    # GET works too (a link), and says not to cache.
    response = browser.get(EXPORT)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_adds_the_sections_other_apps_register(citizen):
    @account_services.register_export_section("test_comments")
    def comments(user):
        return [{"author": user.public_name}]

    try:
        assert user_export(user=citizen)["test_comments"] == [{"author": "Citizen Ada"}]
        with pytest.raises(ValueError, match="already registered"):
            account_services.register_export_section("test_comments")(comments)
        with pytest.raises(ValueError, match="already registered"):
            account_services.register_export_section("format")(comments)
        with pytest.raises(ValueError, match="snake_case"):
            account_services.register_export_section("Bad Name")
    finally:
        del account_services.EXPORT_SECTIONS["test_comments"]


# --- Deletion ---------------------------------------------------------------------------------


def delete_form(password=PASSWORD, **extra):
    return {"password": password, "confirm": "on", **extra}


@pytest.mark.django_db
def test_it_explains_deletion_before_asking_for_the_password(client_for, citizen):
    response = client_for(citizen).get(DELETE)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Former member" in page
    assert 'autocomplete="current-password"' in page
    assert 'name="code"' not in page  # no two-factor: no code field
    assert reverse("account:export") in page


@pytest.mark.django_db
def test_it_deletes_an_account_by_anonymising_it_and_signs_out(client_for, company_editor):
    user = company_editor
    user_profile_update(user=user, display_name="Quiet Heron", timezone="Europe/Lisbon")
    api_token_create(user=user, name="Script", scopes=["read:public"], expires_in_days=None)
    enable_totp(user)
    Authenticator.objects.filter(user=user).delete()  # two-factor is covered in its own test
    before = list(LedgerEntry.objects.order_by("seq").values())
    browser, elsewhere = client_for(user), client_for(user)
    assert elsewhere.get(PROFILE).status_code == 200

    response = browser.post(DELETE, delete_form())
    assert response.status_code == 302
    assert response["Location"] == reverse("account:deleted")
    assert not signed_in_as(browser)
    page = browser.get(response["Location"]).content.decode()
    assert "Your account has been deleted" in page

    user.refresh_from_db()
    assert user.deleted_at is not None
    assert not user.is_active
    assert user.email == f"deleted-{user.pk}@invalid.openrefusal"
    assert user.display_name == ""
    assert user.timezone == ""
    assert not user.has_usable_password()
    assert user.public_name == "Former member"
    assert not EmailAddress.objects.filter(user=user).exists()
    assert not EmailAddress.objects.filter(email="editor@acme.example").exists()
    assert not ApiToken.objects.filter(user=user).exists()
    assert not Membership.objects.filter(user=user).exists()
    assert not Authenticator.objects.filter(user=user).exists()

    # The ledger keeps every earlier entry untouched and adds the departure and the deletion,
    # with no personal data.
    after = list(LedgerEntry.objects.order_by("seq").values())
    assert after[: len(before)] == before
    added = after[len(before) :]
    assert [e["action"] for e in added] == ["membership.removed", "user.deleted"]
    assert added[-1]["payload"] == {}
    assert "editor@acme.example" not in json.dumps([e["payload"] for e in added])
    assert "Quiet Heron" not in json.dumps([e["payload"] for e in added])

    # Every other session is over, and the old password no longer signs in.
    assert elsewhere.get(PROFILE).status_code == 302
    fresh = Client()
    sign_in(fresh, "editor@acme.example")
    assert not signed_in_as(fresh)
    ledger_page = fresh.get(reverse("ledger:list")).content.decode()
    assert "editor@acme.example" not in ledger_page


@pytest.mark.django_db
def test_it_lets_the_address_be_used_for_a_new_account_after_deletion(client_for, citizen):
    client_for(citizen).post(DELETE, delete_form())
    response = Client().post(
        reverse("account_signup"),
        {"email": "citizen@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert User.objects.filter(email="citizen@example.org").exclude(pk=citizen.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (delete_form("wrong password"), "This is not your current password."),
        (delete_form(""), "This field is required."),
        ({"password": PASSWORD}, "Tick this box to confirm."),
    ],
)
def test_it_refuses_deletion_without_the_password_and_confirmation(
    client_for, citizen, data, message
):
    browser = client_for(citizen)
    response = browser.post(DELETE, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    citizen.refresh_from_db()
    assert citizen.deleted_at is None
    assert citizen.is_active
    assert signed_in_as(browser) == str(citizen.pk)
    assert not LedgerEntry.objects.filter(action="user.deleted").exists()


@pytest.mark.django_db
def test_it_refuses_deletion_by_the_only_owner_of_an_organization(client_for, company_owner):
    browser = client_for(company_owner)
    page = browser.get(DELETE).content.decode()
    assert "You are the only owner of" in page
    assert reverse("organizations:members", args=["acme-ai"]) in page
    assert 'name="password"' not in page  # no form to fill in while it cannot succeed

    # Posting anyway (an old tab) changes nothing.
    response = browser.post(DELETE, delete_form())
    assert response.status_code == 200
    assert "Acme AI" in response.content.decode()
    company_owner.refresh_from_db()
    assert company_owner.deleted_at is None
    assert Membership.objects.filter(user=company_owner, role="owner").exists()

    # With a second owner, the first may go.
    MembershipFactory(organization=company_owner.memberships.get().organization, role="owner")
    response = browser.post(DELETE, delete_form())
    assert response.status_code == 302
    company_owner.refresh_from_db()
    assert company_owner.deleted_at is not None


@pytest.mark.django_db
def test_it_asks_for_a_two_factor_code_when_it_is_on(settings, client_for, citizen):
    settings.MFA_TOTP_TOLERANCE = 1
    secret = enable_totp(citizen)
    browser = client_for(citizen)
    assert 'name="code"' in browser.get(DELETE).content.decode()

    response = browser.post(DELETE, delete_form())
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    response = browser.post(DELETE, delete_form(code="000000"))
    assert response.status_code == 200
    citizen.refresh_from_db()
    assert citizen.deleted_at is None

    response = browser.post(DELETE, delete_form(code=current_code(secret, 1)))
    assert response.status_code == 302
    citizen.refresh_from_db()
    assert citizen.deleted_at is not None


@pytest.mark.django_db
def test_it_runs_deletion_hooks_and_undoes_everything_when_one_fails(citizen):
    seen = []

    def remember(user):
        seen.append(user.email)  # hooks still see the account as it was

    def fail(user):
        raise Invalid("A hook refused.")

    account_services.register_deletion_hook(remember)
    try:
        account_services.register_deletion_hook(fail)
        with pytest.raises(Invalid):
            user_delete(user=citizen)
        citizen.refresh_from_db()
        assert citizen.deleted_at is None
        assert EmailAddress.objects.filter(user=citizen).exists()
        account_services.DELETION_HOOKS.remove(fail)

        user_delete(user=citizen)
        assert seen == ["citizen@example.org", "citizen@example.org"]
    finally:
        for hook in (remember, fail):
            if hook in account_services.DELETION_HOOKS:
                account_services.DELETION_HOOKS.remove(hook)


@pytest.mark.django_db
def test_it_refuses_to_delete_an_account_twice(citizen):
    user_delete(user=citizen)
    with pytest.raises(Conflict):
        user_delete(user=citizen)
    assert LedgerEntry.objects.filter(action="user.deleted").count() == 1


@pytest.mark.django_db
def test_it_strips_staff_powers_from_a_deleted_account(staff, moderator):
    for person in (staff, moderator):
        user_delete(user=person)
        person.refresh_from_db()
        assert not person.is_staff
        assert not person.is_superuser
        assert not person.groups.exists()


@pytest.mark.django_db
def test_it_shows_the_deleted_page_to_anyone(client):
    assert client.get(reverse("account:deleted")).status_code == 200
    assert client.post(reverse("account:deleted")).status_code == 405


@pytest.mark.django_db
def test_it_keeps_deleted_people_anonymous_in_their_public_name():
    user = UserFactory(display_name="Quiet Heron")
    user_delete(user=user)
    user.refresh_from_db()
    assert str(user) == "Former member"
