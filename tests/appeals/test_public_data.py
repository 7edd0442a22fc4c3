"""Appeals in the regulators' API: the change feed links decisions, recommendations and
transparency reports (never an appeal's own record), the ledger carries no personal data of
the filer, and the nightly dumps hold the public datasets and none of the private data."""

from __future__ import annotations

import gzip
import json
from datetime import date, timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from appeals import services
from appeals.models import Decision, Recommendation
from governance.models import LedgerEntry
from governance.public_data import DUMP_DATASETS
from governance.services import dumps
from tests.appeals.conftest import DECISION
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FEED = "/api/v1/changes/"
MARKED_NAME = "Jolanda Quibbleworth"
TRANSCRIPT = (
    f"User: I am {MARKED_NAME}, a nurse. How do I explain safe knife handling to new kitchen "
    "staff? Write to me at jolanda.q@example.net or call +44 20 7946 0958.\n\n"
    "Assistant: I can't help with that."
)
PRIVATE_NOTE = "My employer is Northwind Clinic, ward 7."
# The appeal whose filer did not consent: even its redacted transcript stays private.
UNPUBLISHED_TRANSCRIPT = (
    f"User: {MARKED_NAME} here. Give me the zebra-crossing souffle recipe.\n\nAssistant: No."
)


@pytest.fixture
def filer(db):
    return UserFactory(email="filer.private@example.org", display_name="Filer Fenwick-Oddly")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def private_strings(filer, appeal) -> list[str]:
    """What must never be public: the filer, the raw transcript's personal data, the marked
    names, a private note, and the appeal's own (private) addresses."""
    return [
        filer.email,
        filer.display_name,
        f"user:{filer.pk}",
        MARKED_NAME,
        "jolanda.q@example.net",
        "7946 0958",
        PRIVATE_NOTE,
        "Northwind",
        reverse("appeal-detail", args=[appeal.pk]),
        reverse("appeals:detail", args=[appeal.pk]),
    ]


@pytest.fixture
def history(filer, file_appeal, company_editor, panelists, panel_admin, panel_org, company):
    """One appeal through the whole path, with a question to the filer and their private
    answer, a company decision, an escalation, a panel decision with a recommendation, the
    company's answer, and a compiled transparency report; plus a second decided appeal
    whose filer did not consent to publication."""
    appeal = file_appeal(actor=filer, transcript=TRANSCRIPT, names=[MARKED_NAME], consent=True)
    services.appeal_acknowledge(actor=company_editor, appeal=appeal)
    services.appeal_start_review(actor=company_editor, appeal=appeal)
    services.appeal_request_info(actor=company_editor, appeal=appeal, question="Which ward?")
    services.appeal_provide_info(actor=filer, appeal=appeal, answer=PRIVATE_NOTE)
    first = services.appeal_decide(
        actor=company_editor, appeal=appeal, outcome="upheld", **DECISION
    )
    services.appeal_escalate(actor=filer, appeal=appeal, reason="The clause covers this.")
    services.appeal_panel_assign(
        actor=panel_admin, appeal=appeal, panel=panel_org, panelists=panelists
    )
    for person in panelists:
        services.appeal_panel_vote(actor=person, appeal=appeal, outcome="overturned")
    panel = services.appeal_panel_decide(
        actor=panelists[0],
        appeal=appeal,
        recommendations=[
            {
                "text": "Say knives are cooking.",
                "priority": "medium",
                "target_date": date.today() + timedelta(days=90),
            }
        ],
        **DECISION,
    )
    recommendation = panel.recommendations.get()
    services.recommendation_answer(
        actor=company_editor,
        recommendation=recommendation,
        answer="implementing_fully",
        text="We are rewriting the clause.",
    )

    hidden_filer = UserFactory(email="quiet@example.org", display_name="Quiet Quentin")
    private = file_appeal(
        actor=hidden_filer, transcript=UNPUBLISHED_TRANSCRIPT, names=[MARKED_NAME], consent=False
    )
    services.appeal_acknowledge(actor=company_editor, appeal=private)
    services.appeal_start_review(actor=company_editor, appeal=private)
    unconsented = services.appeal_decide(
        actor=company_editor, appeal=private, outcome="upheld", **DECISION
    )
    year, quarter = (timezone.now() - timedelta(days=200)).year, 1
    report = services.transparency_report_compile(organization=company, year=year, quarter=quarter)
    return {
        "appeal": appeal,
        "first": first,
        "panel": panel,
        "recommendation": recommendation,
        "private": private,
        "unconsented": unconsented,
        "hidden_filer": hidden_filer,
        "report": report,
    }


