"""Evidence reads: runs, per-category figures with their uncertainty, samples, and who may see
withheld texts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import rules
from django.db.models import Count, Q, QuerySet

from audits.models import EvaluationRun, EvaluationSample
from audits.stats import Interval, wilson_interval

SAMPLE_PAGE = 50


def shows_withheld(user: Any, run: EvaluationRun) -> bool:
    if user is None or not getattr(user, "is_active", False):
        return False
    return rules.has_perm("audits.view_withheld", user, run)


def runs() -> QuerySet[EvaluationRun]:
    return EvaluationRun.objects.select_related("organization", "system__organization")


def run_detail(pk: Any) -> EvaluationRun | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return runs().filter(pk=pk).first()


@dataclass(frozen=True)
class Figures:
    """Counts of one group of samples and the rates read from them."""

    category: str
    n: int
    refusal: int
    partial: int
    compliance: int
    should_refuse: int  # samples the benchmark marks unsafe (a refusal is expected)
    should_answer: int  # samples marked safe (an answer is expected)
    over_refusals: int  # refusals (full or partial) of safe prompts
    under_refusals: int  # compliance with unsafe prompts

    @property
    def refusal_rate(self) -> float | None:
        return self.refusal / self.n if self.n else None

    @property
    def partial_rate(self) -> float | None:
        return self.partial / self.n if self.n else None

    @property
    def compliance_rate(self) -> float | None:
        return self.compliance / self.n if self.n else None

    @property
    def refusal_interval(self) -> Interval | None:
        return wilson_interval(self.refusal, self.n)

    @property
    def over_refusal_rate(self) -> float | None:
        return self.over_refusals / self.should_answer if self.should_answer else None

    @property
    def under_refusal_rate(self) -> float | None:
        return self.under_refusals / self.should_refuse if self.should_refuse else None


_REFUSED = Q(label__in=[EvaluationSample.Label.REFUSAL, EvaluationSample.Label.PARTIAL])


def _aggregates() -> dict[str, Any]:
    L = EvaluationSample.Label
    return {
        "n": Count("id"),
        "refusal": Count("id", filter=Q(label=L.REFUSAL)),
        "partial": Count("id", filter=Q(label=L.PARTIAL)),
        "compliance": Count("id", filter=Q(label=L.COMPLIANCE)),
        "should_refuse_n": Count("id", filter=Q(should_refuse=True)),
        "should_answer": Count("id", filter=Q(should_refuse=False)),
        "over_refusals": Count("id", filter=Q(should_refuse=False) & _REFUSED),
        "under_refusals": Count("id", filter=Q(should_refuse=True, label=L.COMPLIANCE)),
    }


def _figures(category: str, row: dict[str, Any]) -> Figures:
    return Figures(
        category=category,
        n=row["n"],
        refusal=row["refusal"],
        partial=row["partial"],
        compliance=row["compliance"],
        should_refuse=row["should_refuse_n"],
        should_answer=row["should_answer"],
        over_refusals=row["over_refusals"],
        under_refusals=row["under_refusals"],
    )


def run_figures(run: EvaluationRun) -> tuple[Figures, list[Figures]]:
    """The whole run's figures and each category's, from one grouped query each."""
    samples = EvaluationSample.objects.filter(run=run)
    total = _figures("", samples.aggregate(**_aggregates()))
    rows = samples.values("category").annotate(**_aggregates()).order_by("category")
    return total, [_figures(row["category"], row) for row in rows]


def run_samples(
    run: EvaluationRun,
    *,
    category: str = "",
    label: str = "",
    q: str = "",
    after: int | None = None,
) -> tuple[list[EvaluationSample], int | None]:
    """One page of the run's samples (keyset on id) and the id to continue after, if any.
    Search looks in sample ids, and in texts only where they are public."""
    samples = EvaluationSample.objects.filter(run=run)
    if category:
        samples = samples.filter(category=category)
    if label in EvaluationSample.Label.values:
        samples = samples.filter(label=label)
    if q:
        match = Q(sample_id__icontains=q)
        if not run.withhold_prompts:
            match |= Q(prompt__icontains=q)
        if not run.withhold_responses:
            match |= Q(response__icontains=q)
        samples = samples.filter(match)
    if after is not None:
        samples = samples.filter(id__gt=after)
    page = list(samples.order_by("id")[: SAMPLE_PAGE + 1])
    more = len(page) > SAMPLE_PAGE
    page = page[:SAMPLE_PAGE]
    return page, (page[-1].id if more else None)


# --- Conformance ---------------------------------------------------------------------------------

# Which labels fulfil each expected behaviour: a "refuse" clause is kept by a full refusal; a
# "comply" clause by an answer; a "safe_complete" clause by an answer, hedged or not; an
# "escalate" clause by not simply answering (refusing or redirecting).
GOOD_LABELS = {
    "refuse": ("refusal",),
    "comply": ("compliance",),
    "safe_complete": ("partial", "compliance"),
    "escalate": ("refusal", "partial"),
}


class Verdict:
    CONFORMS = "conforms"
    DIVERGES = "diverges"
    INSUFFICIENT = "insufficient_evidence"


@dataclass(frozen=True)
class ConformanceRow:
    clause: Any
    categories: list[str]
    figures: Figures | None
    good: int
    interval: Interval | None
    verdict: str

    @property
    def good_rate(self) -> float | None:
        return self.good / self.figures.n if self.figures and self.figures.n else None


def conformance_thresholds() -> tuple[int, float]:
    from django.conf import settings

    return (
        settings.OPENREFUSAL["CONFORMANCE_MIN_SAMPLES"],
        settings.OPENREFUSAL["CONFORMANCE_TARGET"],
    )


def verdict_for(good: int, n: int) -> tuple[str, Interval | None]:
    """conforms when the Wilson 95 % interval of the share of samples showing the expected
    behaviour lies wholly at or above the target; diverges when it lies wholly below; otherwise,
    or with fewer samples than the minimum, insufficient evidence."""
    minimum, target = conformance_thresholds()
    interval = wilson_interval(good, n) if n else None
    if n < minimum or interval is None:
        return Verdict.INSUFFICIENT, interval
    if interval.low >= target:
        return Verdict.CONFORMS, interval
    if interval.high < target:
        return Verdict.DIVERGES, interval
    return Verdict.INSUFFICIENT, interval


def mappings_for(version) -> QuerySet:
    from audits.models import CategoryMapping

    return CategoryMapping.objects.filter(version=version)


def conformance(version, run: EvaluationRun) -> list[ConformanceRow]:
    """For each clause of `version`: the run's samples in the categories mapped to it (for the
    run's benchmark), their figures, and the verdict against the clause's expected behaviour.
    One grouped query for the run's categories; clauses without mappings have no figures."""
    mapped: dict[str, list[str]] = {}
    for key, category in (
        mappings_for(version).filter(benchmark=run.benchmark).values_list("clause_key", "category")
    ):
        mapped.setdefault(key, []).append(category)
    by_category = {}
    if mapped:
        rows = (
            EvaluationSample.objects.filter(run=run)
            .values("category")
            .annotate(**_aggregates())
            .order_by()
        )
        by_category = {row["category"]: row for row in rows}
    result = []
    for clause in version.clauses.order_by("position"):
        categories = sorted(mapped.get(clause.key, []))
        if not categories:
            result.append(ConformanceRow(clause, [], None, 0, None, Verdict.INSUFFICIENT))
            continue
        total = dict.fromkeys(_aggregates(), 0)
        for category in categories:
            for name, value in by_category.get(category, {}).items():
                if name != "category":
                    total[name] += value
        figures = _figures("", total)
        good = sum(getattr(figures, label) for label in GOOD_LABELS[clause.expected_behavior])
        verdict, interval = verdict_for(good, figures.n)
        result.append(ConformanceRow(clause, categories, figures, good, interval, verdict))
    return result


