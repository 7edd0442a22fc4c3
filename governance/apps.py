from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The core's own entries in the registries that apps fill (governance.public_data).
        from governance.public_data import register_event_types, register_subject_links
        from governance.selectors.changes import CORE_EVENT_TYPES, organization_links

        register_subject_links("organization", organization_links)

        # The ledger names webhook subscriptions without saying where they deliver (private).
        from governance.selectors.ledger import register_subject_resolver

        register_subject_resolver(
            "webhooksubscription", lambda ids: {pk: f"Webhook subscription #{pk}" for pk in ids}
        )
        register_event_types(CORE_EVENT_TYPES)

        from governance.services.dumps import register_core_datasets

        register_core_datasets()
