"""Celery tasks of the core: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task

from governance.idempotency import purge_expired_records


@shared_task
def purge_idempotency_records() -> int:
    """Hourly (beat): forget remembered POST responses older than IDEMPOTENCY_HOURS."""
    return purge_expired_records()
