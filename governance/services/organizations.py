"""State changes of organizations, memberships and invitations; each one is on the public ledger."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from governance.errors import Conflict, Invalid, NotAllowed, NotFound
from governance.models import Invitation, Membership, Organization, User
from governance.selectors.organizations import user_has_verified_email
from governance.services.ledger import actor_ref, format_at, ledger_append
from governance.slugs import clean_slug, unique_slug

logger = logging.getLogger(__name__)

NAME_MAX = Organization._meta.get_field("name").max_length
SLUG_MAX = Organization._meta.get_field("slug").max_length
DESCRIPTION_MAX = Organization._meta.get_field("description").max_length
WEBSITE_MAX = Organization._meta.get_field("website").max_length
EMAIL_MAX = Invitation._meta.get_field("email").max_length

# Slugs that would shadow a page under /organizations/ or read as the platform speaking.
RESERVED_SLUGS = frozenset(
    {
        "new",
        "create",
        "edit",
        "admin",
        "api",
        "accounts",
        "account",
        "invitations",
        "invitation",
        "invite",
        "members",
        "static",
        "media",
        "ledger",
        "login",
        "logout",
        "signup",
        "settings",
        "openrefusal",
        "staff",
        "moderators",
        "system",
        "healthz",
    }
)
UPDATABLE_FIELDS = frozenset({"name", "description", "website"})
ROLES = frozenset(Membership.Role.values)
KINDS = frozenset(Organization.Kind.values)


def hash_invitation_token(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


# --- Permission and validation helpers --------------------------------------------------------


def _require(actor: User, permission: str, target: Any, message: str) -> None:
    if actor is None or not actor.has_perm(permission, target):
        raise NotAllowed(message)


def _clean_name(name: Any, *, exclude_pk: int | None = None) -> str:
    name = " ".join(str(name or "").split())  # collapse whitespace people paste in
    if not name:
        raise Invalid("The name is required.", fields={"name": ["Enter the organization's name."]})
    if len(name) > NAME_MAX:
        raise Invalid(
            "The name is too long.",
            fields={"name": [f"Use at most {NAME_MAX} characters (this has {len(name)})."]},
        )
    taken = Organization.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise Invalid(
            "An organization with this name exists.",
            fields={"name": ["An organization with this name is already registered."]},
        )
    return name


def _clean_description(description: Any) -> str:
    description = str(description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise Invalid(
            "The description is too long.",
            fields={
                "description": [
                    f"Use at most {DESCRIPTION_MAX} characters (this has {len(description)})."
                ]
            },
        )
    return description


def _clean_website(website: Any) -> str:
    website = str(website or "").strip()
    if not website:
        return ""
    error = {"website": ["Enter a full web address starting with https:// or http://."]}
    if len(website) > WEBSITE_MAX:
        raise Invalid("The website address is too long.", fields=error)
    try:
        URLValidator(schemes=["http", "https"])(website)
    except ValidationError:
        raise Invalid("The website address is not valid.", fields=error) from None
    return website


def _clean_kind(kind: Any) -> str:
    if kind not in KINDS:
        choices = ", ".join(sorted(KINDS))
        raise Invalid(
            "Unknown kind of organization.",
            fields={"kind": [f"Choose one of: {choices}."]},
        )
    return str(kind)


def _clean_role(role: Any) -> str:
    if role not in ROLES:
        raise Invalid("Unknown role.", fields={"role": ["Choose one of: owner, editor, member."]})
    return str(role)


def _lock_organization(organization: Organization) -> Organization:
    """Serialises every membership change of one organization (the last-owner rule)."""
    return Organization.objects.select_for_update().get(pk=organization.pk)


def _owner_count(organization: Organization) -> int:
    return Membership.objects.filter(organization=organization, role=Membership.Role.OWNER).count()


# --- Organizations ----------------------------------------------------------------------------


@transaction.atomic
def organization_create(
    *,
    actor: User,
    name: str,
    kind: str,
    slug: str | None = None,
    description: str = "",
    website: str = "",
) -> Organization:
    """Register an organization; the person who registers it becomes its first owner."""
    _require(
        actor,
        "governance.create_organization",
        None,
        "Confirm your e-mail address before registering an organization.",
    )
    name = _clean_name(name)
    kind = _clean_kind(kind)
    description = _clean_description(description)
    website = _clean_website(website)
    slug_rules = {
        "taken": Organization.objects.all(),
        "reserved": RESERVED_SLUGS,
        "max_length": SLUG_MAX,
    }
    slug = (
        clean_slug(slug, **slug_rules)
        if slug
        else unique_slug(name, fallback="organization", reserved_suffix="org", **slug_rules)
    )
    try:
        # A savepoint, so a concurrent registration of the same name becomes a clear error.
        with transaction.atomic():
            organization = Organization.objects.create(
                name=name,
                slug=slug,
                kind=kind,
                description=description,
                website=website,
                created_by=actor,
            )
    except IntegrityError:
        raise Invalid(
            "An organization with this name or address exists.",
            fields={"name": ["An organization with this name is already registered."]},
        ) from None
    Membership.objects.create(user=actor, organization=organization, role=Membership.Role.OWNER)
    ledger_append(
        actor=actor,
        action="organization.created",
        subject=organization,
        payload={
            "name": organization.name,
            "slug": organization.slug,
            "kind": organization.kind,
            "website": organization.website,
            "owner": actor_ref(actor),
        },
    )
    return organization


@transaction.atomic
def organization_update(*, actor: User, organization: Organization, **fields: Any) -> Organization:
    """Change the name, description or website. The kind and address (slug) are fixed."""
    _require(
        actor,
        "governance.change_organization",
        organization,
        "Only the organization's owners can edit it.",
    )
    unknown = sorted(set(fields) - UPDATABLE_FIELDS)
    if unknown:
        raise Invalid(
            "These fields cannot be changed.",
            fields={name: ["This field cannot be changed."] for name in unknown},
        )
    organization = _lock_organization(organization)
    cleaned: dict[str, str] = {}
    if "name" in fields:
        cleaned["name"] = _clean_name(fields["name"], exclude_pk=organization.pk)
    if "description" in fields:
        cleaned["description"] = _clean_description(fields["description"])
    if "website" in fields:
        cleaned["website"] = _clean_website(fields["website"])
    changes = {
        key: {"from": getattr(organization, key), "to": value}
        for key, value in cleaned.items()
        if getattr(organization, key) != value
    }
    if not changes:
        return organization
    for key, change in changes.items():
        setattr(organization, key, change["to"])
    try:
        with transaction.atomic():
            organization.save(update_fields=list(changes))
    except IntegrityError:
        raise Invalid(
            "An organization with this name exists.",
            fields={"name": ["An organization with this name is already registered."]},
        ) from None
    # Long descriptions are summarised by length: the ledger records that they changed.
    if "description" in changes:
        changes["description"] = {
            "from_length": len(changes["description"]["from"]),
            "to_length": len(changes["description"]["to"]),
        }
    ledger_append(actor=actor, action="organization.updated", subject=organization, payload=changes)
    return organization


@transaction.atomic
def organization_verify(*, actor: User, organization: Organization) -> Organization:
    """Staff confirm that the organization is who it says it is."""
    _require(
        actor,
        "governance.verify_organization",
        organization,
        "Only staff can verify organizations.",
    )
    organization = _lock_organization(organization)
    if organization.is_verified:
        raise Conflict(f"{organization.name} is already verified.", code="already_verified")
    organization.verified_at = timezone.now()
    organization.verified_by = actor
    organization.save(update_fields=["verified_at", "verified_by"])
    ledger_append(
        actor=actor,
        action="organization.verified",
        subject=organization,
        payload={"name": organization.name, "kind": organization.kind},
    )
    return organization


@transaction.atomic
def organization_unverify(*, actor: User, organization: Organization, reason: str) -> Organization:
    """Staff withdraw verification, with a public reason; an auditor's accreditation ends too."""
    _require(
        actor,
        "governance.verify_organization",
        organization,
        "Only staff can withdraw verification.",
    )
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise Invalid(
            "A reason is required.",
            fields={"reason": ["Say publicly why verification is withdrawn."]},
        )
    if len(reason) > 1000:
        raise Invalid(
            "The reason is too long.", fields={"reason": ["Use at most 1000 characters."]}
        )
    organization = _lock_organization(organization)
    if not organization.is_verified:
        raise Conflict(f"{organization.name} is not verified.", code="not_verified")
    ended_accreditation = organization.accredited_at is not None
    organization.verified_at = None
    organization.verified_by = None
    organization.accredited_at = None
    organization.accreditation_expires_at = None
    organization.save(
        update_fields=["verified_at", "verified_by", "accredited_at", "accreditation_expires_at"]
    )
    ledger_append(
        actor=actor,
        action="organization.unverified",
        subject=organization,
        payload={"reason": reason, "accreditation_ended": ended_accreditation},
    )
    return organization


