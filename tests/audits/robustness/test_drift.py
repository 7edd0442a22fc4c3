"""Drift alerts: a significant fall in refusal on a `refuse` clause (or rise on a `comply` one)
between two versions of a system opens a public alert, on the ledger, e-mailed to followers;
the company annotates it; bad input changes nothing."""

from __future__ import annotations

import pytest
from django.core import mail

from audits import drift_services as drift
from audits.models import DriftAlert
from governance.errors import Invalid, NotAllowed
from governance.models import LedgerEntry
from policies import services as policy_services
from tests.audits.robustness.conftest import BIO, COOKING, rows_of

pytestmark = pytest.mark.django_db


def bio(refused, complied, prefix):
    return rows_of(
        [
            ("bio", "direct", "refusal", refused, True),
            ("bio", "direct", "compliance", complied, True),
        ],
        prefix=prefix,
    )


def test_a_significant_fall_opens_an_alert_on_the_ledger_and_mails_followers(
    ingest, mapped, citizen, policy, published_version, django_capture_on_commit_callbacks
):
    mapped("bio", BIO)
    policy_services.policy_follow(user=citizen, policy=policy)
    earlier = ingest(bio(48, 2, "a"), version="v1", days_ago=30)
    assert DriftAlert.objects.count() == 0
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        later = ingest(bio(30, 20, "b"), version="v2")

    alert = DriftAlert.objects.get()
    assert (alert.earlier_run, alert.later_run, alert.clause_key) == (earlier, later, BIO)
    assert (alert.earlier_refused, alert.earlier_n, alert.later_refused, alert.later_n) == (
        48, 50, 30, 50,
    )  # fmt: skip
    assert alert.direction == "fall"
    assert alert.change == pytest.approx(-0.36)
    assert alert.interval_low < alert.change < alert.interval_high < 0
    assert alert.p_value < 0.05
    assert alert.test in ("z", "fisher")
    assert alert.status == "open"
    assert alert.version == published_version
    entry = LedgerEntry.objects.get(action="drift_alert.opened")
    assert entry.payload["change"] == "-0.3600"
    assert [m.to for m in mail.outbox] == [[citizen.email]]
    assert BIO in mail.outbox[0].subject

    # Detecting again opens nothing new.
    assert drift.drift_detect(run=later) == []
    assert DriftAlert.objects.count() == 1


def test_no_alert_for_a_move_in_the_expected_direction_or_within_noise(ingest, mapped):
    mapped("bio", BIO)
    mapped("cooking", COOKING)
    ingest(bio(30, 20, "a") + rows_of([("cooking", "direct", "compliance", 40, False)], prefix="a"),
           version="v1", days_ago=10)  # fmt: skip
    ingest(
        bio(49, 1, "b")  # refusal rose on a refuse clause: fine
        + rows_of(
            [
                ("cooking", "direct", "compliance", 39, False),
                ("cooking", "direct", "refusal", 1, False),
            ],
            prefix="b",
        ),  # one refusal more on a comply clause: noise
        version="v2",
    )
    assert DriftAlert.objects.count() == 0


def test_a_rise_in_refusal_on_a_comply_clause_opens_an_alert(ingest, mapped):
    mapped("cooking", COOKING)
    ingest(rows_of([("cooking", "direct", "compliance", 40, False)], prefix="a"), version="v1",
           days_ago=5)  # fmt: skip
    ingest(
        rows_of(
            [
                ("cooking", "direct", "compliance", 20, False),
                ("cooking", "direct", "refusal", 20, False),
            ],
            prefix="b",
        ),
        version="v2",
    )
    alert = DriftAlert.objects.get()
    assert (alert.clause_key, alert.direction) == (COOKING, "rise")


def test_only_runs_of_the_same_benchmark_are_compared(ingest, mapped):
    mapped("bio", BIO)
    mapped("bio", BIO, benchmark="other")
    earlier = ingest(bio(48, 2, "a"), version="v1", days_ago=3)
    later = ingest(bio(10, 40, "b"), version="v2", benchmark="other")
    assert DriftAlert.objects.count() == 0
    with pytest.raises(Invalid) as error:
        drift.drift_detect(run=later, earlier=earlier)
    assert error.value.code == "different_benchmarks"
    assert DriftAlert.objects.count() == 0


@pytest.fixture
def alert(ingest, mapped):
    mapped("bio", BIO)
    ingest(bio(48, 2, "a"), version="v1", days_ago=30)
    ingest(bio(30, 20, "b"), version="v2")
    return DriftAlert.objects.get()


def test_the_company_annotates_and_a_linked_policy_change_closes_it(
    alert, company_editor, published_version
):
    annotated = drift.drift_annotate(actor=company_editor, alert=alert, note="Looking into it.")
    assert annotated.status == "annotated"  # no policy change linked: still unexplained
    closed = drift.drift_annotate(
        actor=company_editor,
        alert=alert,
        note="Intended: see v1.0.0.",
        version=published_version,
        clause_key=BIO,
    )
    assert (closed.status, closed.annotation_version, closed.annotation_clause_key) == (
        "closed", published_version, BIO,
    )  # fmt: skip
    assert LedgerEntry.objects.filter(action="drift_alert.annotated").count() == 2


@pytest.mark.parametrize(
    "persona", ["citizen", "outsider", "auditor", "regulator", "moderator", "panelist"]
)
def test_no_one_outside_the_company_annotates(request, alert, persona):
    with pytest.raises(NotAllowed):
        drift.drift_annotate(actor=request.getfixturevalue(persona), alert=alert, note="mine")
    alert.refresh_from_db()
    assert alert.status == "open"
    assert alert.annotation == ""


@pytest.mark.parametrize(
    ("note", "clause", "field"),
    [("", "", "note"), ("x" * 5001, "", "note"), ("ok", "no.such.clause", "clause_key")],
)
def test_bad_annotations_change_nothing(
    alert, company_editor, published_version, note, clause, field
):
    with pytest.raises(Invalid) as error:
        drift.drift_annotate(
            actor=company_editor,
            alert=alert,
            note=note,
            version=published_version,
            clause_key=clause,
        )
    assert field in error.value.fields
    alert.refresh_from_db()
    assert alert.status == "open"
    assert alert.annotation == ""
