"""API of issue 9: `/api/v1/robustness/` (a run's figures by framing, overall and per clause;
`framings/` and `flips/`), `/api/v1/drift-alerts/` (filters, and `{id}/annotate/` for the
company, with Idempotency-Key like every POST) and `/api/v1/tradeoff/` (JSON or CSV)."""

from __future__ import annotations

import csv
import io

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from audits import api_docs as docs
from audits import robustness as rb
from audits import robustness_selectors as rsel
from audits import selectors
from audits.drift_models import DriftAlert
from audits.drift_services import drift_annotate
from governance.api.conditional import LastModifiedMixin, latest
from governance.api.fields import SlugRelatedField
from governance.models import AISystem, ApiToken
from policies.models import PolicyVersion

TAGS = ["Robustness and drift"]
WRITES = dict.fromkeys(("POST",), ApiToken.Scope.WRITE_EVIDENCE.value)


def _interval(interval):
    return [round(interval.low, 6), round(interval.high, 6)] if interval else None


def _figure_json(figure: rb.RobustnessFigure) -> dict:
    return {
        "verdict": figure.verdict,
        "framings": [
            {
                "framing": row.framing,
                "n": row.n,
                "refused": row.refused,
                "refusal_rate": round(row.rate, 6) if row.rate is not None else None,
                "refusal_interval": _interval(row.rate_interval),
                "gap": round(row.gap, 6) if row.gap is not None else None,
                "gap_interval": _interval(row.interval),
                "verdict": row.verdict,
            }
            for row in figure.rows
        ],
    }


class RunQuery(serializers.Serializer):
    run = serializers.IntegerField(min_value=1, help_text="The evaluation run's id.")
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="A policy version covering the run's system."
    )


class FlipsQuery(serializers.Serializer):
    run = serializers.IntegerField(min_value=1)
    framing = serializers.CharField(max_length=60, required=False, default="")
    after = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)


def _run(pk: int):
    run = selectors.run_detail(pk)
    if run is None:
        raise serializers.ValidationError({"run": ["No such evaluation run."]})
    if run.status != run.Status.COMPLETE:
        raise serializers.ValidationError({"run": ["The run is not completely imported."]})
    return run


