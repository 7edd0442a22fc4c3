"""`/api/v1/webhooks/`: subscribe to public changes, see every delivery attempt, send a test
ping. Subscriptions are private to their managers; tokens need `write:webhooks`."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from governance.api.fields import SlugRelatedField
from governance.api_auth import HasTokenScope
from governance.models import ApiToken, Organization, WebhookDelivery, WebhookSubscription
from governance.pagination import CursorPagination
from governance.public_data import EVENT_TYPES
from governance.selectors.webhooks import webhook_deliveries, webhook_of, webhooks_of
from governance.services.webhooks import (
    webhook_ping,
    webhook_subscription_create,
    webhook_subscription_delete,
)

SCOPE = ApiToken.Scope.WRITE_WEBHOOKS.value
TAGS = ["Webhooks"]
SUBSCRIPTION_EXAMPLE = {
    "id": 4,
    "target_url": "https://regulator.example/hooks/openrefusal",
    "description": "Policy changes at Acme",
    "organization": "digital-regulator",
    "event_types": ["policy_version.published", "audit_report.published"],
    "filter_policy": None,
    "filter_organization": "acme-ai",
    "active": True,
    "status": "ok",
    "secret_hint": "whsec_Ab3d…",
    "created_at": "2026-03-01T09:30:00Z",
    "last_success_at": "2026-03-02T10:00:00Z",
    "failing_since": None,
    "deliveries_url": "/api/v1/webhooks/4/deliveries/",
}

DELIVERY_EXAMPLE = {
    "id": 81,
    "event_type": "policy_version.published",
    "seq": 1204,
    "attempt": 1,
    "status": "succeeded",
    "status_code": 200,
    "response_excerpt": "ok",
    "error": "",
    "duration_ms": 143,
    "created_at": "2026-03-02T10:00:00Z",
    "due_at": "2026-03-02T10:00:00Z",
    "attempted_at": "2026-03-02T10:00:00Z",
    "next_retry_at": None,
    "body": '{"change":{"seq":1204,"action":"policy_version.published"},'
    '"event":"policy_version.published","subscription":4}',
}


class WebhookSerializer(serializers.ModelSerializer):
    # Both may be empty: a personal webhook, and one without an organization filter.
    organization = SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    filter_organization = SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    status = serializers.SerializerMethodField(help_text="`ok`, `failing` or `paused`.")
    deliveries_url = serializers.SerializerMethodField()

    class Meta:
        model = WebhookSubscription
        fields = [
            "id", "target_url", "description", "organization", "event_types", "filter_policy",
            "filter_organization", "active", "status", "secret_hint", "created_at",
            "last_success_at", "failing_since", "deliveries_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_status(self, subscription) -> str:
        if not subscription.active:
            return "paused"
        return "failing" if subscription.failing_since else "ok"

    def get_deliveries_url(self, subscription) -> str:
        return reverse("webhook-deliveries", kwargs={"pk": subscription.pk})


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        help_text="Shown once: the key of the HMAC-SHA256 signature of every delivery."
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateSerializer(serializers.Serializer):
    target_url = serializers.CharField(
        max_length=500, help_text="An http(s) address on the public internet."
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(EVENT_TYPES)),
        required=False,
        max_length=200,
        help_text="Ledger actions to receive; empty or absent: all of them.",
    )
    filter_policy = serializers.IntegerField(
        required=False, allow_null=True, help_text="Only changes concerning this policy (id)."
    )
    filter_organization = SlugRelatedField(
        slug_field="slug",
        queryset=Organization.objects.all(),
        required=False,
        allow_null=True,
        help_text="Only changes concerning this organization (slug).",
    )
    organization = SlugRelatedField(
        slug_field="slug",
        queryset=Organization.objects.all(),
        required=False,
        allow_null=True,
        help_text="Hold it for an organization you own or edit (its editors manage it too).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Event types are registered by the apps at start-up, after this module is imported.
        self.fields["event_types"].child.choices = sorted(EVENT_TYPES)


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "event_type", "seq", "attempt", "status", "status_code", "response_excerpt",
            "error", "duration_ms", "created_at", "due_at", "attempted_at", "next_retry_at",
            "body",
        ]  # fmt: skip
        read_only_fields = fields


class DeliveryPagination(CursorPagination):
    ordering = "-id"


@extend_schema_view(
    list=extend_schema(
        summary="List your webhooks",
        description="Your subscriptions and those held for organizations you own or edit. "
        "The secret is never shown again after creation.",
        examples=[
            OpenApiExample(
                "Page",
                value=SUBSCRIPTION_EXAMPLE,
                response_only=True,
            )
        ],
        tags=TAGS,
    ),
    retrieve=extend_schema(
        summary="Show one webhook",
        description="One of your webhooks (or one held for an organization you own or edit), "
        "with its status: `ok`, `failing` (deliveries ran out of retries) or `paused`. "
        "Anyone else's answers 404.",
        examples=[OpenApiExample("Webhook", value=SUBSCRIPTION_EXAMPLE, response_only=True)],
        tags=TAGS,
    ),
    create=extend_schema(
        summary="Subscribe a webhook",
        description="Deliveries are POSTed as JSON with `X-OpenRefusal-Signature: "
        "t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>' under the secret>`, retried with "
        "exponential backoff, and listed under `deliveries_url`. The URL must be http(s) and "
        "resolve to public addresses only; the answer carries the `secret`, once.",
        request=WebhookCreateSerializer,
        responses={201: WebhookCreatedSerializer},
        examples=[
            OpenApiExample(
                "Subscribe",
                value={
                    "target_url": "https://regulator.example/hooks/openrefusal",
                    "event_types": ["policy_version.published"],
                    "filter_organization": "acme-ai",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={**SUBSCRIPTION_EXAMPLE, "secret": "whsec_…"},
                response_only=True,
            ),
        ],
        tags=TAGS,
    ),
    destroy=extend_schema(
        summary="Delete a webhook",
        description="Stops deliveries at once; pending retries are dropped. Recorded on the "
        "ledger as `webhook.deleted` (never with its address). Answers 204.",
        tags=TAGS,
    ),
)
class WebhookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = WebhookSerializer
    permission_classes = [IsAuthenticated, HasTokenScope]
    required_scopes = dict.fromkeys(("GET", "HEAD", "OPTIONS", "POST", "DELETE"), SCOPE)
    lookup_value_regex = r"\d+"
    queryset = WebhookSubscription.objects.none()  # for the schema

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookSubscription.objects.none()
        return webhooks_of(user=self.request.user)

    def get_object(self):
        return webhook_of(user=self.request.user, subscription_id=self.kwargs["pk"])

    def create(self, request):
        incoming = WebhookCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        subscription, secret = webhook_subscription_create(
            actor=request.user, **incoming.validated_data
        )
        subscription.secret = secret
        response = Response(
            WebhookCreatedSerializer(subscription).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("webhook-detail", kwargs={"pk": subscription.pk})},
        )
        response.idempotency_redact = {"secret"}
        return response

    def destroy(self, request, pk=None):
        webhook_subscription_delete(actor=request.user, subscription=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="A webhook's delivery attempts",
        description="Every attempt, newest first: the event, attempt number, HTTP status, the "
        "start of the answer, the error, how long it took, and when the next retry is due.",
        responses={200: DeliverySerializer(many=True)},
        examples=[OpenApiExample("A delivered event", value=DELIVERY_EXAMPLE, response_only=True)],
        tags=TAGS,
    )
    @action(detail=True, methods=["get"], pagination_class=DeliveryPagination)
    def deliveries(self, request, pk=None):
        subscription = self.get_object()
        page = self.paginate_queryset(webhook_deliveries(subscription=subscription))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(
        summary="Send a test ping",
        description="Queues a `ping` event to the webhook now; its attempt shows in "
        "`deliveries` a moment later.",
        request=None,
        responses={202: DeliverySerializer},
        examples=[
            OpenApiExample(
                "Queued",
                value={
                    **DELIVERY_EXAMPLE,
                    "event_type": "ping",
                    "seq": None,
                    "status": "pending",
                    "status_code": None,
                    "response_excerpt": "",
                    "duration_ms": None,
                    "attempted_at": None,
                    "body": '{"change":null,"event":"ping","sent_at":'
                    '"2026-03-02T10:05:00+00:00","subscription":4}',
                },
                response_only=True,
                status_codes=["202"],
            )
        ],
        tags=TAGS,
    )
    @action(detail=True, methods=["post"])
    def ping(self, request, pk=None):
        delivery = webhook_ping(actor=request.user, subscription=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
