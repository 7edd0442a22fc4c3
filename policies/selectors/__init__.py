"""Reads for the policy pages, feeds and template tags: directory, timelines, versions, clause
histories and diffs, each in a constant number of queries whatever the number of versions."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery

from governance.models import AISystem, Organization
from policies.diff import PolicyDiff, diff_clauses
from policies.models import Clause, Policy, PolicyVersion

PUBLIC_STATUSES = (
    PolicyVersion.Status.PUBLISHED,
    PolicyVersion.Status.SUPERSEDED,
    PolicyVersion.Status.WITHDRAWN,
)
NUMBER_RE = re.compile(r"^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$")
# The fields a diff reads; clause rows are loaded with only these (plus the version).
CLAUSE_DIFF_FIELDS = ("id", "version_id", "key", "title", "text", "expected_behavior",
                      "categories", "position")  # fmt: skip
VERSION_LIST_FIELDS = (
    "id", "policy_id", "major", "minor", "patch", "status", "summary_of_changes", "created_at",
    "updated_at", "published_at", "effective_at", "content_sha256", "previous_sha256",
    "superseded_at", "withdrawn_at", "withdrawn_reason",
)  # fmt: skip
# Published text never changes, so a diff of two published versions is keyed by both content
# hashes and kept for a day; the suffix changes whenever the diff's shape or the parser does.
DIFF_CACHE_VERSION = "1"
DIFF_CACHE_SECONDS = 24 * 3600
FEED_SIZE = 50
# The kinds of clause change a diff counts (its counts also hold "unchanged" and the number of
# behaviour changes, which overlaps them), with the words the pages use for each.
CHANGE_KINDS = {
    "added": "added",
    "removed": "removed",
    "changed": "changed",
    "rekeyed": "re-keyed",
    "moved": "moved",
}
COUNT_LABELS = {"behavior_changes": "behaviour change", **CHANGE_KINDS, "unchanged": "unchanged"}


def count_items(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    """(kind, label, n) for each non-zero count, behaviour changes first, for the pages."""
    items = []
    for kind, label in COUNT_LABELS.items():
        n = counts.get(kind, 0)
        if n:
            items.append((kind, f"{label}s" if kind == "behavior_changes" and n != 1 else label, n))
    return items


def parse_number(number: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a "1.2.3" string, or None when it is not a version number."""
    match = NUMBER_RE.fullmatch(number or "")
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def _ordered(qs: QuerySet[PolicyVersion], *, newest_first: bool = True) -> QuerySet:
    sign = "-" if newest_first else ""
    return qs.order_by(f"{sign}major", f"{sign}minor", f"{sign}patch")


# --- Diffs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BehaviorChange:
    key: str
    old_key: str | None
    old: str
    new: str


@dataclass(frozen=True)
class ChangeSummary:
    """What a timeline, a feed or a history needs from a diff, small enough to cache."""

    behavior_changes: tuple[BehaviorChange, ...]
    counts: dict[str, int]
    rekeys: tuple[tuple[str, str], ...]  # (old_key, new_key)

    @property
    def changed_clauses(self) -> int:
        return sum(n for kind, n in self.counts.items() if kind in CHANGE_KINDS)


def summarize(diff: PolicyDiff) -> ChangeSummary:
    return ChangeSummary(
        behavior_changes=tuple(
            BehaviorChange(c.key, c.old_key, c.behavior_change[0], c.behavior_change[1])
            for c in diff.headline()
            if c.behavior_change
        ),
        counts=dict(diff.counts()),
        rekeys=tuple((c.old_key, c.key) for c in diff.changes if c.kind == "rekeyed" and c.old_key),
    )


def _cacheable(version: PolicyVersion) -> bool:
    return version.status != PolicyVersion.Status.DRAFT and bool(version.content_sha256)


def _cache_key(kind: str, old: PolicyVersion, new: PolicyVersion) -> str | None:
    if not (_cacheable(old) and _cacheable(new)):
        return None
    return f"policies:{kind}:v{DIFF_CACHE_VERSION}:{old.content_sha256}:{new.content_sha256}"


def _clauses_by_version(version_ids: Iterable[int]) -> dict[int, list[Clause]]:
    ids = set(version_ids)
    grouped: dict[int, list[Clause]] = {pk: [] for pk in ids}
    if ids:
        rows = Clause.objects.filter(version_id__in=ids).only(*CLAUSE_DIFF_FIELDS)
        for clause in rows.order_by("version_id", "position"):
            grouped[clause.version_id].append(clause)
    return grouped