@transaction.atomic
def organization_accredit(
    *, actor: User, organization: Organization, expires_at: datetime
) -> Organization:
    """Staff accredit a verified auditor until `expires_at` (also renews an accreditation)."""
    _require(
        actor,
        "governance.accredit_organization",
        organization,
        "Only staff can accredit auditors.",
    )
    organization = _lock_organization(organization)
    if organization.kind != Organization.Kind.AUDITOR:
        raise Invalid(
            "Only auditors can be accredited.",
            fields={"kind": [f"{organization.name} is not an auditor."]},
        )
    if not organization.is_verified:
        raise Conflict(f"Verify {organization.name} before accrediting it.", code="not_verified")
    if not isinstance(expires_at, datetime) or timezone.is_naive(expires_at):
        raise Invalid(
            "The expiry must be a date and time with a zone.",
            fields={"expires_at": ["Give a date and time with a time zone."]},
        )
    now = timezone.now()
    if expires_at <= now:
        raise Invalid(
            "The expiry must be in the future.",
            fields={"expires_at": ["Choose a date in the future."]},
        )
    if expires_at > now + timedelta(days=5 * 366):
        raise Invalid(
            "Accreditation lasts at most five years.",
            fields={"expires_at": ["Choose a date at most five years from now."]},
        )
    organization.accredited_at = now
    organization.accreditation_expires_at = expires_at
    organization.save(update_fields=["accredited_at", "accreditation_expires_at"])
    ledger_append(
        actor=actor,
        action="organization.accredited",
        subject=organization,
        payload={"expires_at": format_at(expires_at)},
    )
    return organization


