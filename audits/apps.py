from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "audits"
    verbose_name = "Evidence and audits"

    def ready(self) -> None:
        from governance.selectors.ledger import register_subject_resolver

        register_subject_resolver("evaluationrun", _run_names)
        register_subject_resolver("evaluationsample", _sample_names)

        # Each clause of a version page shows the verdicts of the latest mapped runs.
        from audits.selectors import clause_conformance_extras
        from policies.templatetags.policies_tags import register_clause_extra

        register_clause_extra("audits/clause_extra.html", prepare=clause_conformance_extras)

        # Demo evidence for `make run` (after the policies' demo systems exist).
        from audits import demo  # noqa: F401


def _run_names(ids: set[int]) -> dict[int, str]:
    from audits.models import EvaluationRun

    runs = EvaluationRun.objects.filter(pk__in=ids).select_related("system")
    return {r.pk: f"Evaluation run #{r.pk}: {r.benchmark} on {r.system.name}" for r in runs}


def _sample_names(ids: set[int]) -> dict[int, str]:
    from audits.models import EvaluationSample

    samples = EvaluationSample.objects.filter(pk__in=ids)
    return {s.pk: f"Sample {s.sample_id} of run #{s.run_id}" for s in samples}
