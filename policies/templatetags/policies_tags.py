"""Template tags for policy pages: behaviour badges, the organization page's policies section,
and `{% clause_extras clause %}`, the place where other apps add to each clause.

Other apps (audits, appeals, comments) never get imported from here: they register a snippet in
their AppConfig.ready::

    from policies.templatetags.policies_tags import register_clause_extra

    def conformance_for(clauses):            # called once per page with all its clauses
        return {c.pk: {"badge": ...} for c in clauses}   # one or two queries, not one per clause

    register_clause_extra("audits/clause_conformance.html", prepare=conformance_for)

Each snippet is rendered per clause with `clause`, `request`, `user` and `extra` (what
`prepare` returned for that clause's id, or None). With nothing registered the tag renders
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django import template
from django.template.loader import get_template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from policies.models import Behavior
from policies.rules import allowed

register = template.Library()

Prepare = Callable[[list], dict]


@dataclass(frozen=True)
class ClauseExtra:
    template_name: str
    prepare: Prepare | None = None


CLAUSE_EXTRAS: list[ClauseExtra] = []


def register_clause_extra(template_name: str, *, prepare: Prepare | None = None) -> None:
    """Add a snippet under every clause of a version page (idempotent per template name)."""
    if any(extra.template_name == template_name for extra in CLAUSE_EXTRAS):
        return
    CLAUSE_EXTRAS.append(ClauseExtra(template_name, prepare))


def unregister_clause_extra(template_name: str) -> None:
    CLAUSE_EXTRAS[:] = [e for e in CLAUSE_EXTRAS if e.template_name != template_name]


@register.simple_tag(takes_context=True)
def clause_extras(context, clause) -> SafeString:
    """Every registered snippet for `clause`. `prepare` runs once per page render, with the
    page's `clauses` (or just this clause when the page has no such list)."""
    if not CLAUSE_EXTRAS:
        return mark_safe("")
    prepared = context.render_context.setdefault("policies_clause_extras", {})
    parts = []
    for extra in CLAUSE_EXTRAS:
        data = None
        if extra.prepare is not None:
            if extra.template_name not in prepared:
                clauses = context.get("clauses") or [clause]
                prepared[extra.template_name] = extra.prepare(list(clauses)) or {}
            # A draft's clauses are parsed, not stored: they have no primary key.
            data = prepared[extra.template_name].get(getattr(clause, "pk", None))
        snippet = get_template(extra.template_name).render(
            {
                "clause": clause,
                "extra": data,
                "request": context.get("request"),
                "user": context.get("user"),
            }
        )
        parts.append(snippet)
    return mark_safe("".join(parts))


BEHAVIOR_CLASSES = {
    Behavior.REFUSE: "behavior--refuse",
    Behavior.COMPLY: "behavior--comply",
    Behavior.SAFE_COMPLETE: "behavior--safe-complete",
    Behavior.ESCALATE: "behavior--escalate",
}
STATUS_CLASSES = {
    "draft": "badge--muted",
    "published": "badge--success",
    "superseded": "badge--warning",
    "withdrawn": "badge--danger",
}


def behavior_label(value: str) -> str:
    try:
        return Behavior(value).label
    except ValueError:
        return value


@register.simple_tag
def behavior_badge(value: str) -> SafeString:
    """The expected behaviour as a coloured badge whose text says it (colour is never alone)."""
    return format_html(
        '<span class="badge behavior {}">{}</span>',
        BEHAVIOR_CLASSES.get(value, ""),
        behavior_label(value),
    )


@register.simple_tag
def status_badge(version) -> SafeString:
    return format_html(
        '<span class="badge {}">{}</span>',
        STATUS_CLASSES.get(version.status, ""),
        version.get_status_display(),
    )


@register.filter
def kind_label(kind: str) -> str:
    """A diff change kind in words ("rekeyed" → "re-keyed")."""
    from policies.selectors import COUNT_LABELS

    return COUNT_LABELS.get(kind, kind)


@register.filter
def behavior_name(value: str) -> str:
    return behavior_label(value).lower()


@register.inclusion_tag("policies/tags/organization_policies.html", takes_context=True)
def organization_policies(context, organization) -> dict:
    """The organization page's section: its AI systems and policies, with authoring links for
    its editors and drafts for its members."""
    from policies.selectors import organization_policies as select

    user = context.get("user")
    can_view_drafts = allowed(user, "policies.view_draft", organization)
    systems, policies = select(organization=organization, include_drafts=can_view_drafts)
    return {
        "organization": organization,
        "systems": systems,
        "policies": policies,
        "is_developer": organization.kind == "developer",
        "can_add_system": allowed(user, "policies.add_system", organization),
        "can_add_policy": allowed(user, "policies.add_policy", organization),
        "can_view_drafts": can_view_drafts,
    }


def _join(items: Iterable[str]) -> str:
    return ", ".join(items)


@register.filter
def join_names(items) -> str:
    return _join(getattr(item, "name", str(item)) for item in items)


@register.inclusion_tag("policies/comments/period_box.html", takes_context=True)
def comment_period_box(context, version) -> dict:
    """The comment period of a version page: its state, counts and links — or, for the
    company's editors, the way to open one."""
    from django.urls import reverse

    from policies.selectors.comments import period_for_version, period_stats

    policy = version.policy
    kwargs = {
        "org_slug": policy.organization.slug,
        "policy_slug": policy.slug,
        "number": version.number,
    }
    period = None if version.is_draft else period_for_version(version)
    user = context.get("user")
    return {
        "period": period,
        "stats": period_stats(period) if period else None,
        "url": reverse("policies:comments", kwargs=kwargs),
        "open_url": reverse("policies:period-open", kwargs=kwargs),
        "can_open": period is None
        and version.status == "published"
        and allowed(user, "policies.open_comment_period", version),
    }


@register.simple_tag
def open_comment_periods(limit: int = 10) -> list:
    from policies.selectors.comments import open_periods

    return open_periods(limit=limit)
