"""Shared fixtures for the policies capability: Acme AI's system, policy and versions, all made
through the services so every test starts from a state the product itself can produce.

`published_version` is v1.0.0 of `policy`; `draft_version` is the v1.1.0 draft written on top of
it (a policy has at most one draft, and a draft's number must be above every other version).
`publish(policy, number, markdown, actor)` writes and publishes one more version in one step.
"""

from __future__ import annotations

import pytest

from policies import services

POLICY_MARKDOWN = """\
# Acme Assistant Usage Policy

This policy says what the Acme assistant declines to help with, and what it must not refuse.

## Biological weapons synthesis {#weapons.bio.synthesis}
behavior: refuse; categories: weapons, cbrn

The assistant refuses to give instructions for producing, acquiring or spreading
biological agents with mass-casualty potential.

## Self-harm support {#self-harm.support}
behavior: safe_complete; categories: self-harm, wellbeing

The assistant answers with care, offers crisis resources and does not give methods.

## Everyday cooking questions {#harmless.cooking}
behavior: comply; categories: harmless

Questions about recipes, knives and kitchen safety are answered normally.
"""


def body_with(*clauses: tuple[str, str, str, str]) -> str:
    """A policy body from (key, title, behavior, text) tuples, for tests that need variants."""
    parts = ["# Test policy", ""]
    for key, title, behavior, text in clauses:
        parts += [f"## {title} {{#{key}}}", f"behavior: {behavior}", "", text, ""]
    return "\n".join(parts)


@pytest.fixture
def policy_markdown() -> str:
    return POLICY_MARKDOWN


@pytest.fixture
def system(company, company_editor):
    return services.ai_system_create(
        actor=company_editor,
        organization=company,
        name="Acme Assistant",
        description="The general-purpose chat assistant.",
    )


@pytest.fixture
def policy(company, company_editor, system):
    return services.policy_create(
        actor=company_editor,
        organization=company,
        title="Acme Assistant Usage Policy",
        summary="What the Acme assistant refuses, and what it must not refuse.",
        systems=[system],
    )


@pytest.fixture
def publish():
    """`publish(policy, "1.2.0", markdown, actor)`: a draft written and published at once."""

    def make(policy, number, markdown, actor, *, summary_of_changes=None, effective_at=None):
        draft = services.version_draft_create(
            actor=actor,
            policy=policy,
            number=number,
            body_markdown=markdown,
            summary_of_changes=summary_of_changes or f"Version {number}.",
            effective_at=effective_at,
        )
        return services.version_publish(actor=actor, version=draft)

    return make


@pytest.fixture
def published_version(policy, company_editor, policy_markdown, publish):
    return publish(
        policy, "1.0.0", policy_markdown, company_editor, summary_of_changes="First version."
    )


@pytest.fixture
def draft_version(policy, company_editor, published_version, policy_markdown):
    body = policy_markdown.replace(
        "behavior: safe_complete; categories: self-harm, wellbeing",
        "behavior: safe_complete; categories: self-harm, wellbeing, crisis",
    )
    return services.version_draft_create(
        actor=company_editor,
        policy=policy,
        number="1.1.0",
        body_markdown=body,
        summary_of_changes="Adds the crisis category to self-harm support.",
    )
