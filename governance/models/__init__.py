"""The core domain: people, organizations and their roles, API tokens, and the public ledger."""

from governance.models.dumps import DataDump
from governance.models.idempotency import IdempotencyRecord
from governance.models.ledger import LedgerEntry
from governance.models.organizations import Invitation, Membership, Organization
from governance.models.systems import AISystem
from governance.models.tokens import ApiToken
from governance.models.users import User
from governance.models.webhooks import WebhookDelivery, WebhookSubscription

__all__ = [
    "AISystem",
    "ApiToken",
    "DataDump",
    "IdempotencyRecord",
    "Invitation",
    "LedgerEntry",
    "Membership",
    "Organization",
    "User",
    "WebhookDelivery",
    "WebhookSubscription",
]
