"""The workflow table drives the services: a hypothesis state machine tries random actions by
random people on one appeal and checks that exactly the table's moves succeed (save the
services' documented guards), and that the appeal's invariants hold after every step."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from appeals import services, workflow
from appeals.models import Appeal, Status
from appeals.rules import roles_of
from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import LedgerEntry
from tests.appeals.conftest import DECISION

pytestmark = pytest.mark.django_db

# Refusals the table allows but a service's own rule forbids, by code.
GUARDS = {
    "nothing_to_escalate",
    "no_majority",
    "not_implemented",
    "nothing_to_implement",
    "window_open",
}
OUTCOMES = ["upheld", "overturned", "partly_overturned"]


def _call(action, actor, appeal, outcome, ctx):
    base = {"actor": actor, "appeal": appeal}
    if action == "reject_out_of_scope":
        return services.appeal_reject_out_of_scope(reason="duplicate", note="Same.", **base)
    if action == "request_info":
        return services.appeal_request_info(question="Which day?", **base)
    if action == "provide_info":
        return services.appeal_provide_info(answer="Tuesday.", **base)
    if action == "decide":
        return services.appeal_decide(outcome=outcome, **DECISION, **base)
    if action == "escalate":
        return services.appeal_escalate(reason="Look again.", **base)
    if action == "panel_assign":
        return services.appeal_panel_assign(
            panel=ctx["panel_org"], panelists=ctx["panelists"], **base
        )
    if action == "summary_decision":
        return services.appeal_summary_decision(outcome="overturned", **DECISION, **base)
    if action == "panel_vote":
        return services.appeal_panel_vote(outcome=outcome, **base)
    if action == "panel_decide":
        return services.appeal_panel_decide(**DECISION, **base)
    if action == "implement":
        return services.appeal_implement(note="Done.", **base)
    return services.ACTION_SERVICES[action](**base)


def test_random_action_sequences_follow_the_table(
    file_appeal, citizen, company_editor, panel_admin, panelists, panel_org, regulator, outsider
):
    people = {
        "filer": citizen,
        "company": company_editor,
        "panel_admin": panel_admin,
        "panelist1": panelists[0],
        "panelist2": panelists[1],
        "panelist3": panelists[2],
        "regulator": regulator,
        "outsider": outsider,
    }
    ctx = {"panel_org": panel_org, "panelists": panelists}

    class AppealMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.appeal = file_appeal()
            self.moves = 0
            self.ledger = LedgerEntry.objects.count()

        @rule(
            action=st.sampled_from(workflow.ACTIONS),
            who=st.sampled_from(sorted(people)),
            outcome=st.sampled_from(OUTCOMES),
        )
        def act(self, action, who, outcome):
            appeal = Appeal.objects.get(pk=self.appeal.pk)
            actor = people[who]
            before = appeal.status
            row = workflow.transition_for(before, action)
            legal = row is not None and bool(roles_of(actor, appeal) & set(row.roles))
            refused = None
            try:
                _call(action, actor, appeal, outcome, ctx)
            except (Conflict, NotAllowed) as error:
                refused = error
            except Invalid as error:  # the inputs above are valid: this is a bug
                raise AssertionError((action, who, before, error.fields)) from error
            if refused is not None:
                code = getattr(refused, "code", "")
                assert not legal or code in GUARDS, (action, who, before, refused.message)
                assert Appeal.objects.get(pk=appeal.pk).status == before
                return
            assert legal, (action, who, before)
            self.moves += 1
            self.ledger += 1
            assert Appeal.objects.get(pk=appeal.pk).status == row.next_state

        @invariant()
        def events_mirror_the_status(self):
            appeal = Appeal.objects.get(pk=self.appeal.pk)
            events = list(appeal.events.order_by("at", "pk"))
            assert len(events) == self.moves + 1
            assert events[-1].to_status == appeal.status
            for earlier, later in itertools.pairwise(events):
                assert later.from_status == earlier.to_status
            assert LedgerEntry.objects.count() == self.ledger

        @invariant()
        def the_clock_and_the_end_agree(self):
            appeal = Appeal.objects.get(pk=self.appeal.pk)
            assert (appeal.paused_at is not None) == (appeal.status == Status.NEEDS_INFO)
            if appeal.status in workflow.TERMINAL_STATES:
                assert appeal.closed_at is not None
            # Pausing only ever moves the deadline later.
            minimum = timedelta(days=workflow.DEADLINES["decision"].days)
            assert appeal.decision_due_at - appeal.submitted_at >= minimum

        @invariant()
        def every_decision_names_a_person(self):
            for decision in Appeal.objects.get(pk=self.appeal.pk).decisions.all():
                assert decision.decided_by_id is not None
                assert decision.rationale
                assert decision.clause_key

    run_state_machine_as_test(
        AppealMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_the_table_is_consistent():
    states = set(Status.values)
    for row in workflow.TRANSITIONS:
        assert row.state in states
        assert row.next_state in states
        assert row.state not in workflow.TERMINAL_STATES
        assert not row.deadline or row.deadline in workflow.DEADLINES
    assert set(services.ACTION_SERVICES) == set(workflow.ACTIONS)
    # Every open state can be withdrawn from; no terminal state has a way out.
    for state in workflow.OPEN_STATES:
        assert "withdraw" in workflow.actions_for(state, {"filer"})
