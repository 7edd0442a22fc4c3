"""Account use cases: the public profile, the personal data export and account deletion,
with registries through which other apps add export sections and anonymisation hooks."""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from collections.abc import Callable
from datetime import UTC
from functools import cache
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.db import transaction
from django.utils import timezone as dj_timezone

from governance.errors import Conflict, Invalid
from governance.models import ApiToken, Membership, User
from governance.models.users import DELETED_DISPLAY_NAME
from governance.selectors import accounts as account_selectors
from governance.services.ledger import ledger_append
from governance.services.organizations import membership_remove

# --- Extension registries ---------------------------------------------------------------------
#
# Other apps (policies, audits, appeals) hold personal data of their own: comments, appeals,
# endorsements. They take part in the export and in deletion by registering here, from their
# AppConfig.ready(), so the core never imports them (dependencies run one way):
#
#     from governance.services.accounts import register_deletion_hook, register_export_section
#
#     @register_export_section("comments")
#     def export_comments(user) -> list[dict]:
#         return [...]  # JSON-serialisable: str/int/bool/None/lists/dicts, ISO-8601 datetimes
#
#     @register_deletion_hook
#     def anonymise_comments(user) -> None:
#         ...  # e.g. clear pseudonyms shown on the user's comments; keep the comments
#
# Export sections run in registration order; their name becomes a top-level key of the
# export. Deletion hooks run inside the deletion's transaction, *before* the account is
# anonymised (they can still read the e-mail address and memberships); an exception in a hook
# aborts the whole deletion, so nothing is half-done. Hooks may write the ledger themselves.

ExportSection = Callable[[User], Any]
DeletionHook = Callable[[User], None]

EXPORT_SECTIONS: dict[str, ExportSection] = {}
DELETION_HOOKS: list[DeletionHook] = []

# Keys of the export document that sections may not take.
_EXPORT_ENVELOPE = {"format", "version", "generated_at", "site"}


