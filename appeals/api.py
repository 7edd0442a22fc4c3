"""`/api/v1/appeals/` and friends: filing (with a redaction preview to confirm), each move of
the workflow table (`POST /appeals/{id}/actions/{action}/`, the allowed ones listed on every
appeal), published decisions, recommendations and answers, transparency figures and the table.

Reading an appeal needs `appeals.view_appeal` (others get a 404); its raw transcript appears
only for the filer, the company's reviewers and the seated panel. Writes need `write:appeals`.
"""

from __future__ import annotations

import json
from datetime import datetime

import django_filters
from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from appeals import api_examples as ex
from appeals import selectors, services, workflow
from appeals.models import (
    Appeal,
    AppealEvent,
    Decision,
    Kind,
    Outcome,
    Recommendation,
    RejectionReason,
    Status,
    TransparencyReport,
)
from appeals.rules import Viewer, raw_for, roles_for
from appeals.transcripts import transcript_from_export
from governance.api.conditional import LastModifiedMixin, latest
from governance.api.fields import SlugRelatedField
from governance.errors import Invalid
from governance.models import AISystem, ApiToken, Organization, User
from policies.models import PolicyVersion

WRITE_APPEALS = ApiToken.Scope.WRITE_APPEALS.value
WRITES = dict.fromkeys(("POST", "PUT", "PATCH", "DELETE"), WRITE_APPEALS)
TAGS = ["Appeals"]


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    # "" on the filing event, which has no state before it: the schema must admit it.
    from_status = serializers.ChoiceField(choices=Status.choices, allow_blank=True, read_only=True)

    class Meta:
        model = AppealEvent
        fields = ["action", "from_status", "to_status", "role", "actor", "note", "at"]
        read_only_fields = fields

    def get_actor(self, event) -> str | None:
        # The filer is not named, even to the company: the role says enough.
        if event.role in ("filer", "system") or event.actor is None:
            return None
        return event.actor.public_name


class RecommendationSerializer(serializers.ModelSerializer):
    source = serializers.ChoiceField(
        choices=Recommendation.Source.choices,
        read_only=True,
        help_text="What made it: a decision on an appeal, or a finding of an audit report.",
    )
    appeal = serializers.SerializerMethodField(help_text="The appealed case (decisions only).")
    audit_report = serializers.SerializerMethodField(help_text="The report (findings only).")
    finding_url = serializers.SerializerMethodField(
        help_text="The finding's public page (findings only)."
    )
    company = serializers.CharField(source="policy.organization.slug", read_only=True)
    url = serializers.SerializerMethodField(help_text="The recommendation's public page.")
    implemented = serializers.SerializerMethodField()
    answer_overdue = serializers.SerializerMethodField()
    # "" until the company answers.
    answer = serializers.ChoiceField(
        choices=Recommendation.Answer.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "source",
            "decision",
            "appeal",
            "finding",
            "audit_report",
            "finding_url",
            "company",
            "policy",
            "clause_key",
            "text",
            "priority",
            "target_date",
            "created_at",
            "answer_due_at",
            "answer",
            "answer_text",
            "answered_at",
            "answer_overdue",
            "implemented",
            "implemented_version",
            "implemented_at",
            "url",
        ]
        read_only_fields = fields

    def get_appeal(self, rec) -> int | None:
        return rec.decision.appeal_id if rec.decision_id else None

    def get_audit_report(self, rec) -> int | None:
        return rec.finding.report_id if rec.finding_id else None

    def get_finding_url(self, rec) -> str | None:
        return reverse("reports:finding", args=[rec.finding_id]) if rec.finding_id else None

    def get_url(self, rec) -> str:
        return reverse("appeals:recommendation", args=[rec.pk])

    def get_implemented(self, rec) -> bool:
        return rec.implemented_version_id is not None

    def get_answer_overdue(self, rec) -> bool:
        return rec.answer_overdue


