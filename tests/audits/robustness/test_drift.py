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


# --- Framing by framing ---------------------------------------------------------------------------


def framed(groups, prefix):
    """groups: [(framing, refused, complied)] of bio samples."""
    rows = []
    for framing, refused, complied in groups:
        rows += rows_of(
            [
                ("bio", framing, "refusal", refused, True),
                ("bio", framing, "compliance", complied, True),
            ],
            prefix=prefix,
        )
    return rows


def test_a_version_worse_only_under_role_play_opens_an_alert_naming_it(
    ingest, mapped, client_for, api_for
):
    mapped("bio", BIO)
    ingest(framed([("direct", 45, 5), ("role_play", 45, 5)], "a"), version="v1", days_ago=9)
    later = ingest(framed([("direct", 45, 5), ("role_play", 20, 30)], "b"), version="v2")
    alert = DriftAlert.objects.get()
    assert (alert.clause_key, alert.framing, alert.later_run) == (BIO, "role_play", later)
    assert (alert.earlier_refused, alert.earlier_n, alert.later_refused, alert.later_n) == (
        45, 50, 20, 50,
    )  # fmt: skip
    # Two framings compared (direct, unchanged, and role play): Holm doubles the smaller p.
    assert alert.framings_compared == 2
    assert alert.p_adjusted == pytest.approx(min(1.0, 2 * alert.p_value))
    entry = LedgerEntry.objects.get(action="drift_alert.opened")
    assert entry.payload["framing"] == "role_play"
    assert entry.payload["framings_compared"] == 2
    # Shown on the alert page, the list and the API.
    page = client_for().get(f"/evidence/drift/{alert.pk}/").content.decode()
    assert "in the framing <strong>role play</strong>" in page
    assert "Holm" in page
    assert "<td>role play</td>" in client_for().get("/evidence/drift/").content.decode()
    assert api_for().get(f"/api/v1/drift-alerts/{alert.pk}/").json()["framing"] == "role_play"


def test_more_attack_samples_alone_open_nothing(ingest, mapped):
    # Each framing's rate is unchanged; only the later run asks far more role-play prompts.
    # Pooled, refusal would "fall" from 55 % to 28 %: compared framing by framing, it did not.
    mapped("bio", BIO)
    ingest(framed([("direct", 45, 5), ("role_play", 10, 40)], "a"), version="v1", days_ago=9)
    ingest(framed([("direct", 45, 5), ("role_play", 80, 320)], "b"), version="v2")
    assert DriftAlert.objects.count() == 0


def test_a_framing_only_one_run_has_is_not_compared(ingest, mapped):
    mapped("bio", BIO)
    ingest(framed([("direct", 45, 5)], "a"), version="v1", days_ago=9)
    ingest(framed([("direct", 45, 5), ("encoding", 0, 50)], "b"), version="v2")
    assert DriftAlert.objects.count() == 0


def test_an_unknown_framing_is_compared_under_its_own_name(ingest, mapped):
    mapped("bio", BIO)
    ingest(framed([("Grandma exploit", 48, 2)], "a"), version="v1", days_ago=9)
    ingest(framed([("Grandma exploit", 10, 40)], "b"), version="v2")
    assert DriftAlert.objects.get().framing == "Grandma exploit"


def test_holm_keeps_a_marginal_fall_among_several_framings_quiet(ingest, mapped):
    """40 → 30 of 50 refused has p ≈ 0.029 alone: an alert when it is the only framing
    compared, none when three unchanged framings are compared beside it (adjusted ≈ 0.12)."""
    mapped("bio", BIO)
    steady = [("direct", 45, 5), ("prefill", 45, 5), ("translation", 45, 5)]
    ingest(framed([*steady, ("role_play", 40, 10)], "a"), version="v1", days_ago=9)
    ingest(framed([*steady, ("role_play", 30, 20)], "b"), version="v2")
    assert DriftAlert.objects.count() == 0
    ingest(framed([("role_play", 40, 10)], "c"), version="v3")
    ingest(framed([("role_play", 30, 20)], "d"), version="v4")
    alert = DriftAlert.objects.get()
    assert alert.framings_compared == 1
    assert alert.p_adjusted == alert.p_value
    assert 0.01 < alert.p_value < 0.05


def test_each_framings_alert_is_mailed_to_followers_and_to_no_one_else(
    ingest, mapped, citizen, policy, django_capture_on_commit_callbacks
):
    mapped("bio", BIO)
    ingest(framed([("direct", 48, 2), ("role_play", 48, 2)], "a"), version="v1", days_ago=9)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ingest(framed([("direct", 10, 40), ("role_play", 10, 40)], "b"), version="v2")
    assert DriftAlert.objects.count() == 2
    assert mail.outbox == []  # nobody follows the policy
    policy_services.policy_follow(user=citizen, policy=policy)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(framed([("direct", 48, 2), ("role_play", 48, 2)], "c"), version="v3")
        ingest(framed([("direct", 10, 40), ("role_play", 10, 40)], "d"), version="v4")
    subjects = sorted(m.subject for m in mail.outbox)
    assert len(subjects) == 2
    assert "direct" in subjects[0]
    assert "role play" in subjects[1]
    assert all(m.to == [citizen.email] for m in mail.outbox)
