"""Reads for robustness, drift alerts and the over-/under-refusal trade-off: a run's figures by
framing overall and per clause, a clause's robustness across its runs, the drift alerts with
their filters, and the trade-off series of an AI system. Each is a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from audits import robustness as rb
from audits.drift_models import DriftAlert
from audits.framings import framing_label
from audits.models import CategoryFigures, CategoryMapping, EvaluationRun
from audits.stats import Interval, wilson_interval


@dataclass(frozen=True)
class ClauseRobustness:
    clause: Any
    categories: list[str]
    figure: rb.RobustnessFigure
    flips: int


def _mapped(version, benchmark: str) -> dict[str, set[str]]:
    mapped: dict[str, set[str]] = {}
    for key, category in CategoryMapping.objects.filter(
        version=version, benchmark=benchmark
    ).values_list("clause_key", "category"):
        mapped.setdefault(key, set()).add(category)
    return mapped


def run_robustness(
    run: EvaluationRun, version
) -> tuple[rb.RobustnessFigure, list[ClauseRobustness]]:
    """The run's figure by framing over all its samples, and per clause of `version` with
    mapped categories (clauses without are left out). Four queries."""
    counts = rb.framing_counts([run.pk]).get(run.pk, {})
    overall = rb.combine(counts, None, judge=False)
    if version is None:
        return overall, []
    mapped = _mapped(version, run.benchmark)
    flips = (
        rb.flip_counts([run.pk], set().union(*mapped.values())).get(run.pk, {}) if mapped else {}
    )
    rows = []
    for clause in version.clauses.filter(key__in=mapped).order_by("position"):
        categories = mapped[clause.key]
        rows.append(
            ClauseRobustness(
                clause,
                sorted(categories),
                rb.combine(counts, categories, judge=clause.expected_behavior in rb.JUDGED),
                sum(flips.get(c, 0) for c in categories),
            )
        )
    return overall, rows


@dataclass(frozen=True)
class ClauseRunRobustness:
    version: Any
    run: EvaluationRun
    figure: rb.RobustnessFigure
    flips: int


def clause_robustness(evidence: list) -> list[ClauseRunRobustness]:
    """For the clause evidence page: each (version, run) of `evidence` (audits.selectors.
    clause_evidence) whose samples were asked in more than one framing. Two queries."""
    run_ids = sorted({f.run.pk for item in evidence for f in item.runs})
    categories = {c for item in evidence for f in item.runs for c in f.categories}
    if not run_ids or not categories:
        return []
    counts = rb.framing_counts(run_ids, categories)
    framed = [r for r, by_cat in counts.items() if any(len(f) > 1 for f in by_cat.values())]
    flips = rb.flip_counts(framed, categories) if framed else {}
    result = []
    for item in evidence:
        for f in item.runs:
            by_category = counts.get(f.run.pk)
            if not by_category:
                continue
            judge = item.clause.expected_behavior in rb.JUDGED
            figure = rb.combine(by_category, set(f.categories), judge=judge)
            if not figure.has_framings:
                continue
            n_flips = sum(flips.get(f.run.pk, {}).get(c, 0) for c in f.categories)
            result.append(ClauseRunRobustness(item.version, f.run, figure, n_flips))
    return result


@dataclass(frozen=True)
class MatrixRobustness:
    """The conformance matrix's robustness: per clause key, the worst verdict over the runs of
    the matrix's columns, run by run (the page's "Under reframing" column), and one figure per
    column (the column's runs' samples in the clause's categories together; None where they
    were asked in one framing only)."""

    worst: dict[str, str]
    cells: dict[str, list[rb.RobustnessFigure | None]]


def _worse(verdict: str | None, current: str | None) -> str | None:
    if verdict is None:
        return current
    if current is None or rb.Robustness.ORDER.index(verdict) < rb.Robustness.ORDER.index(current):
        return verdict
    return current


def matrix_robustness_figures(matrix) -> MatrixRobustness:
    """For the clauses of the matrix's version expecting a refusal (others are left out): the
    worst verdict and the figure of each column. Three queries."""
    runs = {run.pk: run for column in matrix.columns for run in column.runs}
    if not runs:
        return MatrixRobustness({}, {})
    version = matrix.version
    judged = set(
        version.clauses.filter(expected_behavior__in=rb.JUDGED).values_list("key", flat=True)
    )
    mapped: dict[str, dict[str, set[str]]] = {}  # clause key → benchmark → categories
    for key, benchmark, category in CategoryMapping.objects.filter(version=version).values_list(
        "clause_key", "benchmark", "category"
    ):
        if key in judged:
            mapped.setdefault(key, {}).setdefault(benchmark, set()).add(category)
    if not mapped:
        return MatrixRobustness({}, {})
    categories = {c for benches in mapped.values() for cats in benches.values() for c in cats}
    counts = rb.framing_counts(list(runs), categories)
    worst: dict[str, str] = {}
    cells: dict[str, list[rb.RobustnessFigure | None]] = {}
    for key, benches in mapped.items():
        row: list[rb.RobustnessFigure | None] = []
        verdict: str | None = None
        for column in matrix.columns:
            total: dict[str, list[int]] = {}
            for run in column.runs:
                cats = benches.get(run.benchmark)
                if not cats or run.pk not in counts:
                    continue
                own = rb.framing_totals(counts[run.pk], cats)
                verdict = _worse(rb.figure_from(own).verdict, verdict)
                rb.framing_totals({"": own}, None, into=total)
            figure = rb.figure_from(total) if total else None
            row.append(figure if figure is not None and figure.has_framings else None)
        if verdict is not None:
            worst[key] = verdict
        cells[key] = row
    return MatrixRobustness(worst, cells)


def matrix_robustness(matrix) -> dict[str, str] | None:
    """The conformance matrix page's robustness column: each clause's worst verdict over the
    runs of the matrix's columns; None (no column) when none of them recorded any framing."""
    return matrix_robustness_figures(matrix).worst or None


