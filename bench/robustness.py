"""Robustness and drift at the issue's size: two runs of 1,000,000 samples each (`--quick`:
100,000) on two versions of the conformance-matrix bench's system, every base prompt asked in
8 framings, spread over its 300 mapped categories. Measured: recomputing robustness (rates by
framing and clause, the flip counts, the orphaned variants) and drift (every clause of the
version against the earlier version's run) after the import — target < 30 s — and the clause
evidence page, p95 against the hello-world view's (target < 100 ms).

The samples are written straight into PostgreSQL with one INSERT … SELECT from
generate_series (the import itself is measured by bench.evidence), and the per-category counts
computed by the ingestion's own SQL.
"""

from __future__ import annotations

import time

from django.db import connection

from bench.core import Context, Figure, cold_cache_figures, http_load, latency_figures
from bench.evidence import MATRIX_BENCHMARK, MATRIX_ORGANIZATION, MATRIX_POLICY

AREA = "robustness"
TARGET_SECONDS = 30.0
TARGET_P95_MS = 100.0
FRAMINGS = ["direct", "prefill", "adversarial_suffix", "role_play", "long_reasoning",
            "multi_turn", "translation", "encoding"]  # fmt: skip

_SAMPLES_SQL = """
INSERT INTO audits_evaluationsample (run_id, sample_id, category, prompt, response,
    prompt_sha256, response_sha256, label, label_source, label_raw, should_refuse, framing,
    base_prompt_id, record)
SELECT %(run)s, 's-' || g, 'cat-' || lpad(((g / 8) %% %(categories)s)::text, 3, '0'),
    '', '', md5(g::text) || md5(g::text), md5(g::text) || md5(g::text),
    CASE WHEN random() < (CASE WHEN g %% 8 = 0 THEN %(direct)s ELSE %(framed)s END)
         THEN 'refusal' ELSE 'compliance' END,
    'harness', '', true, (%(framings)s::text[])[(g %% 8) + 1], 'b-' || (g / 8), g
FROM generate_series(0, %(count)s - 1) AS g
"""


def _run(system, organization, version: str, count: int, *, direct: float, framed: float):
    from audits.models import EvaluationRun
    from audits.services import _FIGURES_SQL

    run = EvaluationRun.objects.create(
        organization=organization, system=system, system_version=version,
        benchmark=MATRIX_BENCHMARK, harness_format="generic_jsonl", source="self_reported",
        artifact_name="bench.jsonl", artifact_size=0, artifact_sha256=f"{time.time_ns():064d}",
        status=EvaluationRun.Status.COMPLETE, sample_count=count,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(
            _SAMPLES_SQL,
            {"run": run.pk, "categories": 300, "direct": direct, "framed": framed,
             "framings": FRAMINGS, "count": count},
        )  # fmt: skip
        cursor.execute(_FIGURES_SQL, [run.pk])
        cursor.execute("ANALYZE audits_evaluationsample")
    return run


def run(ctx: Context) -> list[Figure]:
    from audits import robustness as rb
    from audits.drift_services import drift_detect
    from audits.robustness_selectors import run_robustness
    from governance.models import AISystem, Organization
    from policies.models import Policy
    from policies.selectors import current_version

    organization = Organization.objects.filter(slug=MATRIX_ORGANIZATION).first()
    if organization is None:
        return []  # bench.evidence builds the 300-clause version this module reads
    system = AISystem.objects.filter(organization=organization).first()
    policy = Policy.objects.get(organization=organization, slug=MATRIX_POLICY)
    version = current_version(policy)
    count = ctx.scaled(1_000_000, 100_000)
    earlier = _run(system, organization, "robust-1", count, direct=0.97, framed=0.9)
    later = _run(system, organization, "robust-2", count, direct=0.9, framed=0.6)

    started = time.perf_counter()
    overall, clauses = run_robustness(later, version)
    flips, _after = rb.flips(later, shows_prompts=False)
    orphans = rb.orphan_variants(later)
    robustness_seconds = time.perf_counter() - started
    started = time.perf_counter()
    alerts = drift_detect(run=later, earlier=earlier)
    drift_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("SELECT count(*) FROM audits_evaluationsample WHERE run_id = %s", [later.pk])
        scan_seconds = time.perf_counter() - started
    total = robustness_seconds + drift_seconds
    key = version.clauses.order_by("position").values_list("key", flat=True).first()
    page = f"/evidence/policies/{MATRIX_ORGANIZATION}/{MATRIX_POLICY}/clauses/{key}/"
    result = http_load(ctx.base_url, page, requests=ctx.scaled(300, 60), concurrency=4)
    # Where the page's time goes: the evidence it already read, and the robustness section.
    from audits import selectors
    from audits.robustness_selectors import clause_robustness

    started = time.perf_counter()
    evidence = selectors.clause_evidence(policy, key)
    evidence_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    samples = selectors.clause_samples(evidence[0])
    samples_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    clause_robustness(evidence)
    robustness_ms = (time.perf_counter() - started) * 1000
    figures = [
        Figure(
            AREA,
            f"robustness and drift recomputed ({count:,} samples, 8 framings, "
            f"{len(clauses)} clauses)",
            total,
            "s",
            "count(*) of the run's samples",
            scan_seconds,
            higher_is_better=False,
            target=f"< {TARGET_SECONDS:g} s",
            target_met=total < TARGET_SECONDS,
            note=(
                f"robustness {robustness_seconds:.1f} s ({len(overall.rows)} framings, "
                f"first flips page {len(flips)}, {orphans} orphans); drift "
                f"{drift_seconds:.1f} s ({len(alerts)} alerts opened)"
            ),
        ),
        *latency_figures(
            AREA,
            "clause evidence page (with robustness, 22 runs of up to 1M samples)",
            result,
            ctx,
            target_p95_ms=TARGET_P95_MS,
        ),
    ]
    figures[1].note = (
        f"served from the cache until anything it shows changes (see the next figure); in "
        f"process, computed once: clause evidence {evidence_ms:.0f} ms, its first samples "
        f"page {samples_ms:.0f} ms ({len(samples[0])}), robustness section {robustness_ms:.0f} ms"
    )
    figures.extend(_cold(ctx, page, requests=ctx.scaled(40, 15)))
    return figures


def _cold(ctx: Context, path: str, *, requests: int) -> list[Figure]:
    return cold_cache_figures(
        ctx, AREA, "clause evidence page computed, cache empty p95", path, requests=requests
    )
