"""Baselines every other figure is compared with: raw PostgreSQL writes and a hello-world view.

(a) single-row INSERTs in autocommit, and COPY, into a table shaped like the ledger's;
(b) p50/p95 and req/s of a view that does no work, on the same gunicorn as the real pages.
"""

from __future__ import annotations

import os
import time

from django.db import connection

from bench.core import Context, Figure, http_load

AREA = "baseline"
TABLE = "bench_raw_entry"


def _create_table(cursor) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
    cursor.execute(
        f"""CREATE TABLE {TABLE} (
            seq bigint PRIMARY KEY,
            at timestamptz NOT NULL,
            actor varchar(80) NOT NULL,
            action varchar(80) NOT NULL,
            subject varchar(120) NOT NULL,
            payload jsonb NOT NULL,
            prev_hash varchar(64) NOT NULL,
            hash varchar(64) NOT NULL UNIQUE
        )"""
    )


def _row(i: int) -> tuple:
    return (
        i,
        "2026-01-01T00:00:00Z",
        "system",
        "bench.raw",
        f"organization:{i % 500}",
        f'{{"i": {i}}}',
        os.urandom(32).hex(),
        os.urandom(32).hex(),
    )


def raw_insert_rate(count: int) -> float:
    """Rows per second, one INSERT statement and one commit per row (autocommit)."""
    raw = connection.connection  # the psycopg connection under Django's
    previous = raw.autocommit
    raw.autocommit = True
    try:
        with raw.cursor() as cursor:
            _create_table(cursor)
            sql = f"INSERT INTO {TABLE} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            started = time.perf_counter()
            for i in range(1, count + 1):
                cursor.execute(sql, _row(i))
            return count / (time.perf_counter() - started)
    finally:
        raw.autocommit = previous


def raw_copy_rate(count: int) -> float:
    """Rows per second through COPY … FROM STDIN in one transaction."""
    raw = connection.connection
    previous = raw.autocommit
    raw.autocommit = True
    try:
        with raw.cursor() as cursor:
            _create_table(cursor)
            rows = [_row(i) for i in range(1, count + 1)]
            started = time.perf_counter()
            with raw.transaction(), cursor.copy(f"COPY {TABLE} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            rate = count / (time.perf_counter() - started)
            cursor.execute(f"DROP TABLE {TABLE}")
            return rate
    finally:
        raw.autocommit = previous


def run(ctx: Context) -> list[Figure]:
    connection.ensure_connection()
    inserts = ctx.scaled(5000, 1000)
    insert_rate = raw_insert_rate(inserts)
    copy_rows = ctx.scaled(100_000, 20_000)
    copy_rate = raw_copy_rate(copy_rows)
    hello = http_load(ctx.base_url, "/bench/hello", requests=ctx.scaled(1000, 200), concurrency=4)

    figures = {
        "raw_insert": Figure(
            AREA,
            "raw INSERT loop (1 row per statement, autocommit)",
            insert_rate,
            "rows/s",
            note=f"{inserts} rows",
        ),
        "raw_copy": Figure(AREA, "raw COPY", copy_rate, "rows/s", note=f"{copy_rows} rows"),
        "hello_p50": Figure(
            AREA, "hello-world view p50", hello.p50_ms, "ms", higher_is_better=False
        ),
        "hello_p95": Figure(
            AREA, "hello-world view p95", hello.p95_ms, "ms", higher_is_better=False
        ),
        "hello_rps": Figure(
            AREA,
            "hello-world view throughput",
            hello.per_second,
            "req/s",
            note=f"{hello.requests} requests, 4 client threads, 2 gunicorn workers",
        ),
    }
    if hello.errors:
        figures["hello_rps"].note += f"; {hello.errors} non-200: {hello.statuses}"
    ctx.baselines.update(figures)
    return list(figures.values())
