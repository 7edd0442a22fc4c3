"""`/api/v1/` for policies: AI systems, policies, versions (drafts, publication, withdrawal,
diffs), clauses, and following a policy. Reads are public; drafts only to their organization."""

from __future__ import annotations

import json
from typing import Any

import django_filters
from django.db.models import CharField, Count, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from governance.api.conditional import LastModifiedMixin, latest
from governance.api.fields import SlugRelatedField
from governance.api_auth import HasTokenScope
from governance.errors import Invalid
from governance.models import AISystem, ApiToken, Membership, Organization
from policies import services
from policies.models import Behavior, Clause, Policy, PolicyVersion
from policies.parsing import parse_policy_markdown
from policies.selectors import previous_public_version, version_diff_json

WRITE_POLICIES = ApiToken.Scope.WRITE_POLICIES.value
WRITE_ACCOUNT = ApiToken.Scope.WRITE_ACCOUNT.value
PUBLIC_STATUSES = (
    PolicyVersion.Status.PUBLISHED,
    PolicyVersion.Status.SUPERSEDED,
    PolicyVersion.Status.WITHDRAWN,
)
# An uploaded `.md` file: the same limit as typed text, counted in bytes before decoding.
UPLOAD_MAX_BYTES = services.BODY_MAX
WRITES = dict.fromkeys(("POST", "PUT", "PATCH", "DELETE"), WRITE_POLICIES)

TAG_SYSTEMS = ["AI systems"]
TAG_POLICIES = ["Policies"]
TAG_VERSIONS = ["Policy versions"]
TAG_CLAUSES = ["Clauses"]

SHA_EXAMPLE = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b"
SYSTEM_EXAMPLE = {
    "id": 4,
    "organization": "acme-ai",
    "name": "Acme Assistant",
    "slug": "acme-assistant",
    "description": "The general-purpose chat assistant.",
    "created_at": "2026-01-05T10:00:00Z",
}
POLICY_EXAMPLE = {
    "id": 7,
    "organization": "acme-ai",
    "title": "Acme Assistant Usage Policy",
    "slug": "acme-assistant-usage-policy",
    "summary": "What the Acme assistant refuses, and what it must not refuse.",
    "systems": [{"id": 4, "slug": "acme-assistant", "name": "Acme Assistant"}],
    "current_version": {"id": 31, "number": "2.1.0"},
    "created_at": "2026-01-05T10:05:00Z",
    "html_url": "https://openrefusal.org/policies/acme-ai/acme-assistant-usage-policy/",
}
VERSION_EXAMPLE = {
    "id": 31,
    "policy": 7,
    "organization": "acme-ai",
    "number": "2.1.0",
    "status": "published",
    "summary_of_changes": "Medical dosage questions are now answered with safety context.",
    "clause_count": 24,
    "created_at": "2026-03-01T08:00:00Z",
    "updated_at": "2026-03-02T09:00:00Z",
    "published_at": "2026-03-02T09:00:00Z",
    "effective_at": "2026-03-15T00:00:00Z",
    "content_sha256": SHA_EXAMPLE,
    "previous_sha256": "9f2b5c0e4d1a7b3c8e6f0a2d4c6b8e0f1a3c5e7d9b1f3a5c7e9d1b3f5a7c9e1d",
    "superseded_at": None,
    "withdrawn_at": None,
    "withdrawn_reason": "",
    "html_url": "https://openrefusal.org/policies/acme-ai/acme-assistant-usage-policy/v/2.1.0/",
}
BODY_EXAMPLE = (
    "# Acme Assistant Usage Policy\n\n"
    "## Biological weapons synthesis {#weapons.bio.synthesis}\n"
    "behavior: refuse; categories: weapons, cbrn\n\n"
    "The assistant refuses to help produce or spread biological agents.\n"
)
VERSION_DETAIL_EXAMPLE = {**VERSION_EXAMPLE, "body_markdown": BODY_EXAMPLE, "parse_errors": []}
CLAUSE_EXAMPLE = {
    "id": 812,
    "version": 31,
    "version_number": "2.1.0",
    "version_status": "published",
    "policy": 7,
    "organization": "acme-ai",
    "key": "weapons.bio.synthesis",
    "title": "Biological weapons synthesis",
    "text": "The assistant refuses to help produce or spread biological agents.",
    "expected_behavior": "refuse",
    "categories": ["weapons", "cbrn"],
    "position": 1,
    "line": 3,
    "html_url": "https://openrefusal.org/policies/acme-ai/acme-assistant-usage-policy/v/2.1.0/"
    "#weapons.bio.synthesis",
}
DIFF_EXAMPLE = {
    "old": {"id": 30, "number": "2.0.0"},
    "new": {"id": 31, "number": "2.1.0"},
    "changes": [
        {
            "kind": "changed",
            "key": "medical.dosage",
            "old_key": None,
            "behavior_change": ["refuse", "safe_complete"],
            "title_changed": False,
            "text_changed": True,
            "categories_added": [],
            "categories_removed": [],
            "text_ops": [
                {"op": "equal", "text": "Questions about dosages are "},
                {"op": "delete", "text": "declined."},
                {"op": "insert", "text": "answered with safety context."},
            ],
        }
    ],
    "counts": {"changed": 1, "unchanged": 23},
}


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


