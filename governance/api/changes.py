"""`/api/v1/changes/`: the change feed — every public change after a ledger seq, in order,
with links to the changed resources (see governance.selectors.changes)."""

from __future__ import annotations

from urllib.parse import urlencode

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.api.conditional import set_last_modified
from governance.api_auth import HasTokenScope
from governance.selectors.changes import FEED_DEFAULT_LIMIT, FEED_MAX_LIMIT, MAX_SEQ, change_page

CHANGE_EXAMPLE = {
    "seq": 42,
    "at": "2026-03-01T09:30:00.123456Z",
    "actor": "user:7",
    "actor_name": "Acme Owner",
    "action": "policy_version.published",
    "subject": "policyversion:9",
    "subject_type": "policyversion",
    "subject_label": "Acme Assistant Usage Policy v2.0.0",
    "payload": {"number": "2.0.0", "content_sha256": "…"},
    "prev_hash": "4e1c2b7d…",
    "hash": "9f2b5c0e…",
    "links": {
        "ledger": "/api/v1/ledger/42/",
        "api": "/api/v1/policy-versions/9/",
        "page": "/policies/acme-ai/usage-policy/v/2.0.0/",
    },
    "organization": "acme-ai",
    "policy": 3,
}


class ChangeQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(
        min_value=0,
        max_value=MAX_SEQ,
        default=0,
        help_text="The last seq you have; 0 (the default) starts from the beginning.",
    )
    limit = serializers.IntegerField(
        min_value=1,
        max_value=FEED_MAX_LIMIT,
        default=FEED_DEFAULT_LIMIT,
        help_text=f"Changes per page, 1 to {FEED_MAX_LIMIT} (default {FEED_DEFAULT_LIMIT}).",
    )


class ChangeLinksSerializer(serializers.Serializer):
    ledger = serializers.CharField(help_text="The ledger entry in the API.")
    api = serializers.CharField(
        allow_null=True, help_text="The changed resource in the API (null if not public)."
    )
    page = serializers.CharField(
        allow_null=True, help_text="The changed resource's page (null if not public)."
    )


class ChangeSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    at = serializers.CharField()
    actor = serializers.CharField()
    actor_name = serializers.CharField()
    action = serializers.CharField()
    subject = serializers.CharField()
    subject_type = serializers.CharField()
    subject_label = serializers.CharField()
    payload = serializers.JSONField()
    prev_hash = serializers.CharField()
    hash = serializers.CharField()
    links = ChangeLinksSerializer()
    organization = serializers.CharField(
        allow_null=True, help_text="Slug of the organization the change concerns, if any."
    )
    policy = serializers.IntegerField(
        allow_null=True, help_text="Id of the policy the change concerns, if any."
    )


class ChangePageSerializer(serializers.Serializer):
    after = serializers.IntegerField(help_text="The `after` this page starts from.")
    last_seq = serializers.IntegerField(
        help_text="Store this number: the seq of the last change here (`after` if none)."
    )
    head = serializers.IntegerField(help_text="The newest seq on the ledger right now.")
    next = serializers.CharField(
        allow_null=True, help_text="The next page while there are more changes, else null."
    )
    results = ChangeSerializer(many=True)


class ChangeFeedView(APIView):
    permission_classes = [AllowAny, HasTokenScope]

    @extend_schema(
        summary="The change feed",
        description="Every public change after `after`, oldest first: the ledger entry "
        "(with what is needed to recompute its hash), the subject's type and name, and "
        "links to the changed resource in the API and in the browser (null while it has no "
        "public address, e.g. a report under embargo). Keep a mirror by storing `last_seq` "
        "and asking again with `after=<last_seq>`; follow `next` while it is not null. "
        "`after` below 0 or beyond `head` answers 400. See docs/mirror_client.py.",
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, description="The last seq you have."),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"1 to {FEED_MAX_LIMIT} per page."
            ),
        ],
        responses=ChangePageSerializer,
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "after": 41,
                    "last_seq": 42,
                    "head": 42,
                    "next": None,
                    "results": [CHANGE_EXAMPLE],
                },
                response_only=True,
            )
        ],
        tags=["Change feed"],
    )
    def get(self, request):
        query = ChangeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after, limit = query.validated_data["after"], query.validated_data["limit"]
        page = change_page(after=after, limit=limit)
        next_url = None
        if page.has_more:
            params = {"after": page.last_seq}
            if "limit" in request.query_params:
                params["limit"] = limit
            next_url = request.build_absolute_uri(f"{request.path}?{urlencode(params)}")
        response = Response(
            {
                "after": page.after,
                "last_seq": page.last_seq,
                "head": page.head,
                "next": next_url,
                "results": page.changes,
            }
        )
        return set_last_modified(response, page.head_at)