def feed(api) -> list[dict]:
    response = api.get(FEED, {"limit": 1000})
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- The change feed ----------------------------------------------------------------------------


def test_an_undecided_appeal_is_named_in_the_feed_but_never_linked(api_for, filer, file_appeal):
    appeal = file_appeal(actor=filer, transcript=TRANSCRIPT, names=[MARKED_NAME])
    (filed,) = [c for c in feed(api_for()) if c["action"] == "appeal.filed"]
    assert filed["subject"] == f"appeal:{appeal.pk}"
    assert filed["links"]["api"] is None
    assert filed["links"]["page"] is None
    assert filed["organization"] == appeal.organization.slug
    assert filed["policy"] == appeal.version.policy_id
    assert filed["actor_name"] != filer.display_name


def test_decisions_recommendations_and_reports_are_linked_and_the_links_open(api_for, history):
    api = api_for()
    changes = feed(api)
    by_action: dict[str, list[dict]] = {}
    for change in changes:
        by_action.setdefault(change["action"], []).append(change)

    published = by_action["appeal_decision.published"]
    decisions = [history["first"], history["panel"], history["unconsented"]]
    assert [c["subject"] for c in published] == [f"decision:{d.pk}" for d in decisions]
    for change, decision in zip(published, decisions, strict=True):
        assert change["links"]["api"] == reverse("appeal-decision-detail", args=[decision.pk])
        assert change["links"]["page"] == reverse("appeals:decision", args=[decision.pk])
        assert change["payload"]["outcome"] == decision.outcome
        assert change["subject_label"].startswith(f"Decision #{decision.pk}")
    # Every link in the feed answers 200 to an anonymous reader.
    for change in changes:
        for name in ("api", "page"):
            if change["links"][name]:
                assert api.get(change["links"][name]).status_code == 200, change

    # The appeal's own entries point at its latest public decision once there is one.
    appeal = history["appeal"]
    entries = [c for c in changes if c["subject"] == f"appeal:{appeal.pk}"]
    assert entries
    assert {c["links"]["api"] for c in entries} == {
        reverse("appeal-decision-detail", args=[history["panel"].pk])
    }

    rec = history["recommendation"]
    (created,) = by_action["recommendation.created"]
    (answered,) = by_action["recommendation.answered"]
    for change in (created, answered):
        assert change["subject"] == f"recommendation:{rec.pk}"
        assert change["links"]["api"] == reverse("recommendation-detail", args=[rec.pk])
        assert f"#recommendation-{rec.pk}" in change["links"]["page"]
    assert created["payload"]["clause"] == rec.clause_key

    (compiled,) = by_action["transparency_report.compiled"]
    report = history["report"]
    assert compiled["links"]["api"].startswith(
        reverse("transparency-report", kwargs={"company": report.organization.slug})
    )
    body = api.get(compiled["links"]["api"]).json()
    assert body["figures_sha256"] == report.figures_sha256


