"""Evidence reads: runs, per-category figures with their uncertainty, samples, and who may see
withheld texts."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import rules
from django.db import connection
from django.db.models import Q, QuerySet

from audits.models import EvaluationRun, EvaluationSample
from audits.stats import Interval, wilson_interval

SAMPLE_PAGE = 50


def shows_withheld(user: Any, run: EvaluationRun) -> bool:
    if user is None or not getattr(user, "is_active", False):
        return False
    return rules.has_perm("audits.view_withheld", user, run)


def shows_withheld_by_run(user: Any, runs) -> dict[int, bool]:
    """shows_withheld for each of `runs` that withholds something, asked once per uploading
    organization (the rule depends on the run only through it), so a page of many runs costs
    a few queries for a signed-in reader instead of a few per run. Runs withholding nothing
    are left out: nothing of theirs is hidden."""
    by_organization: dict[Any, bool] = {}
    shows: dict[int, bool] = {}
    for run in runs:
        if not (run.withhold_prompts or run.withhold_responses):
            continue
        if run.organization_id not in by_organization:
            by_organization[run.organization_id] = shows_withheld(user, run)
        shows[run.pk] = by_organization[run.organization_id]
    return shows


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
    classifier: int = 0  # labelled by the offline classifier

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


_COUNTS = (
    "n", "refusal", "partial", "compliance", "should_refuse", "should_answer",
    "over_refusals", "under_refusals", "classifier",
)  # fmt: skip


def _sum_counts(category: str, rows) -> Figures:
    """Figures of several categories' counts (tuples in `_COUNTS` order) added up."""
    total = [0] * len(_COUNTS)
    for row in rows:
        for i, value in enumerate(row):
            total[i] += value
    return Figures(category, *total)


def run_figures(run: EvaluationRun) -> tuple[Figures, list[Figures]]:
    """The whole run's figures and each category's, from its stored per-category counts (one
    query, however many samples)."""
    from audits.models import CategoryFigures

    rows = (
        CategoryFigures.objects.filter(run=run)
        .order_by("category")
        .values_list("category", *_COUNTS)
    )
    categories = [Figures(row[0], *row[1:]) for row in rows]
    return _sum_counts("", (row[1:] for row in rows)), categories


def run_samples(
    run: EvaluationRun,
    *,
    category: str = "",
    label: str = "",
    q: str = "",
    should_refuse: bool | None = None,
    after: int | None = None,
) -> tuple[list[EvaluationSample], int | None]:
    """One page of the run's samples (keyset on id) and the id to continue after, if any.
    Search looks in sample ids, and in texts only where they are public."""
    samples = EvaluationSample.objects.filter(run=run)
    if category:
        samples = samples.filter(category=category)
    if should_refuse is not None:
        samples = samples.filter(should_refuse=should_refuse)
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


EXPORT_FIELDS = (
    "id", "sample_id", "category", "prompt", "response", "prompt_sha256", "response_sha256",
    "label", "label_source", "label_raw", "should_refuse", "framing", "base_prompt_id", "record",
)  # fmt: skip


def run_samples_export(run: EvaluationRun, samples: QuerySet, *, shows_withheld: bool):
    """The run's samples as JSON Lines, one sample a line, read in chunks from a server-side
    cursor (bounded memory whatever the run's size); withheld texts are null for those who may
    not read them, their SHA-256 always present."""
    import json

    hide_prompt = run.withhold_prompts and not shows_withheld
    hide_response = run.withhold_responses and not shows_withheld
    withheld = [name for name, held in (("prompt", run.withhold_prompts),
                                         ("response", run.withhold_responses)) if held]  # fmt: skip
    rows = samples.order_by("id").values_list(*EXPORT_FIELDS).iterator(chunk_size=2000)
    batch = []
    for row in rows:
        item = dict(zip(EXPORT_FIELDS, row, strict=True))
        item["run"] = run.pk
        item["withheld"] = withheld
        if hide_prompt:
            item["prompt"] = None
        if hide_response:
            item["response"] = None
        batch.append(json.dumps(item, ensure_ascii=False))
        if len(batch) == 500:
            yield "\n".join(batch) + "\n"
            batch = []
    if batch:
        yield "\n".join(batch) + "\n"


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