def register_export_section(name: str) -> Callable[[ExportSection], ExportSection]:
    """Add a top-level section `name` to every account export (decorator)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"Export section names are snake_case identifiers, not {name!r}.")

    def register(func: ExportSection) -> ExportSection:
        if name in EXPORT_SECTIONS or name in _EXPORT_ENVELOPE:
            raise ValueError(f"The export section {name!r} is already registered.")
        EXPORT_SECTIONS[name] = func
        return func

    return register


def register_deletion_hook(func: DeletionHook) -> DeletionHook:
    """Run `func(user)` when an account is deleted, before it is anonymised (decorator)."""
    if func not in DELETION_HOOKS:
        DELETION_HOOKS.append(func)
    return func


# The core's own sections use the same registry, so the export has one shape.
register_export_section("profile")(account_selectors.user_profile_data)
register_export_section("email_addresses")(account_selectors.user_email_addresses)
register_export_section("memberships")(account_selectors.user_memberships)
register_export_section("invitations_sent")(account_selectors.user_invitations_sent)
register_export_section("api_tokens")(account_selectors.user_api_tokens)
register_export_section("mfa_authenticators")(account_selectors.user_authenticators)
register_export_section("ledger_entries")(account_selectors.user_ledger_entries)


EXPORT_FORMAT = "openrefusal-account-export"
EXPORT_VERSION = 1


def user_export(*, user: User) -> dict[str, Any]:
    """Everything the platform holds about `user`, as one JSON-serialisable document.

    A read, so it writes nothing (and nothing to the ledger: the ledger records public state
    changes, and an export changes nothing)."""
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "generated_at": account_selectors.iso(dj_timezone.now()),
        "site": settings.SITE_URL,
    }
    for name, section in EXPORT_SECTIONS.items():
        document[name] = section(user)
    return document


def export_filename(*, at=None) -> str:
    at = at or dj_timezone.now()
    return f"openrefusal-export-{at.astimezone(UTC).date().isoformat()}.json"


# --- Profile ----------------------------------------------------------------------------------

DISPLAY_NAME_MIN = 2
DISPLAY_NAME_MAX = 80

# Names that speak for the platform or its roles. Compared on a "skeleton" (Unicode-folded,
# case-folded, letters and digits only), so "Open Refusal", "MODERATOR!" and full-width look-
# alikes are caught too.
RESERVED_NAMES = (DELETED_DISPLAY_NAME, "OpenRefusal", "moderator", "staff")
# The platform's name may not appear anywhere in a person's name ("OpenRefusal Support").
_PLATFORM_SKELETON = "openrefusal"
# "Member #12" is what people without a display name are shown as; taking it would let one
# person pass for another.
_MEMBER_NUMBER = re.compile(r"member\s*#?\s*\d+", re.IGNORECASE)
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
# Links in names are a spam and phishing vector: refuse schemes, "www." and bare domains with
# a common top-level domain (a list, not "any dot", so "J.R.R. Tolkien" stays possible).
_URL = re.compile(
    r"([a-z][a-z0-9+.-]*://|\bwww\.|"
    r"\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|org|net|edu|gov|int|info|biz|io|ai|co|app|dev|me|xyz|"
    r"ly|gg|tv|site|online|link|page|news|shop|ru|cn|de|uk|fr|eu|us|nl|ca|au|in|jp|ch|se|no)"
    r"\b)",
    re.IGNORECASE,
)
# Control, format (zero-width, bidi overrides), surrogate, private-use and separator
# characters: invisible or reordering text in a name is how impersonation hides.
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
REQUIRED_MESSAGE = "Enter a display name of 2 to 80 characters (a pseudonym is fine)."


def _skeleton(value: str) -> str:
    folded = unicodedata.normalize("NFKC", value).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


_RESERVED_SKELETONS = {_skeleton(name) for name in RESERVED_NAMES}


def display_name_clean(value: str) -> str:
    """The display name as it will be stored, or `Invalid` saying what is wrong with it.

    (Accounts that never chose one are shown as "Member #<id>"; once chosen, a name can be
    changed but not emptied, so a person's words never lose their name by a slip.)"""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid("The display name must be text.", fields={"display_name": ["Enter text."]})
    errors: list[str] = []
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in value.strip()):
        errors.append("Remove control and invisible characters (tabs, line breaks, …).")
    # Runs of spaces collapse to one, so "Former   member" is the reserved name it looks like.
    value = " ".join(value.split())
    if not value:
        errors.append(REQUIRED_MESSAGE)
    elif len(value) < DISPLAY_NAME_MIN:
        errors.append(f"Use at least {DISPLAY_NAME_MIN} characters.")
    if len(value) > DISPLAY_NAME_MAX:
        # Said alone, and before any pattern runs: the patterns below are only ever applied to
        # short strings, so a hostile 2 MB name costs no more than a normal one.
        errors.append(f"Use at most {DISPLAY_NAME_MAX} characters (this has {len(value)}).")
        raise Invalid("The display name is not valid.", fields={"display_name": errors})
    skeleton = _skeleton(value)
    if skeleton in _RESERVED_SKELETONS or _PLATFORM_SKELETON in skeleton:
        errors.append("This name is reserved; choose another.")
    elif _MEMBER_NUMBER.fullmatch(unicodedata.normalize("NFKC", value)):
        errors.append("Names like “Member #12” are how others are shown; choose another.")
    if _EMAIL.search(value):
        errors.append("An e-mail address cannot be a display name: it would be shown publicly.")
    elif _URL.search(unicodedata.normalize("NFKC", value)):
        errors.append("A web address cannot be a display name.")
    if errors:
        raise Invalid("The display name is not valid.", fields={"display_name": errors})
    return value


@cache
def timezone_choices() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def timezone_clean(value: str) -> str:
    value = (value or "").strip() if isinstance(value, str) else value
    if not isinstance(value, str) or (value and value not in timezone_choices()):
        raise Invalid(
            "The time zone is not known.",
            fields={"timezone": ["Choose a time zone from the list, or none."]},
        )
    return value


