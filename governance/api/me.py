"""`/api/v1/me/`: your own profile (read, change, delete the account) and your data export."""

from __future__ import annotations

from allauth.mfa.utils import is_mfa_enabled
from django.contrib.auth import logout
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.api_auth import HasTokenScope
from governance.forms.accounts import (
    DELETE_CONFIRMATION_PHRASE,
    verify_mfa_code,
    verify_password,
)
from governance.models import ApiToken
from governance.services.accounts import (
    export_filename,
    user_delete,
    user_export,
    user_profile_update,
)

MANAGE = ApiToken.Scope.WRITE_ACCOUNT.value
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}  # added by governance.api.base
WRITABLE_FIELDS = ("display_name", "timezone")


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    display_name = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,  # the service trims, the same way as the profile page
        help_text="Your public name; a pseudonym is fine. 2 to 80 characters, no e-mail or web "
        "addresses, not a reserved name. Until you choose one you are shown as “Member #<id>”.",
    )
    public_name = serializers.CharField(
        read_only=True, help_text="The only name anyone else ever sees."
    )
    timezone = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="An IANA time zone (e.g. `Europe/Berlin`); empty: your browser's.",
    )
    email = serializers.EmailField(
        read_only=True,
        help_text="Your sign-in address. Only you see it; it is never shown publicly.",
    )
    mfa_enabled = serializers.BooleanField(read_only=True)
    date_joined = serializers.DateTimeField(read_only=True)

    def to_representation(self, user):
        data = super().to_representation(user)
        data["mfa_enabled"] = is_mfa_enabled(user)
        return data

    def validate(self, attrs):
        # A key that cannot be changed here is an error, not silently dropped: a client that
        # sends {"email": …} should learn that its change did not happen.
        initial = self.initial_data if isinstance(self.initial_data, dict) else {}
        unknown = sorted(set(initial) - set(WRITABLE_FIELDS))
        if unknown:
            raise serializers.ValidationError(
                {
                    name: [
                        "This field cannot be changed here."
                        + (
                            " Manage e-mail addresses on the account's e-mail page."
                            if name == "email"
                            else ""
                        )
                    ]
                    for name in unknown
                }
            )
        return attrs


class MeDeleteSerializer(serializers.Serializer):
    confirm = serializers.CharField(
        help_text=f"Exactly “{DELETE_CONFIRMATION_PHRASE}”, so it cannot happen by accident."
    )
    password = serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        help_text="Your current password: a leaked token alone cannot delete an account.",
    )
    code = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="With two-factor authentication on: a current authenticator code or an "
        "unused recovery code.",
    )

    def validate_confirm(self, value: str) -> str:
        if value.strip().casefold() != DELETE_CONFIRMATION_PHRASE:
            raise serializers.ValidationError(f"Type exactly “{DELETE_CONFIRMATION_PHRASE}”.")
        return value

    def validate(self, attrs):
        user = self.context["user"]
        try:
            verify_password(user, attrs["password"])
        except DjangoValidationError as exc:
            _raise_for(exc, "password")
        if is_mfa_enabled(user):
            if not attrs.get("code"):
                raise serializers.ValidationError(
                    {"code": ["Two-factor authentication is on: enter a current code."]}
                )
            try:
                verify_mfa_code(user, attrs["code"])
            except DjangoValidationError as exc:
                _raise_for(exc, "code")
        return attrs


def _raise_for(exc: DjangoValidationError, field: str):
    """allauth's rate limit speaks through a ValidationError; it is a 429 here."""
    codes = {getattr(error, "code", None) for error in exc.error_list}
    if "too_many_login_attempts" in codes:
        raise exceptions.Throttled(detail=exc.messages[0])
    raise serializers.ValidationError({field: exc.messages})


class _DeleteWithBodySchema(AutoSchema):
    """drf-spectacular documents request bodies for POST/PUT/PATCH only; this DELETE has one."""

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


PROFILE_EXAMPLE = {
    "id": 42,
    "display_name": "Quiet Heron",
    "public_name": "Quiet Heron",
    "timezone": "Europe/Lisbon",
    "email": "you@example.org",
    "mfa_enabled": True,
    "date_joined": "2025-05-01T09:30:00Z",
}


