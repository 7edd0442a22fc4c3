"""The policies app: on start-up it tells the ledger how to name the subjects it records."""

from django.apps import AppConfig


def _policy_names(ids: set[int]) -> dict[int, str]:
    from policies.models import Policy

    return dict(Policy.objects.filter(pk__in=ids).values_list("pk", "title"))


def _version_names(ids: set[int]) -> dict[int, str]:
    from policies.models import PolicyVersion

    rows = PolicyVersion.objects.filter(pk__in=ids).values_list(
        "pk", "policy__title", "major", "minor", "patch"
    )
    return {pk: f"{title} v{major}.{minor}.{patch}" for pk, title, major, minor, patch in rows}


def _system_names(ids: set[int]) -> dict[int, str]:
    from governance.models import AISystem

    return dict(AISystem.objects.filter(pk__in=ids).values_list("pk", "name"))


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Policies and public comment"

    def ready(self) -> None:
        from governance.selectors.ledger import register_subject_resolver

        # The ledger names subjects by `_meta.model_name` ("policyversion:7"): one query per
        # type for a whole page of entries.
        register_subject_resolver("policy", _policy_names)
        register_subject_resolver("policyversion", _version_names)
        register_subject_resolver("aisystem", _system_names)

        # Demo policies for `make run` (seed_demo runs every registered seeder).
        from policies import demo  # noqa: F401
