"""What other apps attach to audit reports without audits importing them: code run when a
report is published (inside its transaction), and snippets shown on a finding's page. Apps
register from `AppConfig.ready()`.

    from audits.hooks import register_finding_extra, register_report_published
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# hook(report=…, actor=… (a User, or "system" for the periodic publisher), now=…). It runs in
# the publication's transaction, so what it writes commits (or not) with the publication; it
# must be idempotent, since a catch-up pass may run it again for the same report.
ReportPublishedHook = Callable[..., None]
REPORT_PUBLISHED: list[ReportPublishedHook] = []


def register_report_published(hook: ReportPublishedHook) -> ReportPublishedHook:
    if hook not in REPORT_PUBLISHED:
        REPORT_PUBLISHED.append(hook)
    return hook


def report_published(*, report: Any, actor: Any, now: datetime) -> None:
    for hook in REPORT_PUBLISHED:
        hook(report=report, actor=actor, now=now)


@dataclass(frozen=True)
class FindingExtra:
    template_name: str
    # prepare(findings) → {finding pk: context}; a finding left out shows no snippet.
    prepare: Callable[[Sequence[Any]], dict[int, Any]]


FINDING_EXTRAS: list[FindingExtra] = []


def register_finding_extra(
    template_name: str, *, prepare: Callable[[Sequence[Any]], dict[int, Any]]
) -> None:
    """Add a snippet to a finding's page (idempotent per template name)."""
    if any(extra.template_name == template_name for extra in FINDING_EXTRAS):
        return
    FINDING_EXTRAS.append(FindingExtra(template_name, prepare))
