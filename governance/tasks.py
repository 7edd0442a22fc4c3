"""Celery tasks of the core: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task

from governance.idempotency import purge_expired_records
from governance.services import dumps, webhooks


@shared_task
def purge_idempotency_records() -> int:
    """Hourly (beat): forget remembered POST responses older than IDEMPOTENCY_HOURS."""
    return purge_expired_records()


@shared_task
def webhooks_fan_out(seq: int) -> int:
    """After a public change commits: one pending delivery per matching subscription."""
    return len(webhooks.webhooks_fan_out(seq=seq))


@shared_task
def webhook_deliver(delivery_id: int) -> None:
    """One attempt to deliver one event (retries are scheduled by the service)."""
    webhooks.webhook_deliver(delivery_id=delivery_id)


@shared_task
def webhook_deliveries_due() -> int:
    """Every 5 minutes (beat): re-queue pending attempts whose task was lost."""
    return webhooks.webhook_deliveries_due()


@shared_task
def dumps_write() -> int:
    """Nightly (beat): gzip JSON Lines dumps of every public dataset, with a manifest."""
    return dumps.dump_write().pk