CONFORMANCE_VERDICTS = (Verdict.CONFORMS, Verdict.DIVERGES, Verdict.INSUFFICIENT)


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
    One query for the run's stored counts; clauses without mappings have no figures."""
    mapped: dict[str, list[str]] = {}
    for key, category in (
        mappings_for(version).filter(benchmark=run.benchmark).values_list("clause_key", "category")
    ):
        mapped.setdefault(key, []).append(category)
    by_category: dict[str, tuple] = {}
    if mapped:
        from audits.models import CategoryFigures

        rows = CategoryFigures.objects.filter(run=run).values_list("category", *_COUNTS)
        by_category = {row[0]: row[1:] for row in rows}
    result = []
    for clause in version.clauses.order_by("position"):
        categories = sorted(mapped.get(clause.key, []))
        if not categories:
            result.append(ConformanceRow(clause, [], None, 0, None, Verdict.INSUFFICIENT))
            continue
        figures = _sum_counts("", (by_category[c] for c in categories if c in by_category))
        good = sum(getattr(figures, label) for label in GOOD_LABELS[clause.expected_behavior])
        verdict, interval = verdict_for(good, figures.n)
        result.append(ConformanceRow(clause, categories, figures, good, interval, verdict))
    return result


_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "and",
        "the",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "about",
        "use",
        "uses",
        "using",
        "other",
        "general",
        "misc",
        "none",
        "contrast",
        "safe",
        "unsafe",
    ]
)  # "contrast" and "safe": XSTest's markers of unsafe and safe prompts, not topics


def _words(*texts: str) -> set[str]:
    found = set()
    for text in texts:
        found.update(w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _STOP)
    return found


def _alike(a: str, b: str) -> bool:
    # Equal, or sharing a stem of five letters ("medicine" / "medical").
    return a == b or (len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5])


@dataclass(frozen=True)
class Suggestion:
    category: str
    clause: Any
    words: tuple[str, ...]  # the words the names share


def mapping_suggestions(version, run: EvaluationRun, *, per_category: int = 3) -> list[Suggestion]:
    """For each category of the run not yet mapped in `version` (for its benchmark), the
    clauses whose key, title or listed categories share words with the category's name, best
    first. A suggestion only: a person decides, and the mapping is recorded."""
    mapped = set(
        mappings_for(version).filter(benchmark=run.benchmark).values_list("category", flat=True)
    )
    clauses = [
        (clause, _words(clause.key, clause.title, " ".join(clause.categories)))
        for clause in version.clauses.order_by("position").only(
            "id", "key", "title", "categories", "position", "version_id"
        )
    ]
    suggestions = []
    for category in run_categories(run):
        if not category or category in mapped:
            continue
        words = _words(category)
        scored = []
        for clause, clause_words in clauses:
            shared = sorted({w for w in words for c in clause_words if _alike(w, c)})
            if shared:
                scored.append((-len(shared), clause.position, clause, tuple(shared)))
        for _score, _position, clause, shared in sorted(scored, key=lambda s: s[:2])[:per_category]:
            suggestions.append(Suggestion(category, clause, shared))
    return suggestions


