"""Webhooks: subscribing to public changes, and delivering them signed, with retries.

A ledger append of a registered event type (governance.public_data.EVENT_TYPES) schedules, on
commit, a fan-out task that writes one pending delivery per matching subscription; a delivery
task POSTs it with `X-OpenRefusal-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" under the subscription's secret>`, records the attempt, and on failure schedules
the next attempt with exponential backoff until the retry budget is spent (then the
subscription is marked failing). docs/webhooks.md shows how a receiver verifies it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import LedgerEntry, Organization, User, WebhookDelivery, WebhookSubscription
from governance.public_data import EVENT_TYPES, FILTER_CHOICES
from governance.services.ledger import ledger_append

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 — a marker that makes leaked secrets findable
SIGNATURE_HEADER = "X-OpenRefusal-Signature"
EVENT_HEADER = "X-OpenRefusal-Event"
DELIVERY_HEADER = "X-OpenRefusal-Delivery"
PING = "ping"
EXCERPT_CHARS = 1000
DESCRIPTION_MAX = WebhookSubscription._meta.get_field("description").max_length
URL_MAX = WebhookSubscription._meta.get_field("target_url").max_length
ACTIVE_CACHE_KEY = "webhooks:any-active"


def _setting(name: str) -> Any:
    return settings.OPENREFUSAL[name]


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, fields={field: [message]})


# --- Signatures -------------------------------------------------------------------------------


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The header value: `t=<timestamp>,v1=<hex HMAC-SHA256 of b"<timestamp>." + body>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


# --- Target URLs (SSRF) -----------------------------------------------------------------------


def _is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Target:
    """A delivery address resolved once: `addresses` are the ones it may connect to (each
    checked), `netloc` is what the Host header says, `host` what TLS checks the certificate
    against (SNI)."""

    url: str
    scheme: str
    host: str
    netloc: str
    addresses: tuple[str, ...]


def _parse(url: Any) -> tuple[str, SplitResult, str, int]:
    if not isinstance(url, str) or not url.strip():
        raise _invalid("target_url", "Give the address that receives deliveries.")
    url = url.strip()
    if len(url) > URL_MAX:
        raise _invalid("target_url", f"At most {URL_MAX} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _invalid("target_url", "This is not a valid address.") from None
    if parts.scheme not in ("http", "https"):
        raise _invalid("target_url", "Deliveries go to http:// or https:// addresses only.")
    host = parts.hostname
    if not host:
        raise _invalid("target_url", "The address needs a host name.")
    if parts.username or parts.password:
        raise _invalid("target_url", "Leave credentials out of the address; verify signatures.")
    port = port or (443 if parts.scheme == "https" else 80)
    site = urlsplit(settings.SITE_URL) if settings.SITE_URL else None
    if site and site.hostname:
        site_port = site.port or (443 if site.scheme == "https" else 80)
        if (site.hostname.lower(), site_port) == (host.lower(), port):
            raise _invalid("target_url", "Deliveries cannot go to this platform itself.")
    return url, parts, host, port


def _resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address `host` resolves to, in the resolver's order, each one checked (unless
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES): one private or reserved address refuses them all."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise _invalid("target_url", f"The host “{host}” could not be found.") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise _invalid("target_url", f"The host “{host}” could not be found.")
    if _setting("WEBHOOK_ALLOW_PRIVATE_ADDRESSES"):
        return addresses
    blocked = [a for a in addresses if not _is_public_address(a)]
    if blocked:
        raise _invalid(
            "target_url",
            f"The host “{host}” resolves to a private or reserved address ({blocked[0]}); "
            "deliveries go to public addresses only.",
        )
    return addresses


def webhook_url_check(url: Any, *, resolve: bool = True) -> str:
    """The URL, if deliveries may go there: http(s), a host name, not this platform, and (unless
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES, for development and tests) only public addresses — no
    loopback, private, link-local or reserved ones, whatever the name resolves to."""
    url, _, host, port = _parse(url)
    if resolve and not _setting("WEBHOOK_ALLOW_PRIVATE_ADDRESSES"):
        _resolve(host, port)
    return url


def webhook_target(url: Any) -> Target:
    """The URL checked as `webhook_url_check` does, with the addresses a delivery connects to.
    The name is resolved once, here: the connection goes to one of these checked addresses,
    never to whatever a second lookup would answer (DNS rebinding)."""
    url, parts, host, port = _parse(url)
    return Target(
        url=url,
        scheme=parts.scheme,
        host=host,
        netloc=parts.netloc,
        addresses=_resolve(host, port),
    )


# --- Subscriptions ----------------------------------------------------------------------------


def _clean_event_types(event_types: Any) -> list[str]:
    if event_types in (None, ""):
        return []
    if not isinstance(event_types, list | tuple) or not all(
        isinstance(e, str) for e in event_types
    ):
        raise _invalid("event_types", "A list of event types.")
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise _invalid("event_types", f"Unknown event type: {unknown[0][:80]}.")
    return sorted(set(event_types))


def _clean_policy(policy: Any) -> int | None:
    if policy in (None, ""):
        return None
    if isinstance(policy, bool) or not isinstance(policy, int):
        raise _invalid("filter_policy", "A policy id.")
    choices = FILTER_CHOICES.get("policy")
    if choices is None or policy not in {pk for pk, _ in choices()}:
        raise _invalid("filter_policy", "There is no policy with this id.")
    return policy


def _invalidate_active_cache() -> None:
    transaction.on_commit(lambda: cache.delete(ACTIVE_CACHE_KEY))


@transaction.atomic
def webhook_subscription_create(
    *,
    actor: User,
    target_url: str,
    event_types: list[str] | None = None,
    filter_policy: int | None = None,
    filter_organization: Organization | None = None,
    organization: Organization | None = None,
    description: str = "",
) -> tuple[WebhookSubscription, str]:
    """Subscribe `target_url`; returns the subscription and its secret (shown once)."""
    if not actor.has_perm("governance.create_webhook"):
        raise NotAllowed("Confirm your e-mail address before subscribing to webhooks.")
    if organization is not None and not actor.has_perm(
        "governance.manage_webhook", _Stub(organization)
    ):
        raise NotAllowed("Only the organization's owners and editors subscribe on its behalf.")
    url = webhook_url_check(target_url)
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise _invalid("description", f"At most {DESCRIPTION_MAX} characters.")
    limit = _setting("WEBHOOK_MAX_PER_OWNER")
    if WebhookSubscription.objects.filter(owner=actor).count() >= limit:
        raise Conflict(
            f"You have {limit} webhooks, the most allowed; delete one first.", code="limit"
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    subscription = WebhookSubscription.objects.create(
        owner=actor,
        organization=organization,
        target_url=url,
        description=description,
        secret=secret,
        event_types=_clean_event_types(event_types),
        filter_policy=_clean_policy(filter_policy),
        filter_organization=filter_organization,
    )
    # On the record that a subscription exists (not where it delivers: that is the owner's).
    ledger_append(
        actor=actor,
        action="webhook.subscribed",
        subject=subscription,
        payload={"event_types": subscription.event_types},
    )
    _invalidate_active_cache()
    return subscription, secret


class _Stub:
    """A permission target for "manage a webhook of this organization" before one exists."""

    owner_id = None

    def __init__(self, organization: Organization):
        self.organization = organization


@transaction.atomic
def webhook_subscription_delete(*, actor: User, subscription: WebhookSubscription) -> None:
    if not actor.has_perm("governance.manage_webhook", subscription):
        raise NotAllowed("You cannot delete this webhook.")
    pk = subscription.pk
    subscription.delete()
    ledger_append(actor=actor, action="webhook.deleted", subject=f"webhooksubscription:{pk}")
    _invalidate_active_cache()


def _any_active() -> bool:
    found = cache.get(ACTIVE_CACHE_KEY)
    if found is None:
        found = WebhookSubscription.objects.filter(active=True).exists()
        cache.set(ACTIVE_CACHE_KEY, found, timeout=60)
    return found


# --- Events -----------------------------------------------------------------------------------


def wants_event(action: str) -> bool:
    """Whether an append of `action` must be fanned out: it is an event type and anyone
    subscribes at all (a cached answer, so most appends cost one cache read). ledger_append
    asks before it takes the ledger's lock."""
    return action in EVENT_TYPES and _any_active()


