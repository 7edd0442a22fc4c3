"""Appeals' webhook events: real, signed deliveries to a local HTTP server when a decision is
published, a recommendation is made and answered, and a transparency report is compiled —
sent once the change commits, and never for a change that rolls back."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from appeals import services
from appeals.public_data import EVENT_TYPES
from governance.models import WebhookDelivery
from governance.public_data import EVENT_TYPES as ALL_EVENT_TYPES
from governance.services import webhooks
from tests.api.test_webhooks import DOCS, docs_verify, eager_celery, receiver  # noqa: F401
from tests.appeals.conftest import DECISION

pytestmark = pytest.mark.django_db

EVENTS = [
    "appeal_decision.published",
    "recommendation.created",
    "recommendation.answered",
    "transparency_report.compiled",
]


def test_the_appeals_event_types_are_registered_and_documented():
    assert set(EVENTS) <= set(EVENT_TYPES) <= set(ALL_EVENT_TYPES)
    text = DOCS.read_text()
    for name in EVENT_TYPES:
        assert f"| `{name}` |" in text, name


def test_decisions_recommendations_and_reports_are_delivered_signed(
    regulator,
    appeal,
    advance,
    panelists,
    company,
    company_editor,
    receiver,  # noqa: F811
    eager_celery,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    server = receiver()
    with django_capture_on_commit_callbacks(execute=True):  # the "anyone subscribes?" cache
        subscription, secret = webhooks.webhook_subscription_create(
            actor=regulator, target_url=server.url, event_types=EVENTS
        )
    with django_capture_on_commit_callbacks(execute=True):
        appeal = advance(appeal, "panel_review", outcome="upheld")
        for person in panelists:
            services.appeal_panel_vote(actor=person, appeal=appeal, outcome="overturned")
    first = appeal.decisions.get()
    with django_capture_on_commit_callbacks(execute=True):
        panel = services.appeal_panel_decide(
            actor=panelists[0],
            appeal=appeal,
            recommendations=[
                {
                    "text": "Say knives are cooking.",
                    "priority": "high",
                    "target_date": date.today() + timedelta(days=60),
                }
            ],
            **DECISION,
        )
    recommendation = panel.recommendations.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.recommendation_answer(
            actor=company_editor,
            recommendation=recommendation,
            answer="assessing_feasibility",
            text="We are looking at it.",
        )
    with django_capture_on_commit_callbacks(execute=True):
        report = services.transparency_report_compile(
            organization=company, year=timezone.now().year - 1, quarter=4
        )

    received = [
        (r["headers"]["X-OpenRefusal-Event"], json.loads(r["body"])) for r in server.requests
    ]
    assert [event for event, _ in received] == [
        "appeal_decision.published",
        "appeal_decision.published",
        "recommendation.created",
        "recommendation.answered",
        "transparency_report.compiled",
    ]
    verify = docs_verify()
    for request in server.requests:
        assert verify(secret, request["headers"]["X-OpenRefusal-Signature"], request["body"])
    subjects = [document["change"]["subject"] for _, document in received]
    assert subjects == [
        f"decision:{first.pk}",
        f"decision:{panel.pk}",
        f"recommendation:{recommendation.pk}",
        f"recommendation:{recommendation.pk}",
        f"transparencyreport:{report.pk}",
    ]
    decision_change = received[1][1]["change"]
    assert decision_change["links"]["api"].endswith(f"/api/v1/appeal-decisions/{panel.pk}/")
    assert decision_change["payload"]["outcome"] == "overturned"
    assert decision_change["organization"] == company.slug
    assert received[3][1]["change"]["payload"]["answer"] == "assessing_feasibility"
    # Nothing of the filer travels: not their name, nor their address, nor the transcript.
    bodies = b"".join(r["body"] for r in server.requests).decode()
    for needle in (appeal.filer.email, appeal.filer.display_name, "nurse.jo@example.com"):
        assert needle not in bodies
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert WebhookDelivery.objects.filter(subscription=subscription).count() == 5


def test_a_filter_on_another_company_receives_nothing(
    regulator,
    other_company,
    appeal,
    advance,
    receiver,  # noqa: F811
    eager_celery,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    server, control = receiver(), receiver()
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_subscription_create(
            actor=regulator,
            target_url=server.url,
            event_types=["appeal_decision.published"],
            filter_organization=other_company,
        )
        webhooks.webhook_subscription_create(
            actor=regulator,
            target_url=control.url,
            event_types=["appeal_decision.published"],
            filter_organization=appeal.organization,
        )
    with django_capture_on_commit_callbacks(execute=True):
        advance(appeal, "decided")
    assert server.requests == []
    assert [r["headers"]["X-OpenRefusal-Event"] for r in control.requests] == [
        "appeal_decision.published"
    ]


def test_a_decision_that_rolls_back_sends_nothing(
    regulator,
    appeal,
    advance,
    company_editor,
    receiver,  # noqa: F811
    eager_celery,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    server = receiver()
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_subscription_create(
            actor=regulator, target_url=server.url, event_types=["appeal_decision.published"]
        )
    appeal = advance(appeal, "under_review")

    def decide_then_fail():
        with transaction.atomic():
            services.appeal_decide(
                actor=company_editor, appeal=appeal, outcome="upheld", **DECISION
            )
            raise RuntimeError("something after the decision failed")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        decide_then_fail()
    assert not appeal.decisions.exists()
    assert server.requests == []
    assert WebhookDelivery.objects.count() == 0
    # The same decision, committed, is sent.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.appeal_decide(actor=company_editor, appeal=appeal, outcome="upheld", **DECISION)
    assert len(server.requests) == 1
