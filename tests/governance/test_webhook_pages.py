"""The webhook pages (/webhooks/): list, subscribe with the secret shown once, deliveries, test
ping, delete — and who may do what, per role."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from governance.models import WebhookDelivery, WebhookSubscription
from governance.rules import WEBHOOK_PERMISSIONS
from governance.services.webhooks import webhook_subscription_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/webhooks/"
NEW = "/webhooks/new/"


@pytest.fixture
def company_webhook(company_owner, company):
    subscription, _ = webhook_subscription_create(
        actor=company_owner, target_url="http://127.0.0.1:9/hook", organization=company
    )
    return subscription


# Who may manage a webhook that Acme AI's owner holds for Acme AI.
Y, N = True, False
MATRIX = {
    "citizen": N,
    "company_owner": Y,
    "company_editor": Y,
    "company_member": N,
    "outsider": N,
    "auditor": N,
    "regulator": N,
    "panelist": N,
    "moderator": N,
    "staff": Y,
    "anonymous": N,
}


def test_the_permissions_are_registered():
    import rules

    assert all(rules.perm_exists(p) for p in WEBHOOK_PERMISSIONS)


@pytest.mark.parametrize(("persona", "allowed"), MATRIX.items())
def test_it_follows_the_role_matrix(request, company_webhook, persona, allowed):
    user = AnonymousUser() if persona == "anonymous" else request.getfixturevalue(persona)
    assert user.has_perm("governance.manage_webhook", company_webhook) is allowed
    # Any person with a confirmed address may subscribe for themselves.
    assert user.has_perm("governance.create_webhook") is (persona != "anonymous")


def test_unconfirmed_people_cannot_subscribe():
    assert not UserFactory(verified=False).has_perm("governance.create_webhook")


@pytest.mark.parametrize("path", [LIST, NEW, "/webhooks/1/", "/webhooks/1/delete/"])
def test_anonymous_visitors_are_sent_to_sign_in(client_for, path):
    response = client_for().get(path)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_it_subscribes_and_shows_the_secret_once(client_for, regulator):
    browser = client_for(regulator)
    form = browser.get(NEW)
    assert form.status_code == 200
    assert b"organization.verified" in form.content
    response = browser.post(
        NEW,
        {
            "target_url": "http://127.0.0.1:9/hook",
            "description": "Our intake",
            "event_types": ["policy_version.published", "organization.verified"],
        },
    )
    subscription = WebhookSubscription.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/webhooks/{subscription.pk}/"
    first = browser.get(response["Location"])
    assert subscription.secret.encode() in first.content
    assert b"you won't see it again" in first.content
    again = browser.get(response["Location"])
    assert subscription.secret.encode() not in again.content
    assert subscription.secret_hint.encode() in again.content
    assert subscription.event_types == ["organization.verified", "policy_version.published"]
    listing = browser.get(LIST)
    assert b"http://127.0.0.1:9/hook" in listing.content


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/x", b"http:// or https://"),
        ("", b"This field is required"),
        ("https://user:pw@example.org/x", b"Leave credentials out"),
    ],
)
def test_bad_addresses_get_an_inline_message(client_for, regulator, url, message):
    response = client_for(regulator).post(NEW, {"target_url": url})
    assert response.status_code == 200
    assert message in response.content
    assert WebhookSubscription.objects.count() == 0


def test_private_addresses_get_an_inline_message_in_production(client_for, regulator, settings):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": False}
    response = client_for(regulator).post(NEW, {"target_url": "http://10.0.0.5/hook"})
    assert response.status_code == 200
    assert b"private or reserved address" in response.content


def test_a_tampered_choice_is_an_inline_error(client_for, regulator):
    response = client_for(regulator).post(
        NEW, {"target_url": "http://127.0.0.1:9/h", "event_types": ["no.such"]}
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content


def test_it_shows_deliveries_with_a_fixed_number_of_queries(
    client_for, company_owner, company_webhook, django_assert_max_num_queries
):
    for n in range(60):
        WebhookDelivery.objects.create(
            subscription=company_webhook,
            event_type="policy_version.published",
            seq=n + 1,
            body="{}",
            status="failed" if n % 2 else "succeeded",
            status_code=500 if n % 2 else 200,
            error="The receiver answered 500." if n % 2 else "",
        )
    browser = client_for(company_owner)
    with django_assert_max_num_queries(12):
        response = browser.get(f"/webhooks/{company_webhook.pk}/")
    assert response.status_code == 200
    assert (
        response.content.count(b"The receiver answered 500.") == 25
    )  # the newest 50 shown, half failed


def test_a_ping_is_queued_and_redirects(
    client_for, company_owner, company_webhook, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(company_owner).post(f"/webhooks/{company_webhook.pk}/ping/")
    assert response.status_code == 302
    assert len(callbacks) == 1  # the delivery task is queued after the commit
    ping = WebhookDelivery.objects.get()
    assert ping.event_type == "ping"
    assert ping.status == "pending"


def test_ping_needs_post(client_for, company_owner, company_webhook):
    assert client_for(company_owner).get(f"/webhooks/{company_webhook.pk}/ping/").status_code == 405


def test_it_deletes_after_confirmation(client_for, company_editor, company_webhook):
    browser = client_for(company_editor)
    confirm = browser.get(f"/webhooks/{company_webhook.pk}/delete/")
    assert confirm.status_code == 200
    response = browser.post(f"/webhooks/{company_webhook.pk}/delete/")
    assert response.status_code == 302
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize("persona", ["citizen", "company_member", "outsider", "regulator"])
def test_others_get_404(request, client_for, company_webhook, persona):
    browser = client_for(request.getfixturevalue(persona))
    base = f"/webhooks/{company_webhook.pk}/"
    assert browser.get(base).status_code == 404
    assert browser.get(base + "delete/").status_code == 404
    assert browser.post(base + "delete/").status_code == 404
    assert browser.post(base + "ping/").status_code == 404
    assert WebhookSubscription.objects.filter(pk=company_webhook.pk).exists()
    assert b"127.0.0.1:9" not in browser.get(LIST).content


def test_a_huge_id_is_404(client_for, regulator):
    assert client_for(regulator).get("/webhooks/99999999999999999999999/").status_code == 404


def test_the_list_costs_a_fixed_number_of_queries(
    client_for, company_owner, company, django_assert_max_num_queries
):
    for n in range(15):
        webhook_subscription_create(
            actor=company_owner,
            target_url=f"http://127.0.0.1:9/{n}",
            organization=company if n % 2 else None,
            filter_organization=company,
        )
    with django_assert_max_num_queries(8):
        response = client_for(company_owner).get(LIST)
    assert response.status_code == 200
    assert response.content.count(b"http://127.0.0.1:9/") == 15


def test_the_ledger_names_a_subscription_without_its_address(client_for, company_webhook):
    response = client_for().get("/ledger/")
    assert f"Webhook subscription #{company_webhook.pk}".encode() in response.content
    assert b"127.0.0.1:9" not in response.content