def on_ledger_append(entry: LedgerEntry) -> None:
    """Called by ledger_append for an entry `wants_event` chose: after the commit, fan it out."""
    seq = entry.seq

    def enqueue() -> None:
        try:
            from governance.tasks import webhooks_fan_out

            webhooks_fan_out.delay(seq)
        except Exception:
            # The change is committed either way; the log names the seq for a re-run.
            logger.exception("Could not queue the webhook fan-out for ledger entry %s", seq)

    transaction.on_commit(enqueue)


def _absolute(path: str | None) -> str | None:
    return settings.SITE_URL.rstrip("/") + path if path else None


def event_change(entry: LedgerEntry) -> dict[str, Any]:
    """The change-feed item of `entry`, with absolute links (the same for every subscriber)."""
    from governance.selectors.changes import change_documents

    change = change_documents([entry])[0]
    change["links"] = {k: _absolute(v) for k, v in change["links"].items()}
    return change


def event_body(*, entry: LedgerEntry, change: dict[str, Any], subscription_id: int) -> str:
    document = {"event": entry.action, "subscription": subscription_id, "change": change}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _matching(action: str, organization: str | None, policy: int | None):
    subscriptions = WebhookSubscription.objects.filter(active=True).filter(
        Q(event_types=[]) | Q(event_types__contains=[action])
    )
    subscriptions = subscriptions.filter(Q(filter_policy__isnull=True) | Q(filter_policy=policy))
    return subscriptions.filter(
        Q(filter_organization__isnull=True) | Q(filter_organization__slug=organization)
    )


