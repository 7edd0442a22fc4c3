"""`{% clause_robustness evidence %}`: the robustness section of the clause evidence page, computed
from the evidence the page already read (two queries), so the page's own view is unchanged.
`{% robustness_badge verdicts key %}`: one clause's worst robustness verdict (the matrix
column)."""

from __future__ import annotations

from django import template

from audits import robustness as rb
from audits import robustness_selectors as rsel

register = template.Library()


@register.inclusion_tag("audits/robustness/_clause_section.html")
def clause_robustness(evidence) -> dict:
    return {"rows": rsel.clause_robustness(list(evidence)), "thresholds": rb.thresholds()}


@register.inclusion_tag("audits/robustness/_verdict.html")
def robustness_badge(verdicts: dict, key: str) -> dict:
    return {"verdict": (verdicts or {}).get(key)}
