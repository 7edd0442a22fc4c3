"""`/api/v1/audit-reports/`, `/api/v1/findings/` and `/api/v1/scorecards/{company}/`.

Auditors file reports and findings from their own tooling (with `Idempotency-Key`); companies
respond and answer findings; regulators list embargoed reports. Each reader sees what
`audits.view_report` lets them see; everything else is a 404.
"""

from __future__ import annotations

import django_filters
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from audits import report_selectors as selectors
from audits import report_services as services
from audits.models import AuditReport, EvaluationRun, Finding, ReportAttachment
from governance.api_auth import token_scopes
from governance.models import AISystem, ApiToken, Organization
from policies.models import PolicyVersion

WRITE_AUDITS = ApiToken.Scope.WRITE_AUDITS.value
WRITES = dict.fromkeys(("POST", "PUT", "PATCH", "DELETE"), WRITE_AUDITS)
TAGS = ["Audits"]


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ReportAttachment
        fields = ["id", "name", "size", "sha256", "uploaded_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, attachment) -> str:
        return reverse("reports:attachment", args=[attachment.pk])


class FindingSerializer(serializers.ModelSerializer):
    report = serializers.PrimaryKeyRelatedField(read_only=True)
    clause = serializers.CharField(source="clause_key", read_only=True)
    runs = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    samples = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = [
            "id", "report", "number", "title", "version", "clause", "severity", "criterion",
            "observed", "recommendation", "target_date", "runs", "samples", "withhold_samples",
            "conformance", "status", "overdue", "company_response", "acknowledged_at",
            "remediated_at", "disputed_at", "remediated_version", "remediated_run",
            "created_at", "url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_samples(self, finding) -> list[dict]:
        shows = self.context.get("shows_withheld", {}).get(finding.report_id, False)
        out = []
        for sample in finding.samples.all():
            run = sample.run
            hide_prompt = (finding.withhold_samples or run.withhold_prompts) and not shows
            hide_response = (finding.withhold_samples or run.withhold_responses) and not shows
            out.append(
                {
                    "id": sample.pk,
                    "run": sample.run_id,
                    "sample_id": sample.sample_id,
                    "label": sample.label,
                    "prompt": None if hide_prompt else sample.prompt,
                    "response": None if hide_response else sample.response,
                    "prompt_sha256": sample.prompt_sha256,
                    "response_sha256": sample.response_sha256,
                }
            )
        return out

    def get_overdue(self, finding) -> bool:
        return selectors.is_overdue(finding)

    def get_url(self, finding) -> str:
        return reverse("reports:finding", args=[finding.pk])


class ReportSerializer(serializers.ModelSerializer):
    auditor = serializers.CharField(source="auditor.slug", read_only=True)
    audited = serializers.CharField(source="audited.slug", read_only=True)
    versions = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    systems = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    runs = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    findings = serializers.SerializerMethodField()
    declaration = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = AuditReport
        fields = [
            "id", "title", "auditor", "audited", "status", "opinion", "period_start",
            "period_end", "versions", "systems", "system_versions", "runs", "summary",
            "methodology", "declaration", "embargo_days", "submitted_at", "notified_at",
            "embargo_until", "published_at", "content_sha256", "company_response",
            "company_responded_at", "attachments", "findings", "created_at", "updated_at", "url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_findings(self, report) -> list[int]:
        return [finding.pk for finding in report.findings.all()]

    def get_declaration(self, report) -> dict | None:
        if report.declared_at is None:
            return None
        return {
            "no_non_audit_work_12_months": report.declares_no_non_audit_work,
            "no_contingent_fee": report.declares_no_contingent_fee,
            "relationships_disclosed": report.relationships_disclosed,
            "declared_at": report.declared_at,
        }

    def get_url(self, report) -> str:
        return reverse("reports:detail", args=[report.pk])


class ReportWriteSerializer(serializers.Serializer):
    auditor = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Organization.objects.filter(kind=Organization.Kind.AUDITOR),
        help_text="Your accredited auditor organization's slug.",
    )
    audited = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Organization.objects.filter(kind=Organization.Kind.DEVELOPER),
        help_text="The audited company's slug.",
    )
    title = serializers.CharField(max_length=200)
    versions = serializers.PrimaryKeyRelatedField(
        many=True, queryset=PolicyVersion.objects.select_related("policy")
    )
    systems = serializers.SlugRelatedField(
        many=True, slug_field="slug", queryset=AISystem.objects.all(), required=False
    )
    system_versions = serializers.ListField(
        child=serializers.CharField(max_length=120), required=False, max_length=50
    )
    runs = serializers.PrimaryKeyRelatedField(
        many=True, queryset=EvaluationRun.objects.select_related("system"), required=False
    )
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    methodology = serializers.CharField(max_length=50_000)
    summary = serializers.CharField(max_length=20_000)
    opinion = serializers.ChoiceField(choices=AuditReport.Opinion.choices)
    embargo_days = serializers.IntegerField(required=False)


class ReportUpdateSerializer(ReportWriteSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("auditor", "audited"):
            self.fields.pop(name)
        for field in self.fields.values():
            field.required = False


class SubmitSerializer(serializers.Serializer):
    declares_no_non_audit_work = serializers.BooleanField(
        help_text="No paid non-audit work for the audited company in the last 12 months."
    )
    declares_no_contingent_fee = serializers.BooleanField(
        help_text="The fee does not depend on the audit's outcome."
    )
    relationships_disclosed = serializers.CharField(
        max_length=5000, help_text="Every relationship with the audited company, or “None”."
    )
    embargo_days = serializers.IntegerField(required=False)


class EmbargoSerializer(serializers.Serializer):
    embargo_until = serializers.DateTimeField()
    reason = serializers.CharField(max_length=2000)


class ResponseSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=20_000)


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A PDF.")


class FindingCreateSerializer(serializers.Serializer):
    report = serializers.IntegerField()
    title = serializers.CharField(max_length=200)
    version = serializers.IntegerField(help_text="A policy version in the report's scope.")
    clause = serializers.CharField(max_length=120, help_text="The clause key.")
    severity = serializers.ChoiceField(choices=Finding.Severity.choices)
    criterion = serializers.CharField(max_length=5000)
    observed = serializers.CharField(max_length=20_000)
    recommendation = serializers.CharField(max_length=10_000)
    target_date = serializers.DateField()
    runs = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=50)
    sample_ids = serializers.ListField(
        child=serializers.CharField(max_length=300),
        required=False,
        max_length=200,
        help_text="The harness's sample ids within the cited runs.",
    )
    withhold_samples = serializers.BooleanField(required=False, default=False)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=10_000, required=False, allow_blank=True)


class RemediateSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=10_000)
    version = serializers.PrimaryKeyRelatedField(
        queryset=PolicyVersion.objects.select_related("policy"), required=False, allow_null=True
    )
    run = serializers.PrimaryKeyRelatedField(
        queryset=EvaluationRun.objects.select_related("system"), required=False, allow_null=True
    )


class DisputeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=10_000)


class ReportFilter(django_filters.FilterSet):
    company = django_filters.CharFilter(field_name="audited__slug", max_length=80)
    auditor = django_filters.CharFilter(field_name="auditor__slug", max_length=80)
    opinion = django_filters.ChoiceFilter(choices=AuditReport.Opinion.choices)
    status = django_filters.ChoiceFilter(choices=AuditReport.Status.choices)

    class Meta:
        model = AuditReport
        fields = ["company", "auditor", "opinion", "status"]


class FindingFilter(django_filters.FilterSet):
    report = django_filters.NumberFilter()
    company = django_filters.CharFilter(field_name="report__audited__slug", max_length=80)
    clause = django_filters.CharFilter(field_name="clause_key", max_length=120)
    severity = django_filters.ChoiceFilter(choices=Finding.Severity.choices)
    status = django_filters.ChoiceFilter(choices=Finding.Status.choices)

    class Meta:
        model = Finding
        fields = ["report", "company", "clause", "severity", "status"]


def _report_out(request, report: AuditReport, code=status.HTTP_200_OK) -> Response:
    report = selectors.report_detail(request.user, report.pk) or report
    headers = {}
    if code == status.HTTP_201_CREATED:
        headers["Location"] = reverse("audit-report-detail", kwargs={"pk": report.pk})
    return Response(ReportSerializer(report).data, status=code, headers=headers)