def _policy_path(policy: Policy) -> str:
    return reverse(
        "policies:detail",
        kwargs={"org_slug": policy.organization.slug, "policy_slug": policy.slug},
    )


def _version_path(version: PolicyVersion) -> str:
    policy = version.policy
    return reverse(
        "policies:version",
        kwargs={
            "org_slug": policy.organization.slug,
            "policy_slug": policy.slug,
            "number": version.number,
        },
    )


def member_organization_ids(user) -> list[int]:
    """The developer organizations whose drafts `user` may read (the `policies.view_draft`
    rule, as a queryset filter)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    return list(
        Membership.objects.filter(
            user=user, organization__kind=Organization.Kind.DEVELOPER
        ).values_list("organization_id", flat=True)
    )


def visible_versions(user) -> Q:
    """Public versions, and the drafts of the caller's own organizations."""
    return Q(status__in=PUBLIC_STATUSES) | Q(
        status=PolicyVersion.Status.DRAFT,
        policy__organization_id__in=member_organization_ids(user),
    )


# --- Serializers ------------------------------------------------------------------------------


class AISystemSerializer(serializers.ModelSerializer):
    organization = SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = AISystem
        fields = ["id", "organization", "name", "slug", "description", "created_at"]
        read_only_fields = fields


class AISystemCreateSerializer(serializers.Serializer):
    organization = SlugRelatedField(
        slug_field="slug",
        queryset=Organization.objects.all(),
        help_text="The slug of your AI developer organization.",
    )
    name = serializers.CharField(max_length=services.SYSTEM_NAME_MAX)
    slug = serializers.CharField(
        max_length=services.SLUG_MAX,
        required=False,
        allow_blank=True,
        help_text="The address name, unique in the organization; made from the name if absent.",
    )
    description = serializers.CharField(
        max_length=services.SYSTEM_DESCRIPTION_MAX, required=False, allow_blank=True, default=""
    )


