"""Reads of public comment shared by the pages, the feeds and the API: keyset pages of a
docket (a campaign once, by its representative), threads, clusters, counts and the
moderators' queue — each in a constant number of queries, however deep the page."""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.db.models import Count, F, Min, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from governance.errors import Invalid, NotFound
from governance.rules import is_moderator
from policies.models import (
    Comment,
    CommentCluster,
    CommentPeriod,
    CommentRevision,
    Endorsement,
    Flag,
    ModerationAction,
    PolicyVersion,
)
from policies.models.comments import SEARCH_CONFIG

SORTS = {"newest": "Newest first", "oldest": "Oldest first", "endorsed": "Most endorsed"}
PAGE_SIZE = 25
REPLIES_SHOWN = 3
STATS_SECONDS = 30
Q_MAX = 200
LIST_FIELDS = (
    "id", "period_id", "author_id", "author__display_name", "author__deleted_at",
    "author__email", "clause_id", "clause__key", "clause__title", "parent_id", "root_id",
    "on_behalf_of_id", "on_behalf_of__name", "on_behalf_of__slug", "body", "status",
    "held_reason", "hidden_reason", "listed", "cluster_id", "cluster__comment_count",
    "cluster__variant_count", "cluster__representative_id", "cluster__kind",
    "endorsement_count", "reply_count", "link_count", "created_at", "edited_at",
    "withdrawn_at",
)  # fmt: skip


def period_for_version(version: PolicyVersion) -> CommentPeriod | None:
    return CommentPeriod.objects.filter(version=version).first()


def period_with_version(pk: Any) -> CommentPeriod:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("No such comment period.") from None
    period = (
        CommentPeriod.objects.select_related("version__policy__organization")
        # The version's Markdown (hundreds of kilobytes for a long policy) is not needed here.
        .defer("version__body_markdown")
        .filter(pk=pk)
        .first()
    )
    if period is None:
        raise NotFound("No such comment period.")
    return period


POSTING_FIELDS = (
    "id", "version_id", "opens_at", "closes_at", "version__id", "version__policy_id",
    "version__status", "version__major", "version__minor", "version__patch",
)  # fmt: skip