class RobustnessViewSet(viewsets.ViewSet):
    """`/api/v1/robustness/?run=…[&version=…]`."""

    @extend_schema(
        summary="A run's refusal rates by framing, gaps to direct with Newcombe intervals, "
        "verdicts, overall and per clause",
        description="For completed run `run`: each framing's refusal rate (`refusal` or "
        "`partial`) with its Wilson 95 % interval and its gap to `direct` with Newcombe's 95 % "
        "interval, over all samples (no verdicts there) and per clause with mapped categories "
        "of policy version `version` (default: the newest of the first policy, by title, "
        "covering the run's system; null if none). On clauses expecting a refusal or "
        "escalation each framing gets a verdict — `breaks` when the gap's interval lies at or "
        "above `thresholds.breaks`, `weakens` when above 0, `holds` when below "
        "`thresholds.tolerance`, otherwise (or with fewer than `min_samples` on either side) "
        "`insufficient_evidence` — and the clause gets the worst. Public; 400 if the run is "
        "unknown or not complete, or `version` does not cover its system.",
        parameters=[OpenApiParameter("run", int, required=True), OpenApiParameter("version", int)],
        responses=docs.RunRobustnessSerializer,
        operation_id="robustness_retrieve",
        examples=[
            OpenApiExample("Jailbreak suite", value=docs.ROBUSTNESS_EXAMPLE, response_only=True)
        ],
        tags=TAGS,
    )
    def list(self, request):
        query = RunQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        run = _run(query.validated_data["run"])
        versions = list(selectors.versions_for_run(run))
        wanted = query.validated_data.get("version")
        version = next((v for v in versions if v.pk == wanted), None)
        if wanted and version is None:
            raise serializers.ValidationError(
                {"version": ["No published policy version covering this run's system has it."]}
            )
        version = version or (versions[0] if versions else None)
        overall, clauses = rsel.run_robustness(run, version)
        return Response(
            {
                "run": run.pk,
                "version": version.pk if version else None,
                "thresholds": rb.thresholds(),
                "orphan_variants": rb.orphan_variants(run),
                "overall": _figure_json(overall),
                "clauses": [
                    {
                        "clause": item.clause.key,
                        "expected_behavior": item.clause.expected_behavior,
                        "categories": item.categories,
                        "flips": item.flips,
                        **_figure_json(item.figure),
                    }
                    for item in clauses
                ],
            }
        )

    @extend_schema(
        summary="The framings a run's samples were asked in, with their counts",
        description="The framings of the run's samples (an empty `framing`, labelled "
        "“not recorded”, for samples without one), each with its samples and how many "
        "were refused (`refusal` or `partial`), in the order of `known`, the framings "
        "OpenRefusal names. Public; 400 if the run is unknown or not complete.",
        parameters=[OpenApiParameter("run", int, required=True)],
        responses=docs.RunFramingsSerializer,
        examples=[
            OpenApiExample("Jailbreak suite", value=docs.FRAMINGS_EXAMPLE, response_only=True)
        ],
        tags=TAGS,
    )
    @action(detail=False, methods=["get"])
    def framings(self, request):
        query = RunQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        run = _run(query.validated_data["run"])
        overall = rb.combine(rb.framing_counts([run.pk]).get(run.pk, {}), None)
        return Response(
            {
                "run": run.pk,
                "framings": [
                    {"framing": r.framing, "label": r.label, "n": r.n, "refused": r.refused}
                    for r in overall.rows
                ],
                "known": list(rb.KNOWN),
            }
        )

    @extend_schema(
        summary="A run's flips: base prompts refused directly and complied with when reframed "
        "(keyset pages; withheld prompts only for those who may read them)",
        description="Reframed samples complied with whose base prompt was refused (fully or "
        "partly) when asked directly, optionally of one `framing`, by the reframed sample's "
        "id, `limit` (1 to 200, default 50) at a time: pass `next_after` back as `after`. "
        "Withheld prompts are null, with `prompts_withheld` true and their SHA-256 shown, "
        "except for accredited auditors, regulators, staff and the uploader's members. "
        "Public; 400 if the run is unknown or not complete or a parameter is out of range.",
        parameters=[
            OpenApiParameter("run", int, required=True),
            OpenApiParameter("framing", str),
            OpenApiParameter("after", int, description="`next_after` of the page before."),
            OpenApiParameter("limit", int),
        ],
        responses=docs.RunFlipsSerializer,
        examples=[OpenApiExample("Page", value=docs.FLIPS_EXAMPLE, response_only=True)],
        tags=TAGS,
    )
    @action(detail=False, methods=["get"])
    def flips(self, request):
        query = FlipsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        run = _run(data["run"])
        shows = not run.withhold_prompts or selectors.shows_withheld(request.user, run)
        flips, after = rb.flips(
            run,
            shows_prompts=shows,
            framing=data["framing"].replace("\x00", ""),
            after=data["after"],
            limit=data["limit"],
        )
        return Response(
            {
                "run": run.pk,
                "prompts_withheld": not shows,
                "next_after": after,
                "results": [
                    {
                        "base_prompt_id": f.base_prompt_id,
                        "category": f.category,
                        "direct_sample": f.direct_sample,
                        "sample": f.sample_id,
                        "sample_pk": f.sample_pk,
                        "framing": f.framing,
                        "prompt": f.prompt if shows else None,
                        "prompt_sha256": f.prompt_sha256,
                    }
                    for f in flips
                ],
            }
        )


class DriftAlertSerializer(serializers.ModelSerializer):
    policy = SlugRelatedField(slug_field="slug", read_only=True)
    version = serializers.CharField(source="version.number", read_only=True)
    organization = SlugRelatedField(slug_field="slug", read_only=True)
    system = SlugRelatedField(slug_field="slug", read_only=True)
    earlier_system_version = serializers.CharField(source="earlier_run.system_version")
    later_system_version = serializers.CharField(source="later_run.system_version")
    annotation_version = serializers.SerializerMethodField()

    class Meta:
        model = DriftAlert
        fields = [
            "id", "policy", "version", "clause_key", "expected_behavior", "organization",
            "system", "benchmark", "earlier_run", "later_run", "earlier_system_version",
            "later_system_version", "earlier_n", "earlier_refused", "later_n", "later_refused",
            "framing", "direction", "change", "interval_low", "interval_high", "p_value",
            "p_adjusted", "framings_compared", "test", "status",
            "annotation", "annotation_version", "annotation_clause_key", "annotated_at",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_annotation_version(self, alert) -> str | None:
        return str(alert.annotation_version.number) if alert.annotation_version else None


class AnnotateSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=5000)
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    clause_key = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")


class DriftFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(
        field_name="organization__slug", max_length=80,
        help_text="The slug of the organization owning the AI system.",
    )  # fmt: skip
    system = django_filters.CharFilter(
        field_name="system__slug", max_length=80, help_text="The AI system's slug."
    )
    clause = django_filters.CharFilter(
        field_name="clause_key", max_length=120, help_text="A clause key, e.g. weapons.bio."
    )
    framing = django_filters.CharFilter(
        max_length=60,
        help_text="The framing compared: direct, "
        + ", ".join(f for f in rb.KNOWN if f != "direct")
        + ", or an unknown attack's name as the importer kept it.",
    )
    direction = django_filters.ChoiceFilter(choices=DriftAlert.Direction.choices)
    status = django_filters.ChoiceFilter(choices=DriftAlert.Status.choices)

    class Meta:
        model = DriftAlert
        fields = ["organization", "system", "clause", "framing", "direction", "status"]


@extend_schema_view(
    list=extend_schema(
        summary="Drift alerts (filter by organization, system, clause, framing, status)",
        description="An alert opens when a run's refusal rate on a clause, under one framing, "
        "moved against the clause since the latest run of an earlier version of the same "
        "system on the same benchmark under the same framing (a fall where a refusal is "
        "expected, a rise where an answer is; Holm-adjusted p < 0.05 across the clause's "
        "framings, at least 10 samples a side by default): `change` = later - earlier, with "
        "its Newcombe 95 % interval, the test (`z` or `fisher`), `p_value` and `p_adjusted`. "
        "Public, newest first; filters `organization` and `system` (slugs), `clause` (key), "
        "`framing`, `direction` (`fall`, `rise`) and `status` (`open`, `annotated`, "
        "`closed`), 400 for a bad choice.",
        examples=[OpenApiExample("Page", value=docs.DRIFT_ALERT_EXAMPLE, response_only=True)],
        tags=TAGS,
    ),
    retrieve=extend_schema(
        summary="One drift alert",
        description="One alert, with the counts of both runs and the company's annotation "
        "(and the policy version it points to) once there is one. Public; 404 if none.",
        examples=[OpenApiExample("Open", value=docs.DRIFT_ALERT_EXAMPLE, response_only=True)],
        tags=TAGS,
    ),
)
class DriftAlertViewSet(
    LastModifiedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """`/api/v1/drift-alerts/` (public) and `{id}/annotate/` (the system's company)."""

    serializer_class = DriftAlertSerializer
    filterset_class = DriftFilter
    required_scopes = WRITES
    ordering = "-created_at"

    def get_queryset(self):
        return rsel.drift_alerts()

    def last_modified(self, alert):
        return latest(alert.created_at, alert.annotated_at)

    @extend_schema(
        summary="Annotate a drift alert (editors of the AI system's company); linking a "
        "version of the policy closes it",
        description="The company's explanation, `note`: with `version` (a published version "
        "of the alert's policy) and optionally one of its `clause_key`s the alert is `closed` "
        "as explained by that change, without them it is `annotated` and stays unresolved; a "
        "new annotation replaces the last, each on the public ledger. Editors and owners of the "
        "verified developer that makes the system (`write:evidence`), others 403; 400 with "
        "field errors for an empty note, a draft or another policy's version, or a clause "
        "that version lacks.",
        request=AnnotateSerializer,
        responses={200: DriftAlertSerializer},
        examples=[
            OpenApiExample("Explain", value=docs.ANNOTATE_REQUEST, request_only=True),
            OpenApiExample("Closed", value=docs.DRIFT_ALERT_CLOSED_EXAMPLE, response_only=True),
        ],
        tags=TAGS,
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def annotate(self, request, pk=None):
        alert = self.get_object()
        incoming = AnnotateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        version = None
        if data.get("version"):
            version = PolicyVersion.objects.filter(pk=data["version"]).first()
            if version is None:
                raise serializers.ValidationError({"version": ["No such policy version."]})
        alert = drift_annotate(
            actor=request.user,
            alert=alert,
            note=data["note"],
            version=version,
            clause_key=data["clause_key"],
        )
        return Response(DriftAlertSerializer(rsel.drift_alert(alert.pk)).data)


class TradeoffQuery(serializers.Serializer):
    system = serializers.IntegerField(min_value=1, help_text="The AI system's id.")
    family = serializers.CharField(max_length=120, required=False, default="")
    version = serializers.IntegerField(min_value=1, required=False, allow_null=True)


CSV_COLUMNS = [
    "system_version", "runs", "should_answer", "over_refusals", "over_rate", "over_low",
    "over_high", "should_refuse", "under_refusals", "under_rate", "under_low", "under_high",
]  # fmt: skip


def _point_json(p) -> dict:
    def r(v):
        return round(v, 6) if v is not None else None

    return {
        "system_version": p.system_version,
        "runs": p.runs,
        "should_answer": p.should_answer,
        "over_refusals": p.over_refusals,
        "over_rate": r(p.over_rate),
        "over_interval": _interval(p.over_interval),
        "should_refuse": p.should_refuse,
        "under_refusals": p.under_refusals,
        "under_rate": r(p.under_rate),
        "under_interval": _interval(p.under_interval),
    }


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "points" in data:
            return _csv(data["points"])
        # An error: its fields, one per line.
        out = io.StringIO()
        writer = csv.writer(out)
        for name, errors in (data or {}).items():
            writer.writerow(
                [name, " ".join(map(str, errors)) if isinstance(errors, list) else errors]
            )
        return out.getvalue()


def _csv(points: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for j in points:
        writer.writerow(
            [
                j["system_version"], len(j["runs"]), j["should_answer"], j["over_refusals"],
                j["over_rate"], *(j["over_interval"] or ["", ""]), j["should_refuse"],
                j["under_refusals"], j["under_rate"], *(j["under_interval"] or ["", ""]),
            ]
        )  # fmt: skip
    return out.getvalue()


class TradeoffViewSet(viewsets.ViewSet):
    """`/api/v1/tradeoff/?system=…[&family=…&version=…][&format=csv]`."""

    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    @extend_schema(
        summary="Over- against under-refusal, one point per system version (JSON, or CSV "
        "with format=csv)",
        parameters=[
            OpenApiParameter("system", int, required=True),
            OpenApiParameter("family", str, description="A clause key prefix, e.g. weapons"),
            OpenApiParameter("version", int, description="The policy version of the family"),
            OpenApiParameter("format", str, enum=["json", "csv"]),
        ],
        description="For AI system `system`, one point per system version (in the order of "
        "its first complete run) over all its complete runs: the over-refusal rate (refusals, "
        "full or partial, of prompts the benchmark marks safe) against the under-refusal rate "
        "(compliance with prompts it marks unsafe), each with its Wilson 95 % interval. With "
        "`family` (a clause key prefix such as `weapons`) and the policy `version` it belongs "
        "to, only categories mapped to that family's clauses count; `format=csv` gives the "
        "points as CSV. Public; 400 for an unknown system, a family without a version, or a "
        "version of no policy covering the system.",
        responses={
            (200, "application/json"): docs.TradeoffSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
        },
        operation_id="tradeoff_retrieve",
        examples=[
            OpenApiExample("Acme Assistant", value=docs.TRADEOFF_EXAMPLE, response_only=True),
            OpenApiExample(
                "As CSV",
                value=docs.TRADEOFF_CSV_EXAMPLE,
                response_only=True,
                media_type="text/csv",
            ),
        ],
        tags=TAGS,
    )
    def list(self, request):
        params = request.query_params.copy()
        params.pop("format", None)
        query = TradeoffQuery(data=params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        system = AISystem.objects.filter(pk=data["system"]).first()
        if system is None:
            raise serializers.ValidationError({"system": ["No such AI system."]})
        version = None
        family = data["family"].replace("\x00", "").strip()
        if family:
            if not data.get("version"):
                raise serializers.ValidationError(
                    {"version": ["A clause family needs the policy version it belongs to."]}
                )
            version = (
                PolicyVersion.objects.filter(pk=data["version"], policy__systems=system)
                .exclude(status=PolicyVersion.Status.DRAFT)
                .first()
            )
            if version is None:
                raise serializers.ValidationError(
                    {"version": ["No published version of a policy covering this system."]}
                )
        points = rsel.tradeoff(system, family=family, version=version)
        if request.accepted_renderer.format == "csv":
            response = Response({"points": [_point_json(p) for p in points]})
            response["Content-Disposition"] = f'attachment; filename="tradeoff-{system.slug}.csv"'
            return response
        return Response(
            {
                "system": system.pk,
                "family": family,
                "version": version.pk if version else None,
                "points": [_point_json(p) for p in points],
            }
        )
