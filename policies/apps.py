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

        register_subject_resolver("comment", _comment_names)
        register_subject_resolver("commentperiod", _period_names)

        # Links, webhook events and dump datasets for the regulators' API (the core's
        # registries: governance.public_data).
        from policies import public_data

        public_data.register()

        # Each clause of a version page shows its comment count.
        from policies.selectors.comments import clause_comment_extras
        from policies.templatetags.policies_tags import register_clause_extra

        register_clause_extra("policies/comments/clause_extra.html", prepare=clause_comment_extras)

        # The header shows moderators the queue's link; whether one is is noted at sign-in.
        from django.contrib.auth.signals import user_logged_in

        from policies.views.comments import remember_moderator

        user_logged_in.connect(remember_moderator, dispatch_uid="policies.remember_moderator")

        # A person's comments (whatever their status), endorsements and flags are in their
        # account's data export.
        from governance.services.accounts import EXPORT_SECTIONS, register_export_section
        from policies.selectors.comments import user_comment_export

        if "comments" not in EXPORT_SECTIONS:
            register_export_section("comments")(user_comment_export)

        # Demo policies for `make run` (seed_demo runs every registered seeder).
        from policies import (
            demo,  # noqa: F401
            demo_comments,  # noqa: F401
        )


def _period_names(ids: set[int]) -> dict[int, str]:
    from policies.models import CommentPeriod

    periods = CommentPeriod.objects.filter(pk__in=ids).select_related("version__policy")
    return {
        p.pk: f"Comment period on {p.version.policy.title} v{p.version.number}" for p in periods
    }


def _comment_names(ids: set[int]) -> dict[int, str]:
    from policies.models import Comment

    comments = Comment.objects.filter(pk__in=ids).select_related("period__version__policy")
    return {
        c.pk: f"Comment #{c.pk} on {c.period.version.policy.title} v{c.period.version.number}"
        for c in comments
    }