class MeView(APIView):
    permission_classes = [IsAuthenticated, HasTokenScope]
    # Reading your own profile (and address) needs any token; changes need `write:account`.
    required_scopes = {"GET": None, "HEAD": None, "OPTIONS": None}
    schema = _DeleteWithBodySchema()

    @extend_schema(
        operation_id="me_retrieve",
        tags=["me"],
        summary="Your profile",
        description="Who you are signed in as: your public name and settings. Your e-mail "
        "address is included because this is you asking; no other endpoint shows it.",
        responses={200: MeSerializer},
        examples=[OpenApiExample("Profile", value=PROFILE_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        return Response(MeSerializer(request.user).data)

    @extend_schema(
        operation_id="me_partial_update",
        tags=["me"],
        summary="Change your display name or time zone",
        description="Send only what changes. A new display name is recorded on the public "
        "ledger as `user.display_name_changed` (with the new public name only); the time zone "
        "is private and never recorded. Other keys are refused with a 400. Token requests need "
        "the `write:account` scope.",
        request=MeSerializer,
        responses={
            200: MeSerializer,
            400: OpenApiResponse(ERROR_REF, description="A field is not valid; see `fields`."),
        },
        examples=[
            OpenApiExample(
                "New pseudonym",
                value={"display_name": "Quiet Heron", "timezone": "Europe/Lisbon"},
                request_only=True,
            ),
            OpenApiExample("Profile", value=PROFILE_EXAMPLE, response_only=True),
            OpenApiExample(
                "Bad name",
                value={
                    "error": {
                        "code": "invalid",
                        "message": "Some fields are not valid.",
                        "fields": {
                            "display_name": [
                                "An e-mail address cannot be a display name: it would be "
                                "shown publicly."
                            ]
                        },
                    }
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def patch(self, request):
        serializer = MeSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = user_profile_update(
            user=request.user,
            display_name=serializer.validated_data.get("display_name"),
            timezone=serializer.validated_data.get("timezone"),
        )
        return Response(MeSerializer(user).data)

    @extend_schema(
        operation_id="me_destroy",
        tags=["me"],
        summary="Delete your account",
        description="Irreversible. Requires the phrase "
        f"`{DELETE_CONFIRMATION_PHRASE}` in `confirm`, your current `password` and, with "
        "two-factor authentication on, a `code`. The account is anonymised, not erased: what "
        "you published stays, shown as by “Former member”; your e-mail addresses, name, "
        "tokens, two-factor methods and memberships are removed and every session ends. "
        "Wrong passwords count against the sign-in rate limit (429 when exceeded). Refused "
        "with 409 `sole_owner` while you are the only owner of an organization. Token requests "
        "need the `write:account` scope.",
        request=MeDeleteSerializer,
        responses={
            204: OpenApiResponse(description="Deleted. The session (if any) is signed out."),
            400: OpenApiResponse(
                ERROR_REF, description="Wrong phrase, password or code; see `fields`."
            ),
            409: OpenApiResponse(
                ERROR_REF, description="`sole_owner`: hand your organizations over first."
            ),
        },
        examples=[
            OpenApiExample(
                "Confirmation",
                value={
                    "confirm": DELETE_CONFIRMATION_PHRASE,
                    "password": "your current password",
                    "code": "123456",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Sole owner",
                value={
                    "error": {
                        "code": "sole_owner",
                        "message": "You are the only owner of Acme AI. Make another member "
                        "an owner of it (or hand it over) before deleting your account.",
                        "fields": {},
                    }
                },
                response_only=True,
                status_codes=["409"],
            ),
            OpenApiExample(
                "Wrong password",
                value={
                    "error": {
                        "code": "invalid",
                        "message": "Some fields are not valid.",
                        "fields": {"password": ["This is not your current password."]},
                    }
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def delete(self, request):
        serializer = MeDeleteSerializer(data=request.data, context={"user": request.user})
        serializer.is_valid(raise_exception=True)
        user_delete(user=request.user)
        if not isinstance(request.auth, ApiToken):
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeExportView(APIView):
    permission_classes = [IsAuthenticated, HasTokenScope]
    # Everything about you, e-mail addresses included: more than "read:public".
    required_scopes = {"GET": MANAGE, "HEAD": MANAGE}
    # Always JSON, also in a browser: it is a file to keep, not a page to browse.
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="me_export",
        tags=["me"],
        summary="Download your data",
        description="Everything OpenRefusal holds about you, as a JSON file "
        "(`Content-Disposition: attachment; filename=openrefusal-export-<date>.json`): "
        "profile, e-mail addresses with their verified flags, memberships, invitations you "
        "sent (without the invitees' addresses), API tokens (name, prefix, scopes, dates — "
        "never hashes), two-factor methods (type and dates — never secrets) and the ledger "
        "entries you made. Other parts of the platform add their own sections. Token requests "
        "need the `write:account` scope.",
        responses={
            200: OpenApiResponse(
                response={"type": "object", "additionalProperties": True},
                description="The export document.",
            )
        },
        examples=[
            OpenApiExample(
                "Export",
                value={
                    "format": "openrefusal-account-export",
                    "version": 1,
                    "generated_at": "2025-06-01T12:00:00Z",
                    "site": "https://openrefusal.org",
                    "profile": {
                        "id": 42,
                        "email": "you@example.org",
                        "display_name": "Quiet Heron",
                        "public_name": "Quiet Heron",
                        "timezone": "Europe/Lisbon",
                        "date_joined": "2025-05-01T09:30:00Z",
                        "last_login": "2025-06-01T11:58:00Z",
                        "is_staff": False,
                        "groups": [],
                    },
                    "email_addresses": [
                        {"email": "you@example.org", "verified": True, "primary": True}
                    ],
                    "memberships": [],
                    "invitations_sent": [],
                    "api_tokens": [
                        {
                            "name": "laptop",
                            "prefix": "orf_3kQ9",
                            "scopes": ["read:public"],
                            "created_at": "2025-05-02T10:00:00Z",
                            "expires_at": None,
                            "last_used_at": None,
                            "revoked_at": None,
                        }
                    ],
                    "mfa_authenticators": [
                        {"type": "totp", "created_at": "2025-05-02T10:05:00Z", "last_used_at": None}
                    ],
                    "ledger_entries": [
                        {
                            "seq": 7,
                            "at": "2025-05-01T09:35:00Z",
                            "action": "user.display_name_changed",
                            "subject": "user:42",
                            "payload": {"public_name": "Quiet Heron"},
                            "hash": "9f2c…",
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        return Response(
            user_export(user=request.user),
            headers={
                "Content-Disposition": f'attachment; filename="{export_filename()}"',
                "Cache-Control": "no-store, private",
            },
        )
