"""What the policies app tells the core about its public data (governance.public_data): links
to its ledger subjects, its webhook event types, its datasets in the nightly dumps, and the
policies a webhook subscription may filter on. Registered from PoliciesConfig.ready()."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import reverse

from governance.models import AISystem
from governance.public_data import (
    SubjectLink,
    register_dump_dataset,
    register_event_types,
    register_filter_choices,
    register_subject_links,
)
from policies.models import Clause, Comment, CommentPeriod, Policy, PolicyVersion
from policies.selectors import PUBLIC_STATUSES

CHUNK = 2000

EVENT_TYPES = {
    "ai_system.created": "A company registered an AI system.",
    "ai_system.updated": "A company changed an AI system.",
    "policy.created": "A company created a policy.",
    "policy.updated": "A company changed a policy's title, summary or systems.",
    "policy_version.published": "A policy version was published.",
    "policy_version.superseded": "A newer version superseded a policy version.",
    "policy_version.withdrawn": "A company withdrew a policy version (with its reason).",
    "comment_period.opened": "A comment period was opened on a version.",
    "comment_period.extended": "A comment period was extended (with its reason).",
    "comment_period.responses_published": "A company published its response to comments.",
    "comment_response.saved": "A company saved a response to comments.",
    "comment_response.deleted": "A company deleted a draft response to comments.",
    "comment.hide": "A moderator hid a comment (with a public reason).",
    "comment.restore": "A moderator restored a hidden comment.",
    "comment.approve": "A moderator approved a held comment.",
    "comment.hold": "A moderator held a comment for review.",
}


def _version_page(org: str, policy: str, number: str) -> str:
    return reverse(
        "policies:version", kwargs={"org_slug": org, "policy_slug": policy, "number": number}
    )


def policy_links(ids: set[int]) -> dict[int, SubjectLink]:
    rows = Policy.objects.filter(pk__in=ids).values_list("pk", "slug", "organization__slug")
    return {
        pk: SubjectLink(
            api=reverse("policy-detail", args=[pk]),
            page=reverse("policies:detail", kwargs={"org_slug": org, "policy_slug": slug}),
            organization=org,
            policy=pk,
        )
        for pk, slug, org in rows
    }


def version_links(ids: set[int]) -> dict[int, SubjectLink]:
    versions = PolicyVersion.objects.filter(pk__in=ids).select_related("policy__organization")
    links = {}
    for v in versions:
        org = v.policy.organization.slug
        public = v.status in PUBLIC_STATUSES
        links[v.pk] = SubjectLink(
            api=reverse("policy-version-detail", args=[v.pk]) if public else None,
            page=_version_page(org, v.policy.slug, v.number) if public else None,
            organization=org,
            policy=v.policy_id,
        )
    return links


def system_links(ids: set[int]) -> dict[int, SubjectLink]:
    rows = AISystem.objects.filter(pk__in=ids).values_list("pk", "organization__slug")
    return {
        pk: SubjectLink(api=reverse("ai-system-detail", args=[pk]), organization=org)
        for pk, org in rows
    }


def period_links(ids: set[int]) -> dict[int, SubjectLink]:
    periods = CommentPeriod.objects.filter(pk__in=ids).select_related(
        "version__policy__organization"
    )
    links = {}
    for p in periods:
        v = p.version
        org = v.policy.organization.slug
        links[p.pk] = SubjectLink(
            api=reverse("comment-period-detail", args=[p.pk]),
            page=reverse(
                "policies:comments",
                kwargs={"org_slug": org, "policy_slug": v.policy.slug, "number": v.number},
            ),
            organization=org,
            policy=v.policy_id,
        )
    return links


def comment_links(ids: set[int]) -> dict[int, SubjectLink]:
    rows = Comment.objects.filter(pk__in=ids).values_list(
        "pk", "status", "period__version__policy_id", "period__version__policy__organization__slug"
    )
    # A held comment has no public address yet; hidden and withdrawn ones keep their place
    # (with the moderator's reason, or a tombstone).
    return {
        pk: SubjectLink(
            api=reverse("comment-detail", args=[pk]) if status != Comment.Status.HELD else None,
            page=reverse("policies:comment", args=[pk]) if status != Comment.Status.HELD else None,
            organization=org,
            policy=policy,
        )
        for pk, status, policy, org in rows
    }


def policy_choices() -> list[tuple[int, str]]:
    rows = Policy.objects.order_by("organization__name", "title").values_list(
        "pk", "organization__name", "title"
    )
    return [(pk, f"{org}: {title}") for pk, org, title in rows]


# --- Dumps ------------------------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def policy_rows() -> Iterator[dict[str, Any]]:
    policies = Policy.objects.select_related("organization").order_by("pk")
    for p in policies.iterator(chunk_size=CHUNK):
        yield {
            "id": p.pk,
            "organization": p.organization.slug,
            "title": p.title,
            "slug": p.slug,
            "summary": p.summary,
            "created_at": _iso(p.created_at),
        }


def version_rows() -> Iterator[dict[str, Any]]:
    versions = (
        PolicyVersion.objects.filter(status__in=PUBLIC_STATUSES)
        .select_related("policy__organization")
        .order_by("pk")
    )
    for v in versions.iterator(chunk_size=CHUNK):
        yield {
            "id": v.pk,
            "policy": v.policy_id,
            "organization": v.policy.organization.slug,
            "number": v.number,
            "status": v.status,
            "summary_of_changes": v.summary_of_changes,
            "body_markdown": v.body_markdown,
            "published_at": _iso(v.published_at),
            "effective_at": _iso(v.effective_at),
            "superseded_at": _iso(v.superseded_at),
            "withdrawn_at": _iso(v.withdrawn_at),
            "withdrawn_reason": v.withdrawn_reason,
            "content_sha256": v.content_sha256,
            "previous_sha256": v.previous_sha256,
        }


def clause_rows() -> Iterator[dict[str, Any]]:
    clauses = Clause.objects.filter(version__status__in=PUBLIC_STATUSES).order_by("pk")
    for c in clauses.iterator(chunk_size=CHUNK):
        yield {
            "id": c.pk,
            "version": c.version_id,
            "key": c.key,
            "title": c.title,
            "text": c.text,
            "expected_behavior": c.expected_behavior,
            "categories": list(c.categories),
            "position": c.position,
        }


def period_rows() -> Iterator[dict[str, Any]]:
    periods = CommentPeriod.objects.filter(version__status__in=PUBLIC_STATUSES).order_by("pk")
    for p in periods.iterator(chunk_size=CHUNK):
        yield {
            "id": p.pk,
            "version": p.version_id,
            "opens_at": _iso(p.opens_at),
            "closes_at": _iso(p.closes_at),
        }


def comment_rows() -> Iterator[dict[str, Any]]:
    """Published comments only (held, hidden and withdrawn ones are left out), under the
    author's public name (display name or pseudonym, never the e-mail address)."""
    comments = (
        Comment.objects.filter(
            status=Comment.Status.PUBLISHED, period__version__status__in=PUBLIC_STATUSES
        )
        .select_related("author", "clause", "on_behalf_of")
        .order_by("pk")
    )
    for c in comments.iterator(chunk_size=CHUNK):
        yield {
            "id": c.pk,
            "period": c.period_id,
            "author": c.author.public_name,
            "on_behalf_of": c.on_behalf_of.slug if c.on_behalf_of_id else None,
            "clause": c.clause.key if c.clause_id else None,
            "parent": c.parent_id,
            "body": c.body,
            "cluster": c.cluster_id,
            "endorsement_count": c.endorsement_count,
            "created_at": _iso(c.created_at),
            "edited_at": _iso(c.edited_at),
        }


def register() -> None:
    register_subject_links("policy", policy_links)
    register_subject_links("policyversion", version_links)
    register_subject_links("aisystem", system_links)
    register_subject_links("commentperiod", period_links)
    register_subject_links("comment", comment_links)
    register_event_types(EVENT_TYPES)
    register_filter_choices("policy", policy_choices)
    register_dump_dataset("policies", description="Policies.", rows=policy_rows)
    register_dump_dataset(
        "policy_versions",
        description="Published, superseded and withdrawn policy versions, with their text.",
        rows=version_rows,
    )
    register_dump_dataset("clauses", description="Clauses of public versions.", rows=clause_rows)
    register_dump_dataset("comment_periods", description="Comment periods.", rows=period_rows)
    register_dump_dataset(
        "comments",
        description="Published comments, under their authors' public names.",
        rows=comment_rows,
    )
