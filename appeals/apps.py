from django.apps import AppConfig


class AppealsConfig(AppConfig):
    name = "appeals"
    verbose_name = "Appeals"

    def ready(self) -> None:
        from appeals import rules  # noqa: F401 — registers the permissions
        from governance.selectors.ledger import register_subject_resolver

        register_subject_resolver("appeal", _appeal_names)
        register_subject_resolver("recommendation", _recommendation_names)
        register_subject_resolver("transparencyreport", _report_names)

        # Each clause of a version page shows how often it was appealed and overturned.
        from appeals.selectors import clause_appeal_extras
        from policies.templatetags.policies_tags import register_clause_extra

        register_clause_extra("appeals/clause_extra.html", prepare=clause_appeal_extras)

        # A published audit report's findings become recommendations the company answers, and
        # a finding's page shows its recommendation's answer (audits does not import appeals).
        from appeals.selectors import finding_recommendation_extras
        from appeals.services import finding_recommendations_create
        from audits.hooks import register_finding_extra, register_report_published

        register_report_published(finding_recommendations_create)
        register_finding_extra(
            "appeals/finding_recommendation.html", prepare=finding_recommendation_extras
        )

        # A filer's appeals are in their data export; deleting the account withdraws the open
        # ones and erases the raw transcripts (the redacted record stays).
        from appeals.selectors import user_appeal_export
        from appeals.services import appeals_erase_filer
        from governance.services.accounts import (
            EXPORT_SECTIONS,
            register_deletion_hook,
            register_export_section,
        )

        if "appeals" not in EXPORT_SECTIONS:
            register_export_section("appeals")(user_appeal_export)
        register_deletion_hook(appeals_erase_filer)

        # Links, webhook events and dump datasets for the regulators' API.
        from appeals import public_data

        public_data.register()

        # Demo appeals for `make run` (after the policies' demo versions exist).
        from appeals import demo  # noqa: F401


def _appeal_names(ids: set[int]) -> dict[int, str]:
    # The ledger is public: an appeal is named by its company and clause, never its filer.
    from appeals.models import Appeal

    appeals = Appeal.objects.filter(pk__in=ids).select_related("organization")
    return {
        a.pk: f"Appeal #{a.pk} to {a.organization.name}"
        + (f" on {a.clause_key}" if a.clause_key else "")
        for a in appeals
    }


def _recommendation_names(ids: set[int]) -> dict[int, str]:
    from appeals.models import Recommendation

    recs = Recommendation.objects.filter(pk__in=ids)
    return {r.pk: f"Recommendation #{r.pk} on {r.clause_key}" for r in recs}


def _report_names(ids: set[int]) -> dict[int, str]:
    from appeals.models import TransparencyReport

    reports = TransparencyReport.objects.filter(pk__in=ids).select_related("organization")
    return {
        r.pk: f"Transparency report {r.organization.name} {r.year} Q{r.quarter}" for r in reports
    }
