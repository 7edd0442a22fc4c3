"""Template tags of the evidence pages.

`{% matrix_body matrix clause_url %}` writes the conformance matrix's rows in Python: at 300
clauses by 20 runs that is 6,000 cells of several values each, where the template engine's cost
per variable adds up to most of the page's time budget; here each cell is one f-string of
numbers and of strings escaped once per row and column."""

from __future__ import annotations

from urllib.parse import quote

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from audits.charts import DASH

register = template.Library()

VERDICT_WORDS = {
    "conforms": "conforms",
    "diverges": "diverges",
    "insufficient_evidence": "insufficient evidence",
}
NOT_MEASURED = (
    '<td class="cell cell--none"><span aria-hidden="true">·</span>'
    '<span class="visually-hidden">not measured</span></td>'
)


def _percent(value: float) -> str:
    return f"{value * 100:.0f}"


@register.simple_tag
def matrix_body(matrix, clause_url: str) -> SafeString:
    number = escape(quote(matrix.version.number))
    queries = [escape(column.query) for column in matrix.columns]
    titles = [escape(f"{column.title}, {column.subtitle}") for column in matrix.columns]
    out = []
    for row in matrix.rows:
        clause = row.clause
        expected = clause.get_expected_behavior_display().lower()
        href = f"{escape(clause_url)}{escape(quote(clause.key, safe=''))}/?version={number}"
        out.append(
            f'<tr><th scope="row"><a href="{href}"><code>{escape(clause.key)}</code></a>'
            f'<br><span class="small">{escape(clause.title)}</span>'
            f'<br><span class="small muted">expected: {escape(expected)}</span></th>'
        )
        for cell, query, title in zip(row.cells, queries, titles, strict=True):
            if cell is None:
                out.append(NOT_MEASURED)
                continue
            words = VERDICT_WORDS[cell.verdict]
            if cell.n:
                interval = cell.interval
                figures = (
                    f'<span class="matrix__rate">{_percent(cell.refusal_rate)} %</span>'
                    f'<span class="visually-hidden"> refused, 95 % interval </span>'
                    f'<span class="matrix__ci">{_percent(interval.low)}{DASH}'
                    f"{_percent(interval.high)} %</span>"
                )
            else:
                figures = '<span class="matrix__rate">no samples</span>'
            out.append(
                f'<td class="cell cell--{cell.verdict}"><a href="{href}{query}" '
                f'title="{title}">{figures}<span class="matrix__n">n={cell.n}</span>'
                f'<span class="matrix__verdict">{words}</span></a></td>'
            )
        out.append("</tr>")
    return mark_safe("".join(out))  # every value above is escaped, or a number
