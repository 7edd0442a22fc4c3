"""Celery tasks of the audits app: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def ingest_run(run_id: int) -> str:
    """After an upload commits: parse, label and load the run's samples."""
    from audits.services import run_ingest

    return run_ingest(run_id).status