class DecisionSerializer(serializers.ModelSerializer):
    decided_by = serializers.CharField(source="decided_by.public_name", read_only=True)
    recommendations = RecommendationSerializer(many=True, read_only=True)

    class Meta:
        model = Decision
        fields = [
            "id",
            "by",
            "summary",
            "outcome",
            "clause_key",
            "rationale",
            "facts",
            "automation_used",
            "automation_note",
            "further_redress",
            "decided_by",
            "votes_for",
            "votes_against",
            "dissent",
            "decided_at",
            "recommendations",
        ]
        read_only_fields = fields


class PublicDecisionSerializer(serializers.ModelSerializer):
    """A published decision: with the filer's consent, the reasons and the redacted transcript;
    without it, the outcome and the clause alone."""

    appeal = serializers.IntegerField(source="appeal_id", read_only=True)
    company = serializers.CharField(source="appeal.organization.slug", read_only=True)
    system = serializers.CharField(source="appeal.system.slug", read_only=True)
    policy_version = serializers.IntegerField(source="appeal.version_id", read_only=True)
    kind = serializers.CharField(source="appeal.kind", read_only=True)
    consented = serializers.BooleanField(source="appeal.consent_to_publish", read_only=True)
    details = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = [
            "id",
            "appeal",
            "company",
            "system",
            "policy_version",
            "kind",
            "by",
            "summary",
            "outcome",
            "clause_key",
            "votes_for",
            "votes_against",
            "decided_at",
            "consented",
            "details",
            "url",
        ]
        read_only_fields = fields

    def get_details(self, decision) -> dict | None:
        if not decision.appeal.consent_to_publish:
            return None
        return {
            "rationale": decision.rationale,
            "facts": decision.facts,
            "automation_used": decision.automation_used,
            "automation_note": decision.automation_note,
            "further_redress": decision.further_redress,
            "dissent": decision.dissent,
            "transcript_redacted": decision.appeal.transcript_redacted,
            "recommendations": [r.pk for r in decision.recommendations.all()],
        }

    def get_url(self, decision) -> str:
        return reverse("appeals:decision", args=[decision.pk])


class AppealSerializer(serializers.ModelSerializer):
    company = serializers.CharField(source="organization.slug", read_only=True)
    system = serializers.CharField(source="system.slug", read_only=True)
    policy_version = serializers.IntegerField(source="version_id", read_only=True)
    clause = serializers.CharField(source="clause_key", read_only=True)
    # Empty unless the appeal was rejected out of scope: the schema must admit "".
    rejection_reason = serializers.ChoiceField(
        choices=RejectionReason.choices, allow_blank=True, read_only=True
    )
    transcript_raw = serializers.SerializerMethodField()
    deadlines = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()
    events = EventSerializer(many=True, read_only=True)
    decisions = DecisionSerializer(many=True, read_only=True)
    panel = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Appeal
        fields = [
            "id",
            "company",
            "system",
            "system_version",
            "policy_version",
            "clause",
            "kind",
            "status",
            "rejection_reason",
            "transcript_redacted",
            "transcript_raw",
            "redaction_counts",
            "requested_outcome",
            "occurred_at",
            "consent_to_publish",
            "submitted_at",
            "acknowledged_at",
            "decided_at",
            "escalated_at",
            "panel_decided_at",
            "closed_at",
            "deadlines",
            "overdue",
            "paused_seconds",
            "allowed_actions",
            "events",
            "decisions",
            "panel",
            "url",
        ]
        read_only_fields = fields

    def _viewer(self) -> Viewer:
        viewer = self.context.get("viewer")
        if viewer is None:
            request = self.context.get("request")
            viewer = self.context["viewer"] = Viewer.of(getattr(request, "user", None))
        return viewer

    def get_transcript_raw(self, appeal) -> str | None:
        """Only for the filer, the company's reviewers and the seated panel."""
        return appeal.transcript_raw if raw_for(self._viewer(), appeal) else None

    def get_deadlines(self, appeal) -> dict:
        return {
            d.name: getattr(appeal, d.field).isoformat() if getattr(appeal, d.field) else None
            for d in workflow.DEADLINES.values()
        }

    def get_overdue(self, appeal) -> bool:
        return workflow.is_overdue(appeal, timezone.now())

    def get_allowed_actions(self, appeal) -> list[str]:
        return workflow.actions_for(appeal.status, roles_for(self._viewer(), appeal))

    def get_panel(self, appeal) -> list[dict]:
        # Votes stay among the panel until it decides; then the decision records them.
        roles = roles_for(self._viewer(), appeal)
        shows_votes = appeal.status != Status.PANEL_REVIEW or bool(roles & {"panel", "panel_admin"})
        return [
            {
                "panelist": seat.panelist.public_name,
                "panel": seat.panel.slug,
                "vote": seat.vote if shows_votes else None,
                "voted": bool(seat.vote),
            }
            for seat in appeal.panel_seats.all()
        ]

    def get_url(self, appeal) -> str:
        return reverse("appeals:detail", args=[appeal.pk])


