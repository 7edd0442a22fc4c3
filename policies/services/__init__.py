"""State changes of AI systems, policies and their versions: drafts are private to the company;
systems, policies, publication and withdrawal go on the public ledger."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import AISystem, Organization, User
from governance.services.ledger import ledger_append
from governance.slugs import clean_slug, unique_slug
from policies.diff import diff_clauses
from policies.models import Clause, Policy, PolicyFollow, PolicyVersion
from policies.parsing import (
    ParsedPolicy,
    content_sha256,
    normalize_text,
    parse_policy_markdown,
)
from policies.rules import allowed

logger = logging.getLogger(__name__)

SYSTEM_NAME_MAX = AISystem._meta.get_field("name").max_length
SYSTEM_DESCRIPTION_MAX = AISystem._meta.get_field("description").max_length
SLUG_MAX = Policy._meta.get_field("slug").max_length
TITLE_MAX = Policy._meta.get_field("title").max_length
SUMMARY_MAX = Policy._meta.get_field("summary").max_length
SUMMARY_OF_CHANGES_MAX = PolicyVersion._meta.get_field("summary_of_changes").max_length
REASON_MAX = PolicyVersion._meta.get_field("withdrawn_reason").max_length
BODY_MAX = 1_000_000
NUMBER_PART_MAX = 999_999
# How many parse errors a refused publication lists (the editor shows them all).
ERRORS_SHOWN = 20
GENESIS_SHA256 = "0" * 64
NUMBER_PATTERN = re.compile(r"^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$")

# Slugs that would shadow a page under /policies/<org>/ or /policies/<org>/<policy>/.
RESERVED_SLUGS = frozenset({"new", "systems", "feed.atom", "feed", "clauses", "diff", "draft", "v"})


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


# --- Permission and validation helpers --------------------------------------------------------


def _require(actor: User | None, permission: str, target: Any, message: str) -> None:
    if not allowed(actor, permission, target):
        raise NotAllowed(message)


def _one_line(value: Any) -> str:
    return " ".join(str(value or "").split())


def _no_nul(value: str, field: str) -> str:
    # PostgreSQL text holds neither NUL nor lone surrogates; say so instead of failing on insert.
    if "\x00" in value:
        raise Invalid(
            "The text contains a NUL character.",
            fields={field: ["Remove the NUL (\\0) characters from this text."]},
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(
            "The text is not valid Unicode.",
            fields={field: ["The text contains invalid characters (unpaired surrogates)."]},
        ) from None
    return value


def _clean_text(value: Any, *, field: str, limit: int, label: str, required: bool = False) -> str:
    if value is not None and not isinstance(value, str):
        raise Invalid(f"{label} must be text.", fields={field: [f"{label} must be text."]})
    text = _no_nul((value or "").strip(), field)
    if required and not text:
        raise Invalid(f"{label} is required.", fields={field: [f"Enter {label.lower()}."]})
    if len(text) > limit:
        message = f"Use at most {limit:,} characters (this has {len(text):,})."
        raise Invalid(f"{label} is too long.", fields={field: [message]})
    return text


def _slug(slug: Any, text: str, *, model, organization: Organization, fallback: str) -> str:
    """The chosen slug, checked, or one made from `text`; unique within the organization."""
    rules = {
        "taken": model.objects.filter(organization=organization),
        "reserved": RESERVED_SLUGS,
        "max_length": SLUG_MAX,
    }
    if slug:
        return clean_slug(slug, **rules)
    return unique_slug(text, fallback=fallback, **rules)


def parse_number(number: Any) -> tuple[int, int, int]:
    """`"1.2.3"` → (1, 2, 3); anything else is an `Invalid` on the `number` field."""
    match = NUMBER_PATTERN.match(number.strip()) if isinstance(number, str) else None
    if match is None:
        raise Invalid(
            "The version number is not valid.",
            fields={
                "number": [
                    "Use a semantic version: three whole numbers like 1.4.0, without leading "
                    "zeros, each at most 999999."
                ]
            },
        )
    return int(match[1]), int(match[2]), int(match[3])


def _number_text(parts: tuple[int, int, int]) -> str:
    return ".".join(str(p) for p in parts)


def _check_number_is_next(
    policy: Policy, parts: tuple[int, int, int], *, exclude_pk: int | None
) -> None:
    """Strictly above every other version of the policy (withdrawn ones included: a number is
    never reused)."""
    others = PolicyVersion.objects.filter(policy=policy)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    highest = others.order_by("-major", "-minor", "-patch").values_list("major", "minor", "patch")[
        :1
    ]
    highest = next(iter(highest), None)
    if highest is not None and parts <= tuple(highest):
        raise Invalid(
            "The version number goes backwards.",
            fields={
                "number": [
                    f"Use a number above {_number_text(highest)}, the highest version of "
                    f"this policy so far."
                ]
            },
        )


def _clean_body(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("The policy text must be text.", fields={"body_markdown": ["Send the text."]})
    text = _no_nul(normalize_text(value), "body_markdown")
    if not text.strip():
        raise Invalid(
            "The policy text is empty.",
            fields={"body_markdown": ["Write the policy text, or upload a Markdown file."]},
        )
    if len(text) > BODY_MAX:
        raise Invalid(
            "The policy text is too long.",
            fields={
                "body_markdown": [f"Use at most {BODY_MAX:,} characters (this has {len(text):,})."]
            },
        )
    return text


def _clean_effective_at(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise Invalid(
            "The effective date is not valid.",
            fields={"effective_at": ["Give a date and time with a time zone."]},
        )
    return value


def parse_errors_as_fields(parsed: ParsedPolicy) -> list[str]:
    shown = [f"line {e.line}: {e.message}" for e in parsed.errors[:ERRORS_SHOWN]]
    hidden = len(parsed.errors) - len(shown)
    if hidden > 0:
        shown.append(f"… and {hidden} more problem{'s' if hidden != 1 else ''}.")
    return shown


def _replace_clauses(version: PolicyVersion, parsed: ParsedPolicy) -> int:
    """A draft's clauses mirror its text when the text parses, and are empty when it does not."""
    Clause.objects.filter(version=version).delete()
    if not parsed.ok:
        return 0
    Clause.objects.bulk_create(
        Clause(
            version=version,
            key=c.key,
            title=c.title,
            text=c.text,
            expected_behavior=c.expected_behavior,
            categories=list(c.categories),
            position=index,
            line=c.line,
        )
        for index, c in enumerate(parsed.clauses, start=1)
    )
    return len(parsed.clauses)


