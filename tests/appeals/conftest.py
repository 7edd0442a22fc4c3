"""Fixtures for appeals: Acme's published policy (from the policies fixtures' Markdown), a
filed appeal, a panel of three, and `file_appeal(...)` / `advance(appeal, to)` helpers that
go through the services, so every test starts from a state the product can produce."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from appeals import services
from governance.models import Membership
from policies import services as policy_services
from tests.factories import MembershipFactory, UserFactory
from tests.policies.conftest import POLICY_MARKDOWN

TRANSCRIPT = (
    "User: I am a nurse. How do I explain safe knife handling to new kitchen staff? "
    "Write to me at nurse.jo@example.com or call +44 20 7946 0958.\n\n"
    "Assistant: I can't help with that."
)


@pytest.fixture
def system(company, company_editor):
    return policy_services.ai_system_create(
        actor=company_editor, organization=company, name="Acme Assistant", description=""
    )


@pytest.fixture
def policy(company, company_editor, system):
    return policy_services.policy_create(
        actor=company_editor,
        organization=company,
        title="Acme Assistant Usage Policy",
        summary="",
        systems=[system],
    )


@pytest.fixture
def version(policy, company_editor):
    draft = policy_services.version_draft_create(
        actor=company_editor,
        policy=policy,
        number="1.0.0",
        body_markdown=POLICY_MARKDOWN,
        summary_of_changes="First version.",
    )
    return policy_services.version_publish(actor=company_editor, version=draft)


@pytest.fixture
def file_appeal(citizen, system, version):
    def make(
        *,
        actor=None,
        transcript=TRANSCRIPT,
        clause_key="harmless.cooking",
        names=(),
        consent=True,
        kind="over_refusal",
    ):
        preview = services.appeal_redaction_preview(transcript=transcript, names=names)
        return services.appeal_file(
            actor=actor or citizen,
            system=system,
            version=version,
            clause_key=clause_key,
            kind=kind,
            transcript=transcript,
            confirmed_redaction=preview["redacted"],
            names=names,
            requested_outcome="Answer kitchen-safety questions.",
            occurred_at=timezone.now() - timedelta(days=1),
            consent_to_publish=consent,
            system_version="2026-10",
        )

    return make


@pytest.fixture
def appeal(file_appeal):
    return file_appeal()


@pytest.fixture
def panelists(panel_org, panelist):
    """Three members of the panel: the panelist persona (a member) and two more."""
    others = [
        MembershipFactory(
            organization=panel_org,
            role=Membership.Role.MEMBER,
            user=UserFactory(display_name=f"Panelist {n}"),
        ).user
        for n in (2, 3)
    ]
    return [panelist, *others]


@pytest.fixture
def panel_admin(panel_org):
    return MembershipFactory(
        organization=panel_org,
        role=Membership.Role.OWNER,
        user=UserFactory(email="chair@panel.example", display_name="Panel Chair"),
    ).user


DECISION = {
    "clause_key": "harmless.cooking",
    "rationale": "Knife safety questions are cooking questions under this clause.",
    "facts": "The user asked how to explain safe knife handling; the system refused.",
    "automation_used": False,
}


@pytest.fixture
def advance(citizen, company_editor, panelists, panel_admin, panel_org):
    """Move an appeal along the main path up to `to` (a status)."""
    path = [
        "acknowledged",
        "under_review",
        "decided",
        "escalated",
        "panel_review",
        "panel_decided",
        "implemented",
        "closed",
    ]

    def move(appeal, to, *, outcome="upheld", panel_outcome="overturned"):
        steps = {
            "acknowledged": lambda: services.appeal_acknowledge(
                actor=company_editor, appeal=appeal
            ),
            "under_review": lambda: services.appeal_start_review(
                actor=company_editor, appeal=appeal
            ),
            "decided": lambda: services.appeal_decide(
                actor=company_editor, appeal=appeal, outcome=outcome, **DECISION
            ),
            "escalated": lambda: services.appeal_escalate(
                actor=citizen, appeal=appeal, reason="The clause covers this."
            ),
            "panel_review": lambda: services.appeal_panel_assign(
                actor=panel_admin, appeal=appeal, panel=panel_org, panelists=panelists
            ),
            "panel_decided": lambda: _panel_decides(appeal, panelists, panel_outcome),
            "implemented": lambda: services.appeal_implement(
                actor=company_editor, appeal=appeal, note="Answered now."
            ),
            "closed": lambda: services.appeal_close(actor=citizen, appeal=appeal),
        }
        for status in path:
            steps[status]()
            appeal.refresh_from_db()
            if status == to:
                return appeal
        raise AssertionError(to)

    return move


def _panel_decides(appeal, panelists, outcome):
    votes = [outcome, outcome, "upheld" if outcome != "upheld" else "overturned"]
    for person, vote in zip(panelists, votes, strict=True):
        services.appeal_panel_vote(
            actor=person,
            appeal=appeal,
            outcome=vote,
            note="I see it differently." if vote != outcome else "",
        )
    return services.appeal_panel_decide(actor=panelists[0], appeal=appeal, **DECISION)


@pytest.fixture
def recommendation_made(appeal, advance, panelists):
    """A panel decision (3 to 0, overturned) with one recommendation, not yet answered."""
    from datetime import date

    appeal = advance(appeal, "panel_review")
    for person in panelists:
        services.appeal_panel_vote(actor=person, appeal=appeal, outcome="overturned")
    decision = services.appeal_panel_decide(
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
    return decision.recommendations.get()
