"""The staff admin for the core domain. Every change that the public record tracks goes through
the services (and so onto the ledger); the ledger and idempotency records are read-only."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.db import models
from django.http import HttpResponseRedirect
from django.utils import timezone

from governance.errors import DomainError
from governance.models import (
    ApiToken,
    IdempotencyRecord,
    Invitation,
    LedgerEntry,
    Membership,
    Organization,
    User,
)
from governance.rules import MODERATORS_GROUP
from governance.selectors.organizations import organization_is_accredited
from governance.services import organizations as services


class ReadOnlyAdmin(admin.ModelAdmin):
    """Visible to staff with the view permission; nobody adds, changes or deletes here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _run_each(modeladmin, request, queryset, func, done: str) -> None:
    """Call a service for each selected row; report successes and each refusal by name."""
    succeeded = 0
    for obj in queryset:
        try:
            func(obj)
        except DomainError as error:
            modeladmin.message_user(request, f"{obj}: {error.message}", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, done.format(n=succeeded), messages.SUCCESS)


class ServiceErrorsMixin:
    """Saves and deletes call services; a refusal is shown instead of the success message."""

    error_attr = "_service_error"

    def _refused(self, request, error: DomainError) -> None:
        setattr(request, self.error_attr, error)
        self.message_user(request, error.message, messages.ERROR)

    def _back(self, request):
        return HttpResponseRedirect(request.get_full_path())

    def response_add(self, request, obj, post_url_continue=None):
        if getattr(request, self.error_attr, None):
            return self._back(request)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if getattr(request, self.error_attr, None):
            return self._back(request)
        return super().response_change(request, obj)

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, self.error_attr, None):
            return HttpResponseRedirect(request.path.rsplit("/delete/", 1)[0] + "/change/")
        return super().response_delete(request, obj_display, obj_id)


