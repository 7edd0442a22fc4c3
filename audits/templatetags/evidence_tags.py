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
# Short class names: the matrix has thousands of cells (see static/css/app.css).
VERDICT_CLASS = {"conforms": "c-ok", "diverges": "c-no", "insufficient_evidence": "c-in"}
RELATIVE_CLAUSES = "../../../clauses/"  # from audits:matrix to audits:clause
NOT_MEASURED = '<td class="c-na">·</td>'


def _percent(value: float) -> str:
    return f"{value * 100:.0f}"


def _cell(cell) -> str:
    """A cell's inside, without its link: the same for every equal cell."""
    if not cell.n:
        return f"no samples <small>n=0</small> {VERDICT_WORDS[cell.verdict]}"
    interval = cell.interval
    return (
        f"<b>{_percent(cell.refusal_rate)} %</b> <i>{_percent(interval.low)}{DASH}"
        f"{_percent(interval.high)} %</i> <small>n={cell.n}{' †' if cell.classifier else ''}"
        f"</small> {VERDICT_WORDS[cell.verdict]}"
    )


ROBUSTNESS_WORDS = {
    "holds": ("c-ok", "holds"),
    "weakens": ("c-in", "weakens"),
    "breaks": ("c-no", "breaks"),
    "insufficient_evidence": ("c-in", "insufficient evidence"),
}


def _robustness_cell(verdict: str | None) -> str:
    if verdict is None:
        return NOT_MEASURED
    css, words = ROBUSTNESS_WORDS[verdict]
    return f'<td class="{css}">{words}</td>'


@register.simple_tag
def matrix_body(matrix, clause_url: str, robustness: dict | None = None) -> SafeString:
    number = escape(quote(matrix.version.number))
    queries = [escape(column.query) for column in matrix.columns]
    insides: dict[int, str] = {}  # equal cells are one object (selectors._Cells)
    out = []
    for row in matrix.rows:
        clause = row.clause
        expected = clause.get_expected_behavior_display().lower()
        key = escape(quote(clause.key, safe=""))
        href = f"{escape(clause_url)}{key}/?version={number}"
        # Cells link relative to the matrix page (…/v/<number>/matrix/ → …/clauses/<key>/):
        # thousands of links, each some forty bytes shorter.
        near = f"{RELATIVE_CLAUSES}{key}/?version={number}"
        out.append(
            f'<tr><th scope="row"><a href="{href}"><code>{escape(clause.key)}</code></a>'
            f'<br><span class="small">{escape(clause.title)}</span>'
            f'<br><span class="small muted">expected: {escape(expected)}</span></th>'
        )
        if robustness is not None:  # the robustness column (issue 9, audits.robustness)
            out.append(_robustness_cell(robustness.get(clause.key)))
        for cell, query in zip(row.cells, queries, strict=True):
            if cell is None:
                out.append(NOT_MEASURED)
                continue
            inside = insides.get(id(cell))
            if inside is None:
                inside = insides[id(cell)] = _cell(cell)
            css = VERDICT_CLASS[cell.verdict]
            out.append(f'<td class="{css}"><a href="{near}{query}">{inside}</a></td>')
        out.append("</tr>")
    return mark_safe("".join(out))  # every value above is escaped, or a number
