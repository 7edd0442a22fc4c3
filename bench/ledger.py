"""The public ledger: append rate (one and two processes) against raw INSERTs, bulk loading with
real hashes against raw COPY, chain verification against that COPY, and the ledger's page and
API latency with 100,000 entries against the hello-world view."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from bench.core import BASE_DIR, Context, Figure, http_load, latency_figures, timed
from governance.canonical import canonical_json
from governance.models import LedgerEntry
from governance.models.ledger import GENESIS_HASH
from governance.selectors.ledger import ledger_verify
from governance.services.ledger import entry_hash, format_at, hashed_document, ledger_append

AREA = "ledger"
ACTIONS = (
    "organization.created",
    "organization.verified",
    "membership.added",
    "membership.role_changed",
    "policy_version.published",
    "comment.posted",
)
FILTER_ACTION = "organization.verified"


def _append_loop(count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        with transaction.atomic():
            ledger_append(
                actor="system", action="bench.append", subject="bench:main", payload={"i": i}
            )
    return count / (time.perf_counter() - started)


def _append_concurrently(ctx: Context, processes: int, each: int) -> float:
    """Appends per second across `processes` OS processes appending at the same moment."""
    start_at = time.time() + 3.0  # time for every process to import Django and connect
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.append_worker", str(each), str(start_at)],
            cwd=BASE_DIR,
            env=ctx.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    spans = []
    for child in children:
        out, _ = child.communicate(timeout=300)
        if child.returncode != 0:
            raise RuntimeError(f"append worker failed with exit code {child.returncode}")
        first, last, count = out.split()
        spans.append((float(first), float(last), int(count)))
    total = sum(count for _, _, count in spans)
    return total / (max(last for _, last, _ in spans) - min(first for first, _, _ in spans))


def _chained_rows(count: int):
    """`count` new entries continuing the current chain, with real SHA-256 hashes."""
    last = LedgerEntry.objects.order_by("-seq").values_list("seq", "hash", "at").first()
    seq, prev_hash, at = last if last else (0, GENESIS_HASH, timezone.now())
    rows = []
    for i in range(count):
        seq += 1
        at += timedelta(milliseconds=1)
        action = ACTIONS[i % len(ACTIONS)]
        subject = f"organization:{i % 500 + 1}"
        actor = "system" if i % 7 == 0 else f"user:{i % 1000 + 1}"
        payload = {"i": i, "name": f"Organization {i % 500 + 1}", "flags": [i % 2 == 0]}
        document = hashed_document(
            seq=seq,
            at=format_at(at),
            actor=actor,
            action=action,
            subject=subject,
            payload=payload,
            prev_hash=prev_hash,
        )
        digest = entry_hash(document)
        rows.append(
            (
                seq,
                at,
                actor,
                action,
                subject,
                canonical_json(payload).decode(),
                prev_hash,
                digest,
            )
        )
        prev_hash = digest
    return rows


def _copy_rows(rows) -> float:
    table = LedgerEntry._meta.db_table
    columns = "seq, at, actor, action, subject, payload, prev_hash, hash"
    connection.ensure_connection()
    started = time.perf_counter()
    with (
        transaction.atomic(),
        connection.connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
    return elapsed


def run(ctx: Context) -> list[Figure]:
    figures: list[Figure] = []
    raw_insert = ctx.baseline("raw_insert")
    raw_copy = ctx.baseline("raw_copy")
    insert_rate = raw_insert.value if raw_insert else None

    single = ctx.scaled(3000, 500)
    figures.append(
        Figure(
            AREA,
            "ledger_append, 1 process",
            _append_loop(single),
            "appends/s",
            "raw INSERT loop",
            insert_rate,
            note=f"{single} appends, one transaction each",
        )
    )
    each = ctx.scaled(1500, 300)
    figures.append(
        Figure(
            AREA,
            "ledger_append, 2 processes at once",
            _append_concurrently(ctx, 2, each),
            "appends/s",
            "raw INSERT loop",
            insert_rate,
            note=f"2 x {each} appends, serialised by the advisory lock",
        )
    )

    # 100,000 entries (minus those appended above) through COPY, hashed for real.
    target_entries = ctx.scaled(100_000, 20_000)
    missing = max(0, target_entries - LedgerEntry.objects.count())
    hash_seconds, rows = timed(lambda: _chained_rows(missing))
    copy_seconds = _copy_rows(rows)
    total = LedgerEntry.objects.count()
    figures.append(
        Figure(
            AREA,
            f"ledger bulk load of {missing:,} hashed entries (COPY)",
            missing / copy_seconds,
            "rows/s",
            "raw COPY",
            raw_copy.value if raw_copy else None,
            note=f"hashing took {hash_seconds:.2f} s before the COPY",
        )
    )

    verify_seconds, result = timed(lambda: ledger_verify())
    if not result.ok:
        raise RuntimeError(f"the bench's own ledger does not verify: {result}")
    figures.append(
        Figure(
            AREA,
            f"verify_ledger over {total:,} entries",
            verify_seconds,
            "s",
            f"COPY of {missing:,} entries",
            copy_seconds,
            higher_is_better=False,
            note=f"{total / verify_seconds:,.0f} entries/s",
        )
    )

    requests = ctx.scaled(400, 100)
    deep = total // 2
    pages = [
        ("/ledger/ first page", "/ledger/"),
        ("/ledger/ deep page", f"/ledger/?before={deep}"),
        ("/ledger/ filtered by action", f"/ledger/?action={FILTER_ACTION}"),
        ("/api/v1/ledger/ first page", "/api/v1/ledger/"),
        ("/api/v1/ledger/ filtered by action", f"/api/v1/ledger/?action={FILTER_ACTION}"),
    ]
    for label, path in pages:
        result = http_load(ctx.base_url, path, requests=requests, concurrency=4)
        figures.extend(latency_figures(AREA, f"{label} ({total:,} entries)", result, ctx))
    return figures
