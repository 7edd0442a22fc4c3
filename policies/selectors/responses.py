"""What a company's "response to comments" must cover, how much of it is answered, and the
version that followed the commented one."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q

from policies.diff import ClauseChange
from policies.models import (
    Clause,
    Comment,
    CommentCluster,
    CommentPeriod,
    CommentResponse,
    PolicyVersion,
)


@dataclass
class RequiredItem:
    """One thing the company must answer (or record why not): a campaign or a clause."""

    kind: str  # "cluster" | "clause"
    comment_count: int
    cluster: CommentCluster | None = None
    clause_key: str = ""
    clause_title: str = ""
    response: CommentResponse | None = None
    # What became of the item's clause in the next published version (see `link_next_version`):
    # None when there is no next version or the item is about the whole text.
    next_change: ClauseChange | None = None

    @property
    def about_clause(self) -> str:
        """The key of the clause the item is about: its own, or a campaign's clause."""
        if self.kind == "clause":
            return self.clause_key
        representative = self.cluster.representative if self.cluster else None
        clause = getattr(representative, "clause", None) if representative else None
        return clause.key if clause is not None else ""

    @property
    def answered(self) -> bool:
        return self.response is not None and not self.response.declined

    @property
    def declined(self) -> bool:
        return self.response is not None and self.response.declined


@dataclass
class ResponseRequirements:
    items: list[RequiredItem] = field(default_factory=list)

    @property
    def required(self) -> int:
        return len(self.items)

    @property
    def answered(self) -> int:
        return sum(1 for item in self.items if item.answered)

    @property
    def declined(self) -> int:
        return sum(1 for item in self.items if item.declined)

    @property
    def missing(self) -> int:
        return self.required - self.answered - self.declined

    @property
    def complete(self) -> bool:
        return self.missing == 0

    @property
    def percent_answered(self) -> int:
        """Answered or declined, of the required items, rounded down (99.5 % is not done)."""
        if not self.required:
            return 100
        return (self.answered + self.declined) * 100 // self.required


def response_requirements(period: CommentPeriod) -> ResponseRequirements:
    """Every cluster of the period with at least RESPONSE_CLUSTER_MIN comments (largest first),
    then every clause of the version with at least one listed published comment (in document
    order), each with its response or None. Four queries, whatever the docket's size."""
    minimum = settings.OPENREFUSAL["RESPONSE_CLUSTER_MIN"]
    responses = list(
        CommentResponse.objects.filter(period=period).exclude(target=CommentResponse.Target.COMMENT)
    )
    by_cluster = {r.cluster_id: r for r in responses if r.target == CommentResponse.Target.CLUSTER}
    by_clause = {r.clause_key: r for r in responses if r.target == CommentResponse.Target.CLAUSE}
    items = [
        RequiredItem(
            kind="cluster",
            cluster=cluster,
            comment_count=cluster.comment_count,
            response=by_cluster.get(cluster.pk),
        )
        for cluster in CommentCluster.objects.filter(period=period, comment_count__gte=minimum)
        .select_related("representative__clause")
        .order_by("-comment_count", "id")
    ]
    # A clause is owed an answer when a comment on it is in public view (withdrawn tombstones
    # and hidden placeholders are not); its count includes the campaign copies it received.
    per_clause = (
        Comment.objects.filter(
            period=period,
            parent__isnull=True,
            clause__isnull=False,
            status=Comment.Status.PUBLISHED,
        )
        .values("clause_id")
        .order_by()
        .annotate(total=Count("id"), listed=Count("id", filter=Q(listed=True)))
        .filter(listed__gt=0)
    )
    counts = {row["clause_id"]: row["total"] for row in per_clause}
    clauses = Clause.objects.filter(pk__in=counts).only("pk", "key", "title", "position")
    items += [
        RequiredItem(
            kind="clause",
            clause_key=clause.key,
            clause_title=clause.title,
            comment_count=counts[clause.pk],
            response=by_clause.get(clause.key),
        )
        for clause in clauses.order_by("position")
    ]
    return ResponseRequirements(items=items)


def next_version(period: CommentPeriod) -> PolicyVersion | None:
    """The policy's next published version after the commented one (whatever became of it
    since: superseded or withdrawn versions stay readable), for "what changed" links."""
    version = period.version
    major, minor, patch = version.major, version.minor, version.patch
    return (
        PolicyVersion.objects.filter(policy_id=version.policy_id)
        .exclude(status=PolicyVersion.Status.DRAFT)
        .filter(
            Q(major__gt=major)
            | Q(major=major, minor__gt=minor)
            | Q(major=major, minor=minor, patch__gt=patch)
        )
        .select_related("policy__organization")
        .order_by("major", "minor", "patch")
        .first()
    )


def link_next_version(
    period: CommentPeriod, requirements: ResponseRequirements
) -> PolicyVersion | None:
    """The next published version, with each required item's `next_change`: what the diff from
    the commented version says became of the item's clause (changed, re-keyed, moved, removed or
    unchanged), so the response links to the very change — or says there was none."""
    following = next_version(period)
    if following is None:
        return None
    from policies.selectors import version_diff

    diff = version_diff(old=period.version, new=following)
    by_old_key = {
        change.old_key or (change.old or {}).get("key"): change
        for change in diff.changes
        if change.kind != "added"
    }
    for item in requirements.items:
        key = item.about_clause
        item.next_change = by_old_key.get(key) if key else None
    return following


__all__ = [
    "RequiredItem",
    "ResponseRequirements",
    "link_next_version",
    "next_version",
    "response_requirements",
]
