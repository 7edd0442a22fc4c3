"""Transparency figures against hand-computed numbers on a seeded quarter (2026 Q3).

A: over-refusal, acknowledged after 2 days, upheld after 10; escalated; the panel overturned
   (15 Sep) and Acme implemented (20 Sep).
B: over-refusal, acknowledged after 10 days (late: due 17 Jul), 5 days waiting for the filer,
   overturned after 40 days (35 without the pause; late: due 14 Aug once moved by the pause).
C: over-refusal, rejected as manifestly unfounded the next day.
D: under-refusal, no clause named, never acknowledged (due 8 Sep: a breach).
E: filed in Q2 (25 Jun), acknowledged 1 Jul (6 days), withdrawn 2 Jul.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from appeals import services
from appeals.models import Appeal, AppealEvent, Decision
from appeals.selectors import quarter_of, transparency_figures
from governance.errors import Conflict
from tests.appeals.conftest import DECISION

pytestmark = pytest.mark.django_db


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC)


def _set(appeal, **fields):
    Appeal.objects.filter(pk=appeal.pk).update(**fields)


def _dates(appeal, submitted, **fields):
    _set(
        appeal,
        submitted_at=submitted,
        ack_due_at=submitted + timedelta(days=7),
        decision_due_at=submitted + timedelta(days=30),
        **fields,
    )


@pytest.fixture
def quarter(file_appeal, advance, company_editor, citizen, panelists):
    a = advance(file_appeal(), "implemented")
    _dates(
        a,
        at(7, 1),
        acknowledged_at=at(7, 3),
        decided_at=at(7, 11),
        escalated_at=at(7, 15),
        panel_due_at=at(10, 13),
        panel_decided_at=at(9, 15),
        implement_due_at=at(10, 15),
    )
    Decision.objects.filter(appeal=a, by="company").update(decided_at=at(7, 11))
    Decision.objects.filter(appeal=a, by="panel").update(decided_at=at(9, 15))
    AppealEvent.objects.filter(appeal=a, action="implement").update(at=at(9, 20))

    b = advance(file_appeal(), "under_review")
    services.appeal_request_info(actor=company_editor, appeal=b, question="When?")
    services.appeal_provide_info(actor=citizen, appeal=b, answer="Then.")
    services.appeal_decide(actor=company_editor, appeal=b, outcome="overturned", **DECISION)
    _dates(b, at(7, 10), acknowledged_at=at(7, 20), decided_at=at(8, 19), paused_seconds=5 * 86400)
    _set(b, decision_due_at=at(7, 10) + timedelta(days=35))
    Decision.objects.filter(appeal=b).update(decided_at=at(8, 19))

    c = file_appeal()
    services.appeal_reject_out_of_scope(
        actor=company_editor, appeal=c, reason="manifestly_unfounded", note="Not an AI output."
    )
    _dates(c, at(8, 1), closed_at=at(8, 2))

    d = file_appeal(kind="under_refusal", clause_key=None)
    _dates(d, at(9, 1))

    e = advance(file_appeal(), "acknowledged")
    services.appeal_withdraw(actor=citizen, appeal=e)
    _dates(e, at(6, 25), acknowledged_at=at(7, 1), closed_at=at(7, 2))
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def test_the_quarter_matches_the_hand_computed_figures(quarter, company):
    f = transparency_figures(organization=company, year=2026, quarter=3, now=at(11, 1))
    assert f["received"] == {
        "total": 4,
        "by_kind": {"over_refusal": 3, "under_refusal": 1, "other": 0},
        "by_clause": {"harmless.cooking": 3, "unknown": 1},
    }
    assert f["days_to_acknowledge"] == {"n": 3, "median": 6.0, "p90": 10.0}
    assert f["days_to_decide"] == {"n": 2, "median": 22.5, "p90": 35.0}
    assert f["decisions"]["company"] == {"upheld": 1, "overturned": 1, "partly_overturned": 0}
    assert f["decisions"]["panel"] == {"upheld": 0, "overturned": 1, "partly_overturned": 0}
    assert f["overturn_rate_company"] == 0.5
    assert f["overturn_rate_panel"] == 1.0
    assert f["panel_implemented"] == {"needing": 1, "implemented": 1, "share": 1.0}
    assert f["deadline_breaches"] == {"ack": 2, "decision": 1, "panel": 0, "implement": 0}
    assert f["rejections"] == {"late": 0, "duplicate": 0, "manifestly_unfounded": 1}


def test_other_quarters_and_companies_count_nothing_of_it(quarter, company, other_company):
    q2 = transparency_figures(organization=company, year=2026, quarter=2, now=at(11, 1))
    assert q2["received"]["total"] == 1  # E
    assert q2["days_to_acknowledge"]["n"] == 0
    other = transparency_figures(organization=other_company, year=2026, quarter=3, now=at(11, 1))
    assert other["received"]["total"] == 0
    assert other["overturn_rate_company"] is None


def test_a_compiled_report_is_frozen_and_on_the_ledger(quarter, company):
    from governance.models import LedgerEntry

    report = services.transparency_report_compile(organization=company, year=2026, quarter=3)
    assert report.figures["received"]["total"] == 4
    assert LedgerEntry.objects.filter(action="transparency_report.compiled").count() == 1
    Appeal.objects.filter(pk=quarter["d"].pk).delete()
    again = services.transparency_report_compile(organization=company, year=2026, quarter=3)
    assert again.pk == report.pk
    assert again.figures["received"]["total"] == 4
    with pytest.raises(Conflict):
        services.transparency_report_compile(organization=company, year=2100, quarter=1)


def test_the_quarterly_task_freezes_the_ended_quarter_for_every_company_once(
    quarter, company, other_company
):
    from appeals import tasks
    from appeals.models import TransparencyReport
    from governance.models import LedgerEntry, Organization

    # A company created after the quarter ended gets no report for it.
    late = Organization.objects.create(
        name="Late AI", slug="late-ai", kind=Organization.Kind.DEVELOPER
    )
    Organization.objects.filter(pk__in=[company.pk, other_company.pk]).update(created_at=at(6, 1))
    # During Q3 the last ended quarter is Q2 (appeal E was filed in it).
    result = services.transparency_reports_compile_due(now=at(9, 30))
    assert result == {"year": 2026, "quarter": 2, "compiled": 2}
    assert (
        TransparencyReport.objects.get(organization=company, quarter=2).figures["received"]["total"]
        == 1
    )
    result = services.transparency_reports_compile_due(now=at(10, 1) + timedelta(minutes=20))
    assert result == {"year": 2026, "quarter": 3, "compiled": 2}
    reports = {r.organization_id: r for r in TransparencyReport.objects.filter(quarter=3)}
    assert set(reports) == {company.pk, other_company.pk}
    assert late.pk not in reports
    assert reports[company.pk].figures["received"]["total"] == 4
    assert reports[other_company.pk].figures["received"]["total"] == 0
    assert (reports[company.pk].year, reports[company.pk].quarter) == (2026, 3)
    # Idempotent: the daily run again (and through the Celery task) compiles nothing more.
    ledger = LedgerEntry.objects.filter(action="transparency_report.compiled").count()
    assert ledger == 4
    assert services.transparency_reports_compile_due(now=at(10, 2))["compiled"] == 0
    assert TransparencyReport.objects.filter(year=2026, quarter=3).count() == 2
    # The beat's task runs the same pass for the quarter before today's.
    result = tasks.transparency_reports_compile_due.apply().get()
    year, q = quarter_of(timezone.now())
    assert (result["year"], result["quarter"]) == ((year - 1, 4) if q == 1 else (year, q - 1))
    assert services.transparency_reports_compile_due()["compiled"] == 0


def test_the_quarterly_task_in_january_freezes_the_previous_years_fourth_quarter(company):
    from appeals.models import TransparencyReport
    from governance.models import Organization

    Organization.objects.filter(pk=company.pk).update(created_at=at(6, 1))
    result = services.transparency_reports_compile_due(now=datetime(2027, 1, 3, tzinfo=UTC))
    assert (result["year"], result["quarter"]) == (2026, 4)
    assert TransparencyReport.objects.filter(organization=company, year=2026, quarter=4).exists()


def test_the_quarterly_compile_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["transparency-reports-compile"]
    assert entry["task"] == "appeals.tasks.transparency_reports_compile_due"
