"""Celery tasks of the appeals app: thin wrappers that call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task
def appeal_deadlines_due() -> dict:
    """Periodic: tell the responsible side of each passed deadline (once), close appeals whose
    escalation window ended, and settle citations of newly published policy versions."""
    from appeals.services import deadlines_due

    return deadlines_due()


@shared_task
def transparency_reports_compile_due() -> dict:
    """Periodic (daily): freeze the last ended quarter's transparency report of every company
    that has none yet."""
    from appeals.services import transparency_reports_compile_due as compile_due

    return compile_due()
