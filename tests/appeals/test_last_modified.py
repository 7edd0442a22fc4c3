"""Last-Modified on published decisions and recommendations: a decision is dated by its
making (and its recommendations'), a recommendation by its answers, its implementation and
the passing of its answer's due date (which turns `answer_overdue` true)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.http import http_date
from rest_framework.test import APIClient

from appeals import services
from appeals.models import Recommendation
from governance.api import conditional

pytestmark = pytest.mark.django_db


@pytest.fixture
def later(monkeypatch):
    """Answer as if `hours` had passed since the data was written."""

    def move(hours=1):
        moment = timezone.now() + timedelta(hours=hours)
        monkeypatch.setattr(conditional, "_now", lambda: moment)
        return moment

    return move


def stamp(moment) -> str:
    return http_date(math.floor(moment.timestamp()))


def test_a_decision_is_dated_by_its_recommendations_and_304_when_unchanged(
    recommendation_made, later
):
    later()
    decision = recommendation_made.decision
    url = f"/api/v1/appeal-decisions/{decision.pk}/"
    client = APIClient()
    first = client.get(url)
    assert first.status_code == 200
    assert first["Last-Modified"] == stamp(max(decision.decided_at, recommendation_made.created_at))
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304


def test_a_recommendation_is_dated_by_its_answer(recommendation_made, company_editor, later):
    later()
    url = f"/api/v1/recommendations/{recommendation_made.pk}/"
    client = APIClient()
    first = client.get(url)
    assert first["Last-Modified"] == stamp(recommendation_made.created_at)
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304

    answered = services.recommendation_answer(
        actor=company_editor,
        recommendation=recommendation_made,
        answer="already_done",
        text="Done in 1.1.0.",
    )
    answered.answered_at = answered.answered_at + timedelta(seconds=5)  # a later second, surely
    Recommendation.objects.filter(pk=answered.pk).update(answered_at=answered.answered_at)
    after = client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert after.status_code == 200
    assert after.json()["answer"] == "already_done"
    assert after["Last-Modified"] == stamp(answered.answered_at)


def test_an_answer_falling_due_changes_the_date(recommendation_made, later):
    url = f"/api/v1/recommendations/{recommendation_made.pk}/"
    now = timezone.now()
    rows = Recommendation.objects.filter(pk=recommendation_made.pk)
    # Made 29 days and 23 hours ago: the answer is due within the hour.
    rows.update(
        created_at=now - timedelta(days=30) + timedelta(hours=1),
        answer_due_at=now + timedelta(hours=1),
    )
    later()
    client = APIClient()
    before = client.get(url)
    assert before.json()["answer_overdue"] is False
    assert before["Last-Modified"] == stamp(rows.get().created_at)
    # The due date passes unanswered: `answer_overdue` flips, and the date says when.
    rows.update(answer_due_at=now - timedelta(minutes=1))
    after = client.get(url, HTTP_IF_MODIFIED_SINCE=before["Last-Modified"])
    assert after.status_code == 200
    assert after.json()["answer_overdue"] is True
    assert after["Last-Modified"] == stamp(now - timedelta(minutes=1))
