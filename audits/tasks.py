"""Celery tasks of the audits app: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def ingest_run(run_id: int) -> str:
    """After an upload commits: parse, label and load the run's samples."""
    from audits.services import run_ingest

    return run_ingest(run_id).status


@shared_task
def evaluation_runs_recover() -> dict:
    """Periodic: re-queue (or, after repeated stops, fail) ingestions whose worker went silent;
    send again queued runs whose task was lost."""
    from audits.services import runs_recover

    return runs_recover()


@shared_task(acks_late=True)
def audit_report_notify(report_id: int) -> bool:
    """After a report is submitted: notify the audited company and start the embargo."""
    from audits.report_services import report_notify

    return report_notify(report_id=report_id) is not None


@shared_task
def audit_reports_due() -> dict:
    """Periodic: publish reports whose embargo ended; notify companies a lost task missed."""
    from audits.report_services import reports_due

    return reports_due()