# --- Memberships ------------------------------------------------------------------------------


@transaction.atomic
def membership_add(*, actor: User, organization: Organization, user: User, role: str) -> Membership:
    """Staff or an owner adds an existing account directly (invitations are the usual way)."""
    _require(
        actor,
        "governance.manage_members",
        organization,
        "Only the organization's owners can add members.",
    )
    role = _clean_role(role)
    organization = _lock_organization(organization)
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise Conflict(
            f"{user.public_name} is already a member of {organization.name}.",
            code="already_member",
        )
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    ledger_append(
        actor=actor,
        action="membership.added",
        subject=organization,
        payload={"membership": membership.pk, "user": actor_ref(user), "role": role},
    )
    return membership


@transaction.atomic
def membership_set_role(*, actor: User, membership: Membership, role: str) -> Membership:
    """Owners change someone's role; an organization always keeps at least one owner."""
    _require(
        actor,
        "governance.manage_members",
        membership.organization,
        "Only the organization's owners can change roles.",
    )
    role = _clean_role(role)
    organization = _lock_organization(membership.organization)
    current = Membership.objects.filter(pk=membership.pk).select_related("user").first()
    if current is None:
        raise NotFound("This membership no longer exists.")
    if current.role == role:
        return current
    if current.role == Membership.Role.OWNER and _owner_count(organization) <= 1:
        raise Conflict(
            f"{current.user.public_name} is the last owner of {organization.name}. "
            "Make someone else an owner first.",
            code="last_owner",
        )
    previous = current.role
    current.role = role
    current.save(update_fields=["role"])
    ledger_append(
        actor=actor,
        action="membership.role_changed",
        subject=organization,
        payload={
            "membership": current.pk,
            "user": actor_ref(current.user),
            "from": previous,
            "to": role,
        },
    )
    return current