@transaction.atomic
def user_profile_update(
    *, user: User, display_name: str | None = None, timezone: str | None = None
) -> User:
    """Change the public display name and/or the time zone (None leaves a field as it is)."""
    fields: dict[str, list[str]] = {}
    new_name = new_zone = None
    if display_name is not None:
        try:
            new_name = display_name_clean(display_name)
        except Invalid as exc:
            fields.update(exc.fields)
    if timezone is not None:
        try:
            new_zone = timezone_clean(timezone)
        except Invalid as exc:
            fields.update(exc.fields)
    if fields:
        raise Invalid("Some fields are not valid.", fields=fields)

    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.deleted_at is not None:
        raise Conflict("This account has been deleted.")
    changed: list[str] = []
    if new_name is not None and new_name != locked.display_name:
        locked.display_name = new_name
        changed.append("display_name")
    if new_zone is not None and new_zone != locked.timezone:
        locked.timezone = new_zone
        changed.append("timezone")
    if not changed:
        return locked
    locked.save(update_fields=changed)
    user.display_name, user.timezone = locked.display_name, locked.timezone
    if "display_name" in changed:
        # The ledger is public and permanent. The new public name is already public (it is
        # shown beside everything the person writes), and readers of the record need it to
        # follow who said what. The old name is left out on purpose: someone moving away from a
        # name should not see it restated by the very entry that records the move. The time
        # zone is never recorded: it says where a person lives and is nobody else's business.
        ledger_append(
            actor=locked,
            action="user.display_name_changed",
            subject=locked,
            payload={"public_name": locked.public_name},
        )
    return locked


# --- Deletion ---------------------------------------------------------------------------------

DELETED_EMAIL_DOMAIN = "invalid.openrefusal"


def deleted_email(user_id: int) -> str:
    return f"deleted-{user_id}@{DELETED_EMAIL_DOMAIN}"


def user_delete_blockers(*, user: User) -> list[str]:
    """Why the account cannot be deleted right now (empty: it can)."""
    return [
        f"You are the only owner of {name}. Make another member an owner of it (or hand it "
        "over) before deleting your account."
        for name in account_selectors.user_sole_owned_organizations(user).values_list(
            "name", flat=True
        )
    ]


@transaction.atomic
def user_delete(*, user: User) -> User:
    """Delete an account by anonymising it: the row stays so public contributions keep their
    author reference, but every personal datum and every way to sign in is removed.

    Other sessions end too: Django checks each session against a hash of the password, which
    becomes unusable here, and an inactive user is never loaded into a request."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.deleted_at is not None:
        raise Conflict("This account has already been deleted.")
    # Checked up front to name every organization at once; `membership_remove` checks again
    # under the organization's lock, so a co-owner leaving at the same moment cannot leave an
    # organization ownerless (the whole deletion then rolls back).
    blockers = user_delete_blockers(user=locked)
    if blockers:
        raise Conflict(" ".join(blockers), code="sole_owner")

    for hook in DELETION_HOOKS:
        hook(locked)

    # Leaving goes through the organizations' own use case, so each departure is on the
    # ledger as a membership change like any other.
    for membership in Membership.objects.filter(user=locked).select_related("organization"):
        membership_remove(actor=locked, membership=membership)
    ApiToken.objects.filter(user=locked).delete()
    Authenticator.objects.filter(user=locked).delete()
    EmailAddress.objects.filter(user=locked).delete()  # confirmations cascade
    locked.groups.clear()
    locked.user_permissions.clear()

    locked.email = deleted_email(locked.pk)
    locked.display_name = ""
    locked.timezone = ""
    locked.set_unusable_password()
    locked.is_active = False
    locked.is_staff = False
    locked.is_superuser = False
    locked.last_login = None
    locked.deleted_at = dj_timezone.now()
    locked.save()

    # No personal data: the subject is an opaque id, which public contributions keep pointing
    # at (now shown as "Former member").
    ledger_append(actor=locked, action="user.deleted", subject=locked, payload={})
    return locked
