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


# --- Periods --------------------------------------------------------------------------------------


def _public_periods():
    return CommentPeriod.objects.select_related("version__policy__organization").exclude(
        version__status=PolicyVersion.Status.DRAFT
    )


@extend_schema_view(
    list=extend_schema(summary="List comment periods (filter by policy or version)"),
    retrieve=extend_schema(summary="A comment period with its counts and extensions"),
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
        request=PeriodCreateSerializer,
        responses={201: CommentPeriodSerializer},
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
        request=PeriodExtendSerializer,
        responses=CommentPeriodDetailSerializer,
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
        parameters=[OpenApiParameter("format", str, enum=["csv", "jsonl"])],
        responses={(200, "text/csv"): OpenApiTypes.STR},
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
        request=PublishResponsesSerializer,
        responses=CommentPeriodDetailSerializer,
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
        parameters=COMMENT_LIST_PARAMETERS,
        responses={
            200: CommentPageSerializer,
            404: OpenApiResponse(
                ERROR_REF, description="No such comment period (or it is not public yet)."
            ),
        },
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

    @extend_schema(summary="One comment")
    def retrieve(self, request, pk=None):
        return Response(CommentSerializer(self._comment(pk)).data)

    @extend_schema(
        summary="Comment on a version or one clause, or reply (verified accounts)",
        request=CommentCreateSerializer,
        responses={201: CommentSerializer},
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
        request=CommentEditSerializer,
        responses=CommentSerializer,
    )
    def partial_update(self, request, pk=None):
        comment = self._comment(pk)
        data = CommentEditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.comment_edit(actor=request.user, comment=comment, body=data.validated_data["body"])
        return self._out(comment)

    @extend_schema(
        summary="Withdraw your comment (a tombstone stays)",
        request=None,
        responses=CommentSerializer,
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        comment = self._comment(pk)
        services.comment_withdraw(actor=request.user, comment=comment)
        return self._out(comment)

    @extend_schema(
        methods=["POST"],
        summary="Endorse a comment",
        description="Adds your endorsement to a published comment of an open period and answers "
        "the new count. "
        "Once per person: a second endorsement answers 409 `already_endorsed`. Token requests "
        "need `write:comments`.",
        request=None,
        responses={
            201: ENDORSEMENT,
            409: OpenApiResponse(ERROR_REF, description="`already_endorsed`."),
        },
        examples=[
            OpenApiExample(
                "Endorsed",
                value={"endorsed": True, "endorsement_count": 12},
                response_only=True,
                status_codes=["201"],
            )
        ],
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Stop endorsing a comment",
        description="Withdraws your endorsement and answers the new count; 409 `not_endorsed` "
        "if you do not endorse it. Token requests need `write:comments`.",
        request=None,
        responses={
            200: ENDORSEMENT,
            409: OpenApiResponse(ERROR_REF, description="`not_endorsed`: you do not endorse it."),
        },
        examples=[
            OpenApiExample(
                "No longer endorsed",
                value={"endorsed": False, "endorsement_count": 11},
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
        request=FlagSerializer,
        responses={201: inline_serializer("FlagCreated", {"id": serializers.IntegerField()})},
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
        request=ModerateSerializer,
        responses=CommentSerializer,
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
    list=extend_schema(summary="Form-letter campaigns (filter by period)"),
    retrieve=extend_schema(summary="A campaign with its text variants"),
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
    list=extend_schema(summary="The company's responses (filter by period)"),
    retrieve=extend_schema(summary="One response"),
    destroy=extend_schema(summary="Delete a response before the document is published"),
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
        request=ResponseWriteSerializer,
        responses={201: ResponseSerializer},
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
