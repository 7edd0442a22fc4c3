"""The staff admin for policies: read-only. Systems, policies and versions change through the
services (so onto the public ledger) by the company's own editors; published versions could not
change anyway (the database refuses)."""

from __future__ import annotations

from django.contrib import admin

from governance.admin import ReadOnlyAdmin
from governance.models import AISystem
from policies.models import Clause, Policy, PolicyFollow, PolicyVersion


@admin.register(AISystem)
class AISystemAdmin(ReadOnlyAdmin):
    list_display = ("name", "slug", "organization", "created_at")
    list_select_related = ("organization",)
    list_filter = ("organization",)
    search_fields = ("name", "slug", "organization__name")
    readonly_fields = ("organization", "name", "slug", "description", "created_at", "created_by")


@admin.register(Policy)
class PolicyAdmin(ReadOnlyAdmin):
    list_display = ("title", "slug", "organization", "created_at")
    list_select_related = ("organization",)
    list_filter = ("organization",)
    search_fields = ("title", "slug", "organization__name")
    readonly_fields = (
        "organization",
        "title",
        "slug",
        "summary",
        "systems",
        "created_at",
        "created_by",
    )


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdmin):
    list_display = ("policy", "number", "status", "published_at", "effective_at")
    list_select_related = ("policy__organization",)
    list_filter = ("status", "policy__organization")
    search_fields = ("policy__title", "content_sha256")
    date_hierarchy = "published_at"
    readonly_fields = (
        "policy",
        "number",
        "status",
        "summary_of_changes",
        "body_markdown",
        "created_at",
        "created_by",
        "updated_at",
        "published_at",
        "published_by",
        "effective_at",
        "content_sha256",
        "previous_sha256",
        "superseded_at",
        "withdrawn_at",
        "withdrawn_reason",
    )
    fields = readonly_fields

    def get_queryset(self, request):
        # Lists never need the (up to 1 MB) text.
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            queryset = queryset.defer("body_markdown")
        return queryset


@admin.register(Clause)
class ClauseAdmin(ReadOnlyAdmin):
    list_display = ("key", "title", "expected_behavior", "version", "position")
    list_select_related = ("version__policy",)
    list_filter = ("expected_behavior", "version__status")
    search_fields = ("key", "title")
    raw_id_fields = ("version",)
    readonly_fields = (
        "version",
        "key",
        "title",
        "text",
        "expected_behavior",
        "categories",
        "position",
        "line",
    )


@admin.register(PolicyFollow)
class PolicyFollowAdmin(ReadOnlyAdmin):
    """Who follows what is private; staff may remove a follow on the person's request."""

    list_display = ("policy", "user", "created_at")
    list_select_related = ("policy", "user")
    raw_id_fields = ("user", "policy")
    readonly_fields = ("user", "policy", "created_at")

    def has_delete_permission(self, request, obj=None):
        return bool(request.user.is_active and request.user.is_superuser)
