"""`/api/v1/organizations/`: the organization directory, its members and invitations; staff
verification and accreditation; accepting an invitation by its token."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from governance.api.base import ERROR_REF
from governance.api.fields import SlugRelatedField
from governance.api_auth import HasTokenScope
from governance.errors import NotAllowed
from governance.models import ApiToken, Invitation, Membership, Organization
from governance.selectors import organizations as selectors
from governance.services import organizations as services
from governance.services.ledger import actor_ref

MANAGE = ApiToken.Scope.WRITE_ACCOUNT.value
SLUG_REGEX = r"[-a-zA-Z0-9_]+"

MEMBERSHIP_PRIVACY = (
    "**Who is listed.** Owners and editors speak for their organization, so they are public: "
    "anyone can list them, by public name only (never an e-mail address). Plain members are "
    "private: they are listed only to the organization's own members and to staff. The public "
    "ledger records every membership change by opaque account reference (`user:<id>`) and role."
)


# --- Serializers ------------------------------------------------------------------------------


class OrganizationSerializer(serializers.ModelSerializer):
    verified = serializers.SerializerMethodField(help_text="Staff confirmed its identity.")
    accredited = serializers.SerializerMethodField(
        help_text="An auditor whose accreditation is current (always false for other kinds)."
    )
    html_url = serializers.SerializerMethodField(help_text="The organization's public page.")
    # The model's URLField would be documented as `format: uri`, which "" (no website) is not.
    website = serializers.CharField(
        read_only=True, help_text="Its http(s) address; empty when it gave none."
    )

    class Meta:
        model = Organization
        fields = [
            "slug",
            "name",
            "kind",
            "description",
            "website",
            "created_at",
            "verified",
            "verified_at",
            "accredited",
            "accredited_at",
            "accreditation_expires_at",
            "html_url",
        ]
        read_only_fields = fields

    def get_verified(self, organization: Organization) -> bool:
        return organization.is_verified

    def get_accredited(self, organization: Organization) -> bool:
        return selectors.organization_is_accredited(organization)

    def get_html_url(self, organization: Organization) -> str:
        path = reverse("organizations:detail", kwargs={"slug": organization.slug})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class OrganizationCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=services.NAME_MAX, help_text="Unique, any case.")
    kind = serializers.ChoiceField(choices=Organization.Kind.choices)
    slug = serializers.SlugField(
        max_length=services.SLUG_MAX,
        required=False,
        allow_blank=True,
        help_text="The address name; made from the name when absent.",
    )
    description = serializers.CharField(
        max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True, default=""
    )
    website = serializers.CharField(
        max_length=services.WEBSITE_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="An http(s) address.",
    )


class OrganizationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=services.NAME_MAX, required=False)
    description = serializers.CharField(
        max_length=services.DESCRIPTION_MAX, required=False, allow_blank=True
    )
    website = serializers.CharField(
        max_length=services.WEBSITE_MAX, required=False, allow_blank=True
    )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            fixed = sorted(set(data) - set(self.fields))
            if fixed:
                raise ValidationError({name: ["This field cannot be changed."] for name in fixed})
        return super().to_internal_value(data)


class UnverifySerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, help_text="Published on the ledger.")


class AccreditSerializer(serializers.Serializer):
    expires_at = serializers.DateTimeField(
        required=False, help_text="When the accreditation ends; one year from now when absent."
    )


@extend_schema_field(
    {
        "type": "object",
        "properties": {
            "ref": {"type": "string", "example": "user:12"},
            "public_name": {"type": "string", "example": "Acme Policy Lead"},
        },
    }
)
class PublicUserField(serializers.Field):
    """A person as the public sees them: the ledger reference and the public name."""

    def to_representation(self, user):
        return {"ref": actor_ref(user), "public_name": user.public_name}


class MembershipSerializer(serializers.ModelSerializer):
    user = PublicUserField(read_only=True)
    organization = SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "organization", "user", "role", "created_at"]
        read_only_fields = fields


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(
        help_text="`pending`, `accepted`, `revoked` or `expired`."
    )
    invited_by = serializers.SerializerMethodField()
    organization = SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "organization",
            "email",
            "role",
            "status",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]
        read_only_fields = fields

    def get_status(self, invitation: Invitation) -> str:
        return services.invitation_status(invitation)

    def get_invited_by(self, invitation: Invitation) -> str | None:
        return invitation.invited_by.public_name if invitation.invited_by else None


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=services.EMAIL_MAX)
    role = serializers.ChoiceField(choices=Membership.Role.choices, default="member")


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField(
        max_length=200, help_text="The secret from the invitation link (its last path part)."
    )


# --- Filters ----------------------------------------------------------------------------------


class OrganizationFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Organization.Kind.choices)
    verified = django_filters.BooleanFilter(method="filter_verified", label="Verified")
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", max_length=200)

    class Meta:
        model = Organization
        fields = ["kind", "verified", "q"]

    def filter_verified(self, queryset, name, value):
        return queryset.filter(verified_at__isnull=not value)


# --- Examples ---------------------------------------------------------------------------------

ORGANIZATION_EXAMPLE = {
    "slug": "acme-ai",
    "name": "Acme AI",
    "kind": "developer",
    "description": "Builds the Acme assistant family of large language models.",
    "website": "https://acme.example",
    "created_at": "2026-01-05T10:00:00Z",
    "verified": True,
    "verified_at": "2026-01-06T09:30:00Z",
    "accredited": False,
    "accredited_at": None,
    "accreditation_expires_at": None,
    "html_url": "https://openrefusal.org/organizations/acme-ai/",
}
MEMBERSHIP_EXAMPLE = {
    "id": 3,
    "organization": "acme-ai",
    "user": {"ref": "user:12", "public_name": "Acme Policy Lead"},
    "role": "owner",
    "created_at": "2026-01-05T10:00:00Z",
}
INVITATION_EXAMPLE = {
    "id": 9,
    "organization": "acme-ai",
    "email": "new.colleague@acme.example",
    "role": "editor",
    "status": "pending",
    "invited_by": "Acme Policy Lead",
    "created_at": "2026-02-01T08:00:00Z",
    "expires_at": "2026-02-15T08:00:00Z",
    "accepted_at": None,
    "revoked_at": None,
}
ACCREDITED_EXAMPLE = {
    **ORGANIZATION_EXAMPLE,
    "slug": "independent-audit",
    "name": "Independent Audit Co",
    "kind": "auditor",
    "description": "Independent evaluations of AI refusal behaviour.",
    "website": "https://audit.example",
    "html_url": "https://openrefusal.org/organizations/independent-audit/",
    "accredited": True,
    "accredited_at": "2026-01-10T09:00:00Z",
    "accreditation_expires_at": "2027-06-30T00:00:00Z",
}
TAG_ORGS = ["Organizations"]
TAG_MEMBERS = ["Memberships"]
TAG_INVITATIONS = ["Invitations"]


# --- Organizations ----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List organizations",
        description="AI developers, auditors, regulators and appeals panels, newest first. "
        "Filter with `kind`, `verified` (true/false) and `q` (part of the name).",
        tags=TAG_ORGS,
        examples=[OpenApiExample("A developer", value=ORGANIZATION_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="Show an organization",
        description="By its slug. Verification and accreditation are set by staff only.",
        tags=TAG_ORGS,
        examples=[OpenApiExample("A developer", value=ORGANIZATION_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Register an organization",
        description="Any signed-in person with a confirmed e-mail address may register one and "
        "becomes its first owner. It starts unverified. Names are unique regardless of case; "
        "some slugs (`new`, `admin`, `api`, …) are reserved. Recorded on the ledger as "
        "`organization.created`.",
        request=OrganizationCreateSerializer,
        responses={201: OrganizationSerializer},
        examples=[
            OpenApiExample(
                "Register a developer",
                value={
                    "name": "Acme AI",
                    "kind": "developer",
                    "description": "Builds the Acme assistant family.",
                    "website": "https://acme.example",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Registered",
                value={**ORGANIZATION_EXAMPLE, "verified": False, "verified_at": None},
                response_only=True,
                status_codes=["201"],
            ),
        ],
        tags=TAG_ORGS,
    ),
    partial_update=extend_schema(
        summary="Edit an organization",
        description="Owners (and staff) change `name`, `description` or `website`. The kind "
        "and the slug cannot change (400 if sent). Recorded as `organization.updated`.",
        request=OrganizationUpdateSerializer,
        responses={200: OrganizationSerializer},
        examples=[
            OpenApiExample(
                "New description",
                value={"description": "Builds the Acme assistant family and Acme Code."},
                request_only=True,
            ),
            OpenApiExample(
                "Edited",
                value={
                    **ORGANIZATION_EXAMPLE,
                    "description": "Builds the Acme assistant family and Acme Code.",
                },
                response_only=True,
            ),
        ],
        tags=TAG_ORGS,
    ),
)
class OrganizationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Organization.objects.all()
    serializer_class = OrganizationSerializer
    filterset_class = OrganizationFilter
    lookup_field = "slug"
    lookup_value_regex = SLUG_REGEX
    # PATCH only: a PUT would have to resend fields that can never change.
    http_method_names = ["get", "post", "patch", "head", "options"]

    def create(self, request):
        incoming = OrganizationCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        data["slug"] = data.get("slug") or None
        organization = services.organization_create(actor=request.user, **data)
        body = OrganizationSerializer(organization, context=self.get_serializer_context()).data
        location = reverse("organization-detail", kwargs={"slug": organization.slug})
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})

    def partial_update(self, request, slug=None):
        organization = self.get_object()
        incoming = OrganizationUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        organization = services.organization_update(
            actor=request.user, organization=organization, **incoming.validated_data
        )
        return Response(self.get_serializer(organization).data)

    def get_staff_object(self, permission: str) -> Organization:
        """The organization, once the caller is known to hold `permission` (so a non-staff
        caller hears "not allowed" rather than about their input)."""
        organization = self.get_object()
        if not self.request.user.has_perm(permission, organization):
            raise NotAllowed("Only staff can do this.")
        return organization

    @extend_schema(
        summary="Verify an organization (staff)",
        description="Staff confirm the organization is who it says it is. 409 "
        "`already_verified` if it is. Recorded as `organization.verified`.",
        request=None,
        responses={200: OrganizationSerializer},
        examples=[OpenApiExample("Verified", value=ORGANIZATION_EXAMPLE, response_only=True)],
        tags=TAG_ORGS,
    )
    @action(detail=True, methods=["post"])
    def verify(self, request, slug=None):
        organization = services.organization_verify(
            actor=request.user, organization=self.get_object()
        )
        return Response(self.get_serializer(organization).data)

    @extend_schema(
        summary="Withdraw verification (staff)",
        description="With a public reason; an auditor's accreditation ends too. 409 "
        "`not_verified` if it is not verified. Recorded as `organization.unverified`.",
        request=UnverifySerializer,
        responses={200: OrganizationSerializer},
        examples=[
            OpenApiExample(
                "Reason",
                value={"reason": "The registrant could not show they act for this company."},
                request_only=True,
            ),
            OpenApiExample(
                "Unverified",
                value={**ORGANIZATION_EXAMPLE, "verified": False, "verified_at": None},
                response_only=True,
            ),
        ],
        tags=TAG_ORGS,
    )
    @action(detail=True, methods=["post"])
    def unverify(self, request, slug=None):
        organization = self.get_staff_object("governance.verify_organization")
        incoming = UnverifySerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        organization = services.organization_unverify(
            actor=request.user,
            organization=organization,
            reason=incoming.validated_data["reason"],
        )
        return Response(self.get_serializer(organization).data)

    @extend_schema(
        summary="Accredit an auditor (staff)",
        description="Accredits a verified auditor until `expires_at` (default: one year), or "
        "renews its accreditation. Other kinds answer 400; an unverified auditor 409 "
        "`not_verified`. Recorded as `organization.accredited`.",
        request=AccreditSerializer,
        responses={200: OrganizationSerializer},
        examples=[
            OpenApiExample(
                "Until a date", value={"expires_at": "2027-06-30T00:00:00Z"}, request_only=True
            ),
            OpenApiExample("Accredited", value=ACCREDITED_EXAMPLE, response_only=True),
        ],
        tags=TAG_ORGS,
    )
    @action(detail=True, methods=["post"])
    def accredit(self, request, slug=None):
        organization = self.get_staff_object("governance.accredit_organization")
        incoming = AccreditSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        expires_at = incoming.validated_data.get("expires_at") or (
            timezone.now() + timedelta(days=365)
        )
        organization = services.organization_accredit(
            actor=request.user, organization=organization, expires_at=expires_at
        )
        return Response(self.get_serializer(organization).data)


# --- Memberships ------------------------------------------------------------------------------

ORG_SLUG_PARAMETER = OpenApiParameter(
    "organization_slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The slug."
)


class OrganizationScopedMixin:
    """Views under `/organizations/{organization_slug}/…`."""

    def get_organization(self) -> Organization:
        if not hasattr(self, "_organization"):
            self._organization = get_object_or_404(
                Organization, slug=self.kwargs["organization_slug"]
            )
        return self._organization


@extend_schema_view(
    list=extend_schema(
        summary="List an organization's members",
        description=MEMBERSHIP_PRIVACY + " Owners first, then editors, then members.",
        parameters=[ORG_SLUG_PARAMETER],
        examples=[OpenApiExample("An owner", value=MEMBERSHIP_EXAMPLE, response_only=True)],
        tags=TAG_MEMBERS,
    ),
    retrieve=extend_schema(
        summary="Show one membership",
        description="A plain member's membership answers 404 to those who may not see it.",
        parameters=[ORG_SLUG_PARAMETER],
        examples=[OpenApiExample("An owner", value=MEMBERSHIP_EXAMPLE, response_only=True)],
        tags=TAG_MEMBERS,
    ),
    partial_update=extend_schema(
        summary="Change a member's role (owners)",
        description="Owners (and staff) set `role` to `owner`, `editor` or `member`. The last "
        "owner cannot be demoted (409 `last_owner`). Recorded as `membership.role_changed`.",
        parameters=[ORG_SLUG_PARAMETER],
        request=RoleSerializer,
        responses={200: MembershipSerializer},
        examples=[
            OpenApiExample("Make editor", value={"role": "editor"}, request_only=True),
            OpenApiExample(
                "Now an editor", value={**MEMBERSHIP_EXAMPLE, "role": "editor"}, response_only=True
            ),
        ],
        tags=TAG_MEMBERS,
    ),
    destroy=extend_schema(
        summary="Remove a member, or leave",
        description="Owners (and staff) remove anyone; any member removes themself (leaves). "
        "The last owner can do neither (409 `last_owner`). Recorded as `membership.removed`.",
        parameters=[ORG_SLUG_PARAMETER],
        tags=TAG_MEMBERS,
    ),
)
class MembershipViewSet(
    OrganizationScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = MembershipSerializer
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request path
            return Membership.objects.none()
        organization = self.get_organization()
        include_private = self.request.user.has_perm(
            "governance.view_private_members", organization
        )
        return selectors.membership_public_queryset(
            organization=organization, include_private=include_private
        )

    def partial_update(self, request, organization_slug=None, pk=None):
        membership = self.get_object()
        incoming = RoleSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        membership = services.membership_set_role(
            actor=request.user, membership=membership, role=incoming.validated_data["role"]
        )
        return Response(self.get_serializer(membership).data)

    def destroy(self, request, organization_slug=None, pk=None):
        services.membership_remove(actor=request.user, membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Invitations ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List invitations (owners)",
        description="Every invitation of the organization, newest first, with its status. "
        "Only owners and staff; the addresses are never public. Needs `write:account` with a "
        "token.",
        parameters=[ORG_SLUG_PARAMETER],
        examples=[OpenApiExample("Pending", value=INVITATION_EXAMPLE, response_only=True)],
        tags=TAG_INVITATIONS,
    ),
    retrieve=extend_schema(
        summary="Show an invitation (owners)",
        description="One invitation with its status (`pending`, `accepted`, `revoked`, "
        "`expired`). Only owners and staff; needs `write:account` with a token.",
        parameters=[ORG_SLUG_PARAMETER],
        examples=[OpenApiExample("Pending", value=INVITATION_EXAMPLE, response_only=True)],
        tags=TAG_INVITATIONS,
    ),
    create=extend_schema(
        summary="Invite someone by e-mail (owners)",
        description="Sends an invitation link to the address; it works for "
        "`INVITATION_DAYS` (14 by default) and can be used once, by someone signed in with "
        "that confirmed address. One pending invitation per address (409 "
        "`already_invited`); an address that already belongs to a member answers 400. "
        "Recorded as `invitation.created`, without the address.",
        parameters=[ORG_SLUG_PARAMETER],
        request=InvitationCreateSerializer,
        responses={201: InvitationSerializer},
        examples=[
            OpenApiExample(
                "Invite an editor",
                value={"email": "new.colleague@acme.example", "role": "editor"},
                request_only=True,
            ),
            OpenApiExample(
                "Sent", value=INVITATION_EXAMPLE, response_only=True, status_codes=["201"]
            ),
        ],
        tags=TAG_INVITATIONS,
    ),
)
class InvitationViewSet(
    OrganizationScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = InvitationSerializer
    permission_classes = [IsAuthenticated, HasTokenScope]
    # Invitations hold e-mail addresses: reading them is managing the organization.
    required_scopes = dict.fromkeys(("GET", "HEAD", "OPTIONS", "POST"), MANAGE)
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request path
            return Invitation.objects.none()
        organization = self.get_organization()
        if not self.request.user.has_perm("governance.invite_member", organization):
            raise NotAllowed("Only the organization's owners can see its invitations.")
        return selectors.organization_invitations(organization=organization).select_related(
            "organization"
        )

    def create(self, request, organization_slug=None):
        organization = self.get_organization()
        incoming = InvitationCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        invitation, _raw = services.invitation_create(
            actor=request.user, organization=organization, **incoming.validated_data
        )
        return Response(self.get_serializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Withdraw an invitation (owners)",
        description="Its link stops working at once. 409 if it was already used or withdrawn. "
        "Recorded as `invitation.revoked`.",
        parameters=[ORG_SLUG_PARAMETER],
        request=None,
        responses={200: InvitationSerializer},
        examples=[
            OpenApiExample(
                "Withdrawn",
                value={
                    **INVITATION_EXAMPLE,
                    "status": "revoked",
                    "revoked_at": "2026-02-02T10:00:00Z",
                },
                response_only=True,
            )
        ],
        tags=TAG_INVITATIONS,
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request, organization_slug=None, pk=None):
        invitation = services.invitation_revoke(actor=request.user, invitation=self.get_object())
        return Response(self.get_serializer(invitation).data)


class InvitationAcceptViewSet(viewsets.GenericViewSet):
    serializer_class = InvitationAcceptSerializer
    permission_classes = [IsAuthenticated, HasTokenScope]

    @extend_schema(
        summary="Accept an invitation",
        description="Send the token from the invitation link. You must be signed in with the "
        "invited address confirmed on your account (403 `email_mismatch` otherwise). Used, "
        "withdrawn or expired invitations answer 409 (`invitation_used`, "
        "`invitation_revoked`, `invitation_expired`); an unknown token 404. Recorded as "
        "`invitation.accepted`.",
        request=InvitationAcceptSerializer,
        responses={
            201: MembershipSerializer,
            404: OpenApiResponse(ERROR_REF, description="No invitation has this token."),
        },
        examples=[
            OpenApiExample(
                "Accept", value={"token": "Qm9vZ3Vz…the-token-from-the-link"}, request_only=True
            ),
            OpenApiExample(
                "Joined",
                value={**MEMBERSHIP_EXAMPLE, "role": "editor"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
        tags=TAG_INVITATIONS,
    )
    @action(detail=False, methods=["post"])
    def accept(self, request):
        incoming = InvitationAcceptSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        membership = services.invitation_accept(
            user=request.user, raw_token=incoming.validated_data["token"]
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)