def webhooks_fan_out(*, seq: int) -> list[int]:
    """One pending delivery per active subscription matching the change; safe to run twice
    (a subscription already holding this seq's first attempt is skipped)."""
    from governance.public_data import subject_links

    entry = LedgerEntry.objects.filter(seq=seq).first()
    if entry is None or entry.action not in EVENT_TYPES:
        return []
    link = subject_links([entry.subject])[entry.subject]
    created = []
    change = None
    with transaction.atomic():
        for subscription in _matching(entry.action, link.organization, link.policy).exclude(
            deliveries__seq=seq
        ):
            change = change or event_change(entry)
            delivery = WebhookDelivery.objects.create(
                subscription=subscription,
                event_type=entry.action,
                seq=seq,
                body=event_body(entry=entry, change=change, subscription_id=subscription.pk),
            )
            created.append(delivery.pk)
        _enqueue_deliveries(created)
    return created


def _enqueue_deliveries(ids: list[int], *, countdown: int | None = None) -> None:
    def enqueue() -> None:
        from governance.tasks import webhook_deliver

        for pk in ids:
            try:
                if countdown:
                    webhook_deliver.apply_async(args=[pk], countdown=countdown)
                else:
                    webhook_deliver.delay(pk)
            except Exception:
                # Pending rows are picked up by the periodic sweep (webhook_deliveries_due).
                logger.exception("Could not queue webhook delivery %s", pk)

    transaction.on_commit(enqueue)


