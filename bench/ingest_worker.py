"""The evidence-ingestion figure's worker: `python -m bench.ingest_worker RUN_ID`.

Runs `audits.services.run_ingest` for one queued run in its own process, as the Celery worker
would, and prints "<seconds> <peak RSS in bytes> <status> <samples>" for the parent.
"""

from __future__ import annotations

import os
import resource
import sys
import time


def main() -> None:
    run_id = int(sys.argv[1])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from audits.services import run_ingest

    started = time.perf_counter()
    run = run_ingest(run_id)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    print(f"{seconds} {peak} {run.status} {run.sample_count}", flush=True)
    if run.status != "complete":
        print(run.error, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
