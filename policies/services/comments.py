"""Every state change of public comment: periods and their notices, comments and their threads,
endorsements, flags, moderation on the record, the company's responses and the publish gate.

Period changes, moderation and responses go on the public ledger. Posting a comment does not:
the docket itself is the public record, and one ledger lock per comment would cap a national
docket's posting rate.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from governance import ratelimit
from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import Organization, User
from governance.services.ledger import ledger_append
from policies import clustering
from policies.models import (
    Clause,
    Comment,
    CommentBand,
    CommentCluster,
    CommentPeriod,
    CommentPeriodExtension,
    CommentResponse,
    CommentRevision,
    Endorsement,
    Flag,
    ModerationAction,
    Policy,
    PolicyVersion,
)
from policies.rules import allowed
from policies.services import _clean_text, _no_nul

logger = logging.getLogger(__name__)

REASON_MAX = CommentPeriodExtension._meta.get_field("reason").max_length
PUBLIC_REASON_MAX = ModerationAction._meta.get_field("public_reason").max_length
FLAG_DETAILS_MAX = Flag._meta.get_field("details").max_length
RESPONSE_MAX = CommentResponse._meta.get_field("body").max_length
SUMMARY_MAX = CommentPeriod._meta.get_field("responses_summary").max_length
# Opening "now" from a form takes a moment to submit; a period may start this far in the past.
OPEN_GRACE = timedelta(minutes=5)
# Who was already sent which period notice: a retry after an SMTP failure skips them.
NOTICE_KEY = "policies:period-notice:{period}:{kind}:{at}:{user}"
NOTICE_SECONDS = 14 * 24 * 3600
NOT_ME_NOTICE_KEY = "policies:not-me-notice:{flag}:{user}"

# A link is an http(s) URL or a bare www. address; one alternation, scanned left to right, so
# "https://www.example.org" counts once.
_LINK = re.compile(r"(?i)(?<![\w@.-])(?:https?://|www\.)[^\s<>\"']+")

HOLD_EXPLANATIONS = {
    Comment.HeldReason.NEW_ACCOUNT: (
        "Held automatically: comments from accounts less than a day old are reviewed by a "
        "moderator before they are published."
    ),
    Comment.HeldReason.LINKS: (
        "Held automatically: comments with several links are reviewed by a moderator before "
        "they are published."
    ),
    Comment.HeldReason.NOT_ME: (
        "Held: its author reports that it was submitted in their name without their consent."
    ),
}


def _settings(name: str) -> Any:
    return settings.OPENREFUSAL[name]


def _require(actor: Any, permission: str, target: Any, message: str, *, field: str = "") -> None:
    if not allowed(actor, permission, target):
        raise NotAllowed(message, fields={field: [message]} if field else None)


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, fields={field: [message]})


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%-d %B %Y, %H:%M:%S UTC")


def _now(now: datetime | None) -> datetime:
    return timezone.now() if now is None else now


def _clean_datetime(value: Any, field: str) -> datetime:
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise _invalid(field, "Give a date and time with a time zone.")
    return value


def count_links(body: str) -> int:
    """How many http(s):// URLs and bare www. addresses the text contains."""
    return len(_LINK.findall(body or ""))


def _lock_period(period: CommentPeriod) -> CommentPeriod:
    return (
        CommentPeriod.objects.select_for_update(of=("self",))
        .select_related("version__policy__organization")
        .get(pk=period.pk)
    )


def _lock_comment(comment: Comment) -> Comment:
    return (
        Comment.objects.select_for_update(of=("self",)).select_related("period").get(pk=comment.pk)
    )


def _require_open(period: CommentPeriod, now: datetime) -> None:
    """Open from `opens_at` (inclusive) to `closes_at` (exclusive), at the second."""
    state = period.state_at(now)
    if state == CommentPeriod.State.SCHEDULED:
        raise Conflict(
            f"This comment period is not open yet: it opens on {_when(period.opens_at)}.",
            code="period_not_open",
        )
    if state == CommentPeriod.State.CLOSED:
        raise Conflict(
            f"This comment period closed on {_when(period.closes_at)}.", code="period_closed"
        )


# --- Periods -----------------------------------------------------------------------------------