@transaction.atomic
def membership_remove(*, actor: User, membership: Membership) -> None:
    """Owners remove a member, or members leave; the last owner can do neither."""
    organization = membership.organization
    leaving = actor is not None and actor.pk == membership.user_id
    if leaving:
        _require(
            actor,
            "governance.leave_organization",
            organization,
            "You are not a member of this organization.",
        )
    else:
        _require(
            actor,
            "governance.manage_members",
            organization,
            "Only the organization's owners can remove members.",
        )
    organization = _lock_organization(organization)
    current = Membership.objects.filter(pk=membership.pk).select_related("user").first()
    if current is None:
        raise NotFound("This membership no longer exists.")
    if current.role == Membership.Role.OWNER and _owner_count(organization) <= 1:
        raise Conflict(
            f"{current.user.public_name} is the last owner of {organization.name}. "
            "Make someone else an owner first.",
            code="last_owner",
        )
    payload = {
        "membership": current.pk,
        "user": actor_ref(current.user),
        "role": current.role,
        "left": leaving,
    }
    current.delete()
    ledger_append(actor=actor, action="membership.removed", subject=organization, payload=payload)


# --- Invitations ------------------------------------------------------------------------------


def invitation_status(invitation: Invitation, *, now: datetime | None = None) -> str:
    """pending · accepted · revoked · expired."""
    if invitation.accepted_at:
        return "accepted"
    if invitation.revoked_at:
        return "revoked"
    if invitation.expires_at <= (now or timezone.now()):
        return "expired"
    return "pending"


def invitation_accept_url(raw_token: str) -> str:
    path = reverse("organizations:invitation-accept", kwargs={"token": raw_token})
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _send_invitation_email(invitation_pk: int, raw_token: str) -> None:
    invitation = Invitation.objects.select_related("organization", "invited_by").get(
        pk=invitation_pk
    )
    context = {
        "invitation": invitation,
        "organization": invitation.organization,
        "inviter_name": invitation.invited_by.public_name if invitation.invited_by else "",
        "role": invitation.get_role_display(),
        "accept_url": invitation_accept_url(raw_token),
        # E-mail has no reader's zone: say the time in UTC, explicitly.
        "expires_at_utc": invitation.expires_at.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC"),
    }
    subject = render_to_string("organizations/email/invitation_subject.txt", context)
    message = EmailMultiAlternatives(
        subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + " ".join(subject.split()),
        body=render_to_string("organizations/email/invitation_message.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(
        render_to_string("organizations/email/invitation_message.html", context), "text/html"
    )
    message.send()


@transaction.atomic
def invitation_create(
    *, actor: User, organization: Organization, email: str, role: str
) -> tuple[Invitation, str]:
    """Invite an address with a role; the e-mail goes out once the invitation is committed.

    Returns the invitation and the raw token (only its hash is stored)."""
    _require(
        actor,
        "governance.invite_member",
        organization,
        "Only the organization's owners can invite members.",
    )
    email = str(email or "").strip().lower()
    email_error = {"email": ["Enter a valid e-mail address."]}
    if not email or len(email) > EMAIL_MAX:
        raise Invalid("The e-mail address is not valid.", fields=email_error)
    try:
        validate_email(email)
    except ValidationError:
        raise Invalid("The e-mail address is not valid.", fields=email_error) from None
    role = _clean_role(role)
    organization = _lock_organization(organization)

    if EmailAddress.objects.filter(
        email__iexact=email, verified=True, user__memberships__organization=organization
    ).exists():
        raise Invalid(
            "This person is already a member.",
            fields={"email": ["Someone with this address is already a member."]},
        )
    now = timezone.now()
    replaced = None
    pending = (
        Invitation.objects.select_for_update()
        .filter(
            organization=organization,
            email__iexact=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        )
        .first()
    )
    if pending is not None:
        if pending.expires_at > now:
            raise Conflict(
                "This address already has a pending invitation. Revoke it to send a new one.",
                code="already_invited",
            )
        # An expired invitation is closed so a fresh one can be sent.
        pending.revoked_at = now
        pending.save(update_fields=["revoked_at"])
        replaced = pending.pk

    raw_token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_sha256=hash_invitation_token(raw_token),
        invited_by=actor,
        expires_at=now + timedelta(days=settings.OPENREFUSAL["INVITATION_DAYS"]),
    )
    # The ledger is public: it records that an invitation exists, never to whom.
    ledger_append(
        actor=actor,
        action="invitation.created",
        subject=organization,
        payload={
            "invitation": invitation.pk,
            "role": role,
            "expires_at": format_at(invitation.expires_at),
            "replaces": replaced,
        },
    )
    transaction.on_commit(lambda: _send_invitation_email(invitation.pk, raw_token), robust=True)
    return invitation, raw_token