@extend_schema_view(
    list=extend_schema(
        summary="Audit reports you may see (published; embargoed for regulators and the parties)",
        tags=TAGS,
    ),
    retrieve=extend_schema(summary="One audit report", tags=TAGS),
    destroy=extend_schema(summary="Delete a draft report (its auditor)", tags=TAGS),
)
class AuditReportViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ReportSerializer
    filterset_class = ReportFilter
    required_scopes = WRITES
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        return (
            AuditReport.objects.filter(
                selectors.visible_reports_filter(
                    self.request.user, token_scopes=token_scopes(self.request)
                )
            )
            .select_related("auditor", "audited")
            .prefetch_related("versions", "systems", "runs", "attachments", "findings")
            .order_by("-id")
        )

    @extend_schema(
        summary="Start a draft report (members of an accredited auditor)",
        request=ReportWriteSerializer,
        responses={201: ReportSerializer},
        tags=TAGS,
    )
    def create(self, request):
        incoming = ReportWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        report = services.report_create(actor=request.user, **incoming.validated_data)
        return _report_out(request, report, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a draft report", request=ReportUpdateSerializer, responses=ReportSerializer,
        tags=TAGS,
    )  # fmt: skip
    def partial_update(self, request, pk=None):
        report = self.get_object()
        incoming = ReportUpdateSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        report = services.report_update(
            actor=request.user, report=report, **incoming.validated_data
        )
        return _report_out(request, report)

    def perform_destroy(self, instance):
        services.report_draft_delete(actor=self.request.user, report=instance)

    @extend_schema(
        summary="Submit with the independence declaration (the company is then notified)",
        request=SubmitSerializer,
        responses=ReportSerializer,
        tags=TAGS,
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        report = self.get_object()
        incoming = SubmitSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        report = services.report_submit(
            actor=request.user, report=report, **incoming.validated_data
        )
        return _report_out(request, report)

    @extend_schema(
        summary="Shorten or extend the embargo, with a public reason (the auditor)",
        request=EmbargoSerializer,
        responses=ReportSerializer,
        tags=TAGS,
    )
    @action(detail=True, methods=["post"])
    def embargo(self, request, pk=None):
        report = self.get_object()
        incoming = EmbargoSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        report = services.report_set_embargo(
            actor=request.user,
            report=report,
            until=incoming.validated_data["embargo_until"],
            reason=incoming.validated_data["reason"],
        )
        return _report_out(request, report)

    @extend_schema(
        summary="Publish before the embargo ends, after the company's response (the auditor)",
        request=None,
        responses=ReportSerializer,
        tags=TAGS,
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        report = services.report_publish(actor=request.user, report=self.get_object())
        return _report_out(request, report)

    @extend_schema(
        summary="The audited company's response (private until publication)",
        request=ResponseSerializer,
        responses=ReportSerializer,
        tags=TAGS,
    )
    @action(detail=True, methods=["post"])
    def respond(self, request, pk=None):
        report = self.get_object()
        incoming = ResponseSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        report = services.report_respond(
            actor=request.user, report=report, body=incoming.validated_data["body"]
        )
        return _report_out(request, report)

    @extend_schema(
        summary="Attach a PDF to a draft report (multipart)",
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
        tags=TAGS,
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def attachments(self, request, pk=None):
        report = self.get_object()
        incoming = AttachmentUploadSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        attachment = services.attachment_add(
            actor=request.user, report=report, upload=incoming.validated_data["file"]
        )
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Remove a PDF from a draft report (its auditor)",
        request=None,
        responses={204: None},
        tags=TAGS,
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"attachments/(?P<attachment_id>[0-9]+)",
        url_name="attachment",
    )
    def remove_attachment(self, request, pk=None, attachment_id=None):
        report = self.get_object()
        attachment = report.attachments.filter(pk=attachment_id).first()
        if attachment is None:
            raise NotFound("No such attachment on this report.")
        services.attachment_remove(actor=request.user, attachment=attachment)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _shows_withheld(request, findings) -> dict[int, bool]:
    reports = {finding.report_id: finding.report for finding in findings}
    return {pk: selectors.shows_withheld_samples(request.user, r) for pk, r in reports.items()}


@extend_schema_view(
    list=extend_schema(summary="Findings you may see (filter by report, company, clause…)",
                       tags=TAGS),
    retrieve=extend_schema(summary="One finding", tags=TAGS),
    destroy=extend_schema(summary="Remove a finding from a draft report (its auditor)", tags=TAGS),
)  # fmt: skip
class FindingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = FindingSerializer
    filterset_class = FindingFilter
    required_scopes = WRITES

    def get_queryset(self):
        return (
            Finding.objects.filter(
                report__in=AuditReport.objects.filter(
                    selectors.visible_reports_filter(
                        self.request.user, token_scopes=token_scopes(self.request)
                    )
                )
            )
            .select_related("report__auditor", "report__audited")
            .prefetch_related("runs", "samples__run")
            .order_by("-id")
        )

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        context = {"shows_withheld": _shows_withheld(request, page)}
        return self.get_paginated_response(FindingSerializer(page, many=True, context=context).data)

    def retrieve(self, request, *args, **kwargs):
        finding = self.get_object()
        context = {"shows_withheld": _shows_withheld(request, [finding])}
        return Response(FindingSerializer(finding, context=context).data)

    def _out(self, request, finding, code=status.HTTP_200_OK) -> Response:
        finding = self.get_queryset().get(pk=finding.pk)
        context = {"shows_withheld": _shows_withheld(request, [finding])}
        return Response(FindingSerializer(finding, context=context).data, status=code)

    @extend_schema(
        summary="Add a finding to a draft report (its auditor)",
        request=FindingCreateSerializer,
        responses={201: FindingSerializer},
        tags=TAGS,
    )
    def create(self, request):
        incoming = FindingCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        report = selectors.report_detail(request.user, data["report"])
        if report is None:
            raise serializers.ValidationError({"report": ["No such report you can see."]})
        version = PolicyVersion.objects.filter(pk=data["version"]).first()
        if version is None:
            raise serializers.ValidationError({"version": ["No such policy version."]})
        run_ids = list(dict.fromkeys(data.get("runs", [])))
        runs = list(EvaluationRun.objects.filter(pk__in=run_ids))
        if len(runs) != len(run_ids):
            raise serializers.ValidationError({"runs": ["No such evaluation run."]})
        finding = services.finding_add(
            actor=request.user,
            report=report,
            title=data["title"],
            version=version,
            clause_key=data["clause"],
            severity=data["severity"],
            criterion=data["criterion"],
            observed=data["observed"],
            recommendation=data["recommendation"],
            target_date=data["target_date"],
            runs=runs,
            sample_ids=data.get("sample_ids", []),
            withhold_samples=data["withhold_samples"],
        )
        return self._out(request, finding, status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.finding_remove(actor=self.request.user, finding=instance)

    @extend_schema(summary="Acknowledge a finding (the audited company)", request=NoteSerializer,
                   responses=FindingSerializer, tags=TAGS)  # fmt: skip
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        incoming = NoteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        finding = services.finding_acknowledge(
            actor=request.user,
            finding=self.get_object(),
            note=incoming.validated_data.get("note", ""),
        )
        return self._out(request, finding)

    @extend_schema(
        summary="Mark remediated, with the later version and/or run that shows the fix",
        request=RemediateSerializer,
        responses=FindingSerializer,
        tags=TAGS,
    )
    @action(detail=True, methods=["post"])
    def remediate(self, request, pk=None):
        incoming = RemediateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        finding = services.finding_remediate(
            actor=request.user,
            finding=self.get_object(),
            note=data["note"],
            version=data.get("version"),
            run=data.get("run"),
        )
        return self._out(request, finding)

    @extend_schema(summary="Dispute a finding, with a public reason (the audited company)",
                   request=DisputeSerializer, responses=FindingSerializer, tags=TAGS)  # fmt: skip
    @action(detail=True, methods=["post"])
    def dispute(self, request, pk=None):
        incoming = DisputeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        finding = services.finding_dispute(
            actor=request.user, finding=self.get_object(), reason=incoming.validated_data["reason"]
        )
        return self._out(request, finding)


class ScorecardSerializer(serializers.Serializer):
    company = serializers.CharField()
    findings = serializers.IntegerField()
    by_severity = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField())
    )
    overdue = serializers.IntegerField()
    median_days_to_acknowledge = serializers.FloatField(allow_null=True)
    median_days_to_remediate = serializers.FloatField(allow_null=True)
    opinions = serializers.DictField(child=serializers.IntegerField())
    reports = serializers.ListField(child=serializers.IntegerField())


@extend_schema_view(
    retrieve=extend_schema(
        summary="A company's audit scorecard (published reports' findings)",
        responses=ScorecardSerializer,
        tags=TAGS,
    )
)
class ScorecardViewSet(viewsets.GenericViewSet):
    lookup_field = "slug"
    queryset = Organization.objects.filter(kind=Organization.Kind.DEVELOPER)
    serializer_class = ScorecardSerializer

    def retrieve(self, request, slug=None):
        card = selectors.scorecard(self.get_object())
        return Response(
            {
                "company": card.organization.slug,
                "findings": card.total,
                "by_severity": {
                    value: dict(zip(Finding.Status.values, counts, strict=True))
                    for value, _label, counts, _total in card.rows
                },
                "overdue": card.overdue,
                "median_days_to_acknowledge": card.median_days_to_acknowledge,
                "median_days_to_remediate": card.median_days_to_remediate,
                "opinions": card.opinions,
                "reports": [report.pk for report in card.reports],
            }
        )