class FixedFieldsMixin:
    """PATCH bodies may only name the fields that can change (a slug or an owner never does)."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            fixed = sorted(set(data.keys()) - set(self.fields))
            if fixed:
                raise ValidationError({name: ["This field cannot be changed."] for name in fixed})
        return super().to_internal_value(data)


class AISystemUpdateSerializer(FixedFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=services.SYSTEM_NAME_MAX, required=False)
    description = serializers.CharField(
        max_length=services.SYSTEM_DESCRIPTION_MAX, required=False, allow_blank=True
    )


class SystemRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = AISystem
        fields = ["id", "slug", "name"]
        read_only_fields = fields


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "properties": {"id": {"type": "integer"}, "number": {"type": "string"}},
        "description": "The version in force (published, not superseded or withdrawn).",
    }
)
class CurrentVersionField(serializers.Field):
    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        kwargs["source"] = "*"
        super().__init__(**kwargs)

    def to_representation(self, policy: Policy) -> dict | None:
        pk = getattr(policy, "current_version_id", None)
        return {"id": pk, "number": policy.current_version_number} if pk else None


class PolicySerializer(serializers.ModelSerializer):
    organization = SlugRelatedField(slug_field="slug", read_only=True)
    systems = SystemRefSerializer(many=True, read_only=True)
    current_version = CurrentVersionField()
    html_url = serializers.SerializerMethodField(help_text="The policy's public page.")

    class Meta:
        model = Policy
        fields = [
            "id",
            "organization",
            "title",
            "slug",
            "summary",
            "systems",
            "current_version",
            "created_at",
            "html_url",
        ]
        read_only_fields = fields

    def get_html_url(self, policy: Policy) -> str:
        return _absolute(self.context.get("request"), _policy_path(policy))


class PolicyCreateSerializer(serializers.Serializer):
    organization = SlugRelatedField(
        slug_field="slug",
        queryset=Organization.objects.all(),
        help_text="The slug of your AI developer organization.",
    )
    title = serializers.CharField(max_length=services.TITLE_MAX)
    slug = serializers.CharField(max_length=services.SLUG_MAX, required=False, allow_blank=True)
    summary = serializers.CharField(
        max_length=services.SUMMARY_MAX, required=False, allow_blank=True, default=""
    )
    systems = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=AISystem.objects.all(),
        required=False,
        default=list,
        help_text="Ids of the organization's AI systems this policy applies to.",
    )


class PolicyUpdateSerializer(FixedFieldsMixin, serializers.Serializer):
    title = serializers.CharField(max_length=services.TITLE_MAX, required=False)
    summary = serializers.CharField(
        max_length=services.SUMMARY_MAX, required=False, allow_blank=True
    )
    systems = serializers.PrimaryKeyRelatedField(
        many=True, queryset=AISystem.objects.all(), required=False
    )


class PolicyVersionSerializer(serializers.ModelSerializer):
    organization = serializers.SerializerMethodField()
    number = serializers.CharField(read_only=True, help_text="`major.minor.patch`.")
    clause_count = serializers.SerializerMethodField(
        help_text="Clauses parsed from the text (0 for a draft that does not parse)."
    )
    html_url = serializers.SerializerMethodField(help_text="The version's page.")

    class Meta:
        model = PolicyVersion
        fields = [
            "id",
            "policy",
            "organization",
            "number",
            "status",
            "summary_of_changes",
            "clause_count",
            "created_at",
            "updated_at",
            "published_at",
            "effective_at",
            "content_sha256",
            "previous_sha256",
            "superseded_at",
            "withdrawn_at",
            "withdrawn_reason",
            "html_url",
        ]
        read_only_fields = fields

    def get_organization(self, version: PolicyVersion) -> str:
        return version.policy.organization.slug

    def get_clause_count(self, version: PolicyVersion) -> int:
        count = getattr(version, "clause_count", None)
        return count if count is not None else version.clauses.count()

    def get_html_url(self, version: PolicyVersion) -> str:
        return _absolute(self.context.get("request"), _version_path(version))


class ParseErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    message = serializers.CharField()


class PolicyVersionDetailSerializer(PolicyVersionSerializer):
    body_markdown = serializers.CharField(read_only=True)
    parse_errors = serializers.SerializerMethodField(
        help_text="Problems in a draft's text, with line numbers (always empty once published)."
    )

    class Meta(PolicyVersionSerializer.Meta):
        fields = [*PolicyVersionSerializer.Meta.fields, "body_markdown", "parse_errors"]
        read_only_fields = fields

    @extend_schema_field(ParseErrorSerializer(many=True))
    def get_parse_errors(self, version: PolicyVersion) -> list[dict]:
        if not version.is_draft:
            return []
        parsed = parse_policy_markdown(version.body_markdown)
        return [{"line": e.line, "message": e.message} for e in parsed.errors]


class UploadMixin(serializers.Serializer):
    """The text as `body_markdown`, or as an uploaded `file` (multipart/form-data)."""

    body_markdown = serializers.CharField(
        required=False,
        trim_whitespace=False,
        help_text="The policy's Markdown (at most 1,000,000 characters).",
    )
    file = serializers.FileField(
        required=False,
        write_only=True,
        help_text="Instead of `body_markdown`: a UTF-8 `.md` file (at most 1,000,000 bytes), "
        "sent as multipart/form-data.",
    )

    def validate_file(self, upload) -> str:
        if upload.size > UPLOAD_MAX_BYTES:
            raise ValidationError(
                f"The file is larger than {UPLOAD_MAX_BYTES:,} bytes ({upload.size:,})."
            )
        raw = b"".join(upload.chunks())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("The file is not UTF-8 text.") from None

    def text_from(self, data: dict[str, Any], *, required: bool) -> str | None:
        body, uploaded = data.pop("body_markdown", None), data.pop("file", None)
        if body is not None and uploaded is not None:
            raise ValidationError({"file": ["Send either the text or a file, not both."]})
        text = uploaded if uploaded is not None else body
        if text is None and required:
            raise ValidationError(
                {"body_markdown": ["Send the policy text, or upload it as a file."]}
            )
        return text


class PolicyVersionCreateSerializer(UploadMixin):
    policy = serializers.PrimaryKeyRelatedField(queryset=Policy.objects.all())
    number = serializers.CharField(max_length=40, help_text="Semantic version, e.g. `2.1.0`.")
    summary_of_changes = serializers.CharField(
        max_length=services.SUMMARY_OF_CHANGES_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required to publish; published with the version.",
    )
    effective_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Defaults to publication."
    )

    def validate(self, attrs):
        attrs["body_markdown"] = self.text_from(attrs, required=True)
        return attrs


class PolicyVersionUpdateSerializer(FixedFieldsMixin, UploadMixin):
    number = serializers.CharField(max_length=40, required=False)
    summary_of_changes = serializers.CharField(
        max_length=services.SUMMARY_OF_CHANGES_MAX, required=False, allow_blank=True
    )
    effective_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        text = self.text_from(attrs, required=False)
        if text is not None:
            attrs["body_markdown"] = text
        return attrs


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=services.REASON_MAX, help_text="Published with the withdrawal."
    )


class ClauseSerializer(serializers.ModelSerializer):
    version_number = serializers.SerializerMethodField()
    version_status = serializers.SerializerMethodField()
    policy = serializers.SerializerMethodField()
    organization = serializers.SerializerMethodField()
    html_url = serializers.SerializerMethodField(help_text="The clause in its version's page.")

    class Meta:
        model = Clause
        fields = [
            "id",
            "version",
            "version_number",
            "version_status",
            "policy",
            "organization",
            "key",
            "title",
            "text",
            "expected_behavior",
            "categories",
            "position",
            "line",
            "html_url",
        ]
        read_only_fields = fields

    def get_version_number(self, clause: Clause) -> str:
        return clause.version.number

    def get_version_status(self, clause: Clause) -> str:
        return clause.version.status

    def get_policy(self, clause: Clause) -> int:
        return clause.version.policy_id

    def get_organization(self, clause: Clause) -> str:
        return clause.version.policy.organization.slug

    def get_html_url(self, clause: Clause) -> str:
        path = f"{_version_path(clause.version)}#{clause.key}"
        return _absolute(self.context.get("request"), path)


class FollowSerializer(serializers.Serializer):
    following = serializers.BooleanField()
    policy = serializers.IntegerField()


# --- Filters ----------------------------------------------------------------------------------


class AISystemFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(
        field_name="organization__slug", max_length=80, help_text="Organization slug."
    )

    class Meta:
        model = AISystem
        fields = ["organization"]


class PolicyFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(
        field_name="organization__slug", max_length=80, help_text="Organization slug."
    )
    system = django_filters.CharFilter(
        field_name="systems__slug", max_length=80, help_text="AI system slug."
    )
    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains", max_length=200)

    class Meta:
        model = Policy
        fields = ["organization", "system", "q"]


class PolicyVersionFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(
        field_name="policy__organization__slug", max_length=80, help_text="Organization slug."
    )
    policy = django_filters.NumberFilter(field_name="policy_id", help_text="Policy id.")
    status = django_filters.ChoiceFilter(choices=PolicyVersion.Status.choices)

    class Meta:
        model = PolicyVersion
        fields = ["organization", "policy", "status"]


class ClauseFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(
        field_name="version__policy__organization__slug",
        max_length=80,
        help_text="Organization slug.",
    )
    system = django_filters.CharFilter(
        field_name="version__policy__systems__slug", max_length=80, help_text="AI system slug."
    )
    policy = django_filters.NumberFilter(field_name="version__policy_id", help_text="Policy id.")
    version = django_filters.NumberFilter(field_name="version_id", help_text="Version id.")
    status = django_filters.ChoiceFilter(
        field_name="version__status",
        choices=PolicyVersion.Status.choices,
        help_text="The status of the clause's version (`published` = the versions in force).",
    )
    key = django_filters.CharFilter(field_name="key", max_length=120, help_text="Exact key.")
    behavior = django_filters.ChoiceFilter(field_name="expected_behavior", choices=Behavior.choices)

    class Meta:
        model = Clause
        fields = ["organization", "system", "policy", "version", "status", "key", "behavior"]


# --- AI systems -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List AI systems",
        description="The AI systems developer organizations ship, newest first. Filter with "
        "`organization` (slug).",
        examples=[OpenApiExample("A system", value=SYSTEM_EXAMPLE, response_only=True)],
        tags=TAG_SYSTEMS,
    ),
    retrieve=extend_schema(
        summary="Show an AI system",
        description="By id.",
        examples=[OpenApiExample("A system", value=SYSTEM_EXAMPLE, response_only=True)],
        tags=TAG_SYSTEMS,
    ),
    create=extend_schema(
        summary="Add an AI system",
        description="Editors and owners of an AI developer list a system it ships. The slug is "
        "made from the name unless given; some slugs (`new`, `systems`, `draft`, …) are "
        "reserved. Needs `write:policies` with a token. Recorded as `ai_system.created`.",
        request=AISystemCreateSerializer,
        responses={201: AISystemSerializer},
        examples=[
            OpenApiExample(
                "Add a system",
                value={"organization": "acme-ai", "name": "Acme Assistant"},
                request_only=True,
            ),
            OpenApiExample("Added", value=SYSTEM_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
        tags=TAG_SYSTEMS,
    ),
    partial_update=extend_schema(
        summary="Edit an AI system",
        description="Change `name` or `description`; the slug never changes. Recorded as "
        "`ai_system.updated`.",
        request=AISystemUpdateSerializer,
        responses={200: AISystemSerializer},
        examples=[
            OpenApiExample("Rename", value={"name": "Acme Assistant 2"}, request_only=True),
            OpenApiExample(
                "Renamed", value={**SYSTEM_EXAMPLE, "name": "Acme Assistant 2"}, response_only=True
            ),
        ],
        tags=TAG_SYSTEMS,
    ),
)
class AISystemViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = AISystem.objects.select_related("organization")
    serializer_class = AISystemSerializer
    filterset_class = AISystemFilter
    required_scopes = WRITES
    http_method_names = ["get", "post", "patch", "head", "options"]

    def create(self, request):
        incoming = AISystemCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        system = services.ai_system_create(
            actor=request.user,
            organization=data["organization"],
            name=data["name"],
            slug=data.get("slug") or None,
            description=data.get("description", ""),
        )
        location = reverse("ai-system-detail", kwargs={"pk": system.pk})
        return Response(
            self.get_serializer(system).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )

    def partial_update(self, request, pk=None):
        system = self.get_object()
        incoming = AISystemUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        system = services.ai_system_update(
            actor=request.user, system=system, **incoming.validated_data
        )
        return Response(self.get_serializer(system).data)


# --- Policies ---------------------------------------------------------------------------------


def _with_current_version(queryset: QuerySet[Policy]) -> QuerySet[Policy]:
    current = PolicyVersion.objects.filter(
        policy=OuterRef("pk"), status=PolicyVersion.Status.PUBLISHED
    )
    number = Concat(
        Cast("major", CharField()),
        Value("."),
        Cast("minor", CharField()),
        Value("."),
        Cast("patch", CharField()),
        output_field=CharField(),
    )
    return queryset.annotate(
        current_version_id=Subquery(current.values("pk")[:1]),
        current_version_number=Subquery(
            current.annotate(text=number).values("text")[:1], output_field=CharField()
        ),
    )


@extend_schema_view(
    list=extend_schema(
        summary="List policies",
        description="Refusal policies, newest first, with the version in force. Filter with "
        "`organization` (slug), `system` (slug) and `q` (part of the title).",
        examples=[OpenApiExample("A policy", value=POLICY_EXAMPLE, response_only=True)],
        tags=TAG_POLICIES,
    ),
    retrieve=extend_schema(
        summary="Show a policy",
        description="By id. Its versions are under `/api/v1/policy-versions/?policy={id}`.",
        examples=[OpenApiExample("A policy", value=POLICY_EXAMPLE, response_only=True)],
        tags=TAG_POLICIES,
    ),
    create=extend_schema(
        summary="Create a policy",
        description="Editors and owners of an AI developer start a policy document for some "
        "of its systems (ids of its own systems only). It has no version until a draft is "
        "written and published. Needs `write:policies` with a token. Recorded as "
        "`policy.created`.",
        request=PolicyCreateSerializer,
        responses={201: PolicySerializer},
        examples=[
            OpenApiExample(
                "Create",
                value={
                    "organization": "acme-ai",
                    "title": "Acme Assistant Usage Policy",
                    "summary": "What the Acme assistant refuses.",
                    "systems": [4],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={**POLICY_EXAMPLE, "current_version": None},
                response_only=True,
                status_codes=["201"],
            ),
        ],
        tags=TAG_POLICIES,
    ),
    partial_update=extend_schema(
        summary="Edit a policy",
        description="Change `title`, `summary` or `systems` (the full list). The slug never "
        "changes. Recorded as `policy.updated`.",
        request=PolicyUpdateSerializer,
        responses={200: PolicySerializer},
        examples=[
            OpenApiExample("Re-scope", value={"systems": [4, 5]}, request_only=True),
            OpenApiExample(
                "Re-scoped",
                value={
                    **POLICY_EXAMPLE,
                    "systems": [
                        {"id": 4, "slug": "acme-assistant", "name": "Acme Assistant"},
                        {"id": 5, "slug": "acme-code", "name": "Acme Code"},
                    ],
                },
                response_only=True,
            ),
        ],
        tags=TAG_POLICIES,
    ),
)
class PolicyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = PolicySerializer
    filterset_class = PolicyFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @property
    def required_scopes(self) -> dict[str, str]:
        # Following is about the caller's own account, not about writing policies.
        if getattr(self, "action", None) == "follow":
            return dict.fromkeys(("POST", "DELETE"), WRITE_ACCOUNT)
        return WRITES

    def get_queryset(self):
        queryset = Policy.objects.select_related("organization").prefetch_related(
            Prefetch("systems", queryset=AISystem.objects.only("id", "slug", "name"))
        )
        if self.action == "list":
            queryset = queryset.distinct()  # the `system` filter joins a many-to-many
        return _with_current_version(queryset)

    def create(self, request):
        incoming = PolicyCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        policy = services.policy_create(
            actor=request.user,
            organization=data["organization"],
            title=data["title"],
            slug=data.get("slug") or None,
            summary=data.get("summary", ""),
            systems=data.get("systems", []),
        )
        policy = self.get_queryset().get(pk=policy.pk)
        location = reverse("policy-detail", kwargs={"pk": policy.pk})
        return Response(
            self.get_serializer(policy).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )

    def partial_update(self, request, pk=None):
        policy = self.get_object()
        incoming = PolicyUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        services.policy_update(actor=request.user, policy=policy, **incoming.validated_data)
        policy = self.get_queryset().get(pk=policy.pk)
        return Response(self.get_serializer(policy).data)

    @extend_schema(
        methods=["POST"],
        summary="Follow a policy",
        description="Hear by e-mail whenever the policy publishes a new version. Needs a "
        "confirmed e-mail address. Idempotent: following twice is following. Private (not on "
        "the ledger). Needs `write:account` with a token.",
        request=None,
        responses={200: FollowSerializer},
        examples=[
            OpenApiExample("Following", value={"following": True, "policy": 7}, response_only=True)
        ],
        tags=TAG_POLICIES,
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Unfollow a policy",
        description="Stop the e-mails. Idempotent. Needs `write:account` with a token.",
        request=None,
        responses={204: None},
        tags=TAG_POLICIES,
    )
    @action(
        detail=True, methods=["post", "delete"], permission_classes=[IsAuthenticated, HasTokenScope]
    )
    def follow(self, request, pk=None):
        policy = self.get_object()
        if request.method == "DELETE":
            services.policy_unfollow(user=request.user, policy=policy)
            return Response(status=status.HTTP_204_NO_CONTENT)
        services.policy_follow(user=request.user, policy=policy)
        return Response({"following": True, "policy": policy.pk})


# --- Versions ---------------------------------------------------------------------------------

ID_PARAMETER = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)
AGAINST_PARAMETER = OpenApiParameter(
    "against",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    required=False,
    description="The id of the version to compare from (the older side); by default the "
    "public version numbered just below this one.",
)


@extend_schema_view(
    list=extend_schema(
        summary="List policy versions",
        description="Published, superseded and withdrawn versions of every policy, newest "
        "first, without their text; your own organizations' drafts too. Filter with `policy` "
        "(id), `organization` (slug) and `status`. Constant cost however many versions.",
        examples=[OpenApiExample("A version", value=VERSION_EXAMPLE, response_only=True)],
        tags=TAG_VERSIONS,
    ),
    retrieve=extend_schema(
        summary="Show a policy version",
        description="With its Markdown text and, for a draft, the problems that stop it from "
        "being published (with line numbers). Drafts are visible only to their "
        "organization's members (404 for everyone else).",
        responses={200: PolicyVersionDetailSerializer},
        examples=[OpenApiExample("A version", value=VERSION_DETAIL_EXAMPLE, response_only=True)],
        tags=TAG_VERSIONS,
    ),
    create=extend_schema(
        summary="Write a draft version",
        description="Editors and owners of the policy's organization start its next version: "
        "a semantic `number` above every existing version, and the Markdown as "
        "`body_markdown` or as an uploaded UTF-8 `file` (multipart/form-data, at most "
        "1,000,000 bytes). A policy has at most one draft (409 `draft_exists`). A draft may "
        "be saved with parse errors (see `parse_errors`) but not published. Drafts are "
        "private and not on the ledger. Needs `write:policies` with a token; send an "
        "`Idempotency-Key` from a pipeline.",
        request={
            "application/json": PolicyVersionCreateSerializer,
            "multipart/form-data": PolicyVersionCreateSerializer,
        },
        responses={201: PolicyVersionDetailSerializer},
        examples=[
            OpenApiExample(
                "A draft",
                value={
                    "policy": 7,
                    "number": "2.1.0",
                    "body_markdown": BODY_EXAMPLE,
                    "summary_of_changes": "Medical dosage questions are now answered.",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Saved",
                value={
                    **VERSION_DETAIL_EXAMPLE,
                    "status": "draft",
                    "published_at": None,
                    "content_sha256": "",
                    "previous_sha256": "",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
        tags=TAG_VERSIONS,
    ),
    partial_update=extend_schema(
        summary="Edit a draft version",
        description="Change the draft's `number`, text (`body_markdown` or `file`), "
        "`summary_of_changes` or `effective_at`. Published versions never change: 409 "
        "`not_draft`.",
        request={
            "application/json": PolicyVersionUpdateSerializer,
            "multipart/form-data": PolicyVersionUpdateSerializer,
        },
        responses={200: PolicyVersionDetailSerializer},
        examples=[
            OpenApiExample(
                "New summary",
                value={"summary_of_changes": "Clarifies the dosage clause."},
                request_only=True,
            ),
            OpenApiExample(
                "Edited draft",
                value={
                    **VERSION_DETAIL_EXAMPLE,
                    "number": "2.2.0",
                    "status": "draft",
                    "summary_of_changes": "Clarifies the dosage clause.",
                    "published_at": None,
                },
                response_only=True,
            ),
        ],
        tags=TAG_VERSIONS,
    ),
    destroy=extend_schema(
        summary="Delete a draft version",
        description="Only drafts can be deleted; a published version answers 409 "
        "`not_draft` (withdraw it instead).",
        tags=TAG_VERSIONS,
    ),
)
class PolicyVersionViewSet(
    LastModifiedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = PolicyVersionSerializer
    filterset_class = PolicyVersionFilter
    required_scopes = WRITES
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        queryset = PolicyVersion.objects.select_related("policy__organization")
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        queryset = queryset.filter(visible_versions(self.request.user))
        if self.action == "list":
            # No bodies in lists (up to 1 MB each), and the clause count in the same query.
            queryset = queryset.defer("body_markdown").annotate(clause_count=Count("clauses"))
        return queryset

    def get_serializer_class(self):
        if self.action == "list":
            return PolicyVersionSerializer
        return PolicyVersionDetailSerializer

    def last_modified(self, version):
        # Every change saves the row (updated_at); the status times are there as well.
        return latest(
            version.updated_at, version.published_at, version.superseded_at, version.withdrawn_at
        )

    def _respond(self, version: PolicyVersion, code: int = status.HTTP_200_OK, **kwargs):
        version = (
            PolicyVersion.objects.select_related("policy__organization")
            .annotate(clause_count=Count("clauses"))
            .get(pk=version.pk)
        )
        return Response(self.get_serializer(version).data, status=code, **kwargs)

    def create(self, request):
        incoming = PolicyVersionCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        version = services.version_draft_create(actor=request.user, **data)
        location = reverse("policy-version-detail", kwargs={"pk": version.pk})
        return self._respond(version, status.HTTP_201_CREATED, headers={"Location": location})

    def partial_update(self, request, pk=None):
        version = self.get_object()
        incoming = PolicyVersionUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        version = services.version_draft_update(
            actor=request.user, version=version, **incoming.validated_data
        )
        return self._respond(version)

    def destroy(self, request, pk=None):
        services.version_draft_delete(actor=request.user, version=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Publish a draft version",
        description="The draft becomes the version in force, immutable from now on (the "
        "database refuses any change to its text or clauses); the version it replaces becomes "
        "superseded. Needs a text without parse errors (400 with `fields.body_markdown` "
        "listing `line N: …`), a `summary_of_changes`, a number above every other version, "
        "and a verified organization (403 `not_verified`). A version that is not a draft "
        "answers 409 `not_draft`. Recorded as `policy_version.superseded` and "
        "`policy_version.published`; followers are e-mailed.",
        request=None,
        responses={200: PolicyVersionDetailSerializer},
        examples=[OpenApiExample("Published", value=VERSION_DETAIL_EXAMPLE, response_only=True)],
        tags=TAG_VERSIONS,
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        version = services.version_publish(actor=request.user, version=self.get_object())
        return self._respond(version)

    @extend_schema(
        summary="Withdraw a version",
        description="A published or superseded version is withdrawn with a public `reason` "
        "(at most 5,000 characters); it stays readable, marked withdrawn. Drafts and "
        "withdrawn versions answer 409. Recorded as `policy_version.withdrawn`.",
        request=WithdrawSerializer,
        responses={200: PolicyVersionDetailSerializer},
        examples=[
            OpenApiExample(
                "Withdraw",
                value={"reason": "Published by mistake before legal review."},
                request_only=True,
            ),
            OpenApiExample(
                "Withdrawn",
                value={
                    **VERSION_DETAIL_EXAMPLE,
                    "status": "withdrawn",
                    "withdrawn_at": "2026-03-03T12:00:00Z",
                    "withdrawn_reason": "Published by mistake before legal review.",
                },
                response_only=True,
            ),
        ],
        tags=TAG_VERSIONS,
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        version = self.get_object()
        incoming = WithdrawSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        version = services.version_withdraw(
            actor=request.user, version=version, reason=incoming.validated_data["reason"]
        )
        return self._respond(version)

    @extend_schema(
        summary="Compare two versions",
        description="The clause-level diff from `against` (default: the public version just "
        "below) to this version: behaviour changes first, then removed, added, re-keyed, "
        "changed and moved clauses, with a word-level diff of changed text. Both versions "
        "must belong to the same policy. 400 if there is nothing to compare with.",
        parameters=[AGAINST_PARAMETER],
        responses={
            200: inline_serializer(
                "PolicyDiff",
                fields={
                    "old": serializers.DictField(),
                    "new": serializers.DictField(),
                    "changes": serializers.ListField(child=serializers.DictField()),
                    "counts": serializers.DictField(child=serializers.IntegerField()),
                },
            )
        },
        examples=[OpenApiExample("A behaviour change", value=DIFF_EXAMPLE, response_only=True)],
        tags=TAG_VERSIONS,
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, pk=None):
        version = self.get_object()
        against = request.query_params.get("against")
        if against is None or against == "":
            old = previous_public_version(version)
            if old is None:
                raise Invalid(
                    "This is the first version: there is nothing to compare it with.",
                    fields={"against": ["Give the id of another version of this policy."]},
                )
        else:
            if not against.isdigit() or len(against) > 18:
                raise Invalid(
                    "`against` must be a version id.",
                    fields={"against": ["Give the id of another version of this policy."]},
                )
            old = (
                PolicyVersion.objects.filter(visible_versions(request.user))
                .select_related("policy__organization")
                .defer("body_markdown")
                .filter(pk=int(against))
                .first()
            )
            if old is None or old.policy_id != version.policy_id:
                raise Invalid(
                    "`against` is not a version of the same policy.",
                    fields={"against": ["Give the id of another version of this policy."]},
                )
        head = {
            "old": {"id": old.pk, "number": old.number, "status": old.status},
            "new": {"id": version.pk, "number": version.number, "status": version.status},
        }
        body = version_diff_json(old=old, new=version)
        if request.accepted_renderer.format != "json":
            return Response({**head, **json.loads(body)})
        # The diff comes already encoded (and cached so): spliced in after the versions rather
        # than decoded and encoded again. Same bytes as `Response({**head, **body})`.
        content = JSONRenderer().render(head)[:-1] + b"," + body[1:]
        return HttpResponse(content, content_type=JSONRenderer.media_type)


# --- Clauses ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List clauses",
        description="Clauses of public versions (and of your own organizations' drafts), "
        "newest first. Filter with `organization` (slug), `system` (slug), `policy` (id), "
        "`version` (id), `status` (of the version: `published` = in force), `key` and "
        "`behavior`.",
        examples=[OpenApiExample("A clause", value=CLAUSE_EXAMPLE, response_only=True)],
        tags=TAG_CLAUSES,
    ),
    retrieve=extend_schema(
        summary="Show a clause",
        description="By id. Follow one clause across versions with `?key=…&policy=…`.",
        examples=[OpenApiExample("A clause", value=CLAUSE_EXAMPLE, response_only=True)],
        tags=TAG_CLAUSES,
    ),
)
class ClauseViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ClauseSerializer
    filterset_class = ClauseFilter

    def get_queryset(self):
        queryset = Clause.objects.select_related("version__policy__organization").defer(
            "version__body_markdown"
        )
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        visible = PolicyVersion.objects.filter(visible_versions(self.request.user))
        queryset = queryset.filter(version__in=visible.values("pk"))
        if self.action == "list" and "system" in self.request.query_params:
            queryset = queryset.distinct()
        return queryset


__all__ = ["AISystemViewSet", "ClauseViewSet", "PolicyVersionViewSet", "PolicyViewSet"]