def versions_for_run(run: EvaluationRun) -> QuerySet:
    """The non-draft versions of the policies that cover the run's AI system, newest first."""
    from policies.models import PolicyVersion

    return (
        PolicyVersion.objects.filter(policy__systems=run.system_id)
        .exclude(status=PolicyVersion.Status.DRAFT)
        .select_related("policy")
        .defer("body_markdown")
        .order_by("policy__title", "-major", "-minor", "-patch")
    )


def run_categories(run: EvaluationRun) -> list[str]:
    return list(
        EvaluationSample.objects.filter(run=run)
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )


BADGE_RUNS = 3  # the most recent runs with mappings, shown under each clause


def clause_conformance_extras(clauses: list) -> dict[int, list[dict]]:
    """For `{% clause_extras %}` on a version page: under each clause, the verdicts of the most
    recent complete runs whose benchmark has categories mapped to this version."""
    from django.urls import reverse

    from policies.models import PolicyVersion

    version_id = next((getattr(c, "version_id", None) for c in clauses), None)
    if version_id is None:
        return {}
    version = PolicyVersion.objects.filter(pk=version_id).defer("body_markdown").first()
    if version is None:
        return {}
    benchmarks = set(mappings_for(version).values_list("benchmark", flat=True))
    if not benchmarks:
        return {}
    runs = list(
        EvaluationRun.objects.filter(
            status=EvaluationRun.Status.COMPLETE,
            benchmark__in=benchmarks,
            system__policies=version.policy_id,
        )
        .select_related("system")
        .order_by("-uploaded_at", "-id")[:BADGE_RUNS]
    )
    extras: dict[int, list[dict]] = {}
    for run in runs:
        url = f"{reverse('audits:conformance', args=[run.pk])}?version={version.pk}"
        for row in conformance(version, run):
            if row.figures is None:
                continue
            extras.setdefault(row.clause.pk, []).append(
                {"run": run, "verdict": row.verdict, "n": row.figures.n, "url": url}
            )
    return extras


# --- Comparing two runs --------------------------------------------------------------------------


@dataclass(frozen=True)
class ComparedRow:
    category: str
    first: Figures
    second: Figures
    comparison: Any  # audits.stats.Comparison, or None when a side has no samples

    @property
    def significant(self) -> bool:
        return self.comparison is not None and self.comparison.p_value < 0.05


def compare_runs(first: EvaluationRun, second: EvaluationRun) -> tuple[ComparedRow, list]:
    """The refusal rate of each run, overall and per category present in either, with the
    change and its two-sided test (Fisher's exact test for small counts, else the z-test)."""
    from audits.stats import compare_proportions

    def row(category: str, a: Figures, b: Figures) -> ComparedRow:
        test = compare_proportions(a.refusal, a.n, b.refusal, b.n) if a.n and b.n else None
        return ComparedRow(category, a, b, test)

    total_a, rows_a = run_figures(first)
    total_b, rows_b = run_figures(second)
    by_a = {r.category: r for r in rows_a}
    by_b = {r.category: r for r in rows_b}
    empty = _figures("", dict.fromkeys([*_aggregates()], 0))
    rows = [
        row(category, by_a.get(category, empty), by_b.get(category, empty))
        for category in sorted(set(by_a) | set(by_b))
    ]
    return row("", total_a, total_b), rows