# --- Drift alerts -----------------------------------------------------------------------------


def drift_alerts(
    *,
    organization: str = "",
    system: str = "",
    clause: str = "",
    framing: str = "",
    status: str = "",
) -> QuerySet[DriftAlert]:
    """Newest first, narrowed by each filter given (an empty one narrows nothing)."""
    alerts = DriftAlert.objects.select_related(
        "policy__organization",
        "version",
        "organization",
        "system",
        "earlier_run",
        "later_run",
        "annotation_version",
    )
    if organization:
        alerts = alerts.filter(organization__slug=organization)
    if system:
        alerts = alerts.filter(system__slug=system)
    if clause:
        alerts = alerts.filter(clause_key=clause)
    if framing:
        alerts = alerts.filter(framing=framing)
    if status in DriftAlert.Status.values:
        alerts = alerts.filter(status=status)
    return alerts.order_by("-created_at", "-id")


def drift_filter_choices() -> dict[str, list[tuple[str, str]]]:
    """What the drift alerts list can be filtered by: the organizations, AI systems, clause keys
    and framings its alerts have (value, label), and every status. Four queries."""
    from governance.models import AISystem, Organization

    organizations = list(
        Organization.objects.filter(drift_alerts__isnull=False)
        .distinct()
        .order_by("name", "slug")
        .values_list("slug", "name")
    )
    # A system's slug is unique within its organization only: one option per slug, naming all.
    systems: dict[str, list[str]] = {}
    for slug, name, owner in (
        AISystem.objects.filter(drift_alerts__isnull=False)
        .distinct()
        .order_by("name", "organization__name")
        .values_list("slug", "name", "organization__name")
    ):
        systems.setdefault(slug, []).append(f"{name} ({owner})")
    clauses = DriftAlert.objects.order_by("clause_key").values_list("clause_key", flat=True)
    framings = DriftAlert.objects.order_by("framing").values_list("framing", flat=True)
    return {
        "organization": organizations,
        "system": [(slug, "; ".join(labels)) for slug, labels in systems.items()],
        "clause": [(key, key) for key in clauses.distinct()],
        # Alerts on samples with no recorded framing cannot be picked apart here: "Any".
        "framing": [(f, framing_label(f)) for f in framings.distinct() if f],
        "status": list(DriftAlert.Status.choices),
    }


def drift_alert(pk: Any) -> DriftAlert | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return drift_alerts().filter(pk=pk).first()


# --- The over-/under-refusal trade-off --------------------------------------------------------


@dataclass(frozen=True)
class TradeoffPoint:
    system_version: str
    runs: list[int]
    should_answer: int
    over_refusals: int
    should_refuse: int
    under_refusals: int

    @property
    def over_rate(self) -> float | None:
        return self.over_refusals / self.should_answer if self.should_answer else None

    @property
    def under_rate(self) -> float | None:
        return self.under_refusals / self.should_refuse if self.should_refuse else None

    @property
    def over_interval(self) -> Interval | None:
        return (
            wilson_interval(self.over_refusals, self.should_answer) if self.should_answer else None
        )

    @property
    def under_interval(self) -> Interval | None:
        return (
            wilson_interval(self.under_refusals, self.should_refuse) if self.should_refuse else None
        )

    @property
    def plotted(self) -> bool:
        return bool(self.should_answer and self.should_refuse)


def tradeoff(system, *, family: str = "", version=None) -> list[TradeoffPoint]:
    """One point per system version (ordered by its first run): over-refusal (refusals, full or
    partial, of prompts the benchmark marks safe) against under-refusal (compliance with prompts
    it marks unsafe), over every complete run of that version. With `family` (a clause key
    prefix such as "weapons") and a policy `version`: only the categories mapped to clauses of
    that family. Two queries at most."""
    runs = list(
        EvaluationRun.objects.filter(system=system, status=EvaluationRun.Status.COMPLETE)
        .order_by("uploaded_at", "id")
        .values_list("pk", "system_version", "benchmark")
    )
    figures = CategoryFigures.objects.filter(run__in=[r[0] for r in runs])
    allowed: set[tuple[str, str]] | None = None
    if family and version is not None:
        allowed = {
            (b, c)
            for key, b, c in CategoryMapping.objects.filter(version=version).values_list(
                "clause_key", "benchmark", "category"
            )
            if key == family or key.startswith(family + ".")
        }
    benchmark_of = {pk: b for pk, _v, b in runs}
    totals: dict[str, list[int]] = {}
    order: list[str] = []
    run_ids: dict[str, list[int]] = {}
    for pk, system_version, _b in runs:
        if system_version not in totals:
            totals[system_version] = [0, 0, 0, 0]
            order.append(system_version)
            run_ids[system_version] = []
        run_ids[system_version].append(pk)
    version_of = {pk: v for pk, v, _b in runs}
    for run_id, category, sa, over, sr, under in figures.values_list(
        "run_id", "category", "should_answer", "over_refusals", "should_refuse", "under_refusals"
    ):
        if allowed is not None and (benchmark_of[run_id], category) not in allowed:
            continue
        t = totals[version_of[run_id]]
        t[0] += sa
        t[1] += over
        t[2] += sr
        t[3] += under
    return [TradeoffPoint(v, run_ids[v], *totals[v]) for v in order]


def clause_families(version) -> list[str]:
    """The first segments of the clause keys of `version` ("weapons" for weapons.bio.synthesis)."""
    if version is None:
        return []
    keys = version.clauses.values_list("key", flat=True)
    return sorted({key.split(".")[0] for key in keys})
