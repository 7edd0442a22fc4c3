"""`/api/v1/me/tokens/`: list, create (the secret is in the response once) and revoke your own
personal API tokens."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from governance.api_auth import HasTokenScope
from governance.models import ApiToken
from governance.selectors.tokens import api_token_of, api_tokens_of
from governance.services.tokens import NAME_MAX_LENGTH, api_token_create, api_token_revoke

MANAGE = ApiToken.Scope.WRITE_ACCOUNT.value


class ApiTokenSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(
        help_text="`active`, `expired` or `revoked`: only active tokens authenticate."
    )

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "status",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields

    def get_status(self, token: ApiToken) -> str:
        if token.revoked_at is not None:
            return "revoked"
        return "active" if token.is_active else "expired"


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(
        help_text="The secret, shown in this response only: store it now. Send it as "
        "`Authorization: Bearer <token>`."
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX_LENGTH, help_text="Your label for it.")
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiToken.Scope.choices),
        allow_empty=False,
        help_text="What the token may do (`read:public`, `write:comments`, …). "
        "`read:embargoed` is for members of verified regulators and accredited auditors.",
    )
    expires_in_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="Days until it stops working (at most API_TOKEN_MAX_DAYS, 365 by default); "
        "null or absent: never.",
    )

    def validate_expires_in_days(self, value):
        limit = settings.OPENREFUSAL["API_TOKEN_MAX_DAYS"]
        if value is not None and value > limit:
            raise serializers.ValidationError(f"Choose at most {limit} days.")
        return value


TOKEN_EXAMPLE = {
    "id": 7,
    "name": "Monthly export",
    "prefix": "orf_Xq3v9LbA",
    "scopes": ["read:public"],
    "status": "active",
    "created_at": "2026-01-05T10:00:00Z",
    "expires_at": "2026-04-05T10:00:00Z",
    "last_used_at": None,
    "revoked_at": None,
}


@extend_schema_view(
    list=extend_schema(
        summary="List your API tokens",
        description="Your personal API tokens, newest first, including revoked and expired "
        "ones. Secrets are never listed. Needs the `write:account` scope with a token.",
        examples=[OpenApiExample("A read-only token", value=TOKEN_EXAMPLE, response_only=True)],
        tags=["API tokens"],
    ),
    retrieve=extend_schema(
        summary="Show one of your API tokens",
        description="Another person's token answers 404, exactly like a token that does not exist.",
        examples=[OpenApiExample("A read-only token", value=TOKEN_EXAMPLE, response_only=True)],
        tags=["API tokens"],
    ),
    create=extend_schema(
        summary="Create an API token",
        description="Creates a personal API token. The response holds the secret (`token`) "
        "this once; only its SHA-256 hash is stored. Names are unique among your active tokens. "
        'A retry with the same `Idempotency-Key` returns the token with `"token": null`.',
        request=ApiTokenCreateSerializer,
        responses={201: ApiTokenCreatedSerializer},
        examples=[
            OpenApiExample(
                "Read-only token for 90 days",
                value={"name": "Monthly export", "scopes": ["read:public"], "expires_in_days": 90},
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={**TOKEN_EXAMPLE, "token": "orf_Xq3v9LbA…"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
        tags=["API tokens"],
    ),
    destroy=extend_schema(
        summary="Revoke an API token",
        description="Revokes the token at once (it stays listed as `revoked`). Same as "
        "`POST …/revoke/`. Revoking it twice answers 409 `already_revoked`.",
        tags=["API tokens"],
    ),
)
class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ApiTokenSerializer
    permission_classes = [IsAuthenticated, HasTokenScope]
    # Tokens are account data: reading them is managing the account too.
    required_scopes = dict.fromkeys(("GET", "HEAD", "OPTIONS", "POST", "DELETE"), MANAGE)
    lookup_value_regex = r"\d+"
    lookup_url_kwarg = "pk"

    queryset = ApiToken.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return api_tokens_of(user=self.request.user)

    def get_object(self):
        return api_token_of(user=self.request.user, token_id=self.kwargs["pk"])

    def create(self, request):
        incoming = ApiTokenCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        token, raw = api_token_create(user=request.user, **incoming.validated_data)
        token.token = raw
        response = Response(
            ApiTokenCreatedSerializer(token).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("token-detail", kwargs={"pk": token.pk})},
        )
        # The secret is shown once: a replay (same Idempotency-Key) answers `"token": null`.
        response.idempotency_redact = {"token"}
        return response

    def destroy(self, request, pk=None):
        api_token_revoke(user=request.user, token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Revoke an API token (POST form)",
        description="Revokes the token at once and returns it, now `revoked`. For clients "
        "that cannot send DELETE.",
        request=None,
        responses={200: ApiTokenSerializer},
        examples=[
            OpenApiExample(
                "Revoked",
                value={**TOKEN_EXAMPLE, "status": "revoked", "revoked_at": "2026-02-01T09:00:00Z"},
                response_only=True,
            )
        ],
        tags=["API tokens"],
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = api_token_revoke(user=request.user, token=self.get_object())
        return Response(ApiTokenSerializer(token).data)