def period_for_posting(pk: Any) -> CommentPeriod:
    """The period a comment is posted to, with only what posting checks (its dates, the
    version's number and status): the hot path of a busy docket reads no more than that."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("No such comment period.") from None
    period = (
        CommentPeriod.objects.select_related("version")
        .only(*POSTING_FIELDS)
        .filter(pk=pk)
        .order_by()
        .first()
    )
    if period is None:
        raise NotFound("No such comment period.")
    return period


@dataclass
class CommentFilters:
    sort: str = "newest"
    clause_key: str = ""
    cluster_id: int | None = None
    organizations_only: bool = False
    q: str = ""
    cursor: str = ""

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise Invalid("Unknown sort.", fields={"sort": [f"Use one of {', '.join(SORTS)}."]})
        # NUL cannot reach PostgreSQL text; a query or key holding one matches nothing anyway.
        self.q = (self.q or "").replace("\x00", "").strip()[:Q_MAX]
        self.clause_key = (self.clause_key or "").replace("\x00", "")[:120]


@dataclass
class CommentPage:
    items: list[Comment]
    next_cursor: str | None
    previous_cursor: str | None
    replies: dict[int, list[Comment]] = field(default_factory=dict)


def _encode(direction: str, item: Comment, sort: str) -> str:
    data = {"d": direction, "i": item.pk}
    if sort == "endorsed":
        data["e"] = item.endorsement_count
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: str) -> dict | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        valid = (
            isinstance(data, dict)
            and data.get("d") in ("n", "p")
            and isinstance(data.get("i"), int)
            and (sort != "endorsed" or isinstance(data.get("e"), int))
        )
    except (ValueError, binascii.Error, UnicodeDecodeError):
        valid = False
    if not valid:
        raise Invalid("This page link is not valid.", fields={"cursor": ["Invalid cursor."]})
    return data


def _keyset(qs: QuerySet, sort: str, cursor: dict | None) -> tuple[QuerySet, bool]:
    """Order and position `qs`; returns (queryset, reversed?) — a "previous" cursor reads the
    other way and the caller flips the rows back."""
    backwards = bool(cursor and cursor["d"] == "p")
    if sort == "oldest":
        order, after = ["id"], (lambda c: Q(id__gt=c["i"]))
        before = lambda c: Q(id__lt=c["i"])  # noqa: E731
    elif sort == "endorsed":
        order = ["-endorsement_count", "-id"]

        def after(c):
            return Q(endorsement_count__lt=c["e"]) | Q(endorsement_count=c["e"], id__lt=c["i"])

        def before(c):
            return Q(endorsement_count__gt=c["e"]) | Q(endorsement_count=c["e"], id__gt=c["i"])
    else:
        order, after = ["-id"], (lambda c: Q(id__lt=c["i"]))
        before = lambda c: Q(id__gt=c["i"])  # noqa: E731
    if cursor:
        qs = qs.filter(before(cursor) if backwards else after(cursor))
    if backwards:
        order = [o[1:] if o.startswith("-") else f"-{o}" for o in order]
    return qs.order_by(*order), backwards


def _base(period: CommentPeriod) -> QuerySet:
    return Comment.objects.filter(period=period).select_related(
        "author", "on_behalf_of", "clause", "cluster"
    )


def comment_page(
    period: CommentPeriod,
    filters: CommentFilters,
    *,
    viewer=None,
    size: int = PAGE_SIZE,
) -> CommentPage:
    cursor = _decode(filters.cursor, filters.sort)
    if filters.cluster_id is not None:
        qs = _base(period).filter(cluster_id=filters.cluster_id).exclude(status=Comment.Status.HELD)
    else:
        qs = _base(period).filter(listed=True)
    if filters.clause_key:
        qs = qs.filter(clause__key=filters.clause_key)
    if filters.organizations_only:
        qs = qs.filter(on_behalf_of__isnull=False)
    if filters.q:
        query = SearchQuery(filters.q, search_type="websearch", config=SEARCH_CONFIG)
        qs = qs.filter(search_vector=query)
    qs, backwards = _keyset(qs, filters.sort, cursor)
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    has_next = more if not backwards else True
    has_previous = bool(cursor) and (more if backwards else True)
    page = CommentPage(
        items=rows,
        next_cursor=_encode("n", rows[-1], filters.sort) if rows and has_next else None,
        previous_cursor=_encode("p", rows[0], filters.sort) if rows and has_previous else None,
    )
    page.replies = thread_previews([c.pk for c in rows if c.reply_count])
    # One endorsement lookup for the page and its reply previews.
    _annotate_viewer(rows + [r for replies in page.replies.values() for r in replies], viewer)
    return page


def _annotate_viewer(rows: list[Comment], viewer) -> None:
    endorsed: set[int] = set()
    if viewer is not None and viewer.is_authenticated and rows:
        endorsed = set(
            Endorsement.objects.filter(
                user=viewer, comment_id__in=[c.pk for c in rows]
            ).values_list("comment_id", flat=True)
        )
    for comment in rows:
        comment.viewer_endorsed = comment.pk in endorsed
        comment.viewer_is_author = viewer is not None and comment.author_id == getattr(
            viewer, "pk", None
        )


def thread_previews(root_ids: list[int], *, viewer=None) -> dict[int, list[Comment]]:
    """The first few replies of each thread, in one query."""
    if not root_ids:
        return {}
    replies = (
        Comment.objects.filter(root_id__in=root_ids)
        .exclude(status=Comment.Status.HELD)
        .select_related("author", "on_behalf_of")
        .annotate(n=Window(RowNumber(), partition_by=[F("root_id")], order_by=F("id").asc()))
        .filter(n__lte=REPLIES_SHOWN)
        .order_by("root_id", "id")
    )
    result: dict[int, list[Comment]] = {}
    rows = list(replies)
    _annotate_viewer(rows, viewer)
    for reply in rows:
        result.setdefault(reply.root_id, []).append(reply)
    return result


def _can_see_held(comment: Comment, viewer) -> bool:
    if viewer is None or not viewer.is_authenticated:
        return False
    return comment.author_id == viewer.pk or is_moderator(viewer) or viewer.is_staff


def comment_for_reader(pk: Any, viewer=None) -> Comment:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("No such comment.") from None
    comment = (
        Comment.objects.select_related(
            "author", "on_behalf_of", "clause", "cluster", "period__version__policy__organization"
        )
        .filter(pk=pk)
        .first()
    )
    if comment is None or (
        comment.status == Comment.Status.HELD and not _can_see_held(comment, viewer)
    ):
        raise NotFound("No such comment.")
    _annotate_viewer([comment], viewer)
    return comment


def comment_thread(comment: Comment, *, viewer=None) -> list[Comment]:
    """The root and every reply, in posting order (held replies only for who may see them)."""
    root_id = comment.root_id or comment.pk
    rows = list(
        Comment.objects.filter(Q(pk=root_id) | Q(root_id=root_id))
        .select_related("author", "on_behalf_of", "clause", "cluster", "parent__author")
        .order_by("id")
    )
    rows = [c for c in rows if c.status != Comment.Status.HELD or _can_see_held(c, viewer)]
    _annotate_viewer(rows, viewer)
    return rows


def comment_history(comment: Comment) -> list:
    return list(comment.revisions.order_by("replaced_at"))


def comment_moderation(comment: Comment) -> list[ModerationAction]:
    return list(comment.moderation.select_related("moderator").order_by("created_at"))


def own_held_comments(period: CommentPeriod, viewer) -> list[Comment]:
    if viewer is None or not viewer.is_authenticated:
        return []
    return list(
        Comment.objects.filter(period=period, author=viewer, status=Comment.Status.HELD)
        .select_related("clause")
        .order_by("-id")[:20]
    )


@dataclass
class PeriodStats:
    total: int = 0
    top_level: int = 0
    replies: int = 0
    listed: int = 0
    in_clusters: int = 0
    unique: int = 0
    clusters: int = 0
    organizations: int = 0
    held: int = 0
    hidden: int = 0
    withdrawn: int = 0
    flags_open: int = 0
    moderation: dict[str, int] = field(default_factory=dict)
    per_clause: dict[str, int] = field(default_factory=dict)


def _stats_key(period_id: int) -> str:
    return f"policies:comment-stats:{period_id}"


def period_stats(period: CommentPeriod, *, fresh: bool = False) -> PeriodStats:
    """Counts for the period box and the API, cached briefly: at a million comments each count
    is a scan, and a reader does not need them to the second."""
    key = _stats_key(period.pk)
    if not fresh:
        cached = cache.get(key)
        if cached is not None:
            return cached
    visible = ~Q(status=Comment.Status.HELD)
    counts = Comment.objects.filter(period=period).aggregate(
        total=Count("id", filter=visible),
        top_level=Count("id", filter=visible & Q(parent__isnull=True)),
        replies=Count("id", filter=visible & Q(parent__isnull=False)),
        listed=Count("id", filter=Q(listed=True)),
        in_clusters=Count("id", filter=Q(cluster__isnull=False)),
        organizations=Count("id", filter=visible & Q(on_behalf_of__isnull=False)),
        held=Count("id", filter=Q(status=Comment.Status.HELD)),
        hidden=Count("id", filter=Q(status=Comment.Status.HIDDEN)),
        withdrawn=Count("id", filter=Q(status=Comment.Status.WITHDRAWN)),
    )
    stats = PeriodStats(**counts)
    stats.unique = stats.top_level - stats.in_clusters
    stats.clusters = CommentCluster.objects.filter(period=period, comment_count__gt=1).count()
    stats.flags_open = Flag.objects.filter(comment__period=period, resolved_at__isnull=True).count()
    stats.moderation = dict(
        ModerationAction.objects.filter(period=period)
        .values_list("action")
        .annotate(n=Count("id"))
        .values_list("action", "n")
    )
    stats.per_clause = dict(
        Comment.objects.filter(period=period, clause__isnull=False)
        .filter(visible)
        .values_list("clause__key")
        .annotate(n=Count("id"))
        .values_list("clause__key", "n")
    )
    cache.set(key, stats, STATS_SECONDS)
    return stats


def forget_period_stats(period_id: int) -> None:
    cache.delete(_stats_key(period_id))


def clause_comment_counts(version: PolicyVersion) -> dict[str, int]:
    period = period_for_version(version)
    return period_stats(period).per_clause if period else {}


VARIANTS_SECONDS = 300


def cluster_variants(cluster: CommentCluster, *, limit: int = 20) -> list[tuple[Comment, int]]:
    """Each distinct text of a campaign (its earliest comment) with how many comments use it.
    Counting a campaign of a hundred thousand letters reads all of them, so the answer is kept
    a few minutes (and recomputed as soon as the campaign's size changes by a hundredth)."""
    bucket = round(math.log(max(cluster.comment_count, 1), 1.01))
    key = f"policies:cluster-variants:{cluster.pk}:{bucket}"
    rows = cache.get(key)
    if rows is None:
        rows = list(
            Comment.objects.filter(cluster=cluster)
            .values("normalized_sha256")
            .annotate(n=Count("id"), first=Min("id"))
            .order_by("-n")[:limit]
        )
        cache.set(key, rows, VARIANTS_SECONDS)
    firsts = Comment.objects.in_bulk([r["first"] for r in rows])
    return [(firsts[r["first"]], r["n"]) for r in rows if r["first"] in firsts]


def cluster_for_period(period: CommentPeriod, pk: Any) -> CommentCluster:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("No such campaign.") from None
    cluster = (
        CommentCluster.objects.filter(period=period, pk=pk)
        .select_related("representative__author", "representative__clause")
        .first()
    )
    if cluster is None:
        raise NotFound("No such campaign.")
    return cluster


def moderation_queue(
    *,
    cursor: str | None = None,
    after: int | None = None,
    size: int = 50,
    reason: str | None = None,
) -> list[Comment]:
    """Held comments and comments with open flags, oldest first, with their open flags
    (`open_flags`). The next page starts after the last comment's id: pass it as `cursor`
    (a string, as it comes from a query string) or `after`. With a flag `reason`, only the
    comments with an open flag of that reason (and, for "not_me", those held for it)."""
    if cursor:
        if not str(cursor).isdigit() or len(str(cursor)) > 19:
            raise Invalid("This page link is not valid.", fields={"cursor": ["Invalid cursor."]})
        after = int(cursor)
    if reason and reason not in Flag.Reason.values:
        raise Invalid("Unknown reason.", fields={"reason": ["Use one of the flag reasons."]})
    held = Comment.objects.filter(status=Comment.Status.HELD)
    flagged = Flag.objects.filter(resolved_at__isnull=True)
    if reason:
        flagged = flagged.filter(reason=reason)
        held = held.filter(held_reason=reason) if reason == Flag.Reason.NOT_ME else held.none()
    if after:
        held = held.filter(id__gt=after)
        flagged = flagged.filter(comment_id__gt=after)
    ids = set(held.order_by("id").values_list("id", flat=True)[:size])
    ids |= set(flagged.order_by("comment_id").values_list("comment_id", flat=True)[: size * 2])
    ids = sorted(ids)[:size]
    rows = (
        Comment.objects.filter(id__in=ids)
        .select_related("author", "clause", "on_behalf_of", "period__version__policy__organization")
        .prefetch_related(
            Prefetch(
                "flags",
                queryset=Flag.objects.filter(resolved_at__isnull=True).select_related("user"),
                to_attr="open_flags",
            )
        )
        .order_by("id")
    )
    return list(rows)


def open_report_counts() -> dict[str, int]:
    """How many comments have an open flag of each reason: the queue's header, so a report of
    identity misuse is not lost among spam flags."""
    return dict(
        Flag.objects.filter(resolved_at__isnull=True)
        .values_list("reason")
        .annotate(n=Count("comment_id", distinct=True))
        .values_list("reason", "n")
    )


def open_periods(*, limit: int = 10) -> list[CommentPeriod]:
    from django.utils import timezone

    now = timezone.now()
    return list(
        CommentPeriod.objects.filter(opens_at__lte=now, closes_at__gt=now)
        .select_related("version__policy__organization")
        .order_by("closes_at")[:limit]
    )


def clause_comment_extras(clauses: list) -> dict[int, dict]:
    """For `{% clause_extras %}` on a version page: each clause's comment count and the link to
    its comments — one cached count query for the whole page."""
    from django.urls import reverse

    version_id = next((getattr(c, "version_id", None) for c in clauses), None)
    if version_id is None:
        return {}
    period = (
        CommentPeriod.objects.select_related("version__policy__organization")
        .filter(version_id=version_id)
        .first()
    )
    if period is None:
        return {}
    version = period.version
    url = reverse(
        "policies:comments",
        kwargs={
            "org_slug": version.policy.organization.slug,
            "policy_slug": version.policy.slug,
            "number": version.number,
        },
    )
    counts = period_stats(period).per_clause
    return {
        c.pk: {
            "count": counts.get(c.key, 0),
            "url": f"{url}?clause={c.key}",
            "open": period.is_open,
        }
        for c in clauses
        if getattr(c, "pk", None)
    }


def user_comment_export(user) -> dict:
    """The account export's "comments" section: the person's own comments with their text and
    earlier revisions (withdrawn and hidden ones too: it is their own writing), the comments
    they endorse and the flags they raised."""

    def at(value):
        return value.isoformat() if value else None

    revisions: dict[int, list[dict]] = {}
    for revision in CommentRevision.objects.filter(comment__author=user).order_by("pk"):
        revisions.setdefault(revision.comment_id, []).append(
            {"body": revision.body, "created_at": at(revision.created_at)}
        )
    comments = Comment.objects.filter(author=user).select_related(
        "clause", "on_behalf_of", "period__version__policy"
    )
    return {
        "comments": [
            {
                "id": c.pk,
                "period": c.period_id,
                "on": f"{c.period.version.policy.title} v{c.period.version.number}",
                "clause": c.clause.key if c.clause_id else None,
                "parent": c.parent_id,
                "on_behalf_of": c.on_behalf_of.slug if c.on_behalf_of_id else None,
                "created_at": at(c.created_at),
                "edited_at": at(c.edited_at),
                "withdrawn_at": at(c.withdrawn_at),
                "status": c.status,
                "hidden_reason": c.hidden_reason,
                "body": c.body,
                "revisions": revisions.get(c.pk, []),
            }
            for c in comments.order_by("pk")
        ],
        "endorsements": [
            {"comment": comment_id, "created_at": at(created_at)}
            for comment_id, created_at in Endorsement.objects.filter(user=user)
            .order_by("pk")
            .values_list("comment_id", "created_at")
        ],
        "flags": [
            {
                "comment": f.comment_id,
                "reason": f.reason,
                "details": f.details,
                "created_at": at(f.created_at),
                "resolved_at": at(f.resolved_at),
            }
            for f in Flag.objects.filter(user=user).order_by("pk")
        ],
    }
