"""`/api/v1/`: every resource of every app, on one router."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from appeals.api import (
    AppealViewSet,
    PublicDecisionViewSet,
    RecommendationViewSet,
    TransparencyView,
    WorkflowView,
)
from audits.api import (
    CategoryMappingViewSet,
    ClauseEvidenceViewSet,
    ConformanceMatrixViewSet,
    EvaluationRunViewSet,
    EvaluationSampleViewSet,
)
from audits.report_api import AuditReportViewSet, FindingViewSet, ScorecardViewSet
from audits.robustness_api import DriftAlertViewSet, RobustnessViewSet, TradeoffViewSet
from governance.api.changes import ChangeFeedView
from governance.api.dumps import DumpViewSet
from governance.api.ledger import LedgerEntryViewSet
from governance.api.me import MeExportView, MeView
from governance.api.organizations import (
    InvitationAcceptViewSet,
    InvitationViewSet,
    MembershipViewSet,
    OrganizationViewSet,
)
from governance.api.tokens import ApiTokenViewSet
from governance.api.webhooks import WebhookViewSet
from policies.api import AISystemViewSet, ClauseViewSet, PolicyVersionViewSet, PolicyViewSet
from policies.api.comments import (
    CommentClusterViewSet,
    CommentPeriodViewSet,
    CommentResponseViewSet,
    CommentViewSet,
    ModerationQueueViewSet,
)

router = DefaultRouter()
router.include_root_view = True

# Each area registers its viewsets here.
router.register("me/tokens", ApiTokenViewSet, basename="token")
router.register("ledger", LedgerEntryViewSet, basename="ledger")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("dumps", DumpViewSet, basename="dump")
router.register("organizations", OrganizationViewSet, basename="organization")
router.register(
    r"organizations/(?P<organization_slug>[-a-zA-Z0-9_]+)/memberships",
    MembershipViewSet,
    basename="organization-membership",
)
router.register(
    r"organizations/(?P<organization_slug>[-a-zA-Z0-9_]+)/invitations",
    InvitationViewSet,
    basename="organization-invitation",
)
router.register("invitations", InvitationAcceptViewSet, basename="invitation")
router.register("systems", AISystemViewSet, basename="ai-system")
router.register("policies", PolicyViewSet, basename="policy")
router.register("policy-versions", PolicyVersionViewSet, basename="policy-version")
router.register("clauses", ClauseViewSet, basename="clause")
router.register("comment-periods", CommentPeriodViewSet, basename="comment-period")
router.register("comments", CommentViewSet, basename="comment")
router.register("comment-clusters", CommentClusterViewSet, basename="comment-cluster")
router.register("comment-responses", CommentResponseViewSet, basename="comment-response")
router.register("moderation-queue", ModerationQueueViewSet, basename="moderation-queue")
router.register("evaluation-runs", EvaluationRunViewSet, basename="evaluation-run")
router.register("evaluation-samples", EvaluationSampleViewSet, basename="evaluation-sample")
router.register("category-mappings", CategoryMappingViewSet, basename="category-mapping")
router.register("conformance-matrix", ConformanceMatrixViewSet, basename="conformance-matrix")
router.register("clause-evidence", ClauseEvidenceViewSet, basename="clause-evidence")
router.register("audit-reports", AuditReportViewSet, basename="audit-report")
router.register("robustness", RobustnessViewSet, basename="robustness")
router.register("drift-alerts", DriftAlertViewSet, basename="drift-alert")
router.register("tradeoff", TradeoffViewSet, basename="tradeoff")
router.register("findings", FindingViewSet, basename="finding")
router.register("scorecards", ScorecardViewSet, basename="scorecard")
router.register("appeals", AppealViewSet, basename="appeal")
router.register("appeal-decisions", PublicDecisionViewSet, basename="appeal-decision")
router.register("recommendations", RecommendationViewSet, basename="recommendation")

urlpatterns = [
    path("changes/", ChangeFeedView.as_view(), name="changes"),
    path("me/", MeView.as_view(), name="me"),
    path("me/export/", MeExportView.as_view(), name="me-export"),
    path("appeal-workflow/", WorkflowView.as_view(), name="appeal-workflow"),
    path(
        "transparency-reports/<slug:company>/",
        TransparencyView.as_view(),
        name="transparency-report",
    ),
    *router.urls,
]
_ = path
