"""Staff see appeals read-only: every change goes through the services and the ledger."""

from django.contrib import admin

from appeals.models import Appeal, Decision, Recommendation, TransparencyReport


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Appeal)
class AppealAdmin(ReadOnly):
    list_display = ["pk", "organization", "clause_key", "kind", "status", "submitted_at"]
    list_filter = ["status", "kind"]
    # The raw transcript is for the filer, the company's reviewers and the panel only.
    exclude = ["transcript_raw", "redaction_marked_names"]


@admin.register(Decision)
class DecisionAdmin(ReadOnly):
    list_display = ["pk", "appeal", "by", "outcome", "clause_key", "decided_at"]


@admin.register(Recommendation)
class RecommendationAdmin(ReadOnly):
    list_display = ["pk", "clause_key", "priority", "answer", "answer_due_at"]


@admin.register(TransparencyReport)
class TransparencyReportAdmin(ReadOnly):
    list_display = ["organization", "year", "quarter", "compiled_at"]