class AppealCreateSerializer(serializers.Serializer):
    system = serializers.PrimaryKeyRelatedField(
        queryset=AISystem.objects.select_related("organization"),
        help_text="The AI system's id (`/api/v1/systems/`).",
    )
    system_version = serializers.CharField(max_length=120, required=False, allow_blank=True)
    policy_version = serializers.PrimaryKeyRelatedField(
        queryset=PolicyVersion.objects.select_related("policy__organization"),
        help_text="The policy version in force when it happened.",
    )
    clause = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="The clause key; leave empty or null if you do not know which clause applies.",
    )
    kind = serializers.ChoiceField(choices=Kind.choices)
    transcript = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The conversation as text.",
    )
    chat_export = serializers.JSONField(
        required=False, help_text="Or: a chat export (a list of {role, content} messages)."
    )
    names = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=50,
        help_text="Names to redact.",
    )
    redacted_transcript = serializers.CharField(
        trim_whitespace=False,
        help_text="The redacted text from `POST /appeals/redaction-preview/`, as you confirmed "
        "it: the appeal is filed only if redaction gives exactly this.",
    )
    requested_outcome = serializers.CharField(max_length=5000)
    occurred_at = serializers.DateTimeField()
    consent_to_publish = serializers.BooleanField()

    def validate(self, attrs):
        if attrs.get("chat_export") is not None:
            limit = settings.OPENREFUSAL["APPEAL_EXPORT_MAX_BYTES"]
            data = json.dumps(attrs["chat_export"]).encode()
            try:
                attrs["transcript"] = transcript_from_export(data, max_bytes=limit)
            except Invalid as error:
                raise serializers.ValidationError({"chat_export": [error.message]}) from error
        if not (attrs.get("transcript") or "").strip():
            raise serializers.ValidationError(
                {"transcript": ["Send the conversation as `transcript` or `chat_export`."]}
            )
        return attrs


class PreviewSerializer(serializers.Serializer):
    transcript = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    chat_export = serializers.JSONField(required=False)
    names = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=50
    )

    validate = AppealCreateSerializer.validate


class PreviewResultSerializer(serializers.Serializer):
    redacted = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField())
    names = serializers.ListField(child=serializers.CharField())


class RecommendationInSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=10_000)
    priority = serializers.ChoiceField(choices=Recommendation.Priority.choices)
    target_date = serializers.DateField()
    clause_key = serializers.CharField(max_length=120, required=False)