@transaction.atomic
def comment_period_open(
    *,
    actor: User,
    version: PolicyVersion,
    opens_at: datetime,
    closes_at: datetime,
    now: datetime | None = None,
) -> CommentPeriod:
    """Open (or schedule) the one comment period of a published version."""
    now = _now(now)
    _require(
        actor,
        "policies.open_comment_period",
        version,
        "Only editors and owners of the verified company that publishes this policy can open "
        "its comment period.",
    )
    # Serialises two editors opening the same version's period at once.
    version = (
        PolicyVersion.objects.select_for_update(of=("self",))
        .select_related("policy__organization")
        .get(pk=version.pk)
    )
    if version.status != PolicyVersion.Status.PUBLISHED:
        raise Conflict(
            f"Only the published version can be opened for comment; v{version.number} is "
            f"{version.get_status_display().lower()}.",
            code="not_published",
        )
    if CommentPeriod.objects.filter(version=version).exists():
        raise Conflict(
            f"v{version.number} already has a comment period; extend it instead.",
            code="period_exists",
        )
    opens_at = _clean_datetime(opens_at, "opens_at")
    closes_at = _clean_datetime(closes_at, "closes_at")
    if opens_at < now - OPEN_GRACE:
        raise _invalid("opens_at", "A comment period cannot open in the past: choose now or later.")
    minimum = timedelta(days=_settings("COMMENT_PERIOD_MIN_DAYS"))
    maximum = timedelta(days=_settings("COMMENT_PERIOD_MAX_DAYS"))
    if closes_at - opens_at < minimum:
        raise _invalid(
            "closes_at",
            f"A comment period lasts at least {minimum.days} days: close it on "
            f"{_when(opens_at + minimum)} or later.",
        )
    if closes_at - opens_at > maximum:
        raise _invalid(
            "closes_at",
            f"A comment period lasts at most {maximum.days} days: close it by "
            f"{_when(opens_at + maximum)}.",
        )
    period = CommentPeriod.objects.create(
        version=version, opens_at=opens_at, closes_at=closes_at, opened_by=actor
    )
    ledger_append(
        actor=actor,
        action="comment_period.opened",
        subject=period,
        payload={
            "organization": version.policy.organization.slug,
            "policy": version.policy_id,
            "version": version.number,
            "opens_at": opens_at.isoformat(),
            "closes_at": closes_at.isoformat(),
        },
    )
    return period


@transaction.atomic
def comment_period_extend(
    *,
    actor: User,
    period: CommentPeriod,
    closes_at: datetime,
    reason: str,
    now: datetime | None = None,
) -> CommentPeriod:
    """Move the closing time later, with a public reason. Never earlier, never after closing."""
    now = _now(now)
    _require(
        actor,
        "policies.extend_comment_period",
        period,
        "Only editors and owners of the company that publishes this policy can extend its "
        "comment period.",
    )
    period = _lock_period(period)
    if period.state_at(now) == CommentPeriod.State.CLOSED:
        raise Conflict(
            f"This comment period closed on {_when(period.closes_at)}; a closed period cannot "
            "be extended.",
            code="period_closed",
        )
    reason = _clean_text(reason, field="reason", limit=REASON_MAX, label="A reason", required=True)
    closes_at = _clean_datetime(closes_at, "closes_at")
    if closes_at <= period.closes_at:
        raise _invalid(
            "closes_at",
            f"Choose a time after the current close ({_when(period.closes_at)}): a comment "
            "period can be extended, never shortened.",
        )
    maximum = timedelta(days=_settings("COMMENT_PERIOD_MAX_DAYS"))
    if closes_at - period.opens_at > maximum:
        raise _invalid(
            "closes_at",
            f"A comment period lasts at most {maximum.days} days: close it by "
            f"{_when(period.opens_at + maximum)}.",
        )
    previous = period.closes_at
    CommentPeriodExtension.objects.create(
        period=period,
        previous_closes_at=previous,
        new_closes_at=closes_at,
        reason=reason,
        actor=actor,
    )
    fields = ["closes_at"]
    if period.extended_from is None:
        period.extended_from = previous
        fields.append("extended_from")
    period.closes_at = closes_at
    # Followers told "closing in 3 days" hear again when the new close comes near.
    if closes_at - now > timedelta(days=_settings("COMMENT_CLOSING_NOTICE_DAYS")):
        period.closing_notice_sent_at = None
        fields.append("closing_notice_sent_at")
    period.save(update_fields=fields)
    ledger_append(
        actor=actor,
        action="comment_period.extended",
        subject=period,
        payload={
            "previous_closes_at": previous.isoformat(),
            "closes_at": closes_at.isoformat(),
            "reason": reason,
        },
    )
    return period


def _period_url(period: CommentPeriod) -> str:
    version = period.version
    kwargs = {
        "org_slug": version.policy.organization.slug,
        "policy_slug": version.policy.slug,
        "number": version.number,
    }
    try:
        path = reverse("policies:comments", kwargs=kwargs)
    except NoReverseMatch:  # the comment pages are not mounted: the version page still is
        path = reverse("policies:version", kwargs=kwargs)
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _notice_kinds(now: datetime) -> dict[str, tuple[str, dict[str, Any], str]]:
    """kind → (stamp field, when it is due, the time that makes this notice distinct)."""
    notice = timedelta(days=_settings("COMMENT_CLOSING_NOTICE_DAYS"))
    open_now = {"opens_at__lte": now, "closes_at__gt": now}
    return {
        "opening": ("opening_notice_sent_at", open_now, "opens_at"),
        "closing": (
            "closing_notice_sent_at",
            {**open_now, "closes_at__lte": now + notice},
            "closes_at",
        ),
        "closed": ("closed_notice_sent_at", {"closes_at__lte": now}, "closes_at"),
    }


