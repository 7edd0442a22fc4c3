"""Celery tasks of the policies app: thin wrappers that call a service."""

from __future__ import annotations

import smtplib

from celery import shared_task

from policies.services import version_notify_followers


@shared_task(
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=60,
    retry_backoff_max=3600,
    max_retries=6,
)
def notify_followers_of_version(version_id: int) -> int:
    """After a publication commits: e-mail the policy's followers (each one once, however often
    this runs)."""
    return version_notify_followers(version_id=version_id)