def version_diff(*, old: PolicyVersion, new: PolicyVersion) -> PolicyDiff:
    """The clause diff from `old` to `new`: from the cache when both are published (their text
    can never change), otherwise computed from the clause rows (one query)."""
    key = _cache_key("diff", old, new)
    if key is not None:
        cached = cache.get(key)
        if cached is not None:
            return cached
    clauses = _clauses_by_version([old.pk, new.pk])
    diff = diff_clauses(clauses[old.pk], clauses[new.pk])
    if key is not None:
        cache.set(key, diff, DIFF_CACHE_SECONDS)
    return diff


def version_diff_json(*, old: PolicyVersion, new: PolicyVersion) -> bytes:
    """`version_diff(...).to_dict()` as compact UTF-8 JSON (the API's encoding), cached already
    serialised when both versions are published: a large diff is then one cache read, with no
    objects to rebuild and nothing to re-encode."""
    key = _cache_key("diff-json", old, new)
    if key is not None:
        cached = cache.get(key)
        if cached is not None:
            return cached
    text = json.dumps(
        version_diff(old=old, new=new).to_dict(),
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":"),
    )
    # As the API's JSON renderer does: these two are valid JSON but not valid JavaScript.
    data = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()
    if key is not None:
        cache.set(key, data, DIFF_CACHE_SECONDS)
    return data


def change_summaries(
    pairs: Sequence[tuple[PolicyVersion, PolicyVersion]],
) -> dict[tuple[int, int], ChangeSummary]:
    """Summaries of many (old, new) diffs at once: one cache round trip, and at most one query
    for the clauses of every pair that is not cached yet."""
    keys = {(old.pk, new.pk): _cache_key("summary", old, new) for old, new in pairs}
    cached = cache.get_many([k for k in keys.values() if k])
    result: dict[tuple[int, int], ChangeSummary] = {}
    missing = []
    for old, new in pairs:
        key = keys[(old.pk, new.pk)]
        if key and key in cached:
            result[(old.pk, new.pk)] = cached[key]
        else:
            missing.append((old, new))
    if missing:
        clauses = _clauses_by_version(pk for pair in missing for pk in (pair[0].pk, pair[1].pk))
        to_cache = {}
        for old, new in missing:
            summary = summarize(diff_clauses(clauses[old.pk], clauses[new.pk]))
            result[(old.pk, new.pk)] = summary
            if key := keys[(old.pk, new.pk)]:
                to_cache[key] = summary
        if to_cache:
            cache.set_many(to_cache, DIFF_CACHE_SECONDS)
    return result


# --- Directory ----------------------------------------------------------------------------------


@dataclass
class DirectoryRow:
    policy: Policy
    latest: PolicyVersion
    previous: PolicyVersion | None
    summary: ChangeSummary | None = None


def directory_filter_choices() -> tuple[list[Organization], list[AISystem]]:
    """Organizations and systems that have at least one public policy version, for the filters."""
    public = PolicyVersion.objects.filter(status__in=PUBLIC_STATUSES)
    organizations = list(
        Organization.objects.filter(policies__versions__in=public)
        .distinct()
        .only("id", "name", "slug")
        .order_by("name")
    )
    systems = list(
        AISystem.objects.filter(policies__versions__in=public)
        .distinct()
        .select_related("organization")
        .only("id", "name", "slug", "organization__name", "organization__slug")
        .order_by("organization__name", "name")
    )
    return organizations, systems


def policy_directory(
    *, organization: str | None = None, system: str | None = None
) -> QuerySet[Policy]:
    """Policies with at least one public version, annotated with the ids of their latest and
    previous public versions. `organization` is an organization slug, `system` is
    "<organization slug>/<system slug>"."""
    public = _ordered(
        PolicyVersion.objects.filter(policy=OuterRef("pk"), status__in=PUBLIC_STATUSES)
    ).values("pk")
    qs = (
        Policy.objects.annotate(latest_id=Subquery(public[:1]), previous_id=Subquery(public[1:2]))
        .filter(latest_id__isnull=False)
        .select_related("organization")
        .only("id", "title", "slug", "summary", "organization__name", "organization__slug")
        .prefetch_related(Prefetch("systems", queryset=AISystem.objects.only("id", "name", "slug")))
        .order_by("organization__name", "title")
    )
    if organization:
        qs = qs.filter(organization__slug=organization)
    if system:
        org_slug, _, system_slug = system.partition("/")
        qs = qs.filter(systems__organization__slug=org_slug, systems__slug=system_slug)
    return qs


def directory_rows(policies: Sequence[Policy]) -> list[DirectoryRow]:
    """The latest public version of each policy (one query) and its change summary against the
    version before it (cached, or one query for all)."""
    ids = {p.latest_id for p in policies} | {p.previous_id for p in policies if p.previous_id}
    versions = {
        v.pk: v for v in PolicyVersion.objects.filter(pk__in=ids).only(*VERSION_LIST_FIELDS)
    }
    rows = [DirectoryRow(p, versions[p.latest_id], versions.get(p.previous_id)) for p in policies]
    summaries = change_summaries([(r.previous, r.latest) for r in rows if r.previous])
    for row in rows:
        if row.previous:
            row.summary = summaries[(row.previous.pk, row.latest.pk)]
    return rows


