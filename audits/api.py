"""`/api/v1/evaluation-runs/` (upload with multipart, list, read, its samples) and
`/api/v1/evaluation-samples/{id}/relabel/`."""

from __future__ import annotations

import django_filters
from django.core.cache import cache
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from audits import api_docs as docs
from audits import selectors, services
from audits.models import CategoryMapping, EvaluationRun, EvaluationSample
from governance.api.fields import SlugRelatedField
from governance.models import AISystem, ApiToken, Organization
from policies.models import PolicyVersion

WRITE_EVIDENCE = ApiToken.Scope.WRITE_EVIDENCE.value
WRITES = dict.fromkeys(("POST", "PUT", "PATCH", "DELETE"), WRITE_EVIDENCE)
TAGS = ["Evidence"]


class RunSerializer(serializers.ModelSerializer):
    organization = serializers.CharField(source="organization.slug", read_only=True)
    system = serializers.CharField(source="system.slug", read_only=True)
    system_organization = serializers.CharField(source="system.organization.slug", read_only=True)
    progress = serializers.SerializerMethodField()
    cancel_requested_by = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    samples_url = serializers.SerializerMethodField()

    class Meta:
        model = EvaluationRun
        fields = [
            "id", "organization", "system", "system_organization", "system_version",
            "benchmark", "benchmark_version", "harness_format", "harness", "harness_version",
            "model_name", "judge", "judge_revision", "source", "run_at", "notes",
            "artifact_name", "artifact_size", "artifact_sha256", "withhold_prompts",
            "withhold_responses", "status", "progress", "error", "error_code", "warnings",
            "sample_count", "label_counts", "uploaded_at", "started_at", "finished_at",
            "attempt", "heartbeat_at", "cancel_requested_at", "cancel_requested_by", "url",
            "samples_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_progress(self, run) -> float:
        return services.run_progress(run)

    def get_cancel_requested_by(self, run) -> str | None:
        person = run.cancel_requested_by
        return person.public_name if person else None

    def get_url(self, run) -> str:
        return reverse("audits:run", args=[run.pk])

    def get_samples_url(self, run) -> str:
        return reverse("evaluation-run-samples", kwargs={"pk": run.pk})


class RunCreateSerializer(serializers.Serializer):
    organization = SlugRelatedField(
        slug_field="slug", queryset=Organization.objects.all(), help_text="Who uploads it."
    )
    system = serializers.IntegerField(help_text="The AI system's id.")
    system_version = serializers.CharField(max_length=120)
    benchmark = serializers.CharField(max_length=120)
    benchmark_version = serializers.CharField(max_length=60, required=False, allow_blank=True)
    source = serializers.ChoiceField(choices=EvaluationRun.Source.choices)
    harness_format = serializers.CharField(
        max_length=40, required=False, allow_blank=True, help_text="Empty: detect it."
    )
    artifact = serializers.FileField(help_text="The result file, as the harness wrote it.")
    companion = serializers.FileField(
        required=False, help_text="HarmBench behaviors CSV or lm-eval results JSON."
    )
    withhold_prompts = serializers.BooleanField(required=False, default=False)
    withhold_responses = serializers.BooleanField(required=False, default=False)
    run_at = serializers.DateTimeField(required=False, allow_null=True)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class SampleSerializer(serializers.ModelSerializer):
    prompt = serializers.SerializerMethodField()
    response = serializers.SerializerMethodField()
    withheld = serializers.SerializerMethodField()

    class Meta:
        model = EvaluationSample
        fields = [
            "id", "run", "sample_id", "category", "prompt", "response", "prompt_sha256",
            "response_sha256", "withheld", "label", "label_source", "label_raw",
            "should_refuse", "framing", "base_prompt_id",
        ]  # fmt: skip

    def _shows(self) -> bool:
        return self.context.get("shows_withheld", False)

    def get_prompt(self, sample) -> str | None:
        run = sample.run
        return None if run.withhold_prompts and not self._shows() else sample.prompt

    def get_response(self, sample) -> str | None:
        run = sample.run
        return None if run.withhold_responses and not self._shows() else sample.response

    def get_withheld(self, sample) -> list[str]:
        run = sample.run
        return [
            name
            for name, held in (
                ("prompt", run.withhold_prompts),
                ("response", run.withhold_responses),
            )
            if held
        ]


class RelabelSerializer(serializers.Serializer):
    label = serializers.ChoiceField(choices=EvaluationSample.Label.choices)
    reason = serializers.CharField(max_length=2000)


class RunFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", max_length=80)
    system = django_filters.CharFilter(field_name="system__slug", max_length=80)
    source = django_filters.ChoiceFilter(choices=EvaluationRun.Source.choices)
    status = django_filters.ChoiceFilter(choices=EvaluationRun.Status.choices)
    benchmark = django_filters.CharFilter(max_length=120)

    class Meta:
        model = EvaluationRun
        fields = ["organization", "system", "source", "status", "benchmark"]


class SampleFilter(django_filters.FilterSet):
    category = django_filters.CharFilter(max_length=300)
    label = django_filters.ChoiceFilter(choices=EvaluationSample.Label.choices)
    label_source = django_filters.ChoiceFilter(choices=EvaluationSample.LabelSource.choices)
    should_refuse = django_filters.BooleanFilter()

    class Meta:
        model = EvaluationSample
        fields = ["category", "label", "label_source", "should_refuse"]


# The filters of a run's samples (SampleFilter), for `samples/` and `samples/export/`.
SAMPLE_FILTER_PARAMETERS = [
    OpenApiParameter("category", str),
    OpenApiParameter("label", str, enum=EvaluationSample.Label.values),
    OpenApiParameter("label_source", str, enum=EvaluationSample.LabelSource.values),
    OpenApiParameter("should_refuse", bool),
]


@extend_schema_view(
    list=extend_schema(
        summary="Evaluation runs (filter by organization, system, …)",
        description="Every uploaded evaluation run, public, highest id first (a token needs "
        "`read:public`). Filters: `organization` (the uploader's slug), `system` (the AI "
        "system's slug), `source`, `status` and `benchmark` (its exact name); a choice that "
        "does not exist answers 400 with field errors. `status` says how far the import got; "
        "`sample_count` and `label_counts` are final once it is `complete`.",
        examples=[OpenApiExample("Page", value=docs.RUN_EXAMPLE, response_only=True)],
        tags=TAGS,
    ),
    retrieve=extend_schema(
        summary="One evaluation run, with its status and counts",
        description="One run: what its file says (harness, model, judge, when it ran), the "
        "file's name, size and SHA-256, the import's status, progress, warnings and error, "
        "and the label counts (`classifier_check`: how often the built-in classifier agreed "
        "with the harness). Public; 404 if there is no such run.",
        examples=[OpenApiExample("Complete", value=docs.RUN_EXAMPLE, response_only=True)],
        tags=TAGS,
    ),
)
class EvaluationRunViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = RunSerializer
    filterset_class = RunFilter
    required_scopes = WRITES
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        return EvaluationRun.objects.select_related(
            "organization", "system__organization", "cancel_requested_by"
        )

    @extend_schema(
        summary="Upload a result file (multipart); its ingestion is queued",
        description="Send the harness's result file as `artifact` (plus `companion`: a "
        "HarmBench behaviors CSV or lm-eval results JSON) with the system version and "
        "benchmark it measures; needs `write:evidence`. `self_reported` evidence comes from "
        "editors and owners of the verified developer that makes the system, uploading as it; "
        "`independent` evidence from members of an accredited auditor; anyone else gets 403. "
        "The format is detected (or `harness_format` checked) and the first sample read before "
        "answering, so an unreadable file or an unknown system answers 400 with field errors "
        "and a file this organization already uploaded 409 (`duplicate_artifact`); 201 gives "
        "the `queued` run and its Location, to poll until `complete` or `failed`.",
        request={"multipart/form-data": RunCreateSerializer},
        responses={201: RunSerializer},
        examples=[
            OpenApiExample(
                "Upload",
                value=docs.RUN_UPLOAD_REQUEST,
                request_only=True,
                media_type="multipart/form-data",
            ),
            OpenApiExample("Queued", value=docs.RUN_QUEUED_EXAMPLE, response_only=True),
        ],
        tags=TAGS,
    )
    def create(self, request):
        incoming = RunCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        system = AISystem.objects.select_related("organization").filter(pk=data["system"]).first()
        if system is None:
            raise serializers.ValidationError({"system": ["No such AI system."]})
        run = services.run_upload(
            actor=request.user,
            organization=data["organization"],
            system=system,
            upload=data["artifact"],
            companion=data.get("companion"),
            source=data["source"],
            system_version=data["system_version"],
            benchmark=data["benchmark"],
            benchmark_version=data.get("benchmark_version", ""),
            harness_format=data.get("harness_format") or None,
            withhold_prompts=data["withhold_prompts"],
            withhold_responses=data["withhold_responses"],
            run_at=data.get("run_at"),
            notes=data.get("notes", ""),
        )
        location = reverse("evaluation-run-detail", kwargs={"pk": run.pk})
        return Response(
            RunSerializer(run).data, status=status.HTTP_201_CREATED, headers={"Location": location}
        )

    @extend_schema(
        summary="Cancel the import in progress (the uploader, the organization's editors, "
        "staff); a queued run is cancelled at once, a running one when its worker next checks",
        description="Stops an import that has not finished: a `queued` run is `cancelled` at "
        "once; a `parsing` or `scoring` one keeps its status with `cancel_requested_at` set "
        "until its worker next checks and rolls its samples back. The uploader, editors and "
        "owners of the uploading organization, and staff may (`write:evidence`); others get "
        "403. 409 if the run already finished (`finished`) or cancelling was already asked "
        "for (`cancelling`).",
        request=None,
        responses={200: RunSerializer},
        examples=[
            OpenApiExample("Cancelled", value=docs.RUN_CANCELLED_EXAMPLE, response_only=True)
        ],
        tags=TAGS,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        run = services.run_cancel(actor=request.user, run=self.get_object())
        return Response(RunSerializer(run).data)

    @extend_schema(
        summary="The run's samples (filters: category, label, label_source, should_refuse)",
        description="The run's samples, highest id first, filtered by `category`, `label`, "
        "`label_source` and `should_refuse`. Texts the uploader withheld are null, `withheld` "
        "naming them and their SHA-256 still shown, except for accredited auditors, "
        "regulators, staff and members of the uploading organization. Public; 400 for a bad "
        "filter, 404 for an unknown run.",
        parameters=SAMPLE_FILTER_PARAMETERS,
        responses=SampleSerializer(many=True),
        examples=[
            OpenApiExample("Page", value=docs.SAMPLE_EXAMPLE, response_only=True),
            OpenApiExample(
                "Page with a withheld prompt",
                value=docs.SAMPLE_WITHHELD_EXAMPLE,
                response_only=True,
            ),
        ],
        tags=TAGS,
    )
    # The run's own filters (RunFilter) neither apply to its samples nor may hide the run.
    @action(detail=True, methods=["get"], filterset_class=None)
    def samples(self, request, pk=None):
        run = self.get_object()
        queryset = SampleFilter(
            request.query_params,
            queryset=EvaluationSample.objects.filter(run=run).select_related("run"),
        )
        if not queryset.is_valid():
            raise serializers.ValidationError(queryset.errors)
        page = self.paginate_queryset(queryset.qs)
        context = {"shows_withheld": selectors.shows_withheld(request.user, run)}
        return self.get_paginated_response(SampleSerializer(page, many=True, context=context).data)

    @extend_schema(
        summary="Every sample of the run as JSON Lines, streamed (the same filters)",
        description="Every sample matching the filters of `samples/`, one JSON object a line "
        "in id order, streamed as an attachment so a run of any size downloads in bounded "
        "memory; each line has a sample's fields plus `record`, its position in the uploaded "
        "file. Withheld texts are null as in `samples/`. 400 for a bad filter (before "
        "anything is sent), 404 for an unknown run.",
        examples=[
            OpenApiExample(
                "One line",
                value=docs.SAMPLES_EXPORT_EXAMPLE,
                response_only=True,
                media_type="application/x-ndjson",
            )
        ],
        parameters=SAMPLE_FILTER_PARAMETERS,
        responses={(200, "application/x-ndjson"): OpenApiTypes.STR},
        tags=TAGS,
    )
    @action(detail=True, methods=["get"], url_path="samples/export", filterset_class=None)
    def samples_export(self, request, pk=None):
        run = self.get_object()
        found = SampleFilter(
            request.query_params, queryset=EvaluationSample.objects.filter(run=run)
        )
        if not found.is_valid():
            raise serializers.ValidationError(found.errors)
        lines = selectors.run_samples_export(
            run, found.qs, shows_withheld=selectors.shows_withheld(request.user, run)
        )
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-samples.jsonl"'
        return response

    @extend_schema(
        summary="Conformance of this run with a policy version, clause by clause",
        description="For every clause of `version` (a published, superseded or withdrawn "
        "policy version): the run's samples in the categories mapped to the clause for the "
        "run's benchmark, their rates, the share showing the clause's expected behaviour with "
        "its Wilson 95 % interval, and the verdict — `conforms` when the interval lies at or "
        "above `thresholds.target`, `diverges` when below it, otherwise (or with fewer than "
        "`min_samples` samples) `insufficient_evidence`; unmapped clauses have n = 0. Public; "
        "400 if `version` is missing, a draft or unknown, 404 for an unknown run.",
        parameters=[OpenApiParameter("version", int, required=True)],
        responses=docs.RunConformanceSerializer,
        examples=[
            OpenApiExample(
                "Acme house benchmark", value=docs.CONFORMANCE_EXAMPLE, response_only=True
            )
        ],
        tags=TAGS,
    )
    @action(detail=True, methods=["get"])
    def conformance(self, request, pk=None):
        run = self.get_object()
        try:
            version_pk = int(request.query_params.get("version", ""))
        except ValueError:
            raise serializers.ValidationError({"version": ["A policy version id."]}) from None
        return Response(conformance_json(_published_version(version_pk), run))

    @extend_schema(
        summary="Compare the refusal rates of two complete runs (overall and per category)",
        description="The share of samples labelled `refusal` in runs `a` and `b`, overall and "
        "for every category of either, with the difference (a - b) and a two-sided test: "
        "Fisher's exact test for small counts, else the two-proportion z-test (none where a "
        "run has no sample of the category). Public; 400 if `a` or `b` is not a completely "
        "imported run.",
        parameters=[OpenApiParameter("a", int, required=True),
                    OpenApiParameter("b", int, required=True)],
        responses=docs.RunComparisonSerializer,
        examples=[OpenApiExample("Two versions", value=docs.COMPARE_EXAMPLE, response_only=True)],
        tags=TAGS,
    )  # fmt: skip
    @action(detail=False, methods=["get"])
    def compare(self, request):
        runs = {}
        for name in ("a", "b"):
            run = selectors.run_detail(request.query_params.get(name))
            if run is None or run.status != EvaluationRun.Status.COMPLETE:
                raise serializers.ValidationError({name: ["A completely imported run's id."]})
            runs[name] = run
        overall, rows = selectors.compare_runs(runs["a"], runs["b"])

        def out(row):
            test = row.comparison
            return {
                "category": row.category,
                "a": {"refusal": row.first.refusal, "n": row.first.n},
                "b": {"refusal": row.second.refusal, "n": row.second.n},
                "difference": round(test.difference, 4) if test else None,
                "test": test.method if test else None,
                "p_value": test.p_value if test else None,
            }

        return Response(
            {"a": runs["a"].pk, "b": runs["b"].pk, "overall": out(overall),
             "categories": [out(row) for row in rows]}
        )  # fmt: skip


class EvaluationSampleViewSet(viewsets.GenericViewSet):
    required_scopes = WRITES
    serializer_class = SampleSerializer

    def get_queryset(self):
        return EvaluationSample.objects.select_related("run")

    @extend_schema(
        summary="Relabel a sample (accredited auditors and staff; recorded with who and why)",
        description="Corrects one sample's label, with the `reason`: `label_source` becomes "
        "`human`, the run's label counts and figures follow, and the change goes on the "
        "public ledger with who and why. Members of an accredited auditor and staff only "
        "(`write:evidence`), others 403; 400 if the label is already that or the reason is "
        "missing or over 2,000 characters; 409 if the run's figures are missing.",
        request=RelabelSerializer,
        responses=SampleSerializer,
        examples=[
            OpenApiExample("Relabel", value=docs.RELABEL_REQUEST, request_only=True),
            OpenApiExample("Relabelled", value=docs.SAMPLE_RELABELLED_EXAMPLE, response_only=True),
        ],
        tags=TAGS,
    )
    @action(detail=True, methods=["post"])
    def relabel(self, request, pk=None):
        sample = self.get_object()
        incoming = RelabelSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        sample = services.sample_relabel(
            actor=request.user, sample=sample, **incoming.validated_data
        )
        context = {"shows_withheld": selectors.shows_withheld(request.user, sample.run)}
        return Response(SampleSerializer(sample, context=context).data)


class MappingSerializer(serializers.ModelSerializer):
    clause = serializers.CharField(source="clause_key")

    class Meta:
        model = CategoryMapping
        fields = ["id", "version", "benchmark", "category", "clause", "created_at"]
        read_only_fields = ["id", "created_at"]


class MappingCreateSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    benchmark = serializers.CharField(max_length=120)
    category = serializers.CharField(max_length=300)
    clause = serializers.CharField(max_length=120)


class SuggestionQuery(serializers.Serializer):
    version = serializers.IntegerField()
    run = serializers.IntegerField()


class CarryForwardSerializer(serializers.Serializer):
    version = serializers.IntegerField()


def _published_version(pk) -> PolicyVersion:
    version = (
        PolicyVersion.objects.select_related("policy__organization")
        .exclude(status=PolicyVersion.Status.DRAFT)
        .filter(pk=pk)
        .first()
    )
    if version is None:
        raise serializers.ValidationError({"version": ["No such published policy version."]})
    return version


class MappingFilter(django_filters.FilterSet):
    version = django_filters.NumberFilter()
    benchmark = django_filters.CharFilter(max_length=120)
    clause = django_filters.CharFilter(field_name="clause_key", max_length=120)

    class Meta:
        model = CategoryMapping
        fields = ["version", "benchmark", "clause"]


@extend_schema_view(
    list=extend_schema(
        summary="Benchmark categories mapped to clauses",
        description="Which benchmark categories count as evidence for which clause, per policy "
        "version: a run's samples in those categories make the clause's conformance figures. "
        "Filters: `version` (id), `benchmark` and `clause` (key), exact. Public.",
        examples=[OpenApiExample("Page", value=docs.MAPPING_EXAMPLE, response_only=True)],
        tags=TAGS,
    ),
    retrieve=extend_schema(
        summary="One category mapping",
        description="One mapping of a benchmark category onto a clause of a policy version. "
        "Public; 404 if there is no such mapping.",
        examples=[OpenApiExample("Mapping", value=docs.MAPPING_EXAMPLE, response_only=True)],
        tags=TAGS,
    ),
    destroy=extend_schema(
        summary="Remove a mapping (on the ledger)",
        description="The category stops counting for the clause in that version's figures; "
        "the removal is recorded on the public ledger. The company's policy editors and "
        "owners, accredited auditors and staff (`write:evidence`), others 403. Answers 204.",
        tags=TAGS,
    ),
)
class CategoryMappingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = MappingSerializer
    filterset_class = MappingFilter
    required_scopes = WRITES
    queryset = CategoryMapping.objects.select_related("version")

    @extend_schema(
        summary="Map a benchmark category to a clause (policy editors, accredited auditors)",
        description="Makes the samples of one benchmark category count as evidence for a "
        "clause of a published policy version, recorded on the public ledger. The company's "
        "policy editors and owners, members of an accredited auditor and staff "
        "(`write:evidence`), others 403; 400 with field errors for an unknown or draft "
        "version or a clause key the version does not have; 409 if the mapping exists.",
        request=MappingCreateSerializer,
        responses={201: MappingSerializer},
        examples=[
            OpenApiExample("Map", value=docs.MAPPING_REQUEST, request_only=True),
            OpenApiExample("Mapped", value=docs.MAPPING_EXAMPLE, response_only=True),
        ],
        tags=TAGS,
    )
    def create(self, request):
        incoming = MappingCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        mapping = services.mapping_add(
            actor=request.user,
            version=_published_version(data["version"]),
            benchmark=data["benchmark"],
            category=data["category"],
            clause_key=data["clause"],
        )
        return Response(MappingSerializer(mapping).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.mapping_remove(actor=self.request.user, mapping=instance)

    @extend_schema(
        summary="Suggested mappings for a run's unmapped categories, from matching names",
        description="For each category of `run` not yet mapped in `version` for the run's "
        "benchmark: up to three clauses whose key, title or listed categories share words with "
        "the category's name, best first. Nothing is saved: a person decides and maps. Public; "
        "400 if `version` or `run` is missing or unknown, or the version is a draft.",
        parameters=[
            OpenApiParameter("version", int, required=True),
            OpenApiParameter("run", int, required=True),
        ],
        responses={200: docs.MappingSuggestionsSerializer},
        examples=[
            OpenApiExample("Suggestions", value=docs.SUGGESTIONS_EXAMPLE, response_only=True)
        ],
        tags=TAGS,
    )
    @action(detail=False, methods=["get"])
    def suggestions(self, request):
        incoming = SuggestionQuery(data=request.query_params)
        incoming.is_valid(raise_exception=True)
        version = _published_version(incoming.validated_data["version"])
        run = selectors.run_detail(incoming.validated_data["run"])
        if run is None:
            raise serializers.ValidationError({"run": ["No such evaluation run."]})
        found = selectors.mapping_suggestions(version, run)
        return Response(
            {
                "version": version.pk,
                "run": run.pk,
                "benchmark": run.benchmark,
                "suggestions": [
                    {"category": s.category, "clause": s.clause.key, "shared_words": s.words}
                    for s in found
                ],
            }
        )

    @extend_schema(
        summary="Carry the mappings of the latest earlier version forward, by clause key",
        description="Copies onto `version` the mappings of the latest earlier version of the "
        "same policy that has any, for the clause keys `version` still has, skipping those "
        "already there; `added` may be 0, so repeating it changes nothing. On the ledger. The "
        "people who may map (`write:evidence`), others 403; 400 for an unknown or draft "
        "version; 409 if no earlier version has mappings.",
        request=CarryForwardSerializer,
        responses={200: docs.CarriedForwardSerializer},
        examples=[
            OpenApiExample("Carry forward", value=docs.CARRY_FORWARD_REQUEST, request_only=True),
            OpenApiExample("Carried", value=docs.CARRY_FORWARD_EXAMPLE, response_only=True),
        ],
        tags=TAGS,
    )
    @action(detail=False, methods=["post"], url_path="carry-forward")
    def carry_forward(self, request):
        incoming = CarryForwardSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        version = _published_version(incoming.validated_data["version"])
        added = services.mapping_carry_forward(actor=request.user, version=version)
        return Response({"version": version.pk, "added": added})


def conformance_json(version: PolicyVersion, run: EvaluationRun) -> dict:
    rows = selectors.conformance(version, run)

    def rate(value):
        return round(value, 4) if value is not None else None

    return {
        "run": run.pk,
        "version": version.pk,
        "benchmark": run.benchmark,
        "thresholds": dict(
            zip(("min_samples", "target"), selectors.conformance_thresholds(), strict=True)
        ),
        "clauses": [
            {
                "clause": row.clause.key,
                "expected_behavior": row.clause.expected_behavior,
                "categories": row.categories,
                "n": row.figures.n if row.figures else 0,
                "refusal_rate": rate(row.figures.refusal_rate) if row.figures else None,
                "partial_rate": rate(row.figures.partial_rate) if row.figures else None,
                "compliance_rate": rate(row.figures.compliance_rate) if row.figures else None,
                "expected_share": rate(row.good_rate),
                "interval": [rate(row.interval.low), rate(row.interval.high)]
                if row.interval
                else None,
                "verdict": row.verdict,
            }
            for row in rows
        ],
    }


# --- The conformance matrix and one clause's evidence -------------------------------------------


def _rate(value):
    return round(value, 4) if value is not None else None


def _interval(interval):
    return [_rate(interval.low), _rate(interval.high)] if interval else None


def _cell_json(cell) -> dict | None:
    if cell is None:
        return None
    return {
        "n": cell.n,
        "refusal": cell.refusal,
        "partial": cell.partial,
        "compliance": cell.compliance,
        "refusal_rate": _rate(cell.refusal_rate),
        "refusal_interval": _interval(cell.interval),
        "expected_share": _rate(cell.good / cell.n) if cell.n else None,
        "expected_interval": _interval(cell.good_interval),
        "verdict": cell.verdict,
        "classifier_labels": cell.classifier,
    }


def _classifier_json() -> dict:
    error = selectors.classifier_error()
    return {
        "checked": error.n,
        "disagreement_rate": _rate(error.rate),
        "interval": _interval(error.interval),
        "method": "xstest-string-match, checked against harness labels at ingestion",
    }


def _run_ref(run) -> dict:
    return {
        "id": run.pk,
        "benchmark": run.benchmark,
        "benchmark_version": run.benchmark_version,
        "system": run.system.slug,
        "system_version": run.system_version,
        "source": run.source,
        "organization": run.organization.slug,
    }


class MatrixQuery(serializers.Serializer):
    version = serializers.IntegerField(help_text="A published policy version's id.")
    by = serializers.ChoiceField(choices=["run", "system_version"], default="run")
    system = serializers.CharField(max_length=80, required=False, default="")
    benchmark = serializers.CharField(max_length=120, required=False, default="")
    source = serializers.ChoiceField(
        choices=EvaluationRun.Source.choices, required=False, default=""
    )


# --- The conformance matrix's answer, for the schema ------------------------------------------


def _interval_field(help_text: str):
    return serializers.ListField(
        child=serializers.FloatField(), min_length=2, max_length=2, allow_null=True,
        help_text=help_text,
    )  # fmt: skip


def _robustness_verdicts():
    from audits.robustness import Robustness

    return list(Robustness.ORDER)


class MatrixRunRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    benchmark = serializers.CharField()
    benchmark_version = serializers.CharField(allow_blank=True)
    system = serializers.CharField(help_text="The AI system's slug.")
    system_version = serializers.CharField()
    source = serializers.CharField(help_text="self_reported or independent.")
    organization = serializers.CharField(help_text="The uploading organization's slug.")


class MatrixColumnSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    subtitle = serializers.CharField()
    runs = MatrixRunRefSerializer(many=True)


class CellRobustnessSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(
        choices=_robustness_verdicts(), allow_null=True,
        help_text="The worst verdict across the framings (null when no sample was asked "
        "directly to compare with).",
    )  # fmt: skip
    framing = serializers.CharField(
        allow_null=True, help_text="The framing behind the verdict (of those, the largest gap)."
    )
    gap = serializers.FloatField(
        allow_null=True, help_text="Refusal rate asked directly minus the rate in `framing`."
    )
    gap_interval = _interval_field("Newcombe 95 % interval of the gap.")
    direct_n = serializers.IntegerField(help_text="Samples asked directly.")
    direct_refused = serializers.IntegerField()
    framed_n = serializers.IntegerField(help_text="Samples asked in `framing`.")
    framed_refused = serializers.IntegerField()


class MatrixCellSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    refusal = serializers.IntegerField()
    partial = serializers.IntegerField()
    compliance = serializers.IntegerField()
    refusal_rate = serializers.FloatField(allow_null=True)
    refusal_interval = _interval_field("Wilson 95 % interval of the refusal rate.")
    expected_share = serializers.FloatField(allow_null=True)
    expected_interval = _interval_field("Wilson 95 % interval of the expected share.")
    verdict = serializers.ChoiceField(choices=selectors.CONFORMANCE_VERDICTS)
    classifier_labels = serializers.IntegerField()
    robustness = CellRobustnessSerializer(
        allow_null=True,
        help_text="Under reframing (clauses expecting a refusal): the column's samples asked "
        "directly against each other framing; null when they were asked in one framing only.",
    )


class _MatrixCellList(serializers.ListField):
    """One cell per column; null where nothing is mapped to the clause."""


class _MatrixCellListSchema(OpenApiSerializerFieldExtension):
    """Spectacular drops a list child's allow_null: the cells' nulls, stated in the schema."""

    target_class = _MatrixCellList

    def map_serializer_field(self, auto_schema, direction):
        item = auto_schema._map_serializer_field(self.target.child, direction)
        return {"type": "array", "items": {"allOf": [item], "nullable": True}}


class MatrixClauseSerializer(serializers.Serializer):
    clause = serializers.CharField()
    title = serializers.CharField()
    expected_behavior = serializers.CharField()
    robustness = serializers.ChoiceField(
        choices=_robustness_verdicts(), allow_null=True,
        help_text="The page's \"Under reframing\" column: the worst verdict over the columns' "
        "runs, run by run; null when the clause does not expect a refusal or no run reframed.",
    )  # fmt: skip
    cells = _MatrixCellList(child=MatrixCellSerializer(allow_null=True))


class MatrixThresholdsSerializer(serializers.Serializer):
    min_samples = serializers.IntegerField()
    target = serializers.FloatField()


class ClassifierErrorSerializer(serializers.Serializer):
    checked = serializers.IntegerField()
    disagreement_rate = serializers.FloatField(allow_null=True)
    interval = _interval_field("Wilson 95 % interval of the disagreement rate.")
    method = serializers.CharField()


class ConformanceMatrixSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    policy = serializers.IntegerField()
    number = serializers.CharField()
    by = serializers.CharField(help_text="run or system_version: what the columns are.")
    thresholds = MatrixThresholdsSerializer()
    columns = MatrixColumnSerializer(many=True)
    more_columns = serializers.IntegerField()
    classifier_error = ClassifierErrorSerializer(allow_null=True)
    clauses = MatrixClauseSerializer(many=True)


class _OneObjectSchema(AutoSchema):
    """The matrix is one object, though served by a viewset's `list`."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class ConformanceMatrixViewSet(viewsets.ViewSet):
    """`/api/v1/conformance-matrix/?version=…`: the browser's matrix as JSON."""

    schema = _OneObjectSchema()

    @extend_schema(
        summary="Conformance matrix of a policy version: clauses by runs or by system versions",
        description="Every clause of published `version` (rows) against the complete runs of "
        "mapped benchmarks on the systems its policy covers (columns): one column per run "
        "(`by=run`) or per system version with its runs added up (`by=system_version`), "
        "narrowed by `system` (slug), `benchmark` and `source`; at most 40 columns, "
        "`more_columns` counting the rest. A cell has the counts, the refusal rate and the "
        "expected-behaviour share with Wilson 95 % intervals and the verdict, and is null "
        "where nothing is mapped to the clause for that column's benchmarks. Public; 400 for "
        "a missing, draft or unknown version or a bad choice.",
        examples=[OpenApiExample("By run", value=docs.MATRIX_EXAMPLE, response_only=True)],
        parameters=[
            OpenApiParameter("version", int, required=True),
            OpenApiParameter("by", str, enum=["run", "system_version"]),
            OpenApiParameter("system", str, description="An AI system's slug."),
            OpenApiParameter("benchmark", str),
            OpenApiParameter("source", str, enum=EvaluationRun.Source.values),
        ],
        responses=ConformanceMatrixSerializer,
        tags=TAGS,
    )
    def list(self, request):
        query = MatrixQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        version = _published_version(data["version"])
        filters = {name: data[name] for name in ("by", "system", "benchmark", "source")}
        # Rendered once per state of what it shows (see selectors.matrix_cache_key).
        key = selectors.matrix_cache_key(version, kind="api", **filters)
        content = cache.get(key)
        if content is None:
            content = JSONRenderer().render(_matrix_json(version, filters))
            cache.set(key, content, selectors.MATRIX_CACHE_SECONDS)
        return HttpResponse(content, content_type="application/json")


def _cell_robustness_json(figure) -> dict | None:
    if figure is None:
        return None
    direct, worst = figure.direct, figure.worst
    if worst is None:  # nothing asked directly, or no verdict: the most-asked other framing
        worst = max((r for r in figure.rows if r is not direct and r.framing), key=lambda r: r.n)
    return {
        "verdict": figure.verdict,
        "framing": worst.framing,
        "gap": _rate(worst.gap),
        "gap_interval": _interval(worst.interval),
        "direct_n": direct.n if direct else 0,
        "direct_refused": direct.refused if direct else 0,
        "framed_n": worst.n,
        "framed_refused": worst.refused,
    }


def _matrix_json(version, filters: dict) -> dict:
    from audits.robustness_selectors import matrix_robustness_figures

    matrix = selectors.conformance_matrix(version, **filters)
    robustness = matrix_robustness_figures(matrix)
    minimum, target = selectors.conformance_thresholds()
    # Equal cells are one object (see selectors._Cells): each is written out once, unless
    # robustness tells them apart.
    written: dict[tuple, dict | None] = {}

    def as_json(cell, figure):
        key = (id(cell), id(figure))
        if key not in written:
            body = _cell_json(cell)
            if body is not None:
                body["robustness"] = _cell_robustness_json(figure)
            written[key] = body
        return written[key]

    def cells(row):
        figures = robustness.cells.get(row.clause.key) or [None] * len(row.cells)
        return [as_json(cell, figure) for cell, figure in zip(row.cells, figures, strict=True)]

    return {
        "version": version.pk,
        "policy": version.policy_id,
        "number": version.number,
        "by": matrix.by,
        "thresholds": {"min_samples": minimum, "target": target},
        "columns": [
            {
                "key": column.key,
                "title": column.title,
                "subtitle": column.subtitle,
                "runs": [_run_ref(run) for run in column.runs],
            }
            for column in matrix.columns
        ],
        "more_columns": matrix.more_columns,
        # Beside every cell with classifier_labels > 0: the classifier's measured error.
        "classifier_error": _classifier_json() if matrix.uses_classifier else None,
        "clauses": [
            {
                "clause": row.clause.key,
                "title": row.clause.title,
                "expected_behavior": row.clause.expected_behavior,
                "robustness": robustness.worst.get(row.clause.key),
                "cells": cells(row),
            }
            for row in matrix.rows
        ],
    }


class ClauseQuery(serializers.Serializer):
    policy = serializers.IntegerField(help_text="The policy's id.")
    key = serializers.CharField(max_length=120, help_text="The clause key.")


class ClauseSamplesQuery(ClauseQuery):
    version = serializers.CharField(
        max_length=20, required=False, default="", help_text="A version number (default: newest)."
    )
    run = serializers.IntegerField(required=False, allow_null=True, default=None)
    label = serializers.ChoiceField(
        choices=EvaluationSample.Label.choices, required=False, default=""
    )


def _clause_evidence(query) -> tuple:
    from policies.models import Policy

    data = query.validated_data
    policy = Policy.objects.select_related("organization").filter(pk=data["policy"]).first()
    if policy is None:
        raise serializers.ValidationError({"policy": ["No such policy."]})
    evidence = selectors.clause_evidence(policy, data["key"])
    if not evidence:
        raise serializers.ValidationError(
            {"key": ["No published version of this policy has that clause."]}
        )
    return policy, evidence


class ClauseSamplesPageSerializer(serializers.Serializer):
    """The answer of `clause-evidence/samples/` (a keyset page, not the cursor pages of lists)."""

    version = serializers.CharField(help_text="The version number the samples are for.")
    next = serializers.URLField(allow_null=True, help_text="The next page; null on the last.")
    results = SampleSerializer(many=True)


class ClauseEvidenceViewSet(viewsets.ViewSet):
    """`/api/v1/clause-evidence/?policy=…&key=…`: one clause across versions and runs, and
    `samples/` behind it."""

    @extend_schema(
        summary="One clause's evidence: per version, its mappings and every run's figures",
        description="Clause `key` of `policy` in each published, superseded or withdrawn "
        "version that has it (newest first): the mappings bringing benchmark categories to it, "
        "and every complete run of a mapped benchmark on a system the policy covers, with its "
        "figures and verdict as in the conformance matrix. Public; 400 for an unknown policy "
        "or a key no such version has.",
        parameters=[
            OpenApiParameter("policy", int, required=True),
            OpenApiParameter("key", str, required=True),
        ],
        responses=docs.ClauseEvidenceSerializer,
        operation_id="clause_evidence_retrieve",
        examples=[
            OpenApiExample(
                "Conventional weapons", value=docs.CLAUSE_EVIDENCE_EXAMPLE, response_only=True
            )
        ],
        tags=TAGS,
    )
    def list(self, request):
        query = ClauseQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        policy, evidence = _clause_evidence(query)
        return Response(
            {
                "policy": policy.pk,
                "key": query.validated_data["key"],
                "classifier_error": _classifier_json()
                if any(item.uses_classifier for item in evidence)
                else None,
                "versions": [
                    {
                        "version": item.version.pk,
                        "number": item.version.number,
                        "status": item.version.status,
                        "title": item.clause.title,
                        "expected_behavior": item.clause.expected_behavior,
                        "mappings": [
                            {
                                "id": m.pk,
                                "benchmark": m.benchmark,
                                "category": m.category,
                                "created_by": m.created_by.public_name if m.created_by else None,
                                "created_at": m.created_at,
                            }
                            for m in item.mappings
                        ],
                        "runs": [
                            {**_run_ref(f.run), "categories": f.categories, **_cell_json(f.cell)}
                            for f in item.runs
                        ],
                    }
                    for item in evidence
                ],
            }
        )

    @extend_schema(
        summary="The samples behind a clause in one version (withheld texts as for the run)",
        description="The samples of the runs counted for the clause in one version (`version`, "
        "a number such as 2.0.0; default: the newest with runs), in the categories mapped to "
        "it, optionally of one `run` or `label`, 50 at a time in id order: follow `next`. "
        "Withheld texts are null except for those who may read them, as in a run's samples. "
        "Public; 400 for an unknown policy, key or version, or an `after` that is not an id.",
        parameters=[
            OpenApiParameter("policy", int, required=True),
            OpenApiParameter("key", str, required=True),
            OpenApiParameter("version", str),
            OpenApiParameter("run", int),
            OpenApiParameter("label", str, enum=EvaluationSample.Label.values),
            OpenApiParameter("after", int, description="The last sample id of the page before."),
        ],
        responses=ClauseSamplesPageSerializer,
        operation_id="clause_evidence_samples_list",
        examples=[OpenApiExample("Page", value=docs.CLAUSE_SAMPLES_EXAMPLE, response_only=True)],
        tags=TAGS,
    )
    @action(detail=False, methods=["get"])
    def samples(self, request):
        query = ClauseSamplesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        _policy, evidence = _clause_evidence(query)
        current = next((e for e in evidence if e.version.number == data["version"]), None)
        if data["version"] and current is None:
            raise serializers.ValidationError({"version": ["No such version with this clause."]})
        current = current or next((e for e in evidence if e.runs), evidence[0])
        after = request.query_params.get("after", "")
        try:
            after = int(after) if after else None
        except ValueError:
            raise serializers.ValidationError({"after": ["A sample id."]}) from None
        samples, next_after = selectors.clause_samples(
            current, run=data["run"], label=data["label"], after=after
        )
        runs = {f.run.pk: f.run for f in current.runs}
        shows = selectors.shows_withheld_by_run(request.user, runs.values())
        results = []
        for sample in samples:
            sample.run = runs[sample.run_id]
            context = {"shows_withheld": shows.get(sample.run_id, False)}
            body = SampleSerializer(sample, context=context).data
            results.append(body)
        next_url = None
        if next_after is not None:
            params = request.query_params.copy()
            params["after"] = str(next_after)
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response({"version": current.version.number, "next": next_url, "results": results})