def _claim_notice(stamp: str, due: dict[str, Any], skip: set[int], now: datetime):
    """Stamp one period whose notice is due and commit at once: a concurrent run skips the
    locked row and, after the commit, no longer finds it due."""
    with transaction.atomic():
        period = (
            CommentPeriod.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("version__policy__organization")
            .filter(**due, **{f"{stamp}__isnull": True})
            .exclude(pk__in=skip)
            .order_by("pk")
            .first()
        )
        if period is not None:
            setattr(period, stamp, now)
            period.save(update_fields=[stamp])
        return period


def _send_notice(period: CommentPeriod, kind: str, at: datetime) -> int:
    policy = period.version.policy
    context = {
        "period": period,
        "version": period.version,
        "policy": policy,
        "url": _period_url(period),
        "opens_at": _when(period.opens_at),
        "closes_at": _when(period.closes_at),
    }
    subject = " ".join(
        render_to_string(f"policies/email/comment_period_{kind}_subject.txt", context).split()
    )
    body = render_to_string(f"policies/email/comment_period_{kind}.txt", context)
    followers = (
        User.objects.filter(policy_follows__policy=policy, is_active=True)
        .exclude(email="")
        .only("id", "email")
        .order_by("pk")
    )
    sent = 0
    for user in followers.iterator():
        key = NOTICE_KEY.format(period=period.pk, kind=kind, at=int(at.timestamp()), user=user.pk)
        if not cache.add(key, 1, NOTICE_SECONDS):
            continue
        message = EmailMessage(
            subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body=body, to=[user.email]
        )
        try:
            message.send()
        except Exception:
            cache.delete(key)  # not sent: the retry must try this person again
            raise
        sent += 1
    return sent


def comment_period_send_notices(*, now: datetime | None = None) -> dict[str, int]:
    """Send the due "opening", "closing" (within COMMENT_CLOSING_NOTICE_DAYS) and "closed"
    e-mails to each policy's followers, each once per period; returns how many went out.

    Not atomic as a whole: mail is not transactional. Each period's stamp is claimed and
    committed first (so two runs never both send it); if sending then fails, the stamp is
    cleared for the next run, and the people already told are skipped by their cache key."""
    now = _now(now)
    sent: dict[str, int] = {}
    for kind, (stamp, due, at_field) in _notice_kinds(now).items():
        sent[kind] = 0
        failed: set[int] = set()
        while (period := _claim_notice(stamp, due, failed, now)) is not None:
            try:
                sent[kind] += _send_notice(period, kind, getattr(period, at_field))
            except Exception:
                logger.exception("The %s notice of comment period %s failed", kind, period.pk)
                CommentPeriod.objects.filter(pk=period.pk).update(**{stamp: None})
                failed.add(period.pk)
    return sent


# --- Comments ----------------------------------------------------------------------------------


def _clean_body(body: Any) -> tuple[str, int]:
    """The comment text, stripped and checked, and how many links it has."""
    if not isinstance(body, str):
        raise _invalid("body", "The comment must be text.")
    text = body.strip()
    if not text:
        raise _invalid("body", "Write your comment.")
    limit = _settings("COMMENT_MAX_CHARS")
    if len(text) > limit:
        raise _invalid(
            "body", f"A comment has at most {limit:,} characters (this one has {len(text):,})."
        )
    _no_nul(text, "body")
    links = count_links(text)
    most = _settings("COMMENT_MAX_LINKS")
    if links > most:
        raise _invalid("body", f"A comment has at most {most} links (this one has {links}).")
    return text, links


def _hold_reason(author: User, links: int, now: datetime) -> str:
    if author.date_joined > now - timedelta(hours=_settings("COMMENT_HOLD_ACCOUNT_HOURS")):
        return Comment.HeldReason.NEW_ACCOUNT
    if links >= _settings("COMMENT_HOLD_LINKS"):
        return Comment.HeldReason.LINKS
    return Comment.HeldReason.NONE


def _check_rates(author: User, ip: str | None, now: datetime) -> None:
    limits = [(f"comment:account:{author.pk}", _settings("COMMENT_RATE_ACCOUNT"))]
    if ip:
        limits.append((f"comment:ip:{str(ip)[:64]}", _settings("COMMENT_RATE_IP")))
    ratelimit.hit_many(limits, now=now)


def _clause_of(version: PolicyVersion, clause_key: Any) -> Clause | None:
    if clause_key is None:
        return None
    if not isinstance(clause_key, str):
        raise _invalid("clause", "Choose a clause by its key.")
    key = clause_key.strip()
    if not key:
        return None
    clause = Clause.objects.filter(version_id=version.pk, key=key).first()
    if clause is None:
        shown = key if len(key) <= 120 else key[:119] + "…"
        raise _invalid("clause", f"v{version.number} has no clause {shown!r}.")
    return clause


