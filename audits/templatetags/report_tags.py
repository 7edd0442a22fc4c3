"""Template helpers for audit reports: safe Markdown, and badges for status, opinion and
severity that say their meaning in words (colour only repeats it)."""

from __future__ import annotations

from django import template
from django.template.loader import get_template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from governance.markdown import render_markdown

register = template.Library()

_REPORT = {"draft": "muted", "submitted": "warning", "embargoed": "warning", "published": "success"}
_OPINION = {"positive": "success", "positive_with_comments": "warning", "negative": "danger"}
_SEVERITY = {"critical": "danger", "high": "danger", "medium": "warning", "low": "muted"}
_FINDING = {
    "open": "warning",
    "acknowledged": "muted",
    "remediated": "success",
    "disputed": "danger",
}


def _badge(kind: str, text: str) -> SafeString:
    return format_html('<span class="badge badge--{}">{}</span>', kind, text)


@register.filter
def markdown(text: str) -> SafeString:
    return render_markdown(text or "")


@register.simple_tag
def report_status_badge(report) -> SafeString:
    return _badge(_REPORT.get(report.status, "muted"), report.get_status_display())


@register.simple_tag
def opinion_badge(report) -> SafeString:
    return _badge(_OPINION.get(report.opinion, "muted"), f"Opinion: {report.get_opinion_display()}")


@register.simple_tag
def severity_badge(finding) -> SafeString:
    return _badge(_SEVERITY.get(finding.severity, "muted"), finding.get_severity_display())


@register.simple_tag
def finding_status_badge(finding, overdue: bool = False) -> SafeString:
    badge = _badge(_FINDING.get(finding.status, "muted"), finding.get_status_display())
    if overdue:
        badge += _badge("danger", "Overdue")
    return badge


_VERDICTS = {
    "conforms": "conforms",
    "diverges": "diverges",
    "insufficient_evidence": "insufficient evidence",
}


@register.filter
def verdict_words(verdict: str) -> str:
    """A conformance verdict as words (the snapshot a finding keeps stores its code)."""
    return _VERDICTS.get(verdict, verdict)


@register.simple_tag
def finding_extras(finding) -> SafeString:
    """Every snippet another app registered for a finding's page (audits.hooks)."""
    from audits.hooks import FINDING_EXTRAS

    parts = []
    for extra in FINDING_EXTRAS:
        data = extra.prepare([finding]).get(finding.pk)
        if data is not None:
            parts.append(
                get_template(extra.template_name).render({"finding": finding, "extra": data})
            )
    return mark_safe("".join(parts))  # each part is a rendered, autoescaped template