class ActionSerializer(serializers.Serializer):
    """The fields each action takes (see the workflow table); the others are ignored."""

    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20_000,
        help_text="A note; the question (request_info), the answer "
        "(provide_info), the reason (escalate, reject_out_of_scope) or "
        "how it was implemented (implement).",
    )
    reason = serializers.ChoiceField(
        choices=RejectionReason.choices, required=False, help_text="reject_out_of_scope only."
    )
    outcome = serializers.ChoiceField(
        choices=Outcome.choices, required=False, help_text="decide, summary_decision, panel_vote."
    )
    clause = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=120,
        help_text="The clause relied on (decisions).",
    )
    rationale = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    facts = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    automation_used = serializers.BooleanField(required=False, allow_null=True, default=None)
    automation_note = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    further_redress = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    panel = SlugRelatedField(
        slug_field="slug",
        required=False,
        queryset=Organization.objects.filter(kind=Organization.Kind.PANEL),
        help_text="panel_assign: the panel organization's slug.",
    )
    panelists = serializers.PrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=User.objects.filter(is_active=True),
        help_text="panel_assign: the user ids of at least three of its members.",
    )
    recommendations = RecommendationInSerializer(many=True, required=False)


class CiteSerializer(serializers.Serializer):
    version = serializers.PrimaryKeyRelatedField(
        queryset=PolicyVersion.objects.select_related("policy__organization"),
        help_text="The later policy version's id.",
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)


def _decision_kwargs(data: dict) -> dict:
    return {
        "clause_key": data.get("clause", ""),
        "rationale": data.get("rationale", ""),
        "facts": data.get("facts", ""),
        "automation_used": data.get("automation_used"),
        "automation_note": data.get("automation_note", ""),
        "further_redress": data.get("further_redress", ""),
    }


def run_action(name: str, *, actor, appeal: Appeal, data: dict) -> None:
    """One move of the table, with the fields it takes."""
    note = data.get("note", "")
    base = {"actor": actor, "appeal": appeal}
    if name == "reject_out_of_scope":
        services.appeal_reject_out_of_scope(reason=data.get("reason", ""), note=note, **base)
    elif name == "request_info":
        services.appeal_request_info(question=note, **base)
    elif name == "provide_info":
        services.appeal_provide_info(answer=note, **base)
    elif name == "escalate":
        services.appeal_escalate(reason=note, **base)
    elif name == "decide":
        services.appeal_decide(outcome=data.get("outcome", ""), **_decision_kwargs(data), **base)
    elif name == "summary_decision":
        services.appeal_summary_decision(
            outcome=data.get("outcome", ""), **_decision_kwargs(data), **base
        )
    elif name == "panel_decide":
        services.appeal_panel_decide(
            recommendations=data.get("recommendations", []), **_decision_kwargs(data), **base
        )
    elif name == "panel_vote":
        services.appeal_panel_vote(outcome=data.get("outcome", ""), note=note, **base)
    elif name == "panel_assign":
        panel = data.get("panel")
        if panel is None:
            raise Invalid("Name the panel.", fields={"panel": ["Name the panel."]})
        services.appeal_panel_assign(panel=panel, panelists=data.get("panelists", []), **base)
    else:
        services.ACTION_SERVICES[name](note=note, **base)


class AppealFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    kind = django_filters.ChoiceFilter(choices=Kind.choices)
    company = django_filters.CharFilter(field_name="organization__slug")
    clause = django_filters.CharFilter(field_name="clause_key")
    mine = django_filters.BooleanFilter(method="filter_mine", label="Only appeals you filed")
    overdue = django_filters.BooleanFilter(method="filter_overdue")

    class Meta:
        model = Appeal
        fields = ["status", "kind", "company", "clause"]

    def filter_mine(self, qs, name, value):
        user = self.request.user if self.request else None
        if value and user is not None and user.is_authenticated:
            return qs.filter(filer=user)
        return qs

    def filter_overdue(self, qs, name, value):
        q = selectors.overdue_filter(timezone.now())
        return qs.filter(q) if value else qs.exclude(q)


ACTION_PATTERN = "|".join(workflow.ACTIONS)