def versions_for_run(run: EvaluationRun) -> QuerySet:
    """The non-draft versions of the policies that cover the run's AI system, newest first."""
    from policies.models import PolicyVersion

    return (
        PolicyVersion.objects.filter(policy__systems=run.system_id)
        .exclude(status=PolicyVersion.Status.DRAFT)
        .select_related("policy__organization")
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
    version = (
        PolicyVersion.objects.filter(pk=version_id)
        .select_related("policy__organization")
        .defer("body_markdown")
        .first()
    )
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
    # The clause evidence page's address, with the key spliced in (one reverse, not one per
    # clause and run).
    base = reverse(
        "audits:clause", args=[version.policy.organization.slug, version.policy.slug, "KEY"]
    ).removesuffix("KEY/")
    for run in runs:
        for row in conformance(version, run):
            if row.figures is None:
                continue
            everything = f"{base}{quote(row.clause.key, safe='')}/?version={version.number}"
            extras.setdefault(row.clause.pk, []).append(
                {"run": run, "verdict": row.verdict, "n": row.figures.n,
                 "url": f"{everything}&run={run.pk}", "clause_url": everything}
            )  # fmt: skip
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
    empty = Figures("", *([0] * len(_COUNTS)))
    rows = [
        row(category, by_a.get(category, empty), by_b.get(category, empty))
        for category in sorted(set(by_a) | set(by_b))
    ]
    return row("", total_a, total_b), rows


# --- The conformance matrix ----------------------------------------------------------------------

MATRIX_MAX_COLUMNS = 40


@dataclass(frozen=True)
class MatrixColumn:
    key: str
    title: str
    subtitle: str
    runs: tuple[EvaluationRun, ...]
    query: str  # the clause evidence page's filter for this column ("&run=12")

    @property
    def run(self) -> EvaluationRun | None:
        return self.runs[0] if len(self.runs) == 1 else None


@dataclass(frozen=True, slots=True)
class MatrixCell:
    """One clause measured in one column: the refusal rate with its Wilson 95 % interval, and
    the verdict on the share showing the clause's expected behaviour."""

    n: int
    refusal: int
    partial: int
    compliance: int
    good: int
    interval: Interval | None  # of the refusal rate
    good_interval: Interval | None  # of the expected behaviour's share (the verdict's)
    verdict: str
    classifier: int = 0  # of the n, labelled by the offline classifier

    @property
    def refusal_rate(self) -> float | None:
        return self.refusal / self.n if self.n else None


@dataclass(frozen=True)
class MatrixRow:
    clause: Any
    mapped: bool  # has any category mapped (for any benchmark)
    cells: list[MatrixCell | None]  # None: nothing of this column's benchmark maps to it


@dataclass(frozen=True)
class Matrix:
    version: Any
    by: str  # "run" or "system_version"
    columns: list[MatrixColumn]
    rows: list[MatrixRow]
    more_columns: int  # columns left out past MATRIX_MAX_COLUMNS

    @property
    def uses_classifier(self) -> bool:
        return any(cell and cell.classifier for row in self.rows for cell in row.cells)


def _verdict_cell(counts: list[int], behaviour: str) -> MatrixCell:
    n, refusal, partial, compliance = counts[0], counts[1], counts[2], counts[3]
    by_label = {"refusal": refusal, "partial": partial, "compliance": compliance}
    good = sum(by_label[label] for label in GOOD_LABELS[behaviour])
    verdict, good_interval = verdict_for(good, n)
    interval = wilson_interval(refusal, n) if n else None
    return MatrixCell(
        n, refusal, partial, compliance, good, interval, good_interval, verdict, counts[4]
    )


class _Cells:
    """Cells by their counts and the clause's behaviour: a matrix repeats the same few
    combinations many times over, and a cell is immutable, so each is computed once."""

    def __init__(self) -> None:
        self._made: dict[tuple, MatrixCell] = {}

    def __call__(self, counts: list[int], behaviour: str) -> MatrixCell:
        key = (counts[0], counts[1], counts[2], counts[3], counts[4], behaviour)
        cell = self._made.get(key)
        if cell is None:
            cell = self._made[key] = _verdict_cell(counts, behaviour)
        return cell


def matrix_runs(version, *, system: str = "", benchmark: str = "", source: str = ""):
    """The complete runs the matrix of `version` can show: of the systems its policy covers,
    of a benchmark with categories mapped to this version, narrowed by the filters."""
    benchmarks = mappings_for(version).values("benchmark")
    runs = (
        EvaluationRun.objects.filter(
            status=EvaluationRun.Status.COMPLETE,
            system__policies=version.policy_id,
            benchmark__in=benchmarks,
        )
        .select_related("system", "organization")
        .only(
            "id", "benchmark", "benchmark_version", "system_version", "source", "run_at",
            "uploaded_at", "system__id", "system__name", "system__slug", "organization__id",
            "organization__name", "organization__slug",
        )
        .order_by("system__name", "system_version", "benchmark", "uploaded_at", "id")
    )  # fmt: skip
    if system:
        runs = runs.filter(system__slug=system)
    if benchmark:
        runs = runs.filter(benchmark=benchmark)
    if source in EvaluationRun.Source.values:
        runs = runs.filter(source=source)
    return runs


MATRIX_CACHE_SECONDS = 3600


@dataclass(frozen=True)
class ClassifierError:
    """How often the offline classifier disagreed with the harness's own label, over every
    harness-labelled response of every complete run on the platform (measured at ingestion):
    the known error shown beside figures that rest on its labels."""

    n: int
    agree: int

    @property
    def rate(self) -> float | None:
        return (self.n - self.agree) / self.n if self.n else None

    @property
    def interval(self) -> Interval | None:
        return wilson_interval(self.n - self.agree, self.n) if self.n else None


_CLASSIFIER_CHECK_SQL = """
    SELECT coalesce(sum((label_counts->'classifier_check'->>'n')::int), 0),
           coalesce(sum((label_counts->'classifier_check'->>'agree')::int), 0)
      FROM audits_evaluationrun WHERE status = 'complete'
"""


def classifier_error() -> ClassifierError:
    with connection.cursor() as cursor:
        cursor.execute(_CLASSIFIER_CHECK_SQL)
        n, agree = cursor.fetchone()
    return ClassifierError(n, agree)


def matrix_cache_key(version, *, kind: str, **filters: str) -> str:
    """Where a rendered matrix of `version` is cached: named by everything it is computed
    from, so a change to any of it names another entry and the matrix is never stale. One
    query: the version's mappings (count, newest id), the complete runs of the policy's
    systems (count, newest id, latest finish), the newest relabelling anywhere, the systems'
    names, the classifier's measured error, and the verdict thresholds."""
    from audits.models import CategoryMapping, SampleRelabel
    from governance.models import AISystem
    from policies.models import Policy

    through = Policy.systems.through._meta
    policy_col = through.get_field("policy").column
    system_col = through.get_field("aisystem").column
    sql = f"""
        SELECT
          (SELECT count(*) || ':' || coalesce(max(id), 0) FROM {CategoryMapping._meta.db_table}
            WHERE version_id = %(version)s),
          (SELECT count(*) || ':' || coalesce(max(r.id), 0) || ':'
                  || coalesce(extract(epoch FROM max(r.finished_at))::text, '')
             FROM {EvaluationRun._meta.db_table} r
             JOIN {through.db_table} ps ON ps.{system_col} = r.system_id
            WHERE ps.{policy_col} = %(policy)s AND r.status = 'complete'),
          (SELECT coalesce(max(id), 0) FROM {SampleRelabel._meta.db_table}),
          (SELECT string_agg(s.id || '=' || s.slug || '=' || s.name, ',' ORDER BY s.id)
             FROM {AISystem._meta.db_table} s
             JOIN {through.db_table} ps ON ps.{system_col} = s.id
            WHERE ps.{policy_col} = %(policy)s),
          (SELECT coalesce(sum((label_counts->'classifier_check'->>'agree')::int), 0) || '/'
                  || coalesce(sum((label_counts->'classifier_check'->>'n')::int), 0)
             FROM {EvaluationRun._meta.db_table} WHERE status = 'complete')
    """  # noqa: S608 — table and column names come from the models; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, {"version": version.pk, "policy": version.policy_id})
        stamp = cursor.fetchone()
    from audits import robustness

    limits = robustness.thresholds()  # the robustness column's verdicts
    parts = [kind, str(version.pk), *map(str, stamp), *map(str, conformance_thresholds())]
    parts += [f"{name}={limits[name]}" for name in sorted(limits)]
    parts += [f"{name}={filters[name]}" for name in sorted(filters)]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"evidence:matrix:{version.pk}:{digest}"


def conformance_matrix(
    version, *, by: str = "run", system: str = "", benchmark: str = "", source: str = ""
) -> Matrix:
    """Clauses of `version` (rows) against complete runs or system versions (columns), each
    cell from the runs' stored per-category counts of the categories mapped to the clause for
    the run's benchmark. Five queries whatever the size: clauses, mappings, runs, counts."""
    from audits.models import CategoryFigures

    by = "system_version" if by == "system_version" else "run"
    clauses = list(
        version.clauses.order_by("position").only(
            "id", "version_id", "key", "title", "expected_behavior", "position"
        )
    )
    # clause key -> benchmark -> categories
    mapped: dict[str, dict[str, list[str]]] = {}
    categories: set[str] = set()
    for bench, category, key in mappings_for(version).values_list(
        "benchmark", "category", "clause_key"
    ):
        mapped.setdefault(key, {}).setdefault(bench, []).append(category)
        categories.add(category)
    runs = list(
        matrix_runs(version, system=system, benchmark=benchmark, source=source)[
            : MATRIX_MAX_COLUMNS * 10
        ]
    )
    groups: dict[tuple, list[EvaluationRun]] = {}
    for run in runs:
        key = (run.system_id, run.system_version) if by == "system_version" else (run.pk,)
        groups.setdefault(key, []).append(run)
    all_columns = list(groups.values())
    shown = all_columns[:MATRIX_MAX_COLUMNS]
    columns = []
    for group in shown:
        first = group[0]
        if by == "run":
            columns.append(
                MatrixColumn(
                    key=f"run-{first.pk}",
                    title=f"{first.benchmark}"
                    + (f" {first.benchmark_version}" if first.benchmark_version else ""),
                    subtitle=f"{first.system.name} {first.system_version} · #{first.pk}",
                    runs=(first,),
                    query=f"&run={first.pk}",
                )
            )
        else:
            benches = sorted({r.benchmark for r in group})
            columns.append(
                MatrixColumn(
                    key=f"system-{first.system_id}-{first.system_version}",
                    title=f"{first.system.name} {first.system_version}",
                    subtitle=f"{len(group)} run{'s' if len(group) != 1 else ''}: "
                    + ", ".join(benches),
                    runs=tuple(group),
                    query="&"
                    + urlencode(
                        {"system": first.system.slug, "system_version": first.system_version}
                    ),
                )
            )
    run_ids = [run.pk for group in shown for run in group]
    counts: dict[tuple[int, str], tuple] = {}
    if run_ids and categories:
        for row in CategoryFigures.objects.filter(
            run_id__in=run_ids, category__in=categories
        ).values_list("run_id", "category", "n", "refusal", "partial", "compliance", "classifier"):
            counts[(row[0], row[1])] = row[2:]
    rows = []
    cell_for = _Cells()
    column_runs = [[(run.pk, run.benchmark) for run in column.runs] for column in columns]
    for clause in clauses:
        by_bench = mapped.get(clause.key, {})
        behaviour = clause.expected_behavior
        cells: list[MatrixCell | None] = []
        for members in column_runs:
            total = [0, 0, 0, 0, 0]
            measured = False
            for run_id, bench in members:
                for category in by_bench.get(bench, ()):
                    measured = True
                    found = counts.get((run_id, category))
                    if found:
                        total[0] += found[0]
                        total[1] += found[1]
                        total[2] += found[2]
                        total[3] += found[3]
                        total[4] += found[4]
            cells.append(cell_for(total, behaviour) if measured else None)
        rows.append(MatrixRow(clause, bool(by_bench), cells))
    return Matrix(version, by, columns, rows, max(0, len(all_columns) - len(shown)))


# --- One clause's evidence, across versions and runs --------------------------------------------


_MAPPING_FIELDS = (
    "id",
    "version_id",
    "benchmark",
    "category",
    "clause_key",
    "created_by",
    "created_at",
)


@dataclass(frozen=True)
class ClauseRunFigure:
    run: EvaluationRun
    categories: list[str]
    cell: MatrixCell


@dataclass(frozen=True)
class ClauseVersionEvidence:
    version: Any
    clause: Any
    mappings: list  # CategoryMapping rows for this clause key, with created_by
    runs: list[ClauseRunFigure]

    @property
    def uses_classifier(self) -> bool:
        return any(figure.cell.classifier for figure in self.runs)


def clause_evidence_stamp(policy, key: str) -> str:
    """A digest of everything clause_evidence(policy, key) and the clause page's robustness
    section are computed from, read in one query: the non-draft versions having the clause
    (and their status), the clause's mappings in them (with their authors' public names), the
    complete runs of the policy's systems (with the system and organization names shown
    beside them), the newest relabelling anywhere, the classifier's measured error and the
    thresholds. Completed runs never change otherwise, so a cache entry named by it is never
    stale: any change names another entry."""
    from django.contrib.auth import get_user_model

    from audits import robustness
    from audits.models import CategoryMapping, SampleRelabel
    from governance.models import AISystem, Organization
    from policies.models import Clause, Policy, PolicyVersion

    through = Policy.systems.through._meta
    policy_col = through.get_field("policy").column
    system_col = through.get_field("aisystem").column
    sql = f"""
        SELECT
          (SELECT md5(coalesce(string_agg(concat_ws(':', v.id, v.status), ',' ORDER BY v.id), ''))
             FROM {PolicyVersion._meta.db_table} v
             JOIN {Clause._meta.db_table} c ON c.version_id = v.id
            WHERE v.policy_id = %(policy)s AND c.key = %(key)s AND v.status <> 'draft'),
          (SELECT md5(coalesce(string_agg(concat_ws(':', m.id, u.display_name, u.deleted_at),
                                          ',' ORDER BY m.id), ''))
             FROM {CategoryMapping._meta.db_table} m
             JOIN {PolicyVersion._meta.db_table} v ON v.id = m.version_id
             LEFT JOIN {get_user_model()._meta.db_table} u ON u.id = m.created_by_id
            WHERE v.policy_id = %(policy)s AND m.clause_key = %(key)s),
          (SELECT md5(coalesce(string_agg(concat_ws(':', r.id, s.slug, s.name, o.name),
                                          ',' ORDER BY r.id), ''))
             FROM {EvaluationRun._meta.db_table} r
             JOIN {through.db_table} ps ON ps.{system_col} = r.system_id
             JOIN {AISystem._meta.db_table} s ON s.id = r.system_id
             JOIN {Organization._meta.db_table} o ON o.id = r.organization_id
            WHERE ps.{policy_col} = %(policy)s AND r.status = 'complete'),
          (SELECT coalesce(max(id), 0) FROM {SampleRelabel._meta.db_table}),
          (SELECT coalesce(sum((label_counts->'classifier_check'->>'agree')::int), 0) || '/'
                  || coalesce(sum((label_counts->'classifier_check'->>'n')::int), 0)
             FROM {EvaluationRun._meta.db_table} WHERE status = 'complete')
    """  # noqa: S608 — table and column names come from the models; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, {"policy": policy.pk, "key": key})
        stamp = cursor.fetchone()
    limits = robustness.thresholds()
    parts = [str(policy.pk), key, *map(str, stamp), *map(str, conformance_thresholds())]
    parts += [f"{name}={limits[name]}" for name in sorted(limits)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def clause_evidence(policy, key: str) -> list[ClauseVersionEvidence]:
    """For each non-draft version of `policy` that has clause `key` (newest first): the clause,
    the mappings that bring benchmark categories to it, and every complete run of a mapped
    benchmark on a system the policy covers, with its figures and verdict. Four queries."""
    from audits.models import CategoryFigures, CategoryMapping
    from policies.models import Clause, PolicyVersion

    clauses = list(
        Clause.objects.filter(version__policy=policy, key=key)
        .exclude(version__status=PolicyVersion.Status.DRAFT)
        .select_related("version")
        .defer("version__body_markdown")
        .order_by("-version__major", "-version__minor", "-version__patch")
    )
    if not clauses:
        return []
    mappings = list(
        CategoryMapping.objects.filter(version__in=[c.version_id for c in clauses], clause_key=key)
        .select_related("created_by")
        # Only what the public name needs: the page caches these rows (no password hash there).
        .only(*_MAPPING_FIELDS, "created_by__display_name", "created_by__deleted_at")
        .order_by("benchmark", "category")
    )
    benchmarks = {m.benchmark for m in mappings}
    runs = list(
        EvaluationRun.objects.filter(
            status=EvaluationRun.Status.COMPLETE,
            system__policies=policy.pk,
            benchmark__in=benchmarks,
        )
        .select_related("system", "organization")
        .order_by("-uploaded_at", "-id")
    )
    categories = {m.category for m in mappings}
    counts: dict[tuple[int, str], tuple] = {}
    if runs and categories:
        for row in CategoryFigures.objects.filter(
            run__in=[r.pk for r in runs], category__in=categories
        ).values_list("run_id", "category", "n", "refusal", "partial", "compliance", "classifier"):
            counts[(row[0], row[1])] = row[2:]
    result = []
    for clause in clauses:
        own = [m for m in mappings if m.version_id == clause.version_id]
        by_bench: dict[str, list[str]] = {}
        for m in own:
            by_bench.setdefault(m.benchmark, []).append(m.category)
        figures = []
        for run in runs:
            cats = by_bench.get(run.benchmark)
            if not cats:
                continue
            total = [0, 0, 0, 0, 0]
            for category in cats:
                for i, value in enumerate(counts.get((run.pk, category), (0, 0, 0, 0, 0))):
                    total[i] += value
            figures.append(
                ClauseRunFigure(run, sorted(cats), _verdict_cell(total, clause.expected_behavior))
            )
        result.append(ClauseVersionEvidence(clause.version, clause, own, figures))
    return result


def clause_samples(
    evidence: ClauseVersionEvidence,
    *,
    run: int | None = None,
    system: str = "",
    system_version: str = "",
    label: str = "",
    after: int | None = None,
    limit: int | None = None,
) -> tuple[list[EvaluationSample], int | None]:
    """One page (keyset on id) of the samples behind a clause in one version: those of its
    runs in the categories mapped to the clause for the run's benchmark."""
    match = Q()
    by_bench: dict[str, list[str]] = {}
    for m in evidence.mappings:
        by_bench.setdefault(m.benchmark, []).append(m.category)
    for figure in evidence.runs:
        r = figure.run
        if run is not None and r.pk != run:
            continue
        if system and (r.system.slug != system or r.system_version != system_version):
            continue
        match |= Q(run_id=r.pk, category__in=by_bench.get(r.benchmark, []))
    if not match:
        return [], None
    samples = EvaluationSample.objects.filter(match)
    if label in EvaluationSample.Label.values:
        samples = samples.filter(label=label)
    if after is not None:
        samples = samples.filter(id__gt=after)
    limit = limit or SAMPLE_PAGE
    page = list(samples.order_by("id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].id if more else None)
