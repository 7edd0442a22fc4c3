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


@shared_task(
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=60,
    retry_backoff_max=3600,
    max_retries=6,
)
def notify_moderators_of_not_me_report(flag_id: int) -> int:
    """After a "submitted in my name without my consent" report commits: e-mail the moderators
    (each one once, however often this runs)."""
    from policies.services.comments import moderators_notify_not_me_report

    return moderators_notify_not_me_report(flag_id=flag_id)


@shared_task
def comment_period_notices() -> dict[str, int]:
    """Every few minutes: the "opening", "closing soon" and "closed" notices that are due."""
    from policies.services.comments import comment_period_send_notices

    return comment_period_send_notices()


@shared_task
def comments_cluster_pending(seconds: float = 50.0) -> int:
    """Cluster near-duplicate comments until none is pending (or `seconds` pass, then hand over
    to a fresh task so one worker slot is never held for long)."""
    import time

    from policies.clustering import cluster_pending

    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline:
        done = cluster_pending(batch=500)
        total += done
        if done == 0:
            return total
    comments_cluster_pending.delay(seconds)
    return total
