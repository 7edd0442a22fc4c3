"""`/api/v1/evaluation-runs/` (upload with multipart, list, read, its samples) and
`/api/v1/evaluation-samples/{id}/relabel/`."""

from __future__ import annotations

import django_filters
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from audits import selectors, services
from audits.models import CategoryMapping, EvaluationRun, EvaluationSample
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
            "sample_count", "label_counts", "uploaded_at", "finished_at", "url", "samples_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_progress(self, run) -> float:
        return services.run_progress(run)

    def get_url(self, run) -> str:
        return reverse("audits:run", args=[run.pk])

    def get_samples_url(self, run) -> str:
        return reverse("evaluation-run-samples", kwargs={"pk": run.pk})


class RunCreateSerializer(serializers.Serializer):
    organization = serializers.SlugRelatedField(
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


@extend_schema_view(
    list=extend_schema(summary="Evaluation runs (filter by organization, system, …)", tags=TAGS),
    retrieve=extend_schema(summary="One evaluation run, with its status and counts", tags=TAGS),
)
class EvaluationRunViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = RunSerializer
    filterset_class = RunFilter
    required_scopes = WRITES
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        return EvaluationRun.objects.select_related("organization", "system__organization")

    @extend_schema(
        summary="Upload a result file (multipart); its ingestion is queued",
        request={"multipart/form-data": RunCreateSerializer},
        responses={201: RunSerializer},
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
        summary="The run's samples (filters: category, label, label_source, should_refuse)",
        responses=SampleSerializer(many=True),
        tags=TAGS,
    )
    @action(detail=True, methods=["get"])
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
        summary="Conformance of this run with a policy version, clause by clause",
        parameters=[OpenApiParameter("version", int, required=True)],
        responses=OpenApiTypes.OBJECT,
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
        parameters=[OpenApiParameter("a", int, required=True),
                    OpenApiParameter("b", int, required=True)],
        responses=OpenApiTypes.OBJECT,
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
        request=RelabelSerializer,
        responses=SampleSerializer,
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
    list=extend_schema(summary="Benchmark categories mapped to clauses", tags=TAGS),
    retrieve=extend_schema(summary="One category mapping", tags=TAGS),
    destroy=extend_schema(summary="Remove a mapping (on the ledger)", tags=TAGS),
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
        request=MappingCreateSerializer,
        responses={201: MappingSerializer},
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
        summary="Carry the mappings of the latest earlier version forward, by clause key",
        request=CarryForwardSerializer,
        responses={200: OpenApiTypes.OBJECT},
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
