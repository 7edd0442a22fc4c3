"""Webhooks: real deliveries to a local HTTP server, signatures and the replay window checked
with the snippet of docs/webhooks.md, retries with backoff, the retry budget, SSRF refusals,
and the API's permissions per role."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from governance.models import Organization, WebhookDelivery, WebhookSubscription
from governance.services import webhooks
from governance.services.organizations import organization_verify
from governance.services.tokens import api_token_create
from tests.factories import OrganizationFactory

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
LIST = "/api/v1/webhooks/"


def docs_verify():
    """The `verify` function exactly as docs/webhooks.md prints it."""
    text = DOCS.read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S)[1]
    namespace: dict = {}
    exec(compile(block, str(DOCS), "exec"), namespace)  # noqa: S102 — our own documentation
    return namespace["verify"]


class Receiver:
    """A real HTTP server on `address`:`port` (any free port by default) in a thread: answers
    each POST with the next status of `statuses` (the last one repeats), after `delay` seconds,
    and records what came. With `tls`, an `ssl.SSLContext`, it serves https."""

    def __init__(self, statuses=(200,), delay=0.0, *, address="127.0.0.1", port=0, tls=None):
        self.statuses = list(statuses)
        self.delay = delay
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                time.sleep(receiver.delay)
                status = (
                    receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                )
                try:
                    self.send_response(status)
                    if status == 204:  # no content: no body
                        self.end_headers()
                        return
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(f"answered {status}".encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((address, port), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{address}:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(**kwargs):
        r = Receiver(**kwargs)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def eager_celery(settings):
    """Tasks run in this process as they are queued (countdowns are not waited for): the
    fan-out and every attempt, retries included, happen inside the test. (Celery reads its
    configuration from the Django settings, so the `settings` fixture restores it.)"""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def fresh_org(db):
    return OrganizationFactory(
        name="Fresh Labs", slug="fresh-labs", kind=Organization.Kind.DEVELOPER
    )


def token_client(user, scopes=("write:webhooks",)):
    _, raw = api_token_create(user=user, name=f"t{time.monotonic_ns()}", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def subscribe(user, url, **fields):
    subscription, secret = webhooks.webhook_subscription_create(
        actor=user, target_url=url, **fields
    )
    return subscription, secret


def change(staff, org, capture):
    """A real public change: staff verify an organization (organization.verified)."""
    with capture(execute=True):
        organization_verify(actor=staff, organization=org)


# --- Real deliveries -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_delivers_a_real_change_signed_and_the_docs_snippet_verifies_it(
    regulator, staff, fresh_org, receiver, eager_celery, django_capture_on_commit_callbacks
):
    server = receiver()
    response = token_client(regulator).post(
        LIST,
        {"target_url": server.url, "event_types": ["organization.verified"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    secret = response.json()["secret"]
    assert secret.startswith("whsec_")

    change(staff, fresh_org, django_capture_on_commit_callbacks)

    assert len(server.requests) == 1
    request = server.requests[0]
    headers, body = request["headers"], request["body"]
    assert headers["X-OpenRefusal-Event"] == "organization.verified"
    document = json.loads(body)
    assert document["event"] == "organization.verified"
    assert document["change"]["subject"] == f"organization:{fresh_org.pk}"
    assert document["change"]["links"]["api"].endswith("/api/v1/organizations/fresh-labs/")
    verify = docs_verify()
    header = headers["X-OpenRefusal-Signature"]
    timestamp = int(header.split(",")[0].removeprefix("t="))
    assert verify(secret, header, body)
    # The replay window: the same delivery five minutes and a second later is refused...
    assert not verify(secret, header, body, now=timestamp + 301)
    assert verify(secret, header, body, now=timestamp + 299)
    # ...and so are another body, another secret and a mangled header.
    assert not verify(secret, header, body + b" ")
    assert not verify("whsec_other", header, body)
    assert not verify(secret, "v1=abc", body)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.status_code == 200
    assert delivery.response_excerpt == "answered 200"
    assert delivery.attempt == 1
    assert delivery.duration_ms is not None
    assert delivery.body.encode() == body
    listed = token_client(regulator).get(response.json()["deliveries_url"])
    assert listed.status_code == 200
    assert [d["status"] for d in listed.json()["results"]] == ["succeeded"]


@pytest.mark.django_db
def test_a_failure_is_retried_with_backoff_until_it_succeeds(
    regulator,
    staff,
    fresh_org,
    receiver,
    eager_celery,
    django_capture_on_commit_callbacks,
    settings,
):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "WEBHOOK_RETRY_BASE_SECONDS": 30}
    server = receiver(statuses=[500, 503, 200])
    subscription, secret = subscribe(regulator, server.url)
    before = timezone.now()

    change(staff, fresh_org, django_capture_on_commit_callbacks)

    attempts = list(WebhookDelivery.objects.order_by("attempt"))
    assert [(d.attempt, d.status, d.status_code) for d in attempts] == [
        (1, "failed", 500),
        (2, "failed", 503),
        (3, "succeeded", 200),
    ]
    assert attempts[0].error == "The receiver answered 500."
    # Exponential backoff: 30 s after the first failure, 60 s after the second.
    waits = [(d.next_retry_at - d.attempted_at).total_seconds() for d in attempts[:2]]
    assert [round(w) for w in waits] == [30, 60]
    assert attempts[2].next_retry_at is None
    assert attempts[1].due_at >= before
    # Every attempt carried the same body, each signed afresh.
    assert len({r["body"] for r in server.requests}) == 1
    assert len(server.requests) == 3
    verify = docs_verify()
    assert all(
        verify(secret, r["headers"]["X-OpenRefusal-Signature"], r["body"]) for r in server.requests
    )
    subscription.refresh_from_db()
    assert subscription.last_success_at is not None
    assert subscription.failing_since is None


@pytest.mark.django_db
def test_deliveries_stop_after_the_retry_budget_and_the_webhook_is_marked_failing(
    regulator,
    staff,
    fresh_org,
    receiver,
    eager_celery,
    django_capture_on_commit_callbacks,
    settings,
):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "WEBHOOK_MAX_ATTEMPTS": 3}
    server = receiver(statuses=[500])
    subscription, _ = subscribe(regulator, server.url)

    change(staff, fresh_org, django_capture_on_commit_callbacks)

    assert len(server.requests) == 3
    attempts = list(WebhookDelivery.objects.order_by("attempt"))
    assert [d.status for d in attempts] == ["failed"] * 3
    assert attempts[-1].next_retry_at is None
    subscription.refresh_from_db()
    assert subscription.failing_since is not None
    shown = token_client(regulator).get(f"{LIST}{subscription.pk}/").json()
    assert shown["status"] == "failing"


@pytest.mark.django_db
def test_a_receiver_that_does_not_answer_in_time_is_an_error_not_a_hang(
    regulator,
    staff,
    fresh_org,
    receiver,
    eager_celery,
    django_capture_on_commit_callbacks,
    settings,
):
    settings.OPENREFUSAL = {
        **settings.OPENREFUSAL,
        "WEBHOOK_TIMEOUT_SECONDS": 0.3,
        "WEBHOOK_MAX_ATTEMPTS": 1,
    }
    server = receiver(delay=1.0)
    subscribe(regulator, server.url)
    change(staff, fresh_org, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.status_code is None
    assert "No answer within 0.3 seconds" in delivery.error


@pytest.mark.django_db
def test_a_refused_connection_is_recorded(
    regulator, staff, fresh_org, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "WEBHOOK_MAX_ATTEMPTS": 1}
    closed = Receiver()
    url = closed.url
    closed.close()
    subscribe(regulator, url)
    change(staff, fresh_org, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.error.startswith("Could not connect")


@pytest.mark.django_db
def test_filters_and_event_types_choose_what_is_sent(
    regulator, staff, fresh_org, company, receiver, eager_celery, django_capture_on_commit_callbacks
):
    server = receiver()
    subscribe(regulator, server.url, filter_organization=company)  # not fresh_org
    subscribe(regulator, server.url, event_types=["organization.created"])  # not verified
    about_it, _ = subscribe(regulator, server.url, filter_organization=fresh_org)
    paused, _ = subscribe(regulator, server.url)
    WebhookSubscription.objects.filter(pk=paused.pk).update(active=False)

    change(staff, fresh_org, django_capture_on_commit_callbacks)

    assert list(WebhookDelivery.objects.values_list("subscription_id", flat=True)) == [about_it.pk]
    assert len(server.requests) == 1


@pytest.mark.django_db
def test_a_change_that_is_not_an_event_type_sends_nothing(
    regulator, citizen, receiver, eager_celery, django_capture_on_commit_callbacks
):
    from governance.services.accounts import user_profile_update

    server = receiver()
    subscribe(regulator, server.url)
    with django_capture_on_commit_callbacks(execute=True):
        user_profile_update(user=citizen, display_name="Ada L.")
    assert WebhookDelivery.objects.count() == 0
    assert server.requests == []


@pytest.mark.django_db
def test_fan_out_twice_delivers_once(
    regulator, staff, fresh_org, receiver, eager_celery, django_capture_on_commit_callbacks
):
    server = receiver()
    subscribe(regulator, server.url)
    change(staff, fresh_org, django_capture_on_commit_callbacks)
    seq = WebhookDelivery.objects.get().seq
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.webhooks_fan_out(seq=seq) == []
    assert len(server.requests) == 1


@pytest.mark.django_db
def test_a_ping_is_delivered_and_signed(
    regulator, receiver, eager_celery, django_capture_on_commit_callbacks
):
    server = receiver()
    subscription, secret = subscribe(regulator, server.url)
    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(regulator).post(f"{LIST}{subscription.pk}/ping/")
    assert response.status_code == 202
    assert len(server.requests) == 1
    request = server.requests[0]
    assert json.loads(request["body"])["event"] == "ping"
    assert docs_verify()(secret, request["headers"]["X-OpenRefusal-Signature"], request["body"])


@pytest.mark.django_db
def test_the_sweep_requeues_attempts_whose_task_was_lost(regulator, receiver, eager_celery):
    server = receiver()
    subscription, _ = subscribe(regulator, server.url)
    lost = WebhookDelivery.objects.create(
        subscription=subscription,
        event_type="ping",
        body="{}",
        due_at=timezone.now() - timezone.timedelta(minutes=10),
    )
    assert webhooks.webhook_deliveries_due() == 1
    lost.refresh_from_db()
    assert lost.status == "succeeded"
    assert webhooks.webhook_deliveries_due() == 0


# --- Where deliveries may go ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/hook",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://",
        "https://user:pw@example.org/hook",
        "not a url",
        "",
        "https://example.org/" + "a" * 600,
        "http://[::1",
    ],
)
def test_it_refuses_addresses_that_are_not_http_urls(regulator, url):
    response = token_client(regulator).post(LIST, {"target_url": url}, format="json")
    assert response.status_code == 400
    assert "target_url" in response.json()["error"]["fields"]
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_in_production_it_refuses_private_and_loopback_addresses(regulator, settings, url):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": False}
    response = token_client(regulator).post(LIST, {"target_url": url}, format="json")
    assert response.status_code == 400, response.content
    assert "private or reserved" in response.json()["error"]["fields"]["target_url"][0]


@pytest.mark.django_db
def test_it_refuses_the_platform_itself(regulator, settings):
    settings.SITE_URL = "https://openrefusal.example"
    response = token_client(regulator).post(
        LIST, {"target_url": "https://openrefusal.example/api/v1/"}, format="json"
    )
    assert response.status_code == 400
    assert "this platform itself" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_an_address_is_checked_again_before_each_attempt(
    regulator,
    staff,
    fresh_org,
    receiver,
    eager_celery,
    django_capture_on_commit_callbacks,
    settings,
):
    server = receiver()
    subscribe(regulator, server.url)  # allowed while private addresses are
    settings.OPENREFUSAL = {
        **settings.OPENREFUSAL,
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": False,
        "WEBHOOK_MAX_ATTEMPTS": 1,
    }
    change(staff, fresh_org, django_capture_on_commit_callbacks)
    assert server.requests == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert "private or reserved" in delivery.error


# --- The API: who sees and does what -------------------------------------------------------------


@pytest.mark.django_db
def test_the_secret_is_shown_once(regulator):
    client = token_client(regulator)
    created = client.post(
        LIST, {"target_url": "http://127.0.0.1:9/h"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    pk = created.json()["id"]
    assert "secret" not in client.get(f"{LIST}{pk}/").json()
    assert "secret" not in client.get(LIST).json()["results"][0]
    replay = client.post(
        LIST, {"target_url": "http://127.0.0.1:9/h"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["secret"] is None
    assert WebhookSubscription.objects.count() == 1


@pytest.mark.django_db
def test_anonymous_requests_are_refused(db):
    assert APIClient().get(LIST).status_code in (401, 403)
    assert APIClient().post(
        LIST, {"target_url": "http://127.0.0.1/h"}, format="json"
    ).status_code in (401, 403)


@pytest.mark.django_db
def test_a_token_needs_the_webhooks_scope(regulator):
    client = token_client(regulator, scopes=["read:public"])
    assert client.get(LIST).status_code == 403
    assert client.post(LIST, {"target_url": "http://127.0.0.1/h"}, format="json").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    "persona", ["citizen", "outsider", "auditor", "company_editor", "panelist", "moderator"]
)
def test_others_never_see_or_touch_a_webhook(request, regulator, persona):
    subscription, _ = subscribe(regulator, "http://127.0.0.1:9/h")
    other = token_client(request.getfixturevalue(persona))
    assert other.get(LIST).json()["results"] == []
    assert other.get(f"{LIST}{subscription.pk}/").status_code == 404
    assert other.get(f"{LIST}{subscription.pk}/deliveries/").status_code == 404
    assert other.post(f"{LIST}{subscription.pk}/ping/").status_code == 404
    assert other.delete(f"{LIST}{subscription.pk}/").status_code == 404
    assert WebhookSubscription.objects.filter(pk=subscription.pk).exists()


@pytest.mark.django_db
def test_a_webhook_held_for_an_organization_is_managed_by_its_editors(
    company_owner, company_editor, company_member, company
):
    client = token_client(company_owner)
    created = client.post(
        LIST, {"target_url": "http://127.0.0.1:9/h", "organization": "acme-ai"}, format="json"
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert token_client(company_member).get(f"{LIST}{pk}/").status_code == 404
    editor = token_client(company_editor)
    assert editor.get(f"{LIST}{pk}/").status_code == 200
    assert editor.delete(f"{LIST}{pk}/").status_code == 204


@pytest.mark.django_db
def test_only_its_owners_and_editors_hold_one_for_an_organization(citizen, company):
    response = token_client(citizen).post(
        LIST, {"target_url": "http://127.0.0.1:9/h", "organization": "acme-ai"}, format="json"
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_bad_fields_answer_400_with_field_errors(regulator):
    client = token_client(regulator)
    for body, field in [
        ({"target_url": "http://127.0.0.1/h", "event_types": ["no.such"]}, "event_types"),
        (
            {"target_url": "http://127.0.0.1/h", "event_types": "organization.created"},
            "event_types",
        ),
        ({"target_url": "http://127.0.0.1/h", "filter_policy": 999999}, "filter_policy"),
        (
            {"target_url": "http://127.0.0.1/h", "filter_organization": "nobody"},
            "filter_organization",
        ),
        ({"target_url": "http://127.0.0.1/h", "description": "x" * 201}, "description"),
        ({"target_url": ["http://127.0.0.1/h"]}, "target_url"),
    ]:
        response = client.post(LIST, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["error"]["fields"], (body, response.json())


@pytest.mark.django_db
def test_an_unverified_account_cannot_subscribe(db):
    from tests.factories import UserFactory

    user = UserFactory(verified=False)
    response = token_client(user).post(LIST, {"target_url": "http://127.0.0.1:9/h"}, format="json")
    assert response.status_code == 403


@pytest.mark.django_db
def test_the_number_of_webhooks_is_limited(regulator, settings):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "WEBHOOK_MAX_PER_OWNER": 2}
    client = token_client(regulator)
    codes = [
        client.post(LIST, {"target_url": f"http://127.0.0.1:9/{i}"}, format="json").status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 409]


@pytest.mark.django_db
def test_the_deliveries_list_costs_a_fixed_number_of_queries(
    regulator, django_assert_max_num_queries
):
    subscription, _ = subscribe(regulator, "http://127.0.0.1:9/h")
    for n in range(30):
        WebhookDelivery.objects.create(
            subscription=subscription, event_type="ping", body="{}", attempt=1 + n % 3
        )
    client = token_client(regulator)
    with django_assert_max_num_queries(8):
        assert client.get(f"{LIST}{subscription.pk}/deliveries/").status_code == 200