def _lock_policy(policy: Policy) -> Policy:
    """Serialises drafting, publishing and withdrawing within one policy."""
    return Policy.objects.select_for_update().select_related("organization").get(pk=policy.pk)


def _lock_version(version: PolicyVersion) -> tuple[Policy, PolicyVersion]:
    policy = _lock_policy(version.policy)
    locked = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    locked.policy = policy
    return policy, locked


def _require_draft(version: PolicyVersion) -> None:
    if not version.is_draft:
        raise Conflict(
            f"Version {version.number} is {version.status} and can no longer be changed; "
            "write a new version instead.",
            code="not_draft",
        )


# --- AI systems -------------------------------------------------------------------------------


@transaction.atomic
def ai_system_create(
    *,
    actor: User,
    organization: Organization,
    name: str,
    slug: str | None = None,
    description: str = "",
) -> AISystem:
    """A developer organization's editors list the AI systems it ships."""
    _require(
        actor,
        "policies.add_system",
        organization,
        "Only editors and owners of an AI developer can add its systems.",
    )
    name = _clean_text(
        _one_line(name), field="name", limit=SYSTEM_NAME_MAX, label="The name", required=True
    )
    description = _clean_text(
        description, field="description", limit=SYSTEM_DESCRIPTION_MAX, label="The description"
    )
    slug = _slug(slug, name, model=AISystem, organization=organization, fallback="system")
    try:
        with transaction.atomic():
            system = AISystem.objects.create(
                organization=organization,
                name=name,
                slug=slug,
                description=description,
                created_by=actor,
            )
    except IntegrityError:
        raise Invalid(
            "This address name is taken.",
            fields={"slug": ["Another system of this organization already uses this address."]},
        ) from None
    ledger_append(
        actor=actor,
        action="ai_system.created",
        subject=system,
        payload={"organization": organization.slug, "name": system.name, "slug": system.slug},
    )
    return system