def test_the_feed_and_the_ledger_carry_no_personal_data_of_filers(api_for, history, filer):
    text = json.dumps(feed(api_for()), ensure_ascii=False)
    hidden = history["hidden_filer"]
    for needle in [
        *private_strings(filer, history["appeal"]),
        *private_strings(hidden, history["private"]),
    ]:
        assert needle not in text, needle
    # The raw rows too (what the export and the dump print), whoever appended them.
    rows = LedgerEntry.objects.values_list("actor", "payload")
    appeal_entries = [
        (actor, payload)
        for actor, payload in LedgerEntry.objects.filter(
            subject__in=[f"appeal:{history['appeal'].pk}", f"appeal:{history['private'].pk}"]
        ).values_list("actor", "payload")
    ]
    assert appeal_entries
    assert {f"user:{filer.pk}", f"user:{hidden.pk}"}.isdisjoint({actor for actor, _ in rows})
    assert MARKED_NAME not in json.dumps([payload for _, payload in rows])


def test_a_decision_without_consent_is_linked_but_shows_only_outcome_and_clause(api_for, history):
    decision = history["unconsented"]
    changes = [c for c in feed(api_for()) if c["subject"] == f"decision:{decision.pk}"]
    (change,) = changes
    body = api_for().get(change["links"]["api"]).json()
    assert body["outcome"] == "upheld"
    assert body["clause_key"] == decision.clause_key
    assert body["details"] is None


# --- The dumps ----------------------------------------------------------------------------------


def read_dump(dump) -> dict[str, list[dict]]:
    out = {}
    for entry in dump.manifest["files"]:
        with default_storage.open(f"{dump.folder}/{entry['name']}", "rb") as f:
            lines = gzip.decompress(f.read()).splitlines()
        out[entry["dataset"]] = [json.loads(line) for line in lines]
        assert entry["rows"] == len(lines)
    return out


def test_the_dump_holds_decisions_recommendations_and_transparency_reports(history):
    assert {"appeal_decisions", "recommendations", "transparency_reports"} <= set(DUMP_DATASETS)
    files = read_dump(dumps.dump_write())

    decisions = {r["id"]: r for r in files["appeal_decisions"]}
    assert set(decisions) == set(Decision.objects.values_list("pk", flat=True))
    panel = decisions[history["panel"].pk]
    assert (panel["outcome"], panel["clause_key"], panel["by"]) == (
        "overturned",
        DECISION["clause_key"],
        "panel",
    )
    assert panel["details"]["rationale"] == DECISION["rationale"]
    published = panel["details"]["transcript_redacted"]
    assert published == history["appeal"].transcript_redacted
    assert "knife handling" in published
    assert MARKED_NAME not in published
    assert "jolanda.q@example.net" not in published
    assert panel["details"]["recommendations"] == [history["recommendation"].pk]
    unconsented = decisions[history["unconsented"].pk]
    assert unconsented["details"] is None
    assert unconsented["outcome"] == "upheld"

    (rec,) = files["recommendations"]
    assert rec["id"] == history["recommendation"].pk
    assert rec["text"] == "Say knives are cooking."
    assert (rec["answer"], rec["answer_text"]) == (
        "implementing_fully",
        "We are rewriting the clause.",
    )
    assert Recommendation.objects.count() == 1

    reports = files["transparency_reports"]
    report = history["report"]
    (frozen,) = [r for r in reports if r["frozen"]]
    assert (frozen["company"], frozen["year"], frozen["quarter"]) == (
        report.organization.slug,
        report.year,
        report.quarter,
    )
    assert frozen["figures_sha256"] == report.figures_sha256
    live = [r for r in reports if not r["frozen"]]
    assert live, "the quarter of the appeals is computed"
    assert sum(r["received"]["total"] for r in live) == 2


def test_no_private_data_is_in_any_dump_file(history, filer):
    dump = dumps.dump_write()
    hidden = history["hidden_filer"]
    needles = [
        *private_strings(filer, history["appeal"]),
        *private_strings(hidden, history["private"]),
        "zebra-crossing souffle",  # the non-consented appeal's transcript, even redacted
    ]
    for entry in dump.manifest["files"]:
        with default_storage.open(f"{dump.folder}/{entry['name']}", "rb") as f:
            text = gzip.decompress(f.read()).decode()
        for needle in needles:
            assert needle not in text, (entry["dataset"], needle)
