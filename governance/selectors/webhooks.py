"""Reading webhook subscriptions and their deliveries: only their managers ever see them."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from governance.errors import NotFound
from governance.models import Membership, User, WebhookDelivery, WebhookSubscription

DELIVERIES_SHOWN = 50


def webhooks_of(*, user: User) -> QuerySet[WebhookSubscription]:
    """Subscriptions the user manages: their own, and those held for an organization they own
    or edit."""
    managed_orgs = Membership.objects.filter(
        user=user, role__in=(Membership.Role.OWNER, Membership.Role.EDITOR)
    ).values("organization_id")
    return (
        WebhookSubscription.objects.filter(Q(owner=user) | Q(organization__in=managed_orgs))
        .select_related("owner", "organization", "filter_organization")
        .order_by("-created_at", "-id")
    )


def webhook_of(*, user: User, subscription_id: int | str) -> WebhookSubscription:
    ident = str(subscription_id)
    if not (ident.isascii() and ident.isdigit() and len(ident) < 19):
        raise NotFound("There is no such webhook.")
    subscription = webhooks_of(user=user).filter(pk=int(ident)).first()
    if subscription is None:
        raise NotFound("There is no such webhook.")
    return subscription


def webhook_deliveries(*, subscription: WebhookSubscription) -> QuerySet[WebhookDelivery]:
    """Newest attempts first."""
    return subscription.deliveries.order_by("-id")