@transaction.atomic
def ai_system_update(
    *, actor: User, system: AISystem, name: str | None = None, description: str | None = None
) -> AISystem:
    """Rename or re-describe a system; its address (slug) stays, so links keep working."""
    _require(
        actor,
        "policies.change_system",
        system,
        "Only editors and owners of the system's organization can change it.",
    )
    system = AISystem.objects.select_for_update().get(pk=system.pk)
    changes: dict[str, str] = {}
    if name is not None:
        name = _clean_text(
            _one_line(name), field="name", limit=SYSTEM_NAME_MAX, label="The name", required=True
        )
        if name != system.name:
            changes["name"] = name
    if description is not None:
        description = _clean_text(
            description,
            field="description",
            limit=SYSTEM_DESCRIPTION_MAX,
            label="The description",
        )
        if description != system.description:
            changes["description"] = description
    if not changes:
        return system
    for field, value in changes.items():
        setattr(system, field, value)
    system.save(update_fields=list(changes))
    ledger_append(
        actor=actor,
        action="ai_system.updated",
        subject=system,
        payload={"organization": system.organization.slug, "slug": system.slug, **changes},
    )
    return system


# --- Policies ---------------------------------------------------------------------------------


def _clean_systems(systems: Iterable[Any], organization: Organization) -> list[AISystem]:
    if isinstance(systems, str | bytes) or not isinstance(systems, Iterable):
        raise Invalid("Systems must be a list.", fields={"systems": ["Send a list of systems."]})
    items = list(systems)
    ids = []
    for item in items:
        pk = item.pk if isinstance(item, AISystem) else item
        if not isinstance(pk, int) or isinstance(pk, bool):
            raise Invalid("Unknown AI system.", fields={"systems": ["Send systems by id."]})
        ids.append(pk)
    found = {s.pk: s for s in AISystem.objects.filter(pk__in=ids)}
    foreign = [pk for pk in ids if pk not in found or found[pk].organization_id != organization.pk]
    if foreign:
        raise Invalid(
            "A policy can only apply to its own organization's systems.",
            fields={
                "systems": [
                    f"System {pk} is not one of {organization.name}'s AI systems."
                    for pk in dict.fromkeys(foreign)
                ]
            },
        )
    return [found[pk] for pk in dict.fromkeys(ids)]


@transaction.atomic
def policy_create(
    *,
    actor: User,
    organization: Organization,
    title: str,
    slug: str | None = None,
    summary: str = "",
    systems: Iterable[Any] = (),
) -> Policy:
    """A new policy document (with no version yet) applying to some of the company's systems."""
    _require(
        actor,
        "policies.add_policy",
        organization,
        "Only editors and owners of an AI developer can create its policies.",
    )
    title = _clean_text(
        _one_line(title), field="title", limit=TITLE_MAX, label="The title", required=True
    )
    summary = _clean_text(summary, field="summary", limit=SUMMARY_MAX, label="The summary")
    chosen = _clean_systems(systems, organization)
    slug = _slug(slug, title, model=Policy, organization=organization, fallback="policy")
    try:
        with transaction.atomic():
            policy = Policy.objects.create(
                organization=organization,
                title=title,
                slug=slug,
                summary=summary,
                created_by=actor,
            )
    except IntegrityError:
        raise Invalid(
            "This address name is taken.",
            fields={"slug": ["Another policy of this organization already uses this address."]},
        ) from None
    policy.systems.set(chosen)
    ledger_append(
        actor=actor,
        action="policy.created",
        subject=policy,
        payload={
            "organization": organization.slug,
            "title": policy.title,
            "slug": policy.slug,
            "systems": sorted(s.slug for s in chosen),
        },
    )
    return policy