@transaction.atomic
def webhook_ping(*, actor: User, subscription: WebhookSubscription) -> WebhookDelivery:
    """Send a test event now (a `ping`, on no ledger entry)."""
    if not actor.has_perm("governance.manage_webhook", subscription):
        raise NotAllowed("You cannot test this webhook.")
    body = json.dumps(
        {
            "event": PING,
            "subscription": subscription.pk,
            "change": None,
            "sent_at": timezone.now().isoformat(),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    delivery = WebhookDelivery.objects.create(subscription=subscription, event_type=PING, body=body)
    _enqueue_deliveries([delivery.pk])
    return delivery


# --- Delivering -------------------------------------------------------------------------------


def backoff_seconds(attempt: int) -> int:
    """Seconds before attempt `attempt + 1`: WEBHOOK_RETRY_BASE_SECONDS doubled per attempt."""
    return _setting("WEBHOOK_RETRY_BASE_SECONDS") * 2 ** (attempt - 1)


def _post(
    subscription: WebhookSubscription, delivery: WebhookDelivery
) -> tuple[int | None, str, str]:
    """(status code or None, response excerpt, error) of one POST, sent to an address checked
    just before (pinned: the URL's host is replaced by that address; the Host header and, for
    https, TLS's SNI and certificate check keep the name)."""
    try:
        target = webhook_target(subscription.target_url)
    except Invalid as error:
        return None, "", error.message
    body = delivery.body.encode()
    timestamp = int(time.time())
    headers = {
        "Host": target.netloc,
        "Content-Type": "application/json",
        "User-Agent": "OpenRefusal-Webhooks/1",
        EVENT_HEADER: delivery.event_type,
        DELIVERY_HEADER: str(delivery.pk),
        SIGNATURE_HEADER: signature(secret=subscription.secret, timestamp=timestamp, body=body),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    timeout = _setting("WEBHOOK_TIMEOUT_SECONDS")
    error = ""
    with httpx.Client(
        timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls_context()
    ) as client:
        # The addresses in the resolver's order; the next one only if this one cannot be
        # reached at all (never after a request was sent).
        for address in target.addresses:
            pinned = httpx.URL(target.url).copy_with(host=address)
            try:
                response = client.post(pinned, content=body, headers=headers, extensions=extensions)
            except httpx.ConnectError as failure:
                error = f"Could not connect: {failure.__class__.__name__}: {failure}"[:500]
                continue
            except httpx.TimeoutException:
                return None, "", f"No answer within {timeout} seconds."
            except httpx.HTTPError as failure:
                return None, "", f"Could not connect: {failure.__class__.__name__}: {failure}"[:500]
            return response.status_code, response.text[:EXCERPT_CHARS], ""
    return None, "", error


def _tls_context() -> ssl.SSLContext:
    """The certificate check of https deliveries: httpx's default (the certifi bundle), with
    host names checked — against the SNI name, as the connection goes to an address."""
    return httpx.create_ssl_context(trust_env=False)


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """Make one attempt. Claimed first (so a duplicate task sends nothing), sent outside any
    transaction, then recorded; a failure with attempts left schedules the next one."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, attempted_at__isnull=True
    ).update(attempted_at=now)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    subscription = delivery.subscription
    if not subscription.active:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.error = "The subscription is paused."
        delivery.save(update_fields=["status", "error"])
        return delivery
    started = time.monotonic()
    status_code, excerpt, error = _post(subscription, delivery)
    duration = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    if status_code is not None and not ok:
        error = f"The receiver answered {status_code}."
    with transaction.atomic():
        delivery.status = WebhookDelivery.Status.SUCCEEDED if ok else WebhookDelivery.Status.FAILED
        delivery.status_code = status_code
        delivery.response_excerpt = excerpt
        delivery.error = error
        delivery.duration_ms = duration
        finished = timezone.now()
        if ok:
            WebhookSubscription.objects.filter(pk=subscription.pk).update(
                last_success_at=finished, failing_since=None
            )
        elif delivery.attempt < _setting("WEBHOOK_MAX_ATTEMPTS"):
            wait = backoff_seconds(delivery.attempt)
            delivery.next_retry_at = finished + timedelta(seconds=wait)
            retry = WebhookDelivery.objects.create(
                subscription=subscription,
                event_type=delivery.event_type,
                seq=delivery.seq,
                body=delivery.body,
                attempt=delivery.attempt + 1,
                due_at=delivery.next_retry_at,
            )
            _enqueue_deliveries([retry.pk], countdown=wait)
        else:
            WebhookSubscription.objects.filter(
                pk=subscription.pk, failing_since__isnull=True
            ).update(failing_since=finished)
        delivery.save()
    return delivery


def webhook_deliveries_due(*, now=None, grace: timedelta = timedelta(minutes=5)) -> int:
    """Re-queue pending attempts whose task was lost (broker down at commit, worker gone)."""
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, attempted_at__isnull=True, due_at__lt=now - grace
        ).values_list("pk", flat=True)[:1000]
    )
    from governance.tasks import webhook_deliver

    for pk in ids:
        webhook_deliver.delay(pk)
    return len(ids)