def _reply_target(parent: Any, period: CommentPeriod) -> Comment:
    if not isinstance(parent, Comment) or parent.period_id != period.pk:
        raise _invalid("parent", "You can only reply to a comment of this comment period.")
    if parent.status != Comment.Status.PUBLISHED:
        raise _invalid(
            "parent", f"This comment is {parent.get_status_display().lower()}; it takes no replies."
        )
    return parent


def _hold_on_record(comment: Comment, reason: str) -> None:
    ModerationAction.objects.create(
        comment=comment,
        period_id=comment.period_id,
        moderator=None,
        action=ModerationAction.Action.HOLD,
        public_reason=HOLD_EXPLANATIONS[reason],
    )


@transaction.atomic
def comment_post(
    *,
    author: User,
    period: CommentPeriod,
    body: str,
    clause_key: str | None = None,
    parent: Comment | None = None,
    on_behalf_of: Organization | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> Comment:
    """Post a comment on the version (or one of its clauses), or a reply in a thread. New
    accounts' and link-heavy comments are held for a moderator; a form letter joins its
    campaign's cluster at once."""
    now = _now(now)
    _require(author, "policies.post_comment", None, "Verify your e-mail address to comment.")
    _check_rates(author, ip, now)
    _require_open(period, now)
    version = period.version
    if version.status != PolicyVersion.Status.PUBLISHED:
        raise Conflict(
            f"v{version.number} is no longer the published version; it takes no more comments.",
            code="not_published",
        )
    text, links = _clean_body(body)
    root = None
    if parent is not None:
        parent = _reply_target(parent, period)
        root = parent.root if parent.root_id else parent
        clause_id = root.clause_id  # a reply belongs to its thread's clause
    else:
        clause = _clause_of(version, clause_key)
        clause_id = clause.pk if clause is not None else None
    if on_behalf_of is not None:
        if not isinstance(on_behalf_of, Organization):
            raise _invalid("on_behalf_of", "Choose an organization you belong to.")
        _require(
            author,
            "policies.comment_on_behalf_of",
            on_behalf_of,
            f"You can comment on behalf of {on_behalf_of.name} only as a member of it, once "
            "it is verified.",
            field="on_behalf_of",
        )
    held = _hold_reason(author, links, now)
    top_level_public = parent is None and not held
    sha = clustering.comment_text_sha256(text)
    has_earlier, cluster_id = False, None
    if top_level_public:
        # A form letter is filed in its campaign's cluster as it is stored.
        has_earlier, cluster_id = clustering.exact_cluster_for_new(period.pk, sha)
    comment = Comment.objects.create(
        period=period,
        author=author,
        clause_id=clause_id,
        parent=parent,
        root=root,
        on_behalf_of=on_behalf_of,
        body=text,
        normalized_sha256=sha,
        status=Comment.Status.HELD if held else Comment.Status.PUBLISHED,
        held_reason=held,
        cluster_id=cluster_id,
        listed=top_level_public and cluster_id is None,
        # Replies and held comments are not clustered (an approval sends it to the pass), nor
        # are exact copies: their cluster is already theirs.
        clustering_done=not top_level_public or cluster_id is not None,
        link_count=links,
        created_at=now,
    )
    if held:
        _hold_on_record(comment, held)
    elif root is not None:
        Comment.objects.filter(pk=root.pk).update(reply_count=F("reply_count") + 1)
    elif cluster_id is None:
        if has_earlier:
            clustering.cluster_exact_on_post(comment)  # the earlier one's cluster is made now
        if not comment.clustering_done:
            clustering.schedule_clustering()
    return comment


def _require_author(actor: Any, comment: Comment, what: str) -> None:
    if (
        actor is None
        or not getattr(actor, "is_authenticated", False)
        or actor.pk != comment.author_id
    ):
        raise NotAllowed(f"Only the author of a comment can {what} it.")


def _recluster(comment: Comment) -> None:
    """A top-level comment (re)entering public view with its current text: listed, its stale
    LSH band keys gone, the exact cluster joined now and the near-duplicate pass scheduled."""
    CommentBand.objects.filter(comment_id=comment.pk).delete()
    Comment.objects.filter(pk=comment.pk).update(listed=True, clustering_done=False)
    comment.listed, comment.clustering_done = True, False
    clustering.cluster_exact_on_post(comment)
    clustering.schedule_clustering()


def _move(comment: Comment, status: str, *, held_reason: str = "", hidden_reason: str = "") -> None:
    """Change a (locked) comment's status and keep what depends on it right: the listing flag,
    its cluster and its thread's reply count (which counts published replies)."""
    before = comment.status
    comment.status = status
    comment.held_reason = held_reason if status == Comment.Status.HELD else ""
    comment.hidden_reason = hidden_reason if status == Comment.Status.HIDDEN else ""
    fields = ["status", "held_reason", "hidden_reason"]
    if status == Comment.Status.WITHDRAWN:
        fields.append("withdrawn_at")
    comment.save(update_fields=fields)
    if comment.parent_id is not None:
        change = (status == Comment.Status.PUBLISHED) - (before == Comment.Status.PUBLISHED)
        if change > 0:
            Comment.objects.filter(pk=comment.root_id).update(reply_count=F("reply_count") + 1)
        elif change < 0:
            Comment.objects.filter(pk=comment.root_id, reply_count__gt=0).update(
                reply_count=F("reply_count") - 1
            )
        return
    if status in (Comment.Status.HELD, Comment.Status.WITHDRAWN):
        # Held: out of view. Withdrawn: its tombstone stays listed on its own, out of any
        # campaign — unless it was held and so never public.
        clustering.cluster_detach(comment)
        if status == Comment.Status.WITHDRAWN and before == Comment.Status.HELD:
            Comment.objects.filter(pk=comment.pk).update(listed=False)
            comment.listed = False
    elif status == Comment.Status.PUBLISHED and not comment.listed and comment.cluster_id is None:
        # Approved after a hold, or restored after being hidden while held: public for the
        # first time (a hidden comment that was public kept its place, listed or clustered).
        _recluster(comment)
    # Hidden: a public comment keeps its place as a placeholder; a held one stays out of view.


@transaction.atomic
def comment_edit(
    *, actor: User, comment: Comment, body: str, now: datetime | None = None
) -> Comment:
    """The author corrects a comment within COMMENT_EDIT_MINUTES, while the period is open; the
    earlier text is kept as a revision."""
    now = _now(now)
    comment = _lock_comment(comment)
    _require_author(actor, comment, "edit")
    if comment.status in (Comment.Status.WITHDRAWN, Comment.Status.HIDDEN):
        raise Conflict(
            f"This comment is {comment.get_status_display().lower()} and can no longer be edited.",
            code="not_editable",
        )
    window = timedelta(minutes=_settings("COMMENT_EDIT_MINUTES"))
    if now >= comment.created_at + window:
        raise Conflict(
            "This comment can no longer be edited: comments can be edited for "
            f"{int(window.total_seconds() // 60)} minutes after posting, until "
            f"{_when(comment.created_at + window)}.",
            code="edit_window_closed",
        )
    _require_open(comment.period, now)
    text, links = _clean_body(body)
    if text == comment.body:
        return comment
    CommentRevision.objects.create(
        comment=comment, body=comment.body, created_at=comment.edited_at or comment.created_at
    )
    old_sha = comment.normalized_sha256
    comment.body = text
    comment.normalized_sha256 = clustering.comment_text_sha256(text)
    comment.link_count = links
    comment.edited_at = now
    comment.save(update_fields=["body", "normalized_sha256", "link_count", "edited_at"])
    if comment.status == Comment.Status.PUBLISHED and links >= _settings("COMMENT_HOLD_LINKS"):
        _move(comment, Comment.Status.HELD, held_reason=Comment.HeldReason.LINKS)
        _hold_on_record(comment, Comment.HeldReason.LINKS)
    elif (
        comment.normalized_sha256 != old_sha
        and comment.parent_id is None
        and comment.status == Comment.Status.PUBLISHED
    ):
        # Other words: out of the old campaign, then into whichever the new text belongs to.
        clustering.cluster_detach(comment)
        _recluster(comment)
    return comment


@transaction.atomic
def comment_withdraw(*, actor: User, comment: Comment, now: datetime | None = None) -> Comment:
    """The author withdraws a comment while the period is open. A tombstone stays in its place;
    the text stays in the database but is never shown or exported."""
    now = _now(now)
    comment = _lock_comment(comment)
    _require_author(actor, comment, "withdraw")
    if comment.status == Comment.Status.WITHDRAWN:
        raise Conflict("This comment is already withdrawn.", code="already_withdrawn")
    if comment.status == Comment.Status.HIDDEN:
        # The moderator's public reason stays on the record in the comment's place.
        raise Conflict(
            "A comment hidden by a moderator cannot be withdrawn.", code="hidden_by_moderator"
        )
    _require_open(comment.period, now)
    comment.withdrawn_at = now
    _move(comment, Comment.Status.WITHDRAWN)
    return comment


# --- Endorsements and flags ----------------------------------------------------------------------


def _check_endorsable(user: Any, comment: Comment, now: datetime) -> None:
    _require(user, "policies.endorse_comment", None, "Verify your e-mail address to endorse.")
    if comment.author_id == user.pk:
        raise _invalid("comment", "You cannot endorse your own comment.")
    if comment.status != Comment.Status.PUBLISHED:
        raise Conflict(
            f"This comment is {comment.get_status_display().lower()}; only published comments "
            "can be endorsed.",
            code="not_published",
        )
    _require_open(comment.period, now)


def _endorsement_count(comment: Comment) -> int:
    return Comment.objects.values_list("endorsement_count", flat=True).get(pk=comment.pk)


def _add_endorsement(user: User, comment: Comment) -> bool:
    """True when this call created the endorsement (the unique constraint decides a race)."""
    try:
        with transaction.atomic():
            Endorsement.objects.create(user=user, comment=comment)
    except IntegrityError:
        return False
    Comment.objects.filter(pk=comment.pk).update(endorsement_count=F("endorsement_count") + 1)
    return True


def _remove_endorsement(user: User, comment: Comment) -> bool:
    deleted, _ = Endorsement.objects.filter(user=user, comment=comment).delete()
    if not deleted:
        return False
    Comment.objects.filter(pk=comment.pk, endorsement_count__gt=0).update(
        endorsement_count=F("endorsement_count") - 1
    )
    return True


@transaction.atomic
def comment_endorse(*, user: User, comment: Comment, now: datetime | None = None) -> int:
    """Endorse a published comment of an open period (once); returns its endorsement count."""
    _check_endorsable(user, comment, _now(now))
    if not _add_endorsement(user, comment):
        raise Conflict("You already endorse this comment.", code="already_endorsed")
    return _endorsement_count(comment)


@transaction.atomic
def comment_unendorse(*, user: User, comment: Comment, now: datetime | None = None) -> int:
    """Take an endorsement back; returns the comment's endorsement count."""
    _check_endorsable(user, comment, _now(now))
    if not _remove_endorsement(user, comment):
        raise Conflict("You do not endorse this comment.", code="not_endorsed")
    return _endorsement_count(comment)


@transaction.atomic
def comment_endorsement_toggle(
    *, user: User, comment: Comment, now: datetime | None = None
) -> tuple[bool, int]:
    """Endorse, or take the endorsement back: (endorsed now?, count). A double click racing
    itself ends in one state, without an error."""
    _check_endorsable(user, comment, _now(now))
    if Endorsement.objects.filter(user=user, comment=comment).exists():
        _remove_endorsement(user, comment)
        return False, _endorsement_count(comment)
    _add_endorsement(user, comment)
    return True, _endorsement_count(comment)


@transaction.atomic
def comment_flag(*, user: User, comment: Comment, reason: str, details: str = "") -> Flag:
    """Report a comment to the moderators. The author's own "submitted in my name without my
    consent" report holds it at once, on the record."""
    _require(user, "policies.flag_comment", None, "Verify your e-mail address to flag comments.")
    if not isinstance(reason, str) or reason not in Flag.Reason.values:
        raise _invalid("reason", "Choose one of the listed reasons.")
    details = _clean_text(
        details,
        field="details",
        limit=FLAG_DETAILS_MAX,
        label="Details",
        required=reason in (Flag.Reason.OTHER, Flag.Reason.NOT_ME),
    )
    if comment.status == Comment.Status.WITHDRAWN:
        raise Conflict("This comment was withdrawn by its author.", code="withdrawn")
    try:
        with transaction.atomic():
            flag = Flag.objects.create(comment=comment, user=user, reason=reason, details=details)
    except IntegrityError:
        raise Conflict("You have already flagged this comment.", code="already_flagged") from None
    if reason == Flag.Reason.NOT_ME and comment.author_id == user.pk:
        locked = _lock_comment(comment)
        if locked.status == Comment.Status.PUBLISHED:
            _move(locked, Comment.Status.HELD, held_reason=Comment.HeldReason.NOT_ME)
            _hold_on_record(locked, Comment.HeldReason.NOT_ME)
        elif locked.status == Comment.Status.HELD:
            locked.held_reason = Comment.HeldReason.NOT_ME
            locked.save(update_fields=["held_reason"])
        ledger_append(
            actor=user,
            action="comment.reported_not_me",
            subject=locked,
            payload={"comment": locked.pk, "period": locked.period_id, "status": locked.status},
        )
    if reason == Flag.Reason.NOT_ME:
        _schedule_not_me_notice(flag.pk)
    return flag


def _schedule_not_me_notice(flag_id: int) -> None:
    """After commit, tell the moderators: a report of identity misuse should not wait for
    someone to open the queue."""

    def enqueue() -> None:
        from policies.tasks import notify_moderators_of_not_me_report

        try:
            notify_moderators_of_not_me_report.delay(flag_id)
        except Exception:
            # The report is stored and in the queue either way; the log names it for a re-run.
            logger.exception("Could not queue the moderators' e-mail for flag %s", flag_id)

    transaction.on_commit(enqueue)


def moderators_notify_not_me_report(*, flag_id: int) -> int:
    """E-mail every active moderator about a "submitted in my name without my consent" report,
    each once (safe to run again); returns how many e-mails went out. Not atomic: mail is not
    transactional, so each send is recorded on its own."""
    from governance.rules import MODERATORS_GROUP

    flag = (
        Flag.objects.select_related("comment__period__version__policy__organization", "user")
        .filter(pk=flag_id, reason=Flag.Reason.NOT_ME)
        .first()
    )
    if flag is None or flag.resolved_at is not None:
        return 0  # gone, or a moderator acted before the e-mail went out
    comment = flag.comment
    version = comment.period.version
    context = {
        "flag": flag,
        "comment": comment,
        "version": version,
        "policy": version.policy,
        "by_author": flag.user_id == comment.author_id,
        "reported_at": _when(flag.created_at),
        "comment_url": f"{settings.SITE_URL.rstrip('/')}"
        f"{reverse('policies:comment', args=[comment.pk])}",
        "queue_url": f"{settings.SITE_URL.rstrip('/')}"
        f"{reverse('policies:moderation-queue')}?reason=not_me",
    }
    subject = " ".join(
        render_to_string("policies/email/not_me_report_subject.txt", context).split()
    )
    body = render_to_string("policies/email/not_me_report.txt", context)
    moderators = (
        User.objects.filter(is_active=True)
        .filter(Q(groups__name=MODERATORS_GROUP) | Q(is_staff=True))
        .exclude(email="")
        .distinct()
        .only("id", "email")
        .order_by("pk")
    )
    sent = 0
    for moderator in moderators.iterator():
        key = NOT_ME_NOTICE_KEY.format(flag=flag.pk, user=moderator.pk)
        if not cache.add(key, 1, NOTICE_SECONDS):
            continue
        message = EmailMessage(
            subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body=body, to=[moderator.email]
        )
        try:
            message.send()
        except Exception:
            cache.delete(key)  # not sent: the retry must try this moderator again
            raise
        sent += 1
    return sent


# --- Moderation --------------------------------------------------------------------------------

# action → (the statuses it applies to, the status it leads to; None: unchanged).
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    ModerationAction.Action.HIDE: (
        (Comment.Status.PUBLISHED, Comment.Status.HELD),
        Comment.Status.HIDDEN,
    ),
    ModerationAction.Action.RESTORE: ((Comment.Status.HIDDEN,), Comment.Status.PUBLISHED),
    ModerationAction.Action.APPROVE: ((Comment.Status.HELD,), Comment.Status.PUBLISHED),
    ModerationAction.Action.HOLD: ((Comment.Status.PUBLISHED,), Comment.Status.HELD),
    ModerationAction.Action.DISMISS: (
        (Comment.Status.PUBLISHED, Comment.Status.HELD, Comment.Status.HIDDEN),
        None,
    ),
}