@transaction.atomic
def policy_update(
    *,
    actor: User,
    policy: Policy,
    title: str | None = None,
    summary: str | None = None,
    systems: Iterable[Any] | None = None,
) -> Policy:
    """Retitle, re-summarise or re-scope a policy; its address (slug) stays."""
    _require(
        actor,
        "policies.change_policy",
        policy,
        "Only editors and owners of the policy's organization can change it.",
    )
    policy = _lock_policy(policy)
    changes: dict[str, Any] = {}
    if title is not None:
        title = _clean_text(
            _one_line(title), field="title", limit=TITLE_MAX, label="The title", required=True
        )
        if title != policy.title:
            changes["title"] = title
    if summary is not None:
        summary = _clean_text(summary, field="summary", limit=SUMMARY_MAX, label="The summary")
        if summary != policy.summary:
            changes["summary"] = summary
    new_systems = None
    if systems is not None:
        new_systems = _clean_systems(systems, policy.organization)
        current = set(policy.systems.values_list("slug", flat=True))
        if {s.slug for s in new_systems} != current:
            changes["systems"] = sorted(s.slug for s in new_systems)
    if not changes:
        return policy
    fields = [f for f in ("title", "summary") if f in changes]
    for field in fields:
        setattr(policy, field, changes[field])
    if fields:
        policy.save(update_fields=fields)
    if new_systems is not None and "systems" in changes:
        policy.systems.set(new_systems)
    ledger_append(
        actor=actor,
        action="policy.updated",
        subject=policy,
        payload={"organization": policy.organization.slug, "slug": policy.slug, **changes},
    )
    return policy


# --- Drafts -----------------------------------------------------------------------------------


@transaction.atomic
def version_draft_create(
    *,
    actor: User,
    policy: Policy,
    number: str,
    body_markdown: str,
    summary_of_changes: str = "",
    effective_at: datetime | None = None,
) -> PolicyVersion:
    """Start the policy's next version. It may be saved with parse errors (its clauses are then
    empty) but not published. Drafts are private to the organization and not on the ledger."""
    _require(
        actor,
        "policies.edit_draft",
        policy,
        "Only editors and owners of the policy's organization can write its versions.",
    )
    policy = _lock_policy(policy)
    parts = parse_number(number)
    body = _clean_body(body_markdown)
    summary_of_changes = _clean_text(
        summary_of_changes,
        field="summary_of_changes",
        limit=SUMMARY_OF_CHANGES_MAX,
        label="The summary of changes",
    )
    effective_at = _clean_effective_at(effective_at)
    existing = PolicyVersion.objects.filter(policy=policy, status=PolicyVersion.Status.DRAFT)
    draft = existing.first()
    if draft is not None:
        raise Conflict(
            f"This policy already has a draft (version {draft.number}); edit or delete it first.",
            code="draft_exists",
        )
    _check_number_is_next(policy, parts, exclude_pk=None)
    try:
        with transaction.atomic():
            version = PolicyVersion.objects.create(
                policy=policy,
                major=parts[0],
                minor=parts[1],
                patch=parts[2],
                body_markdown=body,
                summary_of_changes=summary_of_changes,
                effective_at=effective_at,
                created_by=actor,
            )
    except IntegrityError:
        raise Conflict(
            "This policy already has a draft, or a version with this number.",
            code="draft_exists",
        ) from None
    _replace_clauses(version, parse_policy_markdown(body))
    return version


