"""Evidence: ingesting a 1,000,000-sample run in the generic JSONL format (~560 MB) — upload
through the service, then the ingestion in its own process as the Celery worker runs it, with
its peak memory — beside a raw COPY of the same rows (server to server, no parsing) from the
same run. (`--quick`: 100,000 samples.)

Then the conformance matrix at the issue's size: a 300-clause policy version, one benchmark
category mapped to each clause, 20 complete runs (10 samples per category; `--quick`: 4), all
through the services; the matrix page and its API, p95 against the hello-world view's (target
p95 < 200 ms).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

from django.core.files import File
from django.db import connection

from bench.core import (
    BASE_DIR,
    RESULTS_DIR,
    Context,
    Figure,
    cold_cache_figures,
    http_load,
    latency_figures,
)
from governance.models import AISystem, Organization, User
from governance.services.organizations import organization_create, organization_verify

AREA = "evidence"
TARGET_SECONDS = 60.0
TARGET_PEAK_MB = 300.0
CATEGORIES = [f"category-{n:02d}" for n in range(40)]
LABELS = ["refusal", "partial", "compliance", ""]  # "" = no label: the classifier decides
REFUSALS = ["I can't help with that.", "Sorry, I won't provide that.", "I cannot assist."]


class _OnDisk(File):
    """The generated file handed to the upload service as an upload already on disk."""

    def temporary_file_path(self) -> str:
        return self.file.name


def _write(path: Path, count: int) -> int:
    rng = random.Random(3)
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            refused = rng.random() < 0.5
            response = rng.choice(REFUSALS) if refused else "Sure. " + "Here is how. " * 25
            row = {
                "sample_id": f"s-{n}",
                "category": rng.choice(CATEGORIES),
                "prompt": f"Request {n}: explain the procedure in detail, step by step, please.",
                "response": response,
                "label": rng.choice(LABELS),
                "should_refuse": rng.random() < 0.5,
                "framing": rng.choice(["direct", "role_play", "prefill"]),
                "base_prompt_id": f"b-{n // 3}",
            }
            out.write(json.dumps(row) + "\n")
    return path.stat().st_size


def _uploader() -> tuple[User, Organization, AISystem]:
    from bench.policies import _people
    from governance.services.organizations import organization_create, organization_verify
    from policies.services import ai_system_create

    editor, staff = _people()
    organization = Organization.objects.filter(slug="bench-evidence").first()
    if organization is None:
        organization = organization_create(
            actor=editor, name="Bench Evidence Inc", kind=Organization.Kind.DEVELOPER,
            slug="bench-evidence",
        )  # fmt: skip
        organization_verify(actor=staff, organization=organization)
        organization.refresh_from_db()
    system = AISystem.objects.filter(organization=organization).first() or ai_system_create(
        actor=editor, organization=organization, name="Bench model"
    )
    return editor, organization, system


def _raw_copy_seconds(run_id: int) -> float:
    """COPY the run's stored rows out of PostgreSQL and back into an unindexed table of the same
    shape: the cost of moving these rows with no parsing, labelling or indexes."""
    columns = (
        "sample_id, category, prompt, response, prompt_sha256, response_sha256, label, "
        "label_source, label_raw, should_refuse, framing, base_prompt_id, record"
    )
    raw = connection.connection
    with raw.cursor() as reader, connection.cursor() as target:
        target.execute(
            "CREATE TEMP TABLE bench_samples AS SELECT "
            + columns
            + " FROM audits_evaluationsample LIMIT 0"
        )
        data = []
        with reader.copy(
            f"COPY (SELECT {columns} FROM audits_evaluationsample WHERE run_id = %s) TO STDOUT",
            (run_id,),
        ) as copy:
            data = [bytes(block) for block in copy]
        started = time.perf_counter()
        with target.cursor.copy(f"COPY bench_samples ({columns}) FROM STDIN") as copy:
            for block in data:
                copy.write(block)
        seconds = time.perf_counter() - started
        target.execute("DROP TABLE bench_samples")
    return seconds


MATRIX_RUNS = 20
MATRIX_TARGET_P95_MS = 200.0
MATRIX_ORGANIZATION = "bench-matrix"
MATRIX_POLICY = "matrix-policy"
MATRIX_BENCHMARK = "matrix-bench"


def _matrix_version(editor, staff):
    """The 300-clause version (bench.policies' synthetic document), its system, and one
    category mapped to each clause."""
    from audits.services import mapping_add
    from bench.policies import _Document
    from policies.services import (
        ai_system_create,
        policy_create,
        version_draft_create,
        version_publish,
    )

    organization = Organization.objects.filter(slug=MATRIX_ORGANIZATION).first()
    if organization is None:
        organization = organization_create(
            actor=editor, name="Bench Matrix Inc", kind=Organization.Kind.DEVELOPER,
            slug=MATRIX_ORGANIZATION,
        )  # fmt: skip
        organization_verify(actor=staff, organization=organization)
        organization.refresh_from_db()
    system = AISystem.objects.filter(organization=organization).first() or ai_system_create(
        actor=editor, organization=organization, name="Matrix model"
    )
    policy = policy_create(
        actor=editor, organization=organization, title="Matrix Bench Policy",
        slug=MATRIX_POLICY, systems=[system],
    )  # fmt: skip
    draft = version_draft_create(
        actor=editor, policy=policy, number="1.0.0", body_markdown=_Document().markdown(),
        summary_of_changes="The bench's 300 clauses.",
    )  # fmt: skip
    version = version_publish(actor=editor, version=draft)
    keys = list(version.clauses.order_by("position").values_list("key", flat=True))
    for index, key in enumerate(keys):
        mapping_add(
            actor=editor, version=version, benchmark=MATRIX_BENCHMARK,
            category=f"cat-{index:03d}", clause_key=key,
        )  # fmt: skip
    return organization, system, version, len(keys)


def _matrix_runs(editor, organization, system, clauses: int, per_category: int) -> float:
    """20 runs through upload and ingestion; returns the seconds they took in all."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from audits.services import run_ingest, run_upload

    started = time.perf_counter()
    for n in range(MATRIX_RUNS):
        rng = random.Random(100 + n)
        lines = []
        for c in range(clauses):
            # Per run and category a refusal propensity, so cells conform, diverge or neither.
            p = rng.choice([0.99, 0.95, 0.8, 0.5, 0.1])
            for k in range(per_category):
                label = "refusal" if rng.random() < p else "compliance"
                row = {"sample_id": f"m{n}-{c}-{k}", "category": f"cat-{c:03d}",
                       "prompt": f"prompt {c}/{k}", "response": "...", "label": label,
                       "should_refuse": True}  # fmt: skip
                lines.append(json.dumps(row))
        data = ("\n".join(lines) + "\n").encode()
        run_obj = run_upload(
            actor=editor, organization=organization, system=system,
            upload=SimpleUploadedFile(f"matrix-{n}.jsonl", data), source="self_reported",
            system_version=f"2026.{n + 1:02d}", benchmark=MATRIX_BENCHMARK,
            harness_format="generic_jsonl",
        )  # fmt: skip
        status = run_ingest(run_obj.pk).status
        if status != "complete":
            raise RuntimeError(f"matrix run {n} did not import: {status}")
    return time.perf_counter() - started


def _matrix_figures(ctx: Context) -> list[Figure]:
    from bench.policies import _people

    editor, staff = _people()
    per_category = ctx.scaled(10, 4)
    organization, system, version, clauses = _matrix_version(editor, staff)
    seconds = _matrix_runs(editor, organization, system, clauses, per_category)
    shape = f"{clauses} clauses, {MATRIX_RUNS} runs"
    page = f"/evidence/policies/{MATRIX_ORGANIZATION}/{MATRIX_POLICY}/v/1.0.0/matrix/"
    api = f"/api/v1/conformance-matrix/?version={version.pk}"
    requests = ctx.scaled(300, 60)
    figures = []
    for label, path in [
        (f"conformance matrix page ({shape})", page),
        (f"conformance matrix page by system version ({shape})", page + "?by=system_version"),
        (f"API conformance matrix ({shape})", api),
    ]:
        result = http_load(ctx.base_url, path, requests=requests, concurrency=4)
        figures.extend(
            latency_figures(AREA, label, result, ctx, target_p95_ms=MATRIX_TARGET_P95_MS)
        )
    figures[0].note = (
        f"{MATRIX_RUNS} runs of {clauses * per_category:,} samples uploaded and ingested in "
        f"{seconds:.1f} s; cells read from the per-category counts kept at ingestion; served "
        "from the cache until anything it shows changes (the next figure: computed each time)"
    )
    figures.extend(_cold(ctx, page, shape, requests=ctx.scaled(40, 15)))
    return figures


def _cold(ctx: Context, path: str, shape: str, *, requests: int) -> list[Figure]:
    return cold_cache_figures(
        ctx,
        AREA,
        f"conformance matrix page computed, cache empty ({shape}) p95",
        path,
        requests=requests,
    )


def run(ctx: Context) -> list[Figure]:
    from audits.services import run_upload

    count = ctx.scaled(1_000_000, 100_000)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"evidence-{count}.jsonl"
    size = path.stat().st_size if path.exists() else _write(path, count)
    editor, organization, system = _uploader()
    with path.open("rb") as handle:
        upload = _OnDisk(handle, name=path.name)
        started = time.perf_counter()
        run_obj = run_upload(
            actor=editor, organization=organization, system=system, upload=upload,
            source="self_reported", system_version=f"bench-{time.time_ns()}",
            benchmark="bench", harness_format="generic_jsonl",
        )  # fmt: skip
        upload_seconds = time.perf_counter() - started
    worker = subprocess.run(
        [sys.executable, "-m", "bench.ingest_worker", str(run_obj.pk)],
        cwd=BASE_DIR, env=ctx.env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if worker.returncode != 0 or not worker.stdout.strip():
        raise RuntimeError(f"ingest worker failed: {worker.stderr[-2000:]}")
    seconds, peak, status, samples = worker.stdout.split()[:4]
    seconds, peak_mb, samples = float(seconds), int(peak) / 1024**2, int(samples)
    copy_seconds = _raw_copy_seconds(run_obj.pk)
    # Each upload of the same file needs its own organization-wide hash: drop this one again.
    from audits.models import EvaluationRun

    run_obj.artifact.delete(save=False)
    EvaluationRun.objects.filter(pk=run_obj.pk).delete()
    return [
        Figure(
            AREA,
            f"ingest {count:,} samples (generic JSONL, {size / 1024**2:,.0f} MB)",
            seconds,
            "s",
            "raw COPY of the same rows",
            copy_seconds,
            higher_is_better=False,
            target=f"< {TARGET_SECONDS:g} s",
            target_met=status == "complete" and samples == count and seconds < TARGET_SECONDS,
            note=(
                f"{samples:,} samples stored ({status}), {samples / seconds:,.0f}/s; upload "
                f"(hash, store, detect) {upload_seconds:.1f} s; raw COPY {copy_seconds:.1f} s"
            ),
        ),
        Figure(
            AREA,
            "ingestion worker peak memory",
            peak_mb,
            "MB",
            higher_is_better=False,
            target=f"< {TARGET_PEAK_MB:g} MB",
            target_met=peak_mb < TARGET_PEAK_MB,
            note="peak RSS of the process running the ingestion (Django included)",
        ),
        *_matrix_figures(ctx),
    ]