@transaction.atomic
def comment_moderate(
    *,
    moderator: User,
    comment: Comment,
    action: str,
    public_reason: str,
    now: datetime | None = None,
) -> ModerationAction:
    """Hide, restore, approve, hold or dismiss the flags of a comment, with a public reason, on
    the ledger. Resolves the comment's open flags."""
    now = _now(now)
    _require(
        moderator, "policies.moderate_comments", None, "Only moderators can moderate comments."
    )
    if not isinstance(action, str) or action not in TRANSITIONS:
        raise _invalid("action", "Choose hide, restore, approve, hold or dismiss.")
    reason = _clean_text(
        public_reason,
        field="public_reason",
        limit=PUBLIC_REASON_MAX,
        label="A public reason",
        required=True,
    )
    comment = _lock_comment(comment)
    sources, target = TRANSITIONS[action]
    if comment.status not in sources:
        raise Conflict(
            f"This comment is {comment.get_status_display().lower()}; "
            f"“{ModerationAction.Action(action).label}” does not apply to it.",
            code="wrong_status",
        )
    if target is not None:
        _move(comment, target, held_reason=Comment.HeldReason.MODERATOR, hidden_reason=reason)
    entry = ModerationAction.objects.create(
        comment=comment,
        period_id=comment.period_id,
        moderator=moderator,
        action=action,
        public_reason=reason,
    )
    Flag.objects.filter(comment=comment, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by=moderator
    )
    ledger_append(
        actor=moderator,
        action=f"comment.{action}",
        subject=comment,
        payload={"comment": comment.pk, "period": comment.period_id, "reason": reason},
    )
    return entry


