"""The regulators' pages in Chromium: the guide and the bulk data page for anyone, and a
regulator subscribing a webhook with JavaScript off, seeing the secret once, and sending a test
ping that a real local receiver gets — every page checked with axe-core."""

from __future__ import annotations

import pytest
from django.db import transaction

from governance.models import WebhookDelivery, WebhookSubscription
from governance.services.dumps import dump_write
from governance.services.ledger import ledger_append
from tests.api.test_webhooks import Receiver, docs_verify
from tests.e2e.test_accessibility import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_the_guide_and_the_data_page_are_readable(page, axe_check, company):
    with transaction.atomic():
        ledger_append(actor="system", action="organization.verified", subject=company)
    dump = dump_write()
    page.goto("/regulators/")
    assert page.locator("main h1").inner_text() == "For regulators"
    for section in ("Tokens", "The change feed", "Webhooks", "Bulk dumps", "Rate limits"):
        assert page.get_by_role("heading", name=section).count() == 1
    axe_check(page)
    page.get_by_role("link", name="Bulk data").first.click()
    page.wait_for_url("**/data/")
    ledger_file = next(f for f in dump.manifest["files"] if f["dataset"] == "ledger")
    assert page.get_by_text(ledger_file["sha256"]).count() == 1
    axe_check(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="ledger.jsonl.gz").click()
    assert download.value.suggested_filename == "ledger.jsonl.gz"


def test_a_regulator_subscribes_with_javascript_off_and_receives_a_ping(
    new_context, live_server, regulator, settings
):
    receiver = Receiver()
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the ping is sent by the live server's thread
    try:
        context = new_context(java_script_enabled=False)
        sign_in(context, regulator, live_server)
        page = context.new_page()
        page.goto("/webhooks/")
        page.get_by_role("link", name="Subscribe your first webhook").click()
        page.get_by_label("Delivery address").fill("ftp://example.org/hook")
        page.get_by_role("button", name="Subscribe").click()
        assert page.get_by_text("http:// or https:// addresses only").count() >= 1
        page.get_by_label("Delivery address").fill(receiver.url)
        page.get_by_label("policy_version.published —").check()
        page.get_by_role("button", name="Subscribe").click()
        subscription = WebhookSubscription.objects.get()
        secret = page.get_by_label("Signing secret").input_value()
        assert secret == subscription.secret
        page.get_by_role("button", name="Send a test ping").click()
        assert page.get_by_label("Signing secret").count() == 0  # shown once
        page.reload()
        assert page.get_by_text("Delivered").count() == 1
        assert WebhookDelivery.objects.get().status == "succeeded"
        [request] = receiver.requests
        assert docs_verify()(secret, request["headers"]["X-OpenRefusal-Signature"], request["body"])
    finally:
        receiver.close()


def test_the_webhook_pages_have_no_serious_accessibility_problems(
    new_context, live_server, axe_check, regulator
):
    from governance.services.webhooks import webhook_subscription_create

    subscription, _ = webhook_subscription_create(
        actor=regulator, target_url="http://127.0.0.1:9/hook"
    )
    WebhookDelivery.objects.create(
        subscription=subscription,
        event_type="ping",
        body="{}",
        status="failed",
        status_code=500,
        error="The receiver answered 500.",
        attempted_at=subscription.created_at,
    )
    context = new_context()  # axe-core runs as a script: JavaScript on here
    sign_in(context, regulator, live_server)
    page = context.new_page()
    for path in (
        "/webhooks/",
        "/webhooks/new/",
        f"/webhooks/{subscription.pk}/",
        f"/webhooks/{subscription.pk}/delete/",
    ):
        assert page.goto(path).status == 200
        axe_check(page)
    page.goto("/webhooks/new/")
    page.get_by_label("Delivery address").fill("ftp://example.org/hook")
    page.get_by_role("button", name="Subscribe").click()
    axe_check(page)  # the form showing its error
