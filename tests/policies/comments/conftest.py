"""Fixtures for public comment: an open period on Acme's published v1.0.0, made through the
services, and helpers to move a period's clock for boundary tests.

`open_period` opens now and closes in 30 days. `comment(author, body, **kw)` posts through
`comment_post`. `shift_period(period, opens_at=…, closes_at=…)` rewrites its times directly in
the database (the services refuse past dates; tests need them).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from policies.models import CommentPeriod
from policies.services import comments as comment_services


@pytest.fixture
def open_period(published_version, company_editor):
    now = timezone.now()
    return comment_services.comment_period_open(
        actor=company_editor,
        version=published_version,
        opens_at=now,
        closes_at=now + timedelta(days=30),
    )


@pytest.fixture
def shift_period():
    def shift(period: CommentPeriod, **times) -> CommentPeriod:
        CommentPeriod.objects.filter(pk=period.pk).update(**times)
        period.refresh_from_db()
        return period

    return shift


@pytest.fixture
def closed_period(open_period, shift_period):
    now = timezone.now()
    return shift_period(
        open_period, opens_at=now - timedelta(days=31), closes_at=now - timedelta(seconds=1)
    )


@pytest.fixture
def comment():
    """`comment(author, period, body, clause_key=None, parent=None, on_behalf_of=None)`."""

    def post(author, period, body="Please keep refusing bioweapon synthesis.", **kwargs):
        return comment_services.comment_post(author=author, period=period, body=body, **kwargs)

    return post