# --- The duty to respond -----------------------------------------------------------------------


def _require_responder(actor: Any, period: CommentPeriod) -> None:
    _require(
        actor,
        "policies.respond_to_comments",
        period,
        "Only editors and owners of the company that publishes this policy can answer its "
        "comments.",
    )


def _require_unpublished_responses(period: CommentPeriod) -> None:
    if period.responses_published_at is not None:
        raise Conflict(
            "The response to comments is published; it can no longer change.",
            code="responses_published",
        )


@transaction.atomic
def comment_response_save(
    *,
    actor: User,
    period: CommentPeriod,
    target: str,
    comment: Comment | None = None,
    cluster: CommentCluster | None = None,
    clause_key: str = "",
    body: str,
    declined: bool = False,
) -> CommentResponse:
    """Answer a comment, a campaign or a clause's comments — or record why not (`declined`).
    One response per target: saving again replaces it, until the document is published."""
    _require_responder(actor, period)
    period = _lock_period(period)
    _require_unpublished_responses(period)
    body = _clean_text(body, field="body", limit=RESPONSE_MAX, label="The response", required=True)
    lookup: dict[str, Any] = {"period": period, "target": target}
    if target == CommentResponse.Target.COMMENT:
        if not isinstance(comment, Comment) or comment.period_id != period.pk:
            raise _invalid("comment", "Choose a comment of this comment period.")
        if comment.status == Comment.Status.HELD:
            raise _invalid("comment", "This comment is held for review and not public yet.")
        lookup["comment"] = comment
    elif target == CommentResponse.Target.CLUSTER:
        if not isinstance(cluster, CommentCluster) or cluster.period_id != period.pk:
            raise _invalid("cluster", "Choose a campaign of this comment period.")
        lookup["cluster"] = cluster
    elif target == CommentResponse.Target.CLAUSE:
        clause = _clause_of(period.version, clause_key)
        if clause is None:
            raise _invalid("clause", "Choose the clause whose comments you answer.")
        lookup["clause_key"] = clause.key
    else:
        raise _invalid("target", "Answer a comment, a cluster or a clause.")
    response, created = CommentResponse.objects.update_or_create(
        **lookup,
        defaults={
            "body": body,
            "declined": bool(declined),
            "organization": period.version.policy.organization,
            "author": actor,
        },
    )
    ledger_append(
        actor=actor,
        action="comment_response.saved",
        subject=period,
        payload={
            "response": response.pk,
            "target": target,
            "comment": response.comment_id,
            "cluster": response.cluster_id,
            "clause": response.clause_key,
            "declined": response.declined,
            "created": created,
        },
    )
    return response