# --- People -----------------------------------------------------------------------------------


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    """No password hash anywhere. Staff status and staff groups change only through the
    actions, which record the grant on the public ledger."""

    list_display = ["public_name", "email", "is_staff", "is_moderator", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "groups"]
    search_fields = ["email", "display_name"]
    ordering = ["-date_joined"]
    fields = [
        "email",
        "display_name",
        "timezone",
        "is_active",
        "is_staff",
        "is_superuser",
        "groups",
        "date_joined",
        "last_login",
        "deleted_at",
    ]
    readonly_fields = [
        "email",
        "is_staff",
        "is_superuser",
        "groups",
        "date_joined",
        "last_login",
        "deleted_at",
    ]
    actions = ["make_moderator", "remove_moderator", "grant_staff", "withdraw_staff"]

    def has_add_permission(self, request):
        # Accounts are made by signing up (with a confirmed address) or `createsuperuser`.
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting an account is the person's own act (it anonymises their contributions).
        return False

    @admin.display(boolean=True, description="Moderator")
    def is_moderator(self, user: User) -> bool:
        return any(g.name == MODERATORS_GROUP for g in user.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def _set_roles(self, request, queryset, *, staff=None, add=None, remove=None, done=""):
        def change(user: User) -> None:
            groups = set(user.groups.values_list("name", flat=True))
            if add:
                groups.add(add)
            if remove:
                groups.discard(remove)
            services.user_set_staff_roles(
                actor=request.user,
                user=user,
                is_staff=user.is_staff if staff is None else staff,
                groups=sorted(groups),
            )

        _run_each(self, request, queryset, change, done)

    @admin.action(description="Make moderator (recorded on the ledger)")
    def make_moderator(self, request, queryset):
        self._set_roles(request, queryset, add=MODERATORS_GROUP, done="{n} moderator(s) set.")

    @admin.action(description="Remove moderator role (recorded on the ledger)")
    def remove_moderator(self, request, queryset):
        self._set_roles(
            request, queryset, remove=MODERATORS_GROUP, done="{n} moderator role(s) removed."
        )

    @admin.action(description="Grant staff status (recorded on the ledger)")
    def grant_staff(self, request, queryset):
        self._set_roles(request, queryset, staff=True, done="{n} person(s) made staff.")

    @admin.action(description="Withdraw staff status (recorded on the ledger)")
    def withdraw_staff(self, request, queryset):
        self._set_roles(request, queryset, staff=False, done="Staff status withdrawn from {n}.")


# --- Organizations ----------------------------------------------------------------------------


class VerifiedFilter(admin.SimpleListFilter):
    title = "verification"
    parameter_name = "verified"

    def lookups(self, request, model_admin):
        return [("yes", "Verified"), ("no", "Not verified")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(verified_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(verified_at__isnull=True)
        return queryset


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "is_verified", "is_accredited", "created_at"]
    list_filter = ["kind", VerifiedFilter]
    search_fields = ["name", "slug"]
    fields = [
        "name",
        "slug",
        "kind",
        "description",
        "website",
        "created_at",
        "created_by",
        "verified_at",
        "verified_by",
        "accredited_at",
        "accreditation_expires_at",
    ]
    readonly_fields = [
        "slug",
        "kind",
        "created_at",
        "created_by",
        "verified_at",
        "verified_by",
        "accredited_at",
        "accreditation_expires_at",
    ]
    inlines = [MembershipInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["verify", "accredit_for_one_year"]

    def has_add_permission(self, request):
        # Organizations are registered on the site by a person who becomes their owner.
        return False

    def has_delete_permission(self, request, obj=None):
        # An organization's history is public; withdraw verification instead.
        return False

    def has_verify_permission(self, request) -> bool:
        return request.user.has_perm("governance.verify_organization")

    def has_accredit_permission(self, request) -> bool:
        return request.user.has_perm("governance.accredit_organization")

    @admin.display(boolean=True, description="Verified")
    def is_verified(self, organization: Organization) -> bool:
        return organization.is_verified

    @admin.display(boolean=True, description="Accredited")
    def is_accredited(self, organization: Organization) -> bool:
        return organization_is_accredited(organization)

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            services.organization_update(
                actor=request.user,
                organization=Organization.objects.get(pk=obj.pk),
                **fields,
            )
        except DomainError as error:
            self._refused(request, error)

    @admin.action(description="Verify (recorded on the ledger)", permissions=["verify"])
    def verify(self, request, queryset):
        _run_each(
            self,
            request,
            queryset,
            lambda org: services.organization_verify(actor=request.user, organization=org),
            "{n} organization(s) verified.",
        )

    @admin.action(
        description="Accredit for one year (auditors; recorded on the ledger)",
        permissions=["accredit"],
    )
    def accredit_for_one_year(self, request, queryset):
        expires_at = timezone.now() + timedelta(days=365)
        _run_each(
            self,
            request,
            queryset,
            lambda org: services.organization_accredit(
                actor=request.user, organization=org, expires_at=expires_at
            ),
            "{n} auditor(s) accredited until " + expires_at.strftime("%-d %b %Y") + ".",
        )


@admin.register(Membership)
class MembershipAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    list_display = ["organization", "member", "role", "created_at"]
    list_filter = ["role", "organization__kind"]
    search_fields = ["organization__name", "user__email", "user__display_name"]
    list_select_related = ["organization", "user"]
    autocomplete_fields = ["organization", "user"]

    @admin.display(description="Person", ordering="user__display_name")
    def member(self, membership: Membership) -> str:
        return membership.user.public_name

    def get_readonly_fields(self, request, obj=None):
        return ["organization", "user", "created_at"] if obj else ["created_at"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Bulk deletion would skip the last-owner rule and the ledger.
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        try:
            if change:
                saved = services.membership_set_role(
                    actor=request.user,
                    membership=Membership.objects.get(pk=obj.pk),
                    role=form.cleaned_data["role"],
                )
            else:
                saved = services.membership_add(
                    actor=request.user,
                    organization=form.cleaned_data["organization"],
                    user=form.cleaned_data["user"],
                    role=form.cleaned_data["role"],
                )
            obj.pk = saved.pk
        except DomainError as error:
            self._refused(request, error)

    def delete_model(self, request, obj):
        try:
            services.membership_remove(actor=request.user, membership=obj)
        except DomainError as error:
            self._refused(request, error)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["organization", "email", "role", "status", "created_at", "expires_at"]
    list_filter = ["role"]
    search_fields = ["organization__name", "email"]
    list_select_related = ["organization"]
    exclude = ["token_sha256"]
    actions = ["revoke"]

    @admin.display(description="Status")
    def status(self, invitation: Invitation) -> str:
        return services.invitation_status(invitation)

    def has_revoke_permission(self, request) -> bool:
        return request.user.is_staff

    @admin.action(description="Withdraw (recorded on the ledger)", permissions=["revoke"])
    def revoke(self, request, queryset):
        _run_each(
            self,
            request,
            queryset.select_related("organization"),
            lambda inv: services.invitation_revoke(actor=request.user, invitation=inv),
            "{n} invitation(s) withdrawn.",
        )


# --- API tokens and records -------------------------------------------------------------------


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "owner", "prefix", "scopes", "created_at", "last_used_at", "status"]
    search_fields = ["name", "prefix", "user__email"]
    list_select_related = ["user"]
    # The hash is not secret enough to show: it identifies a credential.
    exclude = ["key_sha256"]

    @admin.display(description="Owner")
    def owner(self, token: ApiToken) -> str:
        return token.user.public_name

    @admin.display(description="Status")
    def status(self, token: ApiToken) -> str:
        if token.revoked_at:
            return "revoked"
        return "active" if token.is_active else "expired"


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["seq", "at", "actor", "action", "subject"]
    list_filter = ["action"]
    search_fields = ["subject", "action", "actor"]
    ordering = ["-seq"]
    show_full_result_count = False  # counting a long ledger on every page is wasted work


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "owner", "method", "path", "response_status"]
    search_fields = ["owner", "path", "key"]
    ordering = ["-created_at"]


admin.site.site_header = "OpenRefusal administration"
admin.site.site_title = "OpenRefusal admin"
admin.site.index_title = "Staff tools"
