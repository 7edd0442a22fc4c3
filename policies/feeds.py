"""Atom feeds of published policy versions: every policy, and one policy."""

from __future__ import annotations

from django.contrib.syndication.views import Feed
from django.http import Http404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import format_html, format_html_join, linebreaks

from policies import selectors
from policies.models import Policy, PolicyVersion


def _version_url(version: PolicyVersion) -> str:
    policy = version.policy
    return reverse(
        "policies:version",
        kwargs={
            "org_slug": policy.organization.slug,
            "policy_slug": policy.slug,
            "number": version.number,
        },
    )


class AllVersionsFeed(Feed):
    """The newest published versions of every policy, newest first."""

    feed_type = Atom1Feed
    title = "OpenRefusal: new policy versions"
    subtitle = "Every version of an AI refusal policy published on OpenRefusal, newest first."
    author_name = "OpenRefusal"

    def link(self, obj=None) -> str:
        return reverse("policies:list")

    def feed_url(self, obj=None) -> str:
        return reverse("policies:feed")

    def versions(self, obj) -> list[PolicyVersion]:
        return selectors.feed_versions()

    def items(self, obj=None) -> list[PolicyVersion]:
        versions = self.versions(obj)
        summaries = selectors.feed_summaries(versions)
        # Instances of this class serve every request, so per-request data rides on the items.
        for version in versions:
            version.change_summary = summaries.get(version.pk)
        return versions

    def item_title(self, item: PolicyVersion) -> str:
        title = f"{item.policy.organization.name}: {item.policy.title} v{item.number}"
        if item.status == PolicyVersion.Status.WITHDRAWN:
            title += " (withdrawn)"
        return title

    def item_link(self, item: PolicyVersion) -> str:
        return _version_url(item)

    def item_guid(self, item: PolicyVersion) -> str:
        # Stable and unique: the version's content hash names exactly what was published.
        return f"urn:sha256:{item.content_sha256}:policyversion:{item.pk}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: PolicyVersion):
        return item.published_at

    def item_updateddate(self, item: PolicyVersion):
        return item.withdrawn_at or item.published_at

    def item_author_name(self, item: PolicyVersion) -> str:
        return item.policy.organization.name

    def item_description(self, item: PolicyVersion) -> str:
        """HTML: the summary of changes, then the behaviour changes against the previous
        version (the headline of its diff)."""
        parts = [linebreaks(item.summary_of_changes, autoescape=True)]
        summary = getattr(item, "change_summary", None)
        if summary is not None and summary.behavior_changes:
            parts.append(
                format_html(
                    "<p>Behaviour changes:</p><ul>{}</ul>",
                    format_html_join(
                        "",
                        "<li><code>{}</code>: {} → {}</li>",
                        ((c.key, c.old, c.new) for c in summary.behavior_changes),
                    ),
                )
            )
        elif summary is not None:
            parts.append("<p>No behaviour changes.</p>")
        else:
            parts.append("<p>First published version.</p>")
        if item.status == PolicyVersion.Status.WITHDRAWN:
            parts.append(
                format_html("<p>Withdrawn: {}</p>", item.withdrawn_reason or "no reason given")
            )
        return "".join(str(p) for p in parts)


class PolicyVersionsFeed(AllVersionsFeed):
    """The published versions of one policy."""

    def get_object(self, request, org_slug: str, policy_slug: str) -> Policy:
        policy = selectors.policy_get(organization_slug=org_slug, policy_slug=policy_slug)
        if policy is None:
            raise Http404("There is no such policy.")
        return policy

    def title(self, obj: Policy) -> str:
        return f"{obj.organization.name}: {obj.title} — versions"

    def subtitle(self, obj: Policy) -> str:
        return f"Every published version of {obj.title}, newest first."

    def link(self, obj: Policy) -> str:
        return reverse(
            "policies:detail",
            kwargs={"org_slug": obj.organization.slug, "policy_slug": obj.slug},
        )

    def feed_url(self, obj: Policy) -> str:
        return reverse(
            "policies:policy-feed",
            kwargs={"org_slug": obj.organization.slug, "policy_slug": obj.slug},
        )

    def versions(self, obj: Policy) -> list[PolicyVersion]:
        return selectors.feed_versions(policy=obj)


class CommentPeriodFeed(Feed):
    """The newest published comments of one comment period (campaigns once, by their first)."""

    feed_type = Atom1Feed
    author_name = "OpenRefusal"

    def get_object(self, request, period_id: int):
        from policies.models import CommentPeriod

        period = (
            CommentPeriod.objects.select_related("version__policy__organization")
            .filter(pk=period_id)
            .first()
        )
        if period is None:
            raise Http404("No such comment period.")
        return period

    def _docket(self, period) -> str:
        version = period.version
        return reverse(
            "policies:comments",
            kwargs={
                "org_slug": version.policy.organization.slug,
                "policy_slug": version.policy.slug,
                "number": version.number,
            },
        )

    def title(self, period) -> str:
        return f"Comments on {period.version.policy.title} v{period.version.number}"

    def subtitle(self, period) -> str:
        return f"Public comments to {period.version.policy.organization.name}, newest first."

    def link(self, period) -> str:
        return self._docket(period)

    def feed_url(self, period) -> str:
        return self._docket(period) + "feed.atom"

    def items(self, period):
        from policies.models import Comment

        return list(
            Comment.objects.filter(period=period, listed=True, status=Comment.Status.PUBLISHED)
            .select_related("author", "clause", "cluster", "on_behalf_of")
            .order_by("-id")[:50]
        )

    def item_title(self, comment) -> str:
        about = f" on {comment.clause.title}" if comment.clause_id else ""
        who = comment.on_behalf_of.name if comment.on_behalf_of_id else comment.author.public_name
        return f"{who}{about}"

    def item_description(self, comment) -> str:
        # Feed readers render this HTML: the text is escaped and its links made safe, as on
        # the docket page.
        from policies.templatetags.comment_tags import comment_text

        text = comment_text(comment.body)
        if comment.cluster_id and comment.cluster.comment_count > 1:
            text += format_html(
                "<p>and {} identical or near-identical comments</p>",
                comment.cluster.comment_count - 1,
            )
        return text

    def item_link(self, comment) -> str:
        return reverse("policies:comment", args=[comment.pk])

    def item_pubdate(self, comment):
        return comment.created_at

    def item_updateddate(self, comment):
        return comment.edited_at or comment.created_at

    def item_author_name(self, comment) -> str:
        return comment.author.public_name