@transaction.atomic
def comment_response_delete(*, actor: User, response: CommentResponse) -> None:
    """Delete a response before the document is published."""
    _require_responder(actor, response.period)
    period = _lock_period(response.period)
    _require_unpublished_responses(period)
    ledger_append(
        actor=actor,
        action="comment_response.deleted",
        subject=period,
        payload={
            "response": response.pk,
            "target": response.target,
            "comment": response.comment_id,
            "cluster": response.cluster_id,
            "clause": response.clause_key,
        },
    )
    response.delete()


@transaction.atomic
def response_document_publish(
    *, actor: User, period: CommentPeriod, summary: str, now: datetime | None = None
) -> CommentPeriod:
    """Publish the "response to comments" once the period has closed and every required item
    (campaigns of RESPONSE_CLUSTER_MIN comments, clauses with comments) has its answer or its
    recorded reason for not answering. Frozen from then on."""
    from policies.selectors.responses import response_requirements

    now = _now(now)
    _require(
        actor,
        "policies.publish_responses",
        period,
        "Only editors and owners of the verified company that publishes this policy can "
        "publish its response to comments.",
    )
    period = _lock_period(period)
    if period.responses_published_at is not None:
        raise Conflict("The response to comments is already published.", code="already_published")
    if period.state_at(now) != CommentPeriod.State.CLOSED:
        raise Conflict(
            f"The comment period is open until {_when(period.closes_at)}; publish the response "
            "to comments after it closes.",
            code="period_not_closed",
        )
    summary = _clean_text(
        summary, field="summary", limit=SUMMARY_MAX, label="A summary", required=True
    )
    requirements = response_requirements(period)
    if not requirements.complete:
        missing = requirements.missing
        raise Conflict(
            f"{missing} of {requirements.required} required item"
            f"{'s' if requirements.required != 1 else ''} still "
            f"need{'s' if missing == 1 else ''} an answer or a recorded reason for not answering.",
            code="responses_incomplete",
        )
    period.responses_summary = summary
    period.responses_published_at = now
    period.responses_published_by = actor
    period.save(
        update_fields=["responses_summary", "responses_published_at", "responses_published_by"]
    )
    ledger_append(
        actor=actor,
        action="comment_period.responses_published",
        subject=period,
        payload={
            "answered": requirements.answered,
            "declined": requirements.declined,
            "required": requirements.required,
        },
    )
    return period


def require_responses_before_publish(*, policy: Policy, version: PolicyVersion) -> None:
    """The company answers before it finalises: no new version of `policy` while another
    version's comment period lacks its published response to comments."""
    pending = (
        CommentPeriod.objects.filter(version__policy=policy, responses_published_at__isnull=True)
        .exclude(version=version)
        .select_related("version")
        .order_by("version__major", "version__minor", "version__patch")
        .first()
    )
    if pending is not None:
        raise Conflict(
            f"v{pending.version.number}'s comment period needs its response to comments before "
            "a new version is published.",
            code="responses_missing",
        )


__all__ = [
    "HOLD_EXPLANATIONS",
    "comment_edit",
    "comment_endorse",
    "comment_endorsement_toggle",
    "comment_flag",
    "comment_moderate",
    "comment_period_extend",
    "comment_period_open",
    "comment_period_send_notices",
    "comment_post",
    "comment_response_delete",
    "comment_response_save",
    "comment_unendorse",
    "comment_withdraw",
    "count_links",
    "moderators_notify_not_me_report",
    "require_responses_before_publish",
    "response_document_publish",
]