def invitation_find(raw_token: str) -> Invitation:
    """The invitation behind a raw token, or NotFound (also for malformed tokens)."""
    raw_token = str(raw_token or "")
    if not raw_token or len(raw_token) > 200:
        raise NotFound("This invitation link is not valid.")
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_sha256=hash_invitation_token(raw_token))
        .first()
    )
    if invitation is None:
        raise NotFound("This invitation link is not valid.")
    return invitation


def _check_invitation_open(invitation: Invitation) -> None:
    status = invitation_status(invitation)
    if status == "accepted":
        raise Conflict("This invitation has already been used.", code="invitation_used")
    if status == "revoked":
        raise Conflict("This invitation was withdrawn.", code="invitation_revoked")
    if status == "expired":
        raise Conflict(
            "This invitation has expired. Ask an owner to send a new one.",
            code="invitation_expired",
        )


@transaction.atomic
def invitation_accept(*, user: User, raw_token: str) -> Membership:
    """Join with the invited role; the invitation's address must be one of the user's
    verified addresses."""
    if user is None or not user.is_authenticated or not user.is_active:
        raise NotAllowed("Sign in to accept an invitation.")
    found = invitation_find(raw_token)
    organization = _lock_organization(found.organization)
    invitation = Invitation.objects.select_for_update().get(pk=found.pk)
    _check_invitation_open(invitation)
    if not user_has_verified_email(user=user, email=invitation.email):
        raise NotAllowed(
            "This invitation was sent to a different e-mail address. Sign in with that "
            "address, or add it to your account and confirm it.",
            code="email_mismatch",
        )
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise Conflict(
            f"You are already a member of {organization.name}. An owner can change your role.",
            code="already_member",
        )
    membership = Membership.objects.create(
        organization=organization, user=user, role=invitation.role
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    ledger_append(
        actor=user,
        action="invitation.accepted",
        subject=organization,
        payload={
            "invitation": invitation.pk,
            "membership": membership.pk,
            "user": actor_ref(user),
            "role": membership.role,
        },
    )
    return membership


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    _require(
        actor,
        "governance.invite_member",
        invitation.organization,
        "Only the organization's owners can withdraw invitations.",
    )
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at:
        raise Conflict("This invitation has already been used.", code="invitation_used")
    if invitation.revoked_at:
        raise Conflict("This invitation was already withdrawn.", code="invitation_revoked")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    ledger_append(
        actor=actor,
        action="invitation.revoked",
        subject=invitation.organization,
        payload={"invitation": invitation.pk, "role": invitation.role},
    )
    return invitation


# --- Staff roles (the admin's "groups" and "staff status") ------------------------------------


@transaction.atomic
def user_set_staff_roles(*, actor: User, user: User, is_staff: bool, groups: list[str]) -> User:
    """Grant or withdraw staff status and staff groups (e.g. moderators), on the record."""
    from django.contrib.auth.models import Group

    if actor is None or not (actor.is_active and actor.is_superuser):
        raise NotAllowed("Only administrators can grant staff roles.")
    wanted = sorted(set(groups))
    found = list(Group.objects.filter(name__in=wanted).order_by("name"))
    missing = sorted(set(wanted) - {g.name for g in found})
    if missing:
        raise Invalid(
            "Unknown staff group.", fields={"groups": [f"No such group: {', '.join(missing)}."]}
        )
    user = User.objects.select_for_update().get(pk=user.pk)
    before = sorted(user.groups.values_list("name", flat=True))
    if before == wanted and user.is_staff == bool(is_staff):
        return user
    payload = {
        "user": actor_ref(user),
        "is_staff": {"from": user.is_staff, "to": bool(is_staff)},
        "groups": {"from": before, "to": wanted},
    }
    user.is_staff = bool(is_staff)
    user.save(update_fields=["is_staff"])
    user.groups.set(found)
    ledger_append(actor=actor, action="user.staff_roles_changed", subject=user, payload=payload)
    return user