# --- One policy ---------------------------------------------------------------------------------


def policy_get(*, organization_slug: str, policy_slug: str) -> Policy | None:
    return (
        Policy.objects.select_related("organization")
        .filter(organization__slug=organization_slug, slug=policy_slug)
        .first()
    )


def policy_systems(policy: Policy) -> list[AISystem]:
    return list(policy.systems.only("id", "name", "slug").order_by("name"))


@dataclass
class TimelineEntry:
    version: PolicyVersion
    previous: PolicyVersion | None
    summary: ChangeSummary | None


def policy_versions(*, policy: Policy, include_draft: bool) -> list[PolicyVersion]:
    """Every version, newest first, without bodies (one query)."""
    statuses = [*PUBLIC_STATUSES, PolicyVersion.Status.DRAFT] if include_draft else PUBLIC_STATUSES
    return list(_ordered(policy.versions.filter(status__in=statuses)).only(*VERSION_LIST_FIELDS))


def policy_timeline(*, policy: Policy, include_draft: bool) -> list[TimelineEntry]:
    """Versions newest first, each with what changed since the public version before it.
    Constant queries: the versions, then (on a cold cache) the clauses of uncached pairs."""
    versions = policy_versions(policy=policy, include_draft=include_draft)
    # Each version is compared with the public version just below it (a draft too).
    public = [v for v in versions if v.status != PolicyVersion.Status.DRAFT]
    entries = []
    for version in versions:
        below = [v for v in public if _key(v) < _key(version)]
        entries.append(TimelineEntry(version, below[0] if below else None, None))
    summaries = change_summaries([(e.previous, e.version) for e in entries if e.previous])
    for entry in entries:
        if entry.previous:
            entry.summary = summaries[(entry.previous.pk, entry.version.pk)]
    return entries


def _key(version: PolicyVersion) -> tuple[int, int, int]:
    return (version.major, version.minor, version.patch)


def version_get(*, policy: Policy, number: str) -> PolicyVersion | None:
    parts = parse_number(number)
    if parts is None:
        return None
    major, minor, patch = parts
    # The body (up to a million characters) is read only where it is needed: drafts, which are
    # parsed on each view, and the first rendering of a published version.
    return (
        policy.versions.filter(major=major, minor=minor, patch=patch)
        .select_related("policy__organization")
        .defer("body_markdown")
        .first()
    )


def version_clauses(version: PolicyVersion) -> list[Clause]:
    return list(
        version.clauses.only(
            "id", "version_id", "key", "title", "text", "expected_behavior", "categories",
            "position", "line",
        ).order_by("position")
    )  # fmt: skip


def current_version(policy: Policy) -> PolicyVersion | None:
    """The version in force: the one published and not superseded or withdrawn."""
    return (
        policy.versions.filter(status=PolicyVersion.Status.PUBLISHED)
        .only("id", "major", "minor", "patch", "status", "policy_id")
        .first()
    )


def previous_public_version(version: PolicyVersion) -> PolicyVersion | None:
    """The public version numbered just below `version` (what it is compared with)."""
    below = Q(major__lt=version.major) | Q(major=version.major, minor__lt=version.minor)
    below |= Q(major=version.major, minor=version.minor, patch__lt=version.patch)
    return (
        _ordered(version.policy.versions.filter(below, status__in=PUBLIC_STATUSES))
        .only(*VERSION_LIST_FIELDS)
        .first()
    )


def draft_of(policy: Policy) -> PolicyVersion | None:
    return policy.versions.filter(status=PolicyVersion.Status.DRAFT).first()


# --- Clause history -----------------------------------------------------------------------------


@dataclass
class HistoryRow:
    version: PolicyVersion
    clause: Clause | None
    previous: Clause | None = None  # the clause's last earlier occurrence
    previous_version: PolicyVersion | None = None  # the version of that occurrence
    rekeyed_from: str | None = None  # this version took the key over from another key
    rekeyed_to: str | None = None  # this version moved the clause to another key
    changes: list[str] = field(default_factory=list)