@transaction.atomic
def version_draft_update(
    *,
    actor: User,
    version: PolicyVersion,
    number: str | None = None,
    body_markdown: str | None = None,
    summary_of_changes: str | None = None,
    effective_at: datetime | None = UNSET,
) -> PolicyVersion:
    """Save the draft; its clauses follow the text whenever the text parses."""
    _require(
        actor,
        "policies.edit_draft",
        version,
        "Only editors and owners of the policy's organization can write its versions.",
    )
    policy, version = _lock_version(version)
    _require_draft(version)
    fields: list[str] = []
    if number is not None:
        parts = parse_number(number)
        _check_number_is_next(policy, parts, exclude_pk=version.pk)
        version.major, version.minor, version.patch = parts
        fields += ["major", "minor", "patch"]
    reparse = False
    if body_markdown is not None:
        version.body_markdown = _clean_body(body_markdown)
        fields.append("body_markdown")
        reparse = True
    if summary_of_changes is not None:
        version.summary_of_changes = _clean_text(
            summary_of_changes,
            field="summary_of_changes",
            limit=SUMMARY_OF_CHANGES_MAX,
            label="The summary of changes",
        )
        fields.append("summary_of_changes")
    if effective_at is not UNSET:
        version.effective_at = _clean_effective_at(effective_at)
        fields.append("effective_at")
    if fields:
        version.save(update_fields=[*fields, "updated_at"])
    if reparse:
        _replace_clauses(version, parse_policy_markdown(version.body_markdown))
    return version


@transaction.atomic
def version_draft_delete(*, actor: User, version: PolicyVersion) -> None:
    """Throw a draft away. Published versions stay forever (withdraw them instead)."""
    _require(
        actor,
        "policies.edit_draft",
        version,
        "Only editors and owners of the policy's organization can delete its drafts.",
    )
    _policy, version = _lock_version(version)
    if not version.is_draft:
        raise Conflict(
            f"Version {version.number} is {version.status}; published versions are never "
            "deleted (withdraw it instead).",
            code="not_draft",
        )
    version.delete()


# --- Publication ------------------------------------------------------------------------------


def _previous_published(policy: Policy, *, exclude_pk: int) -> PolicyVersion | None:
    """The policy's latest version that was ever published (withdrawn ones included: they stay
    on the record, so they stay in the hash chain)."""
    return (
        PolicyVersion.objects.filter(policy=policy)
        .exclude(status=PolicyVersion.Status.DRAFT)
        .exclude(pk=exclude_pk)
        .order_by("-published_at", "-pk")
        .first()
    )