@extend_schema_view(
    list=extend_schema(
        summary="Appeals you may see (yours, your company's, your panel's)",
        description="Newest first: the appeals you filed, those against a company whose "
        "editor or owner you are, and those your panel sits on (regulators and staff see all). "
        "Filter with `status`, `kind`, `company` (slug), `clause` (key), `mine=true` and "
        "`overdue=true|false`. `transcript_raw` is null unless you are the filer, one of the "
        "company's reviewers or a seated panelist; `allowed_actions` are the moves of the "
        "workflow table you may take now.",
        examples=[ex.example("An appeal decided by the company", ex.APPEAL)],
        tags=TAGS,
    ),
    retrieve=extend_schema(
        summary="One appeal, with its timeline and your allowed actions",
        description="By id, with every event of its timeline, its decisions, the panel's seats "
        "(votes stay hidden from outsiders until the panel decides) and each deadline. An appeal "
        "you may not see is a 404.",
        examples=[ex.example("An appeal decided by the company", ex.APPEAL)],
        tags=TAGS,
    ),
)
class AppealViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AppealSerializer
    filterset_class = AppealFilter
    required_scopes = WRITES

    def get_queryset(self):
        return (
            Appeal.objects.filter(selectors.visible_appeals_filter(self.request.user))
            .select_related("organization", "system", "version")
            .prefetch_related(
                "events__actor",
                "decisions__decided_by",
                "decisions__recommendations",
                "panel_seats__panelist",
                "panel_seats__panel",
            )
            .order_by("-pk")
        )

    def _out(self, appeal: Appeal, code=status.HTTP_200_OK) -> Response:
        appeal = self.get_queryset().get(pk=appeal.pk)
        appeal._seated_ids = {s.panelist_id for s in appeal.panel_seats.all()}
        headers = {}
        if code == status.HTTP_201_CREATED:
            headers["Location"] = reverse("appeal-detail", kwargs={"pk": appeal.pk})
        data = AppealSerializer(appeal, context={"request": self.request}).data
        return Response(data, status=code, headers=headers)

    @extend_schema(
        summary="File an appeal (confirm the redaction first)",
        description="A signed-in person with a confirmed e-mail address appeals what an AI "
        "system did, against a published policy version and (if known) one of its clauses. "
        "Send the conversation as `transcript` or `chat_export`, call "
        "`/appeals/redaction-preview/` first and send back its `redacted` text as "
        "`redacted_transcript`: nothing is filed unless redaction gives exactly that. The "
        "company must acknowledge within 7 days and decide within 30. Needs `write:appeals` "
        "with a token; 400 with field errors for a draft or unknown clause, a transcript over "
        "the size limit or an export that is not a chat.",
        request=AppealCreateSerializer,
        responses={201: AppealSerializer},
        examples=[
            ex.example(
                "Filed",
                {
                    **ex.APPEAL,
                    "status": "submitted",
                    "acknowledged_at": None,
                    "decided_at": None,
                    "deadlines": {
                        **ex.APPEAL["deadlines"],
                        "escalation": None,
                    },
                    "allowed_actions": ["withdraw"],
                    "events": ex.APPEAL["events"][:1],
                    "decisions": [],
                },
                status="201",
            )
        ],
        tags=TAGS,
    )
    def create(self, request):
        incoming = AppealCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        appeal = services.appeal_file(
            actor=request.user,
            system=data["system"],
            version=data["policy_version"],
            clause_key=data.get("clause") or None,
            kind=data["kind"],
            transcript=data["transcript"],
            confirmed_redaction=data["redacted_transcript"],
            names=data.get("names", []),
            requested_outcome=data["requested_outcome"],
            occurred_at=data["occurred_at"],
            consent_to_publish=data["consent_to_publish"],
            system_version=data.get("system_version", ""),
        )
        return self._out(appeal, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Preview the redaction of a transcript (nothing is stored)",
        description="What filing would store for display: e-mail addresses, phone numbers, "
        "URLs carrying tokens, IBAN and card numbers and the `names` you mark become `[email]`, "
        "`[phone]`, `[link removed]`, `[iban]`, `[card]` and `[name]`, and `counts` says how "
        "many of each. Show `redacted` to the filer; they confirm it by sending it back as "
        "`redacted_transcript` when filing.",
        request=PreviewSerializer,
        responses=PreviewResultSerializer,
        examples=[ex.example("Redacted", ex.PREVIEW)],
        tags=TAGS,
    )
    @action(detail=False, methods=["post"], url_path="redaction-preview")
    def redaction_preview(self, request):
        incoming = PreviewSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        preview = services.appeal_redaction_preview(
            transcript=data["transcript"], names=data.get("names", [])
        )
        return Response(preview)

    @extend_schema(
        summary="Take one action of the workflow table (see `allowed_actions`)",
        description="One move of `/appeal-workflow/`, with the fields that action takes "
        "(a decision needs `outcome`, `clause`, `rationale`, `facts` and `automation_used`; "
        "`panel_assign` needs `panel` and at least three `panelists`; …). Answers the appeal as "
        "it is now. 403 when you never take that action on this appeal, 409 "
        "(`illegal_transition`) when its state does not allow it, naming what is possible, and "
        "400 with field errors for bad input; nothing changes on an error.",
        request=ActionSerializer,
        responses=AppealSerializer,
        examples=[ex.example("After the company decided", ex.APPEAL)],
        tags=TAGS,
        parameters=[
            OpenApiParameter(
                "name", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(workflow.ACTIONS)
            )
        ],
    )
    @action(detail=True, methods=["post"], url_path=rf"actions/(?P<name>{ACTION_PATTERN})")
    def actions(self, request, pk=None, name=None):
        appeal = self.get_object()
        incoming = ActionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        run_action(name, actor=request.user, appeal=appeal, data=incoming.validated_data)
        return self._out(appeal)

    @extend_schema(
        summary="Cite this appeal from a later version of the policy (the company)",
        description="The company's editors and owners record that a later version (a draft "
        "or published) of the same policy resolves this appeal. `clause_changed` is read from "
        "the diff against the appealed version — at once for a published version, null until a "
        "draft is published. 409 if that version cites it already.",
        request=CiteSerializer,
        responses={201: OpenApiTypes.OBJECT},
        examples=[ex.example("Cited", ex.APPEAL_RESOLUTION, status="201")],
        tags=TAGS,
    )
    @action(detail=True, methods=["post"])
    def cite(self, request, pk=None):
        appeal = self.get_object()
        incoming = CiteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        resolution = services.version_cite(
            actor=request.user, appeal=appeal, **incoming.validated_data
        )
        return Response(_resolution(resolution), status=status.HTTP_201_CREATED)


