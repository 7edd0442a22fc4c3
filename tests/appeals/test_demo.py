"""The demo appeals behind `make run`: every state, overdue ones, a panel decision with a
dissent, an answered and implemented recommendation — and a second seed changes nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from appeals import workflow
from appeals.models import Appeal, Decision, Recommendation, TransparencyReport
from governance.management.commands.seed_demo import seed
from governance.models import LedgerEntry

pytestmark = pytest.mark.django_db


def test_the_demo_has_appeals_in_every_state_and_is_idempotent(client):
    seed()
    statuses = set(Appeal.objects.values_list("status", flat=True))
    assert statuses >= {
        "submitted",
        "acknowledged",
        "under_review",
        "needs_info",
        "decided",
        "escalated",
        "panel_review",
        "panel_decided",
        "closed",
        "rejected_out_of_scope",
        "withdrawn",
    }
    now = timezone.now()
    assert sum(workflow.is_overdue(a, now) for a in Appeal.objects.all()) >= 2
    panel = Decision.objects.get(by="panel")
    assert (panel.votes_for, panel.votes_against) == (2, 1)
    assert "dissent" in panel.dissent
    recommendation = Recommendation.objects.get(decision__isnull=False)
    assert recommendation.answer == "implementing_fully"
    assert recommendation.implemented_version.number == "2.0.0"
    # The published audit report's four findings made four; the embargoed report's none.
    from_findings = Recommendation.objects.filter(finding__isnull=False)
    assert {r.finding.report.status for r in from_findings} == {"published"}
    assert from_findings.count() == 4
    answered = from_findings.exclude(answer="").get()
    assert answered.answer == "already_done"
    assert answered.implemented_version.number == "2.0.0"
    assert TransparencyReport.objects.exists()
    ledger = LedgerEntry.objects.count()
    appeals = Appeal.objects.count()
    recommendations = Recommendation.objects.count()
    seed()
    assert LedgerEntry.objects.count() == ledger
    assert Appeal.objects.count() == appeals
    assert Recommendation.objects.count() == recommendations
    for path in (
        "/appeals/",
        "/appeals/decisions/",
        "/appeals/recommendations/",
        "/appeals/recommendations/?source=finding",
        f"/appeals/recommendations/{answered.pk}/",
        f"/audits/findings/{answered.finding_id}/",
        "/appeals/transparency/acme-ai/",
        "/appeals/workflow/",
    ):
        assert client.get(path).status_code == 200
    assert client.get(f"/appeals/decisions/{panel.pk}/").status_code == 200
