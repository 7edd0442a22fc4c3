"""The public comment API: periods (open, extend, export, the response document), comments
(keyset-paginated reads, post, edit, withdraw, endorse, flag, moderate), campaigns and the
company's responses. Serializers shape data; the services in policies.services.comments write."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from governance.api.base import ERROR_REF
from governance.errors import Invalid, NotAllowed, NotFound
from governance.models import ApiToken, Organization
from policies import export
from policies.models import (
    Comment,
    CommentCluster,
    CommentPeriod,
    CommentResponse,
    Flag,
    PolicyVersion,
)
from policies.rules import allowed
from policies.selectors import comments as reads
from policies.selectors.responses import link_next_version, response_requirements
from policies.services import comments as services

WRITE_COMMENTS = ApiToken.Scope.WRITE_COMMENTS.value
WRITE_MODERATION = ApiToken.Scope.WRITE_MODERATION.value
WRITE_POLICIES = ApiToken.Scope.WRITE_POLICIES.value
TAG_PERIODS = ["Comment periods"]
TAG_COMMENTS = ["Comments"]
TAG_CLUSTERS = ["Comment campaigns"]
TAG_RESPONSES = ["Responses to comments"]


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _int(value, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Invalid(f"{field} must be a number.", fields={field: ["Must be an id."]}) from None


# --- Serializers ---------------------------------------------------------------------------------


class PeriodStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    unique = serializers.IntegerField()
    in_clusters = serializers.IntegerField()
    clusters = serializers.IntegerField()
    organizations = serializers.IntegerField()
    replies = serializers.IntegerField()
    held = serializers.IntegerField()
    hidden = serializers.IntegerField()
    withdrawn = serializers.IntegerField()
    flags_open = serializers.IntegerField()
    moderation = serializers.DictField(child=serializers.IntegerField())
    per_clause = serializers.DictField(child=serializers.IntegerField())


class CommentPeriodSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)
    policy = serializers.IntegerField(source="version.policy_id", read_only=True)
    version_number = serializers.CharField(source="version.number", read_only=True)
    organization = serializers.CharField(source="version.policy.organization.slug")
    url = serializers.SerializerMethodField()

    class Meta:
        model = CommentPeriod
        fields = [
            "id", "version", "version_number", "policy", "organization", "state", "opens_at",
            "closes_at", "extended_from", "responses_published_at", "url",
        ]  # fmt: skip

    def get_url(self, period) -> str:
        version = period.version
        return reverse(
            "policies:comments",
            kwargs={
                "org_slug": version.policy.organization.slug,
                "policy_slug": version.policy.slug,
                "number": version.number,
            },
        )


class CommentPeriodDetailSerializer(CommentPeriodSerializer):
    stats = serializers.SerializerMethodField()
    extensions = serializers.SerializerMethodField()

    class Meta(CommentPeriodSerializer.Meta):
        fields = [*CommentPeriodSerializer.Meta.fields, "stats", "extensions"]

    @extend_schema_field(PeriodStatsSerializer)
    def get_stats(self, period) -> dict:
        return PeriodStatsSerializer(reads.period_stats(period)).data

    def get_extensions(self, period) -> list[dict]:
        return [
            {
                "previous_closes_at": e.previous_closes_at,
                "new_closes_at": e.new_closes_at,
                "reason": e.reason,
                "created_at": e.created_at,
            }
            for e in period.extensions.order_by("created_at")
        ]


class PeriodCreateSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()


class PeriodExtendSerializer(serializers.Serializer):
    closes_at = serializers.DateTimeField()
    reason = serializers.CharField(max_length=2000, allow_blank=True)


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    on_behalf_of = serializers.SerializerMethodField()
    clause = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()
    cluster_size = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = [
            "id", "period", "author", "on_behalf_of", "clause", "parent", "root", "status",
            "hidden_reason", "body", "cluster", "cluster_size", "endorsement_count",
            "reply_count", "created_at", "edited_at", "withdrawn_at", "url",
        ]  # fmt: skip

    def get_author(self, comment) -> str:
        return comment.author.public_name

    def get_on_behalf_of(self, comment) -> str | None:
        return comment.on_behalf_of.slug if comment.on_behalf_of_id else None

    def get_clause(self, comment) -> str | None:
        return comment.clause.key if comment.clause_id else None

    def get_body(self, comment) -> str:
        if comment.status in (Comment.Status.PUBLISHED, Comment.Status.HELD):
            return comment.body
        return ""

    def get_cluster_size(self, comment) -> int | None:
        if comment.cluster_id is None:
            return None
        # Lists and reads select the cluster with the comment; a fresh post does not re-read it.
        if not Comment.cluster.is_cached(comment):
            return None
        return comment.cluster.comment_count

    def get_url(self, comment) -> str:
        return reverse("policies:comment", args=[comment.pk])


# One page object, not a list of them: without many=False the schema of a `list` action whose
# view has no paginator says "an array" (found by tests/api/test_contract.py).
@extend_schema_serializer(many=False)
class CommentPageSerializer(serializers.Serializer):
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = CommentSerializer(many=True)


class QueueFlagSerializer(serializers.Serializer):
    reason = serializers.CharField()
    details = serializers.CharField()
    created_at = serializers.DateTimeField()
    by_author = serializers.BooleanField()


class QueuedCommentSerializer(CommentSerializer):
    flags = QueueFlagSerializer(many=True, read_only=True)

    class Meta(CommentSerializer.Meta):
        fields = [*CommentSerializer.Meta.fields, "flags"]


@extend_schema_serializer(many=False)
class ModerationQueuePageSerializer(serializers.Serializer):
    results = QueuedCommentSerializer(many=True)
    next_after = serializers.IntegerField(allow_null=True)
    open_reports = serializers.DictField(child=serializers.IntegerField())


class CommentCreateSerializer(serializers.Serializer):
    period = serializers.IntegerField()
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)
    clause = serializers.CharField(required=False, allow_blank=True, allow_null=True,
                                   max_length=200)  # fmt: skip
    parent = serializers.IntegerField(required=False, allow_null=True)
    on_behalf_of = serializers.CharField(required=False, allow_blank=True, allow_null=True,
                                         max_length=100)  # fmt: skip


class CommentEditSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)


class FlagSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=20)
    details = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ModerateSerializer(serializers.Serializer):
    action = serializers.CharField(max_length=20)
    public_reason = serializers.CharField(allow_blank=True, max_length=2000)


class ClusterSerializer(serializers.ModelSerializer):
    representative = CommentSerializer(read_only=True)

    class Meta:
        model = CommentCluster
        fields = ["id", "period", "kind", "comment_count", "variant_count", "representative",
                  "created_at", "updated_at"]  # fmt: skip


class ResponseSerializer(serializers.ModelSerializer):
    organization = serializers.CharField(source="organization.slug", read_only=True)

    class Meta:
        model = CommentResponse
        fields = ["id", "period", "target", "comment", "cluster", "clause_key", "body",
                  "declined", "organization", "created_at", "updated_at"]  # fmt: skip


class ResponseWriteSerializer(serializers.Serializer):
    period = serializers.IntegerField()
    target = serializers.ChoiceField(choices=CommentResponse.Target.choices)
    comment = serializers.IntegerField(required=False, allow_null=True)
    cluster = serializers.IntegerField(required=False, allow_null=True)
    clause = serializers.CharField(required=False, allow_blank=True, max_length=120)
    body = serializers.CharField(allow_blank=True, max_length=20_000)
    declined = serializers.BooleanField(required=False, default=False)


class PublishResponsesSerializer(serializers.Serializer):
    summary = serializers.CharField(allow_blank=True, max_length=20_000)


class ClusterVariantSerializer(serializers.Serializer):
    body = serializers.CharField(help_text="Empty when that text's first comment is not public.")
    comments = serializers.IntegerField(help_text="How many comments of the campaign use it.")


class ClusterDetailSerializer(ClusterSerializer):
    variants = ClusterVariantSerializer(many=True, read_only=True)

    class Meta(ClusterSerializer.Meta):
        fields = [*ClusterSerializer.Meta.fields, "variants"]


# --- Examples (the demo docket: Acme's open period, Northwind's closed one) --------------------

API_EXAMPLE = "https://openrefusal.example/api/v1"
PERIOD_EXAMPLE = {
    "id": 1,
    "version": 3,
    "version_number": "2.0.0",
    "policy": 1,
    "organization": "acme-ai",
    "state": "open",
    "opens_at": "2026-11-22T09:00:00Z",
    "closes_at": "2027-01-06T17:00:00Z",
    "extended_from": None,
    "responses_published_at": None,
    "url": "/policies/acme-ai/usage-policy/v/2.0.0/comments/",
}
PERIOD_STATS_EXAMPLE = {
    "total": 127,
    "unique": 39,
    "in_clusters": 83,
    "clusters": 2,
    "organizations": 1,
    "replies": 5,
    "held": 1,
    "hidden": 1,
    "withdrawn": 0,
    "flags_open": 2,
    "moderation": {"hide": 1, "hold": 1},
    "per_clause": {"cyber.exploit.poc": 77, "medical.general": 3, "privacy.doxxing": 3},
}
PERIOD_DETAIL_EXAMPLE = {**PERIOD_EXAMPLE, "stats": PERIOD_STATS_EXAMPLE, "extensions": []}
PERIOD_EXTENDED_EXAMPLE = {
    **PERIOD_DETAIL_EXAMPLE,
    "closes_at": "2027-01-20T17:00:00Z",
    "extended_from": "2027-01-06T17:00:00Z",
    "extensions": [
        {
            "previous_closes_at": "2027-01-06T17:00:00Z",
            "new_closes_at": "2027-01-20T17:00:00Z",
            "reason": "Security researchers asked for two more weeks over the holidays.",
            "created_at": "2026-12-04T10:15:00Z",
        }
    ],
}
NORTHWIND_PERIOD_EXAMPLE = {
    **PERIOD_DETAIL_EXAMPLE,
    "id": 2,
    "version": 7,
    "policy": 2,
    "organization": "northwind-labs",
    "state": "closed",
    "opens_at": "2026-10-20T09:00:00Z",
    "closes_at": "2026-11-24T17:00:00Z",
    "responses_published_at": "2026-12-04T11:30:00Z",
    "url": "/policies/northwind-labs/model-behaviour-policy/v/2.0.0/comments/",
    "stats": {
        **PERIOD_STATS_EXAMPLE,
        "total": 39,
        "unique": 6,
        "in_clusters": 32,
        "clusters": 1,
        "organizations": 0,
        "replies": 1,
        "held": 0,
        "hidden": 0,
        "flags_open": 0,
        "moderation": {},
        "per_clause": {"selfharm.crisis": 2, "medical.dosage": 1},
    },
}
COMMENT_EXAMPLE = {
    "id": 1,
    "period": 1,
    "author": "Dr. Priya Raman",
    "on_behalf_of": None,
    "clause": "medical.general",
    "parent": None,
    "root": None,
    "status": "published",
    "hidden_reason": "",
    "body": "I am an emergency physician. This clause says ordinary medical information is "
    "answered; please publish how often the assistant refuses medical questions anyway.",
    "cluster": None,
    "cluster_size": None,
    "endorsement_count": 14,
    "reply_count": 1,
    "created_at": "2026-11-22T21:40:34Z",
    "edited_at": None,
    "withdrawn_at": None,
    "url": "/policies/comments/1/",
}
COMMENT_PAGE_EXAMPLE = {
    "next": f"{API_EXAMPLE}/comments/?period=1&sort=newest&cursor=eyJkIjoibiIsImkiOjF9",
    "previous": None,
    "results": [COMMENT_EXAMPLE],
}
COMMENT_POSTED_EXAMPLE = {
    **COMMENT_EXAMPLE,
    "id": 131,
    "author": "Citizen Ada",
    "body": "Please say how a researcher becomes verified, and how long it takes.",
    "clause": "cyber.exploit.poc",
    "endorsement_count": 0,
    "reply_count": 0,
    "created_at": "2026-12-04T10:20:00Z",
    "url": "/policies/comments/131/",
}
COMMENT_HIDDEN_EXAMPLE = {
    **COMMENT_EXAMPLE,
    "id": 127,
    "author": "GrowthHacker2000",
    "clause": None,
    "status": "hidden",
    "hidden_reason": "Advertising: the comment sells endorsements.",
    "body": "",
    "endorsement_count": 0,
    "reply_count": 0,
    "created_at": "2026-12-04T12:31:59Z",
    "url": "/policies/comments/127/",
}
QUEUE_EXAMPLE = {
    "results": [
        {
            **COMMENT_HIDDEN_EXAMPLE,
            "status": "published",
            "hidden_reason": "",
            "body": "Want your comment to be seen? Buy endorsements and followers at "
            "www.cheap-followers.example, best prices for policy influence!",
            "flags": [
                {
                    "reason": "spam",
                    "details": "",
                    "created_at": "2026-12-04T13:02:11Z",
                    "by_author": False,
                }
            ],
        }
    ],
    "next_after": None,
    "open_reports": {"spam": 1},
}
HISTORY_EXAMPLE = {
    "revisions": [
        {
            "body": "Please say how a reseacher becomes verified.",
            "posted_at": "2026-12-04T10:20:00Z",
            "replaced_at": "2026-12-04T10:24:00Z",
        }
    ],
    "moderation": [
        {
            "action": "hold",
            "public_reason": "Held automatically: comments with several links are reviewed by "
            "a moderator before they are published.",
            "automatic": True,
            "created_at": "2026-12-04T10:24:00Z",
        },
        {
            "action": "approve",
            "public_reason": "The links are to published CVE advisories.",
            "automatic": False,
            "created_at": "2026-12-04T11:05:00Z",
        },
    ],
}
LETTER_EXAMPLE = (
    "As a parent of a secondary school student, I ask Northwind to state in its policy that "
    "Northwind Tutor explains the material but never writes graded coursework or answers live "
    "exam questions for students."
)
CLUSTER_EXAMPLE = {
    "id": 8,
    "period": 2,
    "kind": "near",
    "comment_count": 32,
    "variant_count": 3,
    "representative": {
        **COMMENT_EXAMPLE,
        "id": 132,
        "period": 2,
        "author": "Alex Abbott",
        "clause": None,
        "body": LETTER_EXAMPLE,
        "cluster": 8,
        "cluster_size": 32,
        "endorsement_count": 0,
        "reply_count": 0,
        "created_at": "2026-10-31T18:32:01Z",
        "url": "/policies/comments/132/",
    },
    "created_at": "2026-10-31T18:40:00Z",
    "updated_at": "2026-11-24T17:00:00Z",
}
CLUSTER_DETAIL_EXAMPLE = {
    **CLUSTER_EXAMPLE,
    "variants": [
        {"body": LETTER_EXAMPLE, "comments": 30},
        {"body": LETTER_EXAMPLE + " I am also a teacher.", "comments": 1},
        {"body": LETTER_EXAMPLE.replace("As a parent of", "As the parent of two"), "comments": 1},
    ],
}
RESPONSE_EXAMPLE = {
    "id": 1,
    "period": 2,
    "target": "cluster",
    "comment": None,
    "cluster": 8,
    "clause_key": "",
    "body": "Thank you to the parents and teachers who wrote. The next version's tutoring clause "
    "will say plainly that Tutor explains material and never completes graded work.",
    "declined": False,
    "organization": "northwind-labs",
    "created_at": "2026-12-04T11:10:00Z",
    "updated_at": "2026-12-04T11:10:00Z",
}
RESPONSE_DOCUMENT_EXAMPLE = {
    "published_at": "2026-12-04T11:30:00Z",
    "summary": "Every campaign and every clause that received comments is answered below; "
    "where we do not change the policy we say why.",
    "required": 6,
    "answered": 5,
    "declined": 1,
    "percent_answered": 100,
    "complete": True,
    "next_version": None,
    "items": [
        {
            "kind": "cluster",
            "cluster": 8,
            "clause": None,
            "about_clause": None,
            "comment_count": 32,
            "response": RESPONSE_EXAMPLE,
            "next_version_change": None,
        }
    ],
}
DOCKET_CSV_EXAMPLE = (
    "id,created_at,author,on_behalf_of,clause_key,parent_id,status,hidden_reason,cluster_id,"
    "endorsement_count,edited_at,body\n"
    "1,2026-11-22T21:40:34+00:00,Dr. Priya Raman,,medical.general,,published,,,14,,"
    '"I am an emergency physician. …"\n'
)
DOCKET_JSONL_EXAMPLE = (
    '{"id": 1, "created_at": "2026-11-22T21:40:34+00:00", "author": "Dr. Priya Raman", '
    '"on_behalf_of": "", "clause_key": "medical.general", "parent_id": null, '
    '"status": "published", "hidden_reason": "", "cluster_id": null, "endorsement_count": 14, '
    '"edited_at": null, "body": "I am an emergency physician. …"}\n'
)


# --- Periods --------------------------------------------------------------------------------------


def _public_periods():
    return CommentPeriod.objects.select_related("version__policy__organization").exclude(
        version__status=PolicyVersion.Status.DRAFT
    )


@extend_schema_view(
    list=extend_schema(
        summary="List comment periods (filter by policy or version)",
        description="The comment periods of public versions (never of drafts), latest opening "
        "first. Filter with `policy` or `version` (ids). `state` is `scheduled`, `open` or "
        "`closed` at the time of the request; `url` is the docket's page. Public.",
        parameters=[
            OpenApiParameter("policy", int, description="Policy id."),
            OpenApiParameter("version", int, description="Policy version id."),
        ],
        examples=[OpenApiExample("A period", value=PERIOD_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="A comment period with its counts and extensions",
        description="With `stats` (comments in all, distinct texts, campaigns, replies, held, "
        "hidden and withdrawn comments, open flags, moderation actions, comments per clause) "
        "and every extension with its public reason. The counts are cached for a short while. "
        "404 for a draft's period or an unknown id.",
        examples=[
            OpenApiExample("An open period", value=PERIOD_DETAIL_EXAMPLE, response_only=True),
            OpenApiExample(
                "A closed period with its response published",
                value=NORTHWIND_PERIOD_EXAMPLE,
                response_only=True,
            ),
        ],
    ),
)
@extend_schema(tags=TAG_PERIODS)
class CommentPeriodViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    required_scopes = dict.fromkeys(("POST", "PUT", "PATCH", "DELETE"), WRITE_POLICIES)

    def get_queryset(self):
        qs = _public_periods().order_by("-opens_at", "-id")
        params = self.request.query_params
        if params.get("policy", "").isdigit():
            qs = qs.filter(version__policy_id=int(params["policy"]))
        if params.get("version", "").isdigit():
            qs = qs.filter(version_id=int(params["version"]))
        return qs

    def get_serializer_class(self):
        return (
            CommentPeriodDetailSerializer if self.action == "retrieve" else CommentPeriodSerializer
        )

    def perform_content_negotiation(self, request, force=False):
        # `?format=csv|jsonl` names the export's file type, not one of DRF's renderers.
        if self.action == "export_docket":
            renderer = self.get_renderers()[0]
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force=force)

    def _period(self, pk) -> CommentPeriod:
        try:
            return _public_periods().get(pk=_int(pk, "id"))
        except CommentPeriod.DoesNotExist:
            raise NotFound("No such comment period.") from None

    @extend_schema(
        summary="Open a comment period on a published version (company editors)",
        description="Editors and owners of the verified company that publishes the version open "
        "(or schedule) its one comment period: `opens_at` now or later, lasting 30 to 365 days. "
        "403 for anyone else; 400 with field errors for an unknown `version` or dates out of "
        "range; 409 `not_published` (only the version in force) or `period_exists`. Needs "
        "`write:policies` with a token. Recorded as `comment_period.opened`.",
        request=PeriodCreateSerializer,
        responses={201: CommentPeriodSerializer},
        examples=[
            OpenApiExample(
                "Open for 45 days",
                value={
                    "version": 3,
                    "opens_at": "2026-11-22T09:00:00Z",
                    "closes_at": "2027-01-06T17:00:00Z",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Opened", value=PERIOD_EXAMPLE, response_only=True, status_codes=["201"]
            ),
        ],
    )
    def create(self, request):
        data = PeriodCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = (
            PolicyVersion.objects.select_related("policy__organization")
            .filter(pk=data.validated_data["version"])
            .first()
        )
        if version is None or (
            version.is_draft and not allowed(request.user, "policies.view_draft", version)
        ):
            raise Invalid("No such version.", fields={"version": ["No such version."]})
        period = services.comment_period_open(
            actor=request.user,
            version=version,
            opens_at=data.validated_data["opens_at"],
            closes_at=data.validated_data["closes_at"],
        )
        period = self._period(period.pk)
        return Response(CommentPeriodSerializer(period).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Extend the closing time, with a public reason (never shorter)",
        description="Editors and owners of the publishing company move `closes_at` later (at "
        "most 365 days after opening) with a public `reason`, shown on the docket; followers "
        "told it was closing soon hear again. 400 for an earlier or equal time or an empty "
        "reason; 409 `period_closed` once it has closed; 403 for anyone else. Needs "
        "`write:policies` with a token. Recorded as `comment_period.extended`.",
        request=PeriodExtendSerializer,
        responses=CommentPeriodDetailSerializer,
        examples=[
            OpenApiExample(
                "Two more weeks",
                value={
                    "closes_at": "2027-01-20T17:00:00Z",
                    "reason": "Security researchers asked for two more weeks over the holidays.",
                },
                request_only=True,
            ),
            OpenApiExample("Extended", value=PERIOD_EXTENDED_EXAMPLE, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"])
    def extend(self, request, pk=None):
        period = self._period(pk)
        data = PeriodExtendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.comment_period_extend(actor=request.user, period=period, **data.validated_data)
        return Response(CommentPeriodDetailSerializer(self._period(pk)).data)

    @extend_schema(
        summary="The whole docket as CSV or JSON Lines, streamed",
        description="Every comment that is not held, oldest first, one row each, streamed in "
        "constant memory (a file download). Withdrawn and hidden comments keep their row "
        "without their text; CSV cells that a spreadsheet would run as a formula are prefixed "
        "with `'`. `format=jsonl` (the default) or `csv`; anything else is 400. Public.",
        parameters=[OpenApiParameter("format", str, enum=["csv", "jsonl"])],
        responses={
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "text/csv"): OpenApiTypes.STR,
        },
        examples=[
            OpenApiExample(
                "JSON Lines",
                value=DOCKET_JSONL_EXAMPLE,
                media_type="application/x-ndjson",
                response_only=True,
            ),
            OpenApiExample(
                "CSV", value=DOCKET_CSV_EXAMPLE, media_type="text/csv", response_only=True
            ),
        ],
    )
    @action(detail=True, methods=["get"], url_path="export")
    def export_docket(self, request, pk=None):
        period = self._period(pk)
        fmt = request.query_params.get("format", "jsonl")
        if fmt not in ("csv", "jsonl"):
            raise Invalid("Use format=csv or format=jsonl.", fields={"format": ["csv or jsonl"]})
        lines = export.docket_csv_lines if fmt == "csv" else export.docket_jsonl_lines
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
        response = StreamingHttpResponse(lines(period), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="comment-period-{period.pk}.{fmt}"'
        return response

    @extend_schema(
        summary="The company's response to comments: what it must cover and what it says",
        description="The items the company must answer (every campaign of at least 25 "
        "comments and every clause with a published comment), each with its saved response or "
        "null, the counts, and — once published — the `summary` and `published_at`. When the "
        "policy has a later version, `next_version` links its diff and each item says what "
        "changed in its clause. Saved responses are public before publication too. Public.",
        examples=[
            OpenApiExample(
                "A published response", value=RESPONSE_DOCUMENT_EXAMPLE, response_only=True
            )
        ],
        responses=inline_serializer(
            "ResponseDocument",
            {
                "published_at": serializers.DateTimeField(allow_null=True),
                "summary": serializers.CharField(),
                "required": serializers.IntegerField(),
                "answered": serializers.IntegerField(),
                "declined": serializers.IntegerField(),
                "percent_answered": serializers.IntegerField(),
                "complete": serializers.BooleanField(),
                "next_version": serializers.DictField(allow_null=True),
                "items": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    @action(detail=True, methods=["get"])
    def responses(self, request, pk=None):
        period = self._period(pk)
        req = response_requirements(period)
        following = link_next_version(period, req)
        diff_url = None
        if following is not None:
            version = period.version
            diff_url = request.build_absolute_uri(
                reverse(
                    "policies:diff",
                    args=[
                        version.policy.organization.slug,
                        version.policy.slug,
                        version.number,
                        following.number,
                    ],
                )
            )

        def change(item) -> dict | None:
            found = item.next_change
            if found is None:
                return None
            return {
                "kind": found.kind,
                "key": found.key,
                "behavior_change": None
                if found.behavior_change is None
                else {"from": found.behavior_change[0], "to": found.behavior_change[1]},
                "url": None if found.kind == "unchanged" else f"{diff_url}#change-{found.key}",
            }

        return Response(
            {
                "published_at": period.responses_published_at,
                "summary": period.responses_summary,
                "required": req.required,
                "answered": req.answered,
                "declined": req.declined,
                "percent_answered": req.percent_answered,
                "complete": req.complete,
                "next_version": None
                if following is None
                else {"id": following.pk, "number": following.number, "diff_url": diff_url},
                "items": [
                    {
                        "kind": item.kind,
                        "cluster": item.cluster.pk if item.cluster else None,
                        "clause": item.clause_key or None,
                        # The clause the item is about (a campaign's too), if any.
                        "about_clause": item.about_clause or None,
                        "comment_count": item.comment_count,
                        "response": ResponseSerializer(item.response).data
                        if item.response
                        else None,
                        "next_version_change": change(item),
                    }
                    for item in req.items
                ],
            }
        )

    @extend_schema(
        summary="Publish the response to comments (after the period closes, once complete)",
        description="Editors and owners of the verified publishing company publish the "
        "response document with a `summary`; it cannot change afterwards, and only then can "
        "the policy publish its next version. 409 `period_not_closed`, `responses_incomplete` "
        "(an item lacks an answer or a recorded reason) or `already_published`; 400 for an "
        "empty summary; 403 for anyone else. Needs `write:policies` with a token. Recorded as "
        "`comment_period.responses_published`.",
        request=PublishResponsesSerializer,
        responses=CommentPeriodDetailSerializer,
        examples=[
            OpenApiExample(
                "Publish",
                value={"summary": RESPONSE_DOCUMENT_EXAMPLE["summary"]},
                request_only=True,
            ),
            OpenApiExample("Published", value=NORTHWIND_PERIOD_EXAMPLE, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"], url_path="publish-responses")
    def publish_responses(self, request, pk=None):
        period = self._period(pk)
        data = PublishResponsesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.response_document_publish(
            actor=request.user, period=period, summary=data.validated_data["summary"]
        )
        return Response(CommentPeriodDetailSerializer(self._period(pk)).data)


# --- Comments ---------------------------------------------------------------------------------

ENDORSEMENT = inline_serializer(
    "Endorsement",
    {"endorsed": serializers.BooleanField(), "endorsement_count": serializers.IntegerField()},
)


COMMENT_LIST_PARAMETERS = [
    OpenApiParameter("period", int, required=True),
    OpenApiParameter("sort", str, enum=list(reads.SORTS)),
    OpenApiParameter("clause", str),
    OpenApiParameter("cluster", int),
    OpenApiParameter("organizations", bool),
    OpenApiParameter("q", str, description="Full-text search (web search syntax)."),
    OpenApiParameter("cursor", str),
]


ENDORSEMENT = inline_serializer(
    "Endorsement",
    {"endorsed": serializers.BooleanField(), "endorsement_count": serializers.IntegerField()},
)


@extend_schema(tags=TAG_COMMENTS)
class CommentViewSet(viewsets.GenericViewSet):
    serializer_class = CommentSerializer
    pagination_class = None
    required_scopes = dict.fromkeys(("POST", "PUT", "PATCH", "DELETE"), WRITE_COMMENTS)

    def get_queryset(self):
        return Comment.objects.none()

    def get_throttles(self):
        # Posting has its own per-account and per-address limits (governance.ratelimit), which
        # answer 429 with Retry-After; the general API throttle would only count it twice.
        if self.action == "create":
            return []
        return super().get_throttles()

    def _comment(self, pk) -> Comment:
        return reads.comment_for_reader(pk, self.request.user)

    def _out(self, comment: Comment, code=status.HTTP_200_OK) -> Response:
        fresh = reads.comment_for_reader(comment.pk, self.request.user)
        return Response(CommentSerializer(fresh).data, status=code)

    @extend_schema(
        summary="A keyset page of a period's comments (campaigns once), with search and filters",
        description="Top-level comments of `period` (required: 400 without it, 404 for a "
        "draft's or an unknown period), 50 a page; a campaign appears once, as its "
        "representative with `cluster_size` (`cluster=` lists its members). Held comments are "
        "never listed; withdrawn and hidden ones keep their place with an empty `body`. Sort "
        "`newest` (default), `oldest` or `endorsed`; filter by `clause` key, `organizations` "
        "(comments on behalf of one) and `q`; follow `next`/`previous` (400 for a forged "
        "cursor). Public.",
        parameters=COMMENT_LIST_PARAMETERS,
        responses={
            200: CommentPageSerializer,
            404: OpenApiResponse(
                ERROR_REF, description="No such comment period (or it is not public yet)."
            ),
        },
        examples=[OpenApiExample("A page", value=COMMENT_PAGE_EXAMPLE, response_only=True)],
    )
    def list(self, request):
        params = request.query_params
        if "period" not in params:
            raise Invalid("Say which comment period: ?period=<id>.",
                          fields={"period": ["This parameter is required."]})  # fmt: skip
        period = reads.period_with_version(params["period"])
        if period.version.is_draft:
            raise NotFound("No such comment period.")
        sort = params.get("sort", "newest")
        cluster = params.get("cluster")
        filters = reads.CommentFilters(
            sort=sort,
            clause_key=params.get("clause", "")[:120],
            cluster_id=_int(cluster, "cluster") if cluster else None,
            organizations_only=params.get("organizations") in ("1", "true"),
            q=params.get("q", ""),
            cursor=params.get("cursor", "")[:500],
        )
        page = reads.comment_page(period, filters, viewer=request.user, size=50)

        def link(cursor):
            if not cursor:
                return None
            query = params.copy()
            query["cursor"] = cursor
            return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

        return Response(
            {
                "next": link(page.next_cursor),
                "previous": link(page.previous_cursor),
                "results": CommentSerializer(page.items, many=True).data,
            }
        )

    @extend_schema(
        summary="One comment",
        description="A comment or reply by id. A held comment is visible only to its author "
        "and moderators (404 for everyone else); a withdrawn or hidden one has an empty "
        "`body` (a hidden one says why in `hidden_reason`). Public.",
        examples=[
            OpenApiExample("A comment", value=COMMENT_EXAMPLE, response_only=True),
            OpenApiExample(
                "Hidden by a moderator", value=COMMENT_HIDDEN_EXAMPLE, response_only=True
            ),
        ],
    )
    def retrieve(self, request, pk=None):
        return Response(CommentSerializer(self._comment(pk)).data)

    @extend_schema(
        summary="Comment on a version or one clause, or reply (verified accounts)",
        description="Accounts with a confirmed e-mail address comment on an open period's "
        "version, on one `clause` (by key) or reply to a published `parent`; `on_behalf_of` "
        "(an organization slug) needs membership of a verified organization. A comment from an "
        "account less than a day old, or with 3 or more links, is stored `held` for a "
        "moderator; an identical letter joins its campaign at once. 400 with field errors "
        "(empty body, over 10,000 characters or 10 links, unknown clause, period or parent); "
        "403 unverified; 409 "
        "`period_not_open` or `period_closed`; 429 with `Retry-After` past 10 a minute per "
        "account or 60 per address. Needs `write:comments` with a token.",
        request=CommentCreateSerializer,
        responses={201: CommentSerializer},
        examples=[
            OpenApiExample(
                "On a clause",
                value={
                    "period": 1,
                    "clause": "cyber.exploit.poc",
                    "body": "Please say how a researcher becomes verified, and how long it takes.",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Posted", value=COMMENT_POSTED_EXAMPLE, response_only=True, status_codes=["201"]
            ),
        ],
    )
    def create(self, request):
        data = CommentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            period = reads.period_for_posting(values["period"])
        except NotFound:
            raise Invalid("No such comment period.",
                          fields={"period": ["No such comment period."]}) from None  # fmt: skip
        if period.version.is_draft:
            raise Invalid("No such comment period.", fields={"period": ["No such period."]})
        parent = None
        if values.get("parent"):
            parent = Comment.objects.filter(pk=values["parent"]).select_related("root").first()
            if parent is None:
                raise Invalid("No such comment to reply to.",
                              fields={"parent": ["No such comment."]})  # fmt: skip
        organization = None
        if values.get("on_behalf_of"):
            organization = Organization.objects.filter(slug=values["on_behalf_of"]).first()
            if organization is None:
                raise Invalid("No such organization.",
                              fields={"on_behalf_of": ["No such organization."]})  # fmt: skip
        comment = services.comment_post(
            author=request.user,
            period=period,
            body=values["body"],
            clause_key=values.get("clause") or None,
            parent=parent,
            on_behalf_of=organization,
            ip=_client_ip(request),
        )
        comment.author = request.user
        comment.on_behalf_of = organization
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit your comment within 15 minutes (the earlier text is kept)",
        description="The author replaces the `body` of a published or held comment within 15 "
        "minutes of posting, while the period is open; the earlier text stays in its history. "
        "Adding links can send it to moderation. 403 for anyone but the author; 409 "
        "`edit_window_closed`, `not_editable` (withdrawn or hidden) or `period_closed`; 400 "
        "for an invalid body. Needs `write:comments` with a token.",
        request=CommentEditSerializer,
        responses=CommentSerializer,
        examples=[
            OpenApiExample(
                "Fix a typo",
                value={"body": COMMENT_POSTED_EXAMPLE["body"]},
                request_only=True,
            ),
            OpenApiExample(
                "Edited",
                value={**COMMENT_POSTED_EXAMPLE, "edited_at": "2026-12-04T10:24:00Z"},
                response_only=True,
            ),
        ],
    )
    def partial_update(self, request, pk=None):
        comment = self._comment(pk)
        data = CommentEditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.comment_edit(actor=request.user, comment=comment, body=data.validated_data["body"])
        return self._out(comment)

    @extend_schema(
        summary="Withdraw your comment (a tombstone stays)",
        description="The author withdraws a comment while the period is open: it keeps its "
        "place with status `withdrawn` and no text, leaves its campaign, and is exported "
        "without its text. 403 for anyone but the author; 409 `already_withdrawn`, "
        "`hidden_by_moderator` or `period_closed`. Needs `write:comments` with a token.",
        request=None,
        responses=CommentSerializer,
        examples=[
            OpenApiExample(
                "Withdrawn",
                value={
                    **COMMENT_POSTED_EXAMPLE,
                    "status": "withdrawn",
                    "body": "",
                    "withdrawn_at": "2026-12-04T12:00:00Z",
                },
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        comment = self._comment(pk)
        services.comment_withdraw(actor=request.user, comment=comment)
        return self._out(comment)

    @extend_schema(
        methods=["POST"],
        summary="Endorse a comment",
        description="Accounts with a confirmed e-mail address endorse a published comment of "
        "an open period, once; the answer has its new count. 409 `already_endorsed` (not "
        "idempotent: a second POST says so), `not_published` or `period_closed`; 400 for your "
        "own comment; 403 unverified. Needs `write:comments` with a token.",
        request=None,
        responses={
            201: ENDORSEMENT,
            409: OpenApiResponse(
                ERROR_REF, description="`already_endorsed`, `not_published` or `period_closed`."
            ),
        },
        examples=[
            OpenApiExample(
                "Endorsed",
                value={"endorsed": True, "endorsement_count": 15},
                response_only=True,
                status_codes=["201"],
            )
        ],
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Stop endorsing a comment",
        description="Take your endorsement back while the period is open; the answer has the "
        "new count. 409 `not_endorsed` if you do not endorse it, or `period_closed`. Needs "
        "`write:comments` with a token.",
        request=None,
        responses={
            200: ENDORSEMENT,
            409: OpenApiResponse(ERROR_REF, description="`not_endorsed` or `period_closed`."),
        },
        examples=[
            OpenApiExample(
                "No longer endorsed",
                value={"endorsed": False, "endorsement_count": 14},
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    @action(detail=True, methods=["post", "delete"])
    def endorsement(self, request, pk=None):
        comment = self._comment(pk)
        if request.method == "POST":
            count = services.comment_endorse(user=request.user, comment=comment)
            return Response({"endorsed": True, "endorsement_count": count},
                            status=status.HTTP_201_CREATED)  # fmt: skip
        count = services.comment_unendorse(user=request.user, comment=comment)
        return Response({"endorsed": False, "endorsement_count": count})

    @extend_schema(
        summary="Flag a comment for moderators (reason not_me: posted in my name)",
        description="Accounts with a confirmed e-mail address report a comment to the "
        "moderators, once each, with a `reason` (`spam`, `abuse`, `privacy`, `off_topic`, "
        "`not_me`, `other`; `details` required for the last two). The author's own `not_me` "
        "report holds the comment at once; every `not_me` report e-mails the moderators. 400 "
        "for an unknown reason or missing details; 409 `already_flagged` or `withdrawn`; 403 "
        "unverified. Needs `write:comments` with a token. Flags are private.",
        request=FlagSerializer,
        responses={201: inline_serializer("FlagCreated", {"id": serializers.IntegerField()})},
        examples=[
            OpenApiExample("Spam", value={"reason": "spam", "details": ""}, request_only=True),
            OpenApiExample("Flagged", value={"id": 42}, response_only=True, status_codes=["201"]),
        ],
    )
    @action(detail=True, methods=["post"])
    def flags(self, request, pk=None):
        comment = self._comment(pk)
        data = FlagSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        flag = services.comment_flag(user=request.user, comment=comment, **data.validated_data)
        return Response({"id": flag.pk}, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Hide, restore, approve, hold or dismiss flags, with a public reason",
        description="Moderators (and staff) `hide` a published or held comment, `restore` a "
        "hidden one, `approve` a held one, `hold` a published one or `dismiss` its flags, with a "
        "`public_reason`; the comment's open flags are resolved. 403 for anyone else (and for a "
        "token without `write:moderation`); 400 for an unknown action or an empty reason; 409 "
        "`wrong_status` when the action does not apply. Recorded as `comment.<action>`.",
        request=ModerateSerializer,
        responses=CommentSerializer,
        examples=[
            OpenApiExample(
                "Hide",
                value={
                    "action": "hide",
                    "public_reason": COMMENT_HIDDEN_EXAMPLE["hidden_reason"],
                },
                request_only=True,
            ),
            OpenApiExample("Hidden", value=COMMENT_HIDDEN_EXAMPLE, response_only=True),
        ],
    )
    @action(
        detail=True,
        methods=["post"],
        required_scopes={"POST": WRITE_MODERATION},
    )
    def moderate(self, request, pk=None):
        if not allowed(request.user, "policies.moderate_comments"):
            raise NotAllowed("Only moderators can moderate.")
        comment = self._comment(pk)
        data = ModerateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.comment_moderate(moderator=request.user, comment=comment, **data.validated_data)
        reads.forget_period_stats(comment.period_id)
        return self._out(comment)

    @extend_schema(
        summary="A comment's earlier texts and moderation record",
        description="The texts an edit replaced (`posted_at` to `replaced_at`; empty while the "
        "comment is withdrawn or hidden) and every moderation action with its public reason "
        "(`automatic` for holds the platform made). Who moderated is not shown. Readable by "
        "whoever can read the comment (404 otherwise).",
        examples=[
            OpenApiExample("Edited, held and approved", value=HISTORY_EXAMPLE, response_only=True)
        ],
        responses=inline_serializer(
            "CommentHistory",
            {
                "revisions": serializers.ListField(child=serializers.DictField()),
                "moderation": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        comment = self._comment(pk)
        visible = comment.status in (Comment.Status.PUBLISHED, Comment.Status.HELD)
        return Response(
            {
                "revisions": [
                    {
                        "body": r.body if visible else "",
                        "posted_at": r.created_at,
                        "replaced_at": r.replaced_at,
                    }
                    for r in reads.comment_history(comment)
                ],
                "moderation": [
                    {
                        "action": m.action,
                        "public_reason": m.public_reason,
                        "automatic": m.moderator_id is None,
                        "created_at": m.created_at,
                    }
                    for m in reads.comment_moderation(comment)
                ],
            }
        )


@extend_schema(tags=TAG_COMMENTS)
class ModerationQueueViewSet(viewsets.GenericViewSet):
    serializer_class = CommentSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = None

    def get_queryset(self):
        return Comment.objects.none()

    @extend_schema(
        summary="Held and flagged comments, oldest first (moderators)",
        description="Held comments and comments with open flags across every period, 50 a "
        "page, each with its full text and open flags; pass `next_after` back as `after` for "
        "the next page. `open_reports` counts the comments with an open flag of each reason. "
        "Moderators and staff only (403 for anyone else, 401 signed out); 400 for an unknown "
        "`reason`.",
        examples=[OpenApiExample("The queue", value=QUEUE_EXAMPLE, response_only=True)],
        parameters=[
            OpenApiParameter("after", int),
            OpenApiParameter(
                "reason",
                str,
                enum=list(Flag.Reason.values),
                description="Only comments with an open flag of this reason (not_me: reported "
                "as submitted in someone's name without their consent).",
            ),
        ],
        responses=ModerationQueuePageSerializer,
    )
    def list(self, request):
        if not allowed(request.user, "policies.moderate_comments"):
            raise NotAllowed("Only moderators can read the moderation queue.")
        after = request.query_params.get("after", "")
        queue = reads.moderation_queue(
            after=int(after) if after.isdigit() else None,
            reason=request.query_params.get("reason") or None,
        )
        results = []
        for comment in queue:
            data = CommentSerializer(comment).data
            data["body"] = comment.body
            data["flags"] = [
                {
                    "reason": f.reason,
                    "details": f.details,
                    "created_at": f.created_at,
                    "by_author": f.user_id == comment.author_id,
                }
                for f in comment.open_flags
            ]
            results.append(data)
        return Response(
            {
                "results": results,
                "next_after": queue[-1].pk if len(queue) == 50 else None,
                "open_reports": reads.open_report_counts(),
            }
        )


# --- Campaigns and responses -------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Form-letter campaigns (filter by period)",
        description="Groups of identical (`exact`) or near-identical (`near`) comments of "
        "public versions' periods with more than one comment, newest first, each with its "
        "representative comment. Filter with `period`. Public.",
        examples=[OpenApiExample("A campaign", value=CLUSTER_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="A campaign with its text variants",
        description="With up to 20 distinct texts (`variants`, most used first) and how many "
        "comments use each; a text whose first comment is not published shows empty. The "
        "variant counts are cached for a few minutes. 404 for an unknown id. Public.",
        responses=ClusterDetailSerializer,
        examples=[OpenApiExample("A campaign", value=CLUSTER_DETAIL_EXAMPLE, response_only=True)],
    ),
)
@extend_schema(tags=TAG_CLUSTERS, parameters=[OpenApiParameter("period", int)])
class CommentClusterViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = ClusterSerializer

    def get_queryset(self):
        qs = (
            CommentCluster.objects.filter(comment_count__gt=1)
            .exclude(period__version__status=PolicyVersion.Status.DRAFT)
            .select_related(
                "representative__author",
                "representative__clause",
                "representative__on_behalf_of",
                "representative__cluster",
            )
            .order_by("-id")
        )
        period = self.request.query_params.get("period", "")
        if period.isdigit():
            qs = qs.filter(period_id=int(period))
        return qs

    def retrieve(self, request, pk=None):
        cluster = self.get_object()
        data = ClusterSerializer(cluster).data
        data["variants"] = [
            {"body": c.body if c.status == Comment.Status.PUBLISHED else "", "comments": n}
            for c, n in reads.cluster_variants(cluster)
        ]
        return Response(data)


@extend_schema_view(
    list=extend_schema(
        summary="The company's responses (filter by period)",
        description="Every saved response to a comment, a campaign or a clause, newest first "
        "(public as soon as saved; they can change until the response document is "
        "published). `declined` marks a recorded reason for not answering. Filter with "
        "`period`. Public.",
        examples=[OpenApiExample("A response", value=RESPONSE_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One response",
        description="By id. Public.",
        examples=[OpenApiExample("A response", value=RESPONSE_EXAMPLE, response_only=True)],
    ),
    destroy=extend_schema(
        summary="Delete a response before the document is published",
        description="Editors and owners of the publishing company delete a response; 409 "
        "`responses_published` once the document is published; 403 for anyone else. Needs "
        "`write:policies` with a token. Recorded as `comment_response.deleted`.",
    ),
)
@extend_schema(tags=TAG_RESPONSES, parameters=[OpenApiParameter("period", int)])
class CommentResponseViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ResponseSerializer
    required_scopes = dict.fromkeys(("POST", "PUT", "PATCH", "DELETE"), WRITE_POLICIES)

    def get_queryset(self):
        qs = CommentResponse.objects.select_related("organization").order_by("-id")
        period = self.request.query_params.get("period", "")
        if period.isdigit():
            qs = qs.filter(period_id=int(period))
        return qs

    @extend_schema(
        summary="Answer a comment, a campaign or a clause — or record why not (company editors)",
        description="Editors and owners of the publishing company answer one `target`: a "
        "`comment` (not a held one), a `cluster` or a `clause` (by key) of the period; with "
        "`declined` the body is the public reason for not answering. One response per target: "
        "saving again replaces it (idempotent, still 201). 400 with field errors for a target "
        "outside the period or an empty body; 409 `responses_published`; 403 for anyone else. "
        "Needs `write:policies` with a token. Recorded as `comment_response.saved`.",
        request=ResponseWriteSerializer,
        responses={201: ResponseSerializer},
        examples=[
            OpenApiExample(
                "Answer a campaign",
                value={
                    "period": 2,
                    "target": "cluster",
                    "cluster": 8,
                    "body": RESPONSE_EXAMPLE["body"],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Saved", value=RESPONSE_EXAMPLE, response_only=True, status_codes=["201"]
            ),
        ],
    )
    def create(self, request):
        data = ResponseWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            period = reads.period_with_version(values["period"])
        except NotFound:
            raise Invalid("No such comment period.",
                          fields={"period": ["No such comment period."]}) from None  # fmt: skip
        response = services.comment_response_save(
            actor=request.user,
            period=period,
            target=values["target"],
            comment=Comment.objects.filter(pk=values.get("comment") or 0).first(),
            cluster=CommentCluster.objects.filter(pk=values.get("cluster") or 0).first(),
            clause_key=values.get("clause", ""),
            body=values["body"],
            declined=values.get("declined", False),
        )
        return Response(ResponseSerializer(response).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        response = self.get_object()
        services.comment_response_delete(actor=request.user, response=response)
        return Response(status=status.HTTP_204_NO_CONTENT)
