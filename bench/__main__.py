"""`python -m bench` (`make bench`): create a throwaway database, serve the site from it with
gunicorn on a free loopback port, run every area's figures, print them beside their baselines
and write the results as JSON to bench/results/. The database is dropped at the end.

Without DATABASE_URL the embedded PostgreSQL (pgserver, .data/pg) is used, as by `make run`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime

from bench.core import BASE_DIR, BENCH_DATABASE, RESULTS_DIR, Context, Figure, Server

# Run in this order: the baselines first, since every later figure is read against them.
# A new area adds one module with `run(ctx) -> list[Figure]` to this list.
MODULES = [
    "bench.baselines",
    "bench.ledger",
    "bench.policies",
    "bench.comments",
    "bench.evidence",
    "bench.robustness",
    "bench.health",
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="Smaller counts: a smoke run of every figure."
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="AREA",
        help="Run only this module (e.g. ledger); the baselines always run. Repeatable.",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help=f"Do not drop {BENCH_DATABASE} at the end."
    )
    return parser.parse_args(argv)


def prepare_environment() -> dict[str, str]:
    os.environ["DJANGO_ENV"] = "local"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["BENCH_DATABASE_NAME"] = BENCH_DATABASE
    # The bench measures the stack, not the API's anti-abuse limits.
    os.environ["THROTTLE_ANON"] = "100000000/min"
    os.environ["THROTTLE_USER"] = "100000000/min"
    # All bench traffic comes from one loopback address; the per-account limit stays as shipped.
    os.environ["COMMENT_RATE_IP"] = "100000000/minute"
    os.environ.setdefault("LOG_FORMAT", "json")
    return dict(os.environ)


def create_database() -> None:
    from django.db import connection

    # Django's own maintenance connection (to the "postgres" database), as the test runner uses.
    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


def drop_database() -> None:
    from django.db import connection, connections

    connections.close_all()
    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def ratio_text(figure: Figure) -> str:
    if figure.ratio is None:
        return "—"
    return f"{figure.ratio:.2f}x"


def print_table(figures: list[Figure]) -> None:
    rows = [("area", "figure", "value", "baseline", "ratio", "target")]
    for f in figures:
        baseline = f"{f.baseline_name}: {fmt(f.baseline_value)}" if f.baseline_name else ""
        target = f.target
        if f.target and f.target_met is not None:
            target += " ✔" if f.target_met else " ✘"
        rows.append((f.area, f.name, fmt(f.value, f.unit), baseline, ratio_text(f), target))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    line = "  ".join("─" * w for w in widths)
    print(line)
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print(line)
    print(line)
    print(
        "ratio = value / baseline. For rates (rows/s, req/s) higher is better; for times "
        "(ms, s) lower is better."
    )
    for f in figures:
        if f.note:
            print(f"  · {f.name}: {f.note}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = prepare_environment()
    embedded_started_here = (
        not os.environ.get("DATABASE_URL")
        and not (BASE_DIR / ".data" / "pg" / "postmaster.pid").exists()
    )

    import django

    django.setup()
    # One line per request from the load loop would bury the table.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.core.management import call_command

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.perf_counter()
    figures: list[Figure] = []
    failures: list[str] = []
    print(f"Creating {BENCH_DATABASE} and migrating…", flush=True)
    create_database()
    try:
        call_command("migrate", interactive=False, verbosity=0)
        # As `make run` does: pages link their CSS through the static files manifest.
        call_command("collectstatic", interactive=False, verbosity=0)
        log_path = RESULTS_DIR / f"gunicorn-{stamp}.log"
        with Server(env, workers=2, log_path=log_path) as server:
            ctx = Context(base_url=server.base_url, env=server.env, quick=args.quick)
            print(f"gunicorn (2 workers, gthread) at {server.base_url}; log: {log_path}")
            selected = [
                m
                for m in MODULES
                if m == "bench.baselines" or not args.only or m.split(".")[-1] in args.only
            ]
            for name in selected:
                print(f"Running {name}…", flush=True)
                module = importlib.import_module(name)
                module_started = time.perf_counter()
                try:
                    figures.extend(module.run(ctx))
                # One area failing must not hide the others' figures; it is reported below
                # and makes the run exit non-zero.
                except Exception:
                    failures.append(f"{name}:\n{traceback.format_exc()}")
                    print(f"  {name} FAILED", flush=True)
                print(f"  {name}: {time.perf_counter() - module_started:.1f} s", flush=True)
    finally:
        if args.keep_database:
            print(f"Keeping database {BENCH_DATABASE}.")
        else:
            drop_database()
        if embedded_started_here:
            from governance import embedded

            embedded.stop_database()

    # A figure measured on error pages measures nothing: it fails the run.
    bad_paths: dict[str, dict] = {}
    for f in figures:
        bad = {s: n for s, n in f.detail.get("statuses", {}).items() if s != 200}
        if bad:
            bad_paths[f.detail["path"]] = bad
    failures.extend(f"GET {path}: non-200 answers {bad}" for path, bad in bad_paths.items())
    elapsed = time.perf_counter() - started
    print()
    print_table(figures)
    for failure in failures:
        print(f"\nFAILED {failure}", file=sys.stderr)
    report = {
        "started_at": stamp,
        "seconds": round(elapsed, 1),
        "quick": args.quick,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "database": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded pgserver",
        "figures": [f.as_dict() for f in figures],
        "failures": failures,
    }
    out = RESULTS_DIR / f"bench-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (RESULTS_DIR / "latest.json").write_text(out.read_text())
    print(f"\nResults: {out} ({elapsed:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