@transaction.atomic
def version_publish(*, actor: User, version: PolicyVersion) -> PolicyVersion:
    """Publish a draft: immutable from now on, chained to the previous version by hash; the
    version it replaces becomes superseded; followers hear about it once this commits."""
    if not allowed(actor, "policies.publish_version", version):
        if allowed(actor, "policies.edit_draft", version):
            raise NotAllowed(
                "Your organization must be verified by staff before it can publish policies.",
                code="not_verified",
            )
        raise NotAllowed("Only editors and owners of the policy's organization can publish it.")
    policy, version = _lock_version(version)
    if not version.is_draft:
        raise Conflict(f"Version {version.number} is already {version.status}.", code="not_draft")
    from policies.services.comments import require_responses_before_publish

    require_responses_before_publish(policy=policy, version=version)
    problems: dict[str, list[str]] = {}
    if not version.summary_of_changes.strip():
        problems["summary_of_changes"] = ["Say what changed in this version; it is published."]
    try:
        _check_number_is_next(
            policy, (version.major, version.minor, version.patch), exclude_pk=version.pk
        )
    except Invalid as error:
        problems.update(error.fields)
    parsed = parse_policy_markdown(version.body_markdown)
    if not parsed.ok:
        problems["body_markdown"] = parse_errors_as_fields(parsed)
    if problems:
        message = (
            f"The policy text has {len(parsed.errors)} problem"
            f"{'s' if len(parsed.errors) != 1 else ''}; fix them before publishing."
            if "body_markdown" in problems
            else "This draft is not ready to publish."
        )
        raise Invalid(message, fields=problems)

    clause_count = _replace_clauses(version, parsed)
    previous = _previous_published(policy, exclude_pk=version.pk)
    now = timezone.now()
    behaviour_changes = 0
    if previous is not None:
        old_clauses = list(previous.clauses.all())
        behaviour_changes = len(diff_clauses(old_clauses, parsed.clauses).headline())

    current = (
        PolicyVersion.objects.select_for_update()
        .filter(policy=policy, status=PolicyVersion.Status.PUBLISHED)
        .exclude(pk=version.pk)
        .first()
    )
    if current is not None:
        current.status = PolicyVersion.Status.SUPERSEDED
        current.superseded_at = now
        current.save(update_fields=["status", "superseded_at", "updated_at"])

    version.status = PolicyVersion.Status.PUBLISHED
    version.published_at = now
    version.published_by = actor
    # Without a date of its own, a version takes effect when it is published.
    version.effective_at = version.effective_at or now
    version.content_sha256 = content_sha256(version.body_markdown)
    version.previous_sha256 = previous.content_sha256 if previous is not None else GENESIS_SHA256
    version.save(
        update_fields=[
            "status",
            "published_at",
            "published_by",
            "effective_at",
            "content_sha256",
            "previous_sha256",
            "updated_at",
        ]
    )

    if current is not None:
        ledger_append(
            actor=actor,
            action="policy_version.superseded",
            subject=current,
            payload={
                "policy": policy.pk,
                "number": current.number,
                "superseded_by": version.number,
            },
        )
    ledger_append(
        actor=actor,
        action="policy_version.published",
        subject=version,
        payload={
            "policy": policy.pk,
            "organization": policy.organization.slug,
            "number": version.number,
            "content_sha256": version.content_sha256,
            "previous_sha256": version.previous_sha256,
            "clauses": clause_count,
            "behavior_changes": behaviour_changes,
        },
    )
    version_id = version.pk

    def notify() -> None:
        from policies.tasks import notify_followers_of_version

        try:
            notify_followers_of_version.delay(version_id)
        except Exception:
            # The version is published either way; a broker outage must not turn that into an
            # error page. The log line lets staff re-run the task for this version.
            logger.exception("Could not queue the follower e-mail for version %s", version_id)

    transaction.on_commit(notify)
    return version


@transaction.atomic
def version_withdraw(*, actor: User, version: PolicyVersion, reason: str) -> PolicyVersion:
    """Withdraw a published or superseded version with a public reason; it stays readable."""
    _require(
        actor,
        "policies.withdraw_version",
        version,
        "Only editors and owners of the policy's organization can withdraw its versions.",
    )
    policy, version = _lock_version(version)
    if version.is_draft:
        raise Conflict(
            "A draft is not published; delete it instead of withdrawing it.", code="not_published"
        )
    if version.status == PolicyVersion.Status.WITHDRAWN:
        raise Conflict(f"Version {version.number} was already withdrawn.", code="already_withdrawn")
    reason = _clean_text(
        reason, field="reason", limit=REASON_MAX, label="The reason", required=True
    )
    version.status = PolicyVersion.Status.WITHDRAWN
    version.withdrawn_at = timezone.now()
    version.withdrawn_reason = reason
    version.save(update_fields=["status", "withdrawn_at", "withdrawn_reason", "updated_at"])
    ledger_append(
        actor=actor,
        action="policy_version.withdrawn",
        subject=version,
        payload={
            "policy": policy.pk,
            "number": version.number,
            "content_sha256": version.content_sha256,
            "reason": reason,
        },
    )
    return version


# --- Telling followers -------------------------------------------------------------------------

