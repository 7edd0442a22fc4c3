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

        if "comments" not in EXPORT_SECTIONS:
            register_export_section("comments")(_comment_export)

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


def _comment_export(user) -> dict:
    """The account export's "comments" section: the person's own comments with their text and
    earlier revisions (withdrawn and hidden ones too: it is their own writing), the comments
    they endorse and the flags they raised."""
    from policies.models import Comment, CommentRevision, Endorsement, Flag

    def at(value):
        return value.isoformat() if value else None

    revisions: dict[int, list[dict]] = {}
    for revision in CommentRevision.objects.filter(comment__author=user).order_by("pk"):
        revisions.setdefault(revision.comment_id, []).append(
            {"body": revision.body, "created_at": at(revision.created_at)}
        )
    comments = Comment.objects.filter(author=user).select_related(
        "clause", "on_behalf_of", "period__version__policy"
    )
    return {
        "comments": [
            {
                "id": c.pk,
                "period": c.period_id,
                "on": f"{c.period.version.policy.title} v{c.period.version.number}",
                "clause": c.clause.key if c.clause_id else None,
                "parent": c.parent_id,
                "on_behalf_of": c.on_behalf_of.slug if c.on_behalf_of_id else None,
                "created_at": at(c.created_at),
                "edited_at": at(c.edited_at),
                "withdrawn_at": at(c.withdrawn_at),
                "status": c.status,
                "hidden_reason": c.hidden_reason,
                "body": c.body,
                "revisions": revisions.get(c.pk, []),
            }
            for c in comments.order_by("pk")
        ],
        "endorsements": [
            {"comment": comment_id, "created_at": at(created_at)}
            for comment_id, created_at in Endorsement.objects.filter(user=user)
            .order_by("pk")
            .values_list("comment_id", "created_at")
        ],
        "flags": [
            {
                "comment": f.comment_id,
                "reason": f.reason,
                "details": f.details,
                "created_at": at(f.created_at),
                "resolved_at": at(f.resolved_at),
            }
            for f in Flag.objects.filter(user=user).order_by("pk")
        ],
    }