def clause_history(*, policy: Policy, key: str) -> list[HistoryRow]:
    """One key across every public version, oldest first: the clause (or its absence), what
    changed since its previous occurrence, and re-keys. Three queries on a warm cache."""
    versions = list(
        _ordered(policy.versions.filter(status__in=PUBLIC_STATUSES), newest_first=False).only(
            *VERSION_LIST_FIELDS
        )
    )
    clauses = {
        c.version_id: c
        for c in Clause.objects.filter(version__in=versions, key=key).only(
            *CLAUSE_DIFF_FIELDS, "line"
        )
    }
    pairs = list(itertools.pairwise(versions))
    summaries = change_summaries(pairs)
    rows: list[HistoryRow] = []
    last: Clause | None = None
    last_version: PolicyVersion | None = None
    for index, version in enumerate(versions):
        clause = clauses.get(version.pk)
        row = HistoryRow(
            version=version, clause=clause, previous=last, previous_version=last_version
        )
        if index > 0:
            summary = summaries[(versions[index - 1].pk, version.pk)]
            for old_key, new_key in summary.rekeys:
                if new_key == key:
                    row.rekeyed_from = old_key
                elif old_key == key:
                    row.rekeyed_to = new_key
        if clause is not None:
            if last is None:
                row.changes.append("First appears")
            else:
                if rows and rows[-1].clause is None:
                    row.changes.append(f"Back after being absent from v{rows[-1].version.number}")
                if last.expected_behavior != clause.expected_behavior:
                    row.changes.append(
                        f"Behaviour {last.get_expected_behavior_display().lower()} → "
                        f"{clause.get_expected_behavior_display().lower()}"
                    )
                if last.title != clause.title:
                    row.changes.append("Title changed")
                if last.text != clause.text:
                    row.changes.append("Text changed")
                if sorted(last.categories) != sorted(clause.categories):
                    row.changes.append("Categories changed")
                if not row.changes:
                    row.changes.append("Unchanged")
            last, last_version = clause, version
        rows.append(row)
    return rows


# --- Feeds and the organization page ------------------------------------------------------------


def feed_versions(*, policy: Policy | None = None, limit: int = FEED_SIZE) -> list[PolicyVersion]:
    """The newest public versions (all policies, or one), newest publication first."""
    qs = PolicyVersion.objects.filter(status__in=PUBLIC_STATUSES)
    if policy is not None:
        qs = qs.filter(policy=policy)
    return list(
        qs.select_related("policy__organization")
        .only(
            *VERSION_LIST_FIELDS,
            "policy__title",
            "policy__slug",
            "policy__organization__name",
            "policy__organization__slug",
        )
        .order_by("-published_at", "-id")[:limit]
    )


def feed_summaries(versions: Sequence[PolicyVersion]) -> dict[int, ChangeSummary | None]:
    """Each version's change summary against its previous public version (two queries)."""
    policy_ids = {v.policy_id for v in versions}
    if not policy_ids:
        return {}
    by_policy: dict[int, list[PolicyVersion]] = {}
    others = PolicyVersion.objects.filter(policy_id__in=policy_ids, status__in=PUBLIC_STATUSES)
    for v in _ordered(others).only(*VERSION_LIST_FIELDS):
        by_policy.setdefault(v.policy_id, []).append(v)
    previous = {}
    for version in versions:
        below = [v for v in by_policy[version.policy_id] if _key(v) < _key(version)]
        previous[version.pk] = below[0] if below else None
    summaries = change_summaries([(p, v) for v in versions if (p := previous[v.pk])])
    return {v.pk: summaries.get((p.pk, v.pk)) if (p := previous[v.pk]) else None for v in versions}


@dataclass
class OrganizationPolicy:
    policy: Policy
    current: PolicyVersion | None
    has_draft: bool


def organization_policies(
    *, organization: Organization, include_drafts: bool
) -> tuple[list[AISystem], list[OrganizationPolicy]]:
    """An organization's systems and policies, with each policy's current (or latest public)
    version. Policies with nothing public are listed only when `include_drafts`."""
    systems = list(organization.systems.only("id", "name", "slug", "description").order_by("name"))
    public = _ordered(
        PolicyVersion.objects.filter(policy=OuterRef("pk"), status__in=PUBLIC_STATUSES)
    ).values("pk")
    drafts = PolicyVersion.objects.filter(policy=OuterRef("pk"), status=PolicyVersion.Status.DRAFT)
    policies = list(
        organization.policies.annotate(
            latest_id=Subquery(public[:1]), draft_id=Subquery(drafts.values("pk")[:1])
        )
        .only("id", "title", "slug", "summary", "organization_id")
        .prefetch_related(Prefetch("systems", queryset=AISystem.objects.only("id", "name")))
        .order_by("title")
    )
    if not include_drafts:
        policies = [p for p in policies if p.latest_id]
    versions = {
        v.pk: v
        for v in PolicyVersion.objects.filter(
            pk__in=[p.latest_id for p in policies if p.latest_id]
        ).only(*VERSION_LIST_FIELDS)
    }
    return systems, [
        OrganizationPolicy(p, versions.get(p.latest_id), bool(p.draft_id)) for p in policies
    ]