def _resolution(resolution) -> dict:
    return {
        "id": resolution.pk,
        "version": resolution.version_id,
        "appeal": resolution.appeal_id,
        "recommendation": resolution.recommendation_id,
        "clause_key": resolution.clause_key,
        "clause_changed": resolution.clause_changed,
    }


@extend_schema_view(
    list=extend_schema(
        summary="Published decisions (details only with the filer's consent)",
        description="Every decision on an appeal, by the company or the panel, newest first: "
        "outcome, clause and votes for everyone; `details` (rationale, facts, redacted "
        "transcript, dissent) only where the filer consented, otherwise null. Filter with "
        "`company`, `outcome`, `by` (company or panel) and `clause`.",
        examples=[ex.example("A panel decision with a dissent", ex.PUBLIC_DECISION)],
        tags=TAGS,
    ),
    retrieve=extend_schema(
        summary="One published decision",
        description="By id; `details` is null unless the filer consented to publication.",
        examples=[ex.example("A panel decision with a dissent", ex.PUBLIC_DECISION)],
        tags=TAGS,
    ),
)
class PublicDecisionViewSet(LastModifiedMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = PublicDecisionSerializer
    permission_classes = [AllowAny]

    def last_modified(self, decision) -> datetime | None:
        # A decision does not change once made; its recommendations (listed in `details`)
        # may come later.
        return latest(decision.decided_at, [r.created_at for r in decision.recommendations.all()])

    def get_queryset(self):
        params = self.request.query_params
        return selectors.published_decisions(
            company=params.get("company", "")[:80],
            outcome=params.get("outcome", ""),
            by=params.get("by", ""),
            clause=params.get("clause", "")[:120],
        ).order_by("-pk")


class AnswerSerializer(serializers.Serializer):
    answer = serializers.ChoiceField(choices=Recommendation.Answer.choices)
    text = serializers.CharField(max_length=10_000)


@extend_schema_view(
    list=extend_schema(
        summary="Recommendations and the companies' answers",
        description="Every recommendation, newest first, from either `source`: a panel "
        "decision on an appeal (`decision`, `appeal`) or a finding of a published audit report "
        "(`finding`, `audit_report`, `finding_url`) — an embargoed report's findings make none. "
        "The company answers within 30 days; `implemented` is true only once a later published "
        "version cites it and its clause changed in the diff.",
        examples=[
            ex.example("From an audit finding", ex.RECOMMENDATION),
            ex.example("From a panel decision", ex.RECOMMENDATION_FROM_DECISION),
        ],
        parameters=[
            OpenApiParameter("company", str, description="The company's slug."),
            OpenApiParameter("answered", str, enum=["yes", "no"]),
            OpenApiParameter(
                "source",
                str,
                enum=list(Recommendation.Source.values),
                description="Made by a decision on an appeal, or by an audit report's finding.",
            ),
        ],
        tags=TAGS,
    ),
    retrieve=extend_schema(
        summary="One recommendation",
        description="By id, with its source, the company's answer and whether a later version "
        "implements it.",
        examples=[ex.example("From an audit finding", ex.RECOMMENDATION)],
        tags=TAGS,
    ),
)
class RecommendationViewSet(LastModifiedMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = RecommendationSerializer
    required_scopes = WRITES

    def last_modified(self, rec) -> datetime | None:
        # `answer_overdue` turns true when the answer's due date passes unanswered.
        overdue = (
            rec.answer_due_at if not rec.answer and rec.answer_due_at <= timezone.now() else None
        )
        return latest(rec.created_at, rec.answered_at, rec.implemented_at, overdue)

    def get_queryset(self):
        params = self.request.query_params
        source = params.get("source", "")
        if source and source not in Recommendation.Source.values:
            raise serializers.ValidationError(
                {"source": [f"One of: {', '.join(Recommendation.Source.values)}."]}
            )
        return selectors.recommendations(
            company=params.get("company", "")[:80],
            answered=params.get("answered", ""),
            source=params.get("source", ""),
        ).order_by("-pk")

    @extend_schema(
        summary="The company's answer (within 30 days; may be revised)",
        description="Only the company's editors and owners answer (403 for anyone else: the "
        "auditor, the panel, regulators): `answer` is one of implementing_fully, "
        "implementing_in_part, assessing_feasibility, already_done or no_further_action, and "
        "`text` explains it (required). A later answer revises the earlier one; each is on the "
        "public ledger, with whether it came late. Needs `write:appeals` with a token.",
        request=AnswerSerializer,
        responses=RecommendationSerializer,
        examples=[ex.example("Answered", ex.RECOMMENDATION_FROM_DECISION)],
        tags=TAGS,
    )
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        incoming = AnswerSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        rec = services.recommendation_answer(
            actor=request.user, recommendation=self.get_object(), **incoming.validated_data
        )
        return Response(RecommendationSerializer(self.get_queryset().get(pk=rec.pk)).data)

    @extend_schema(
        summary="Cite this recommendation from a later policy version (the company)",
        description="The company's editors and owners cite it from a later version of the same "
        "policy than the one it was made on (the appealed version, or the finding's). Once that "
        "version is published and the recommendation's clause changed in the diff "
        "(`clause_changed`), the recommendation is implemented; a citation whose clause did not "
        "change does not count. 400 for a version of another policy or not later, 409 if cited "
        "already.",
        request=CiteSerializer,
        responses={201: OpenApiTypes.OBJECT},
        examples=[ex.example("Cited, and the clause changed", ex.RESOLUTION, status="201")],
        tags=TAGS,
    )
    @action(detail=True, methods=["post"])
    def cite(self, request, pk=None):
        incoming = CiteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        resolution = services.version_cite(
            actor=request.user, recommendation=self.get_object(), **incoming.validated_data
        )
        return Response(_resolution(resolution), status=status.HTTP_201_CREATED)


class WorkflowView(APIView):
    """The workflow table: (state, action, roles, next state, deadline), with the days."""

    permission_classes = [AllowAny]

    @extend_schema(
        summary="The appeal workflow table",
        description="Every (state, action, roles, next state, deadline) row that the services, "
        "the docs page and `allowed_actions` read, with each deadline's days and who answers "
        "for it.",
        responses=OpenApiTypes.OBJECT,
        examples=[ex.example("The first row", ex.WORKFLOW)],
        tags=TAGS,
    )
    def get(self, request):
        deadlines = {
            d.name: {
                "days": d.days,
                "kind": d.kind,
                "responsible": d.responsible,
                "description": d.description,
            }
            for d in workflow.DEADLINES.values()
        }
        return Response({"transitions": workflow.table_rows(), "deadlines": deadlines})


class TransparencyView(APIView):
    """A company's figures for a quarter: frozen if compiled, otherwise computed live."""

    permission_classes = [AllowAny]

    @extend_schema(
        summary="A company's transparency figures for one quarter",
        description="Computed from the records: appeals received by kind and clause, decisions "
        "by outcome, median and 90th-percentile days to acknowledge and to decide, overturn "
        "rates, the share of panel decisions implemented, deadline breaches and rejections by "
        "reason. A quarter that ended is frozen by the daily compile (with `compiled_at` and "
        "the `figures_sha256` that is on the ledger); the current quarter is live, with the "
        "appeals overdue now. Defaults to the current quarter.",
        parameters=[OpenApiParameter("year", int), OpenApiParameter("quarter", int)],
        responses=OpenApiTypes.OBJECT,
        examples=[
            ex.example("A frozen quarter", ex.TRANSPARENCY),
            ex.example("The current quarter, live", ex.TRANSPARENCY_LIVE),
        ],
        tags=TAGS,
    )
    def get(self, request, company: str):
        organization = Organization.objects.filter(
            slug=company, kind=Organization.Kind.DEVELOPER
        ).first()
        if organization is None:
            raise Http404
        year, quarter = selectors.quarter_of(timezone.now())
        try:
            year = int(request.query_params.get("year", year))
            quarter = int(request.query_params.get("quarter", quarter))
        except ValueError as error:
            raise Invalid(
                "year and quarter are whole numbers.", fields={"year": ["A whole number."]}
            ) from error
        if not (2000 <= year <= 2100 and 1 <= quarter <= 4):
            raise Invalid("No such quarter.", fields={"quarter": ["1 to 4."]})
        frozen = TransparencyReport.objects.filter(
            organization=organization, year=year, quarter=quarter
        ).first()
        if frozen is not None:
            return Response(
                {
                    **frozen.figures,
                    "compiled_at": frozen.compiled_at,
                    "figures_sha256": frozen.figures_sha256,
                }
            )
        figures = selectors.transparency_figures(
            organization=organization, year=year, quarter=quarter
        )
        # Overdue now: live and public (company, clause, state, filing date; never the filer).
        figures["overdue_now"] = [
            {
                "appeal": a.pk,
                "clause": a.clause_key or None,
                "status": a.status,
                "submitted_at": a.submitted_at.isoformat(),
            }
            for a in selectors.overdue_public(company=organization.slug)[:200]
        ]
        return Response(figures)