# Who was already told about which version: retries (a worker that died mid-loop, an SMTP
# error on the tenth follower) then skip the people who already have the e-mail.
NOTIFIED_KEY = "policies:notified:{version}:{user}"
NOTIFIED_SECONDS = 14 * 24 * 3600


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _version_links(version: PolicyVersion, previous: PolicyVersion | None) -> dict[str, str]:
    policy = version.policy
    base = {"org_slug": policy.organization.slug, "policy_slug": policy.slug}
    links = {
        "policy_url": _absolute(reverse("policies:detail", kwargs=base)),
        "version_url": _absolute(
            reverse("policies:version", kwargs={**base, "number": version.number})
        ),
        "diff_url": "",
    }
    if previous is not None:
        links["diff_url"] = _absolute(
            reverse(
                "policies:diff",
                kwargs={**base, "old": previous.number, "new": version.number},
            )
        )
    return links


def version_notify_followers(*, version_id: int) -> int:
    """E-mail every follower of the policy about a newly published version, once per person
    (safe to run again). Returns how many e-mails were sent. Not atomic: mail is not
    transactional, so each send is recorded on its own."""
    from policies.selectors import previous_public_version, summarize, version_diff

    version = (
        PolicyVersion.objects.select_related("policy__organization").filter(pk=version_id).first()
    )
    if version is None or version.is_draft:
        return 0
    policy = version.policy
    previous = previous_public_version(version)
    summary = summarize(version_diff(old=previous, new=version)) if previous else None
    context = {
        "policy": policy,
        "version": version,
        "previous": previous,
        "behavior_changes": summary.behavior_changes if summary else (),
        "counts": summary.counts if summary else None,
        "effective_at_utc": (version.effective_at or version.published_at)
        .astimezone(UTC)
        .strftime("%-d %B %Y, %H:%M UTC"),
        **_version_links(version, previous),
    }
    subject = " ".join(render_to_string("policies/email/new_version_subject.txt", context).split())
    text = render_to_string("policies/email/new_version_message.txt", context)
    html = render_to_string("policies/email/new_version_message.html", context)
    followers = (
        User.objects.filter(policy_follows__policy=policy, is_active=True)
        .exclude(email="")
        .only("id", "email")
        .order_by("pk")
    )
    sent = 0
    for user in followers.iterator():
        key = NOTIFIED_KEY.format(version=version.pk, user=user.pk)
        if not cache.add(key, 1, NOTIFIED_SECONDS):
            continue
        message = EmailMultiAlternatives(
            subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body=text, to=[user.email]
        )
        message.attach_alternative(html, "text/html")
        try:
            message.send()
        except Exception:
            cache.delete(key)  # not sent: a retry must try this person again
            raise
        sent += 1
    return sent


# --- Following --------------------------------------------------------------------------------


@transaction.atomic
def policy_follow(*, user: User, policy: Policy) -> PolicyFollow:
    """Hear by e-mail when the policy publishes a new version. Idempotent; private (not on
    the ledger: what a person reads is their own business)."""
    _require(
        user,
        "policies.follow_policy",
        policy,
        "Sign in with a confirmed e-mail address to follow policies.",
    )
    follow = PolicyFollow.objects.filter(user=user, policy=policy).first()
    if follow is not None:
        return follow
    try:
        with transaction.atomic():
            return PolicyFollow.objects.create(user=user, policy=policy)
    except IntegrityError:  # a concurrent click won the race
        return PolicyFollow.objects.get(user=user, policy=policy)


@transaction.atomic
def policy_unfollow(*, user: User, policy: Policy) -> None:
    """Stop following. Idempotent, and allowed to anyone signed in (even unconfirmed)."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise NotAllowed("Sign in to manage what you follow.")
    PolicyFollow.objects.filter(user=user, policy=policy).delete()


__all__ = [
    "BODY_MAX",
    "GENESIS_SHA256",
    "RESERVED_SLUGS",
    "UNSET",
    "ai_system_create",
    "ai_system_update",
    "parse_errors_as_fields",
    "parse_number",
    "policy_create",
    "policy_follow",
    "policy_unfollow",
    "policy_update",
    "version_draft_create",
    "version_draft_delete",
    "version_draft_update",
    "version_notify_followers",
    "version_publish",
    "version_withdraw",
]
