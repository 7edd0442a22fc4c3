"""Concurrent appends from several OS processes, each with its own database connection, keep
one unbroken chain."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import time

import pytest
from django.conf import settings
from django.db import connection

from governance.models import LedgerEntry
from governance.selectors.ledger import ledger_verify
from tests.governance.test_ledger import append, export_bytes, run_script

WORKERS = 4
APPENDS_EACH = 25

# Each worker: its own Django and its own connection to the test database; it says "ready",
# waits for the start signal on stdin (a barrier), then appends, one transaction per entry,
# with a little real work inside the transaction to widen the window for a race.
WORKER = textwrap.dedent(
    """
    import sys

    import django

    django.setup()
    from django.db import connection, transaction

    from governance.services.ledger import ledger_append

    worker, count = int(sys.argv[1]), int(sys.argv[2])
    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()
    for n in range(count):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(0.001)")
            ledger_append(
                actor="system",
                action="test.concurrent",
                subject=f"worker:{worker}",
                payload={"worker": worker, "n": n},
            )
    print("done", flush=True)
    """
)


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_it_keeps_one_chain_when_processes_append_at_the_same_time():
    append(3, action="test.before")  # the workers must chain onto an existing head
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),  # the test database, not the development one
        "DJANGO_SETTINGS_MODULE": "governance.settings",
        "DJANGO_ENV": "local",
        "CONN_MAX_AGE": "0",
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(i), str(APPENDS_EACH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=settings.BASE_DIR,
            env=env,
            text=True,
        )
        for i in range(WORKERS)
    ]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
        started = time.monotonic()
        for worker in workers:  # everyone waits on the same signal
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            assert out.strip() == "done"
        elapsed = time.monotonic() - started
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    total = 3 + WORKERS * APPENDS_EACH
    assert list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, total + 1)
    )
    result = ledger_verify()
    assert result.ok, str(result)
    assert result.count == total
    for i in range(WORKERS):
        payloads = list(
            LedgerEntry.objects.filter(subject=f"worker:{i}")
            .order_by("seq")
            .values_list("payload", flat=True)
        )
        # Each worker's own appends are in its own order, none lost or doubled.
        assert payloads == [{"worker": i, "n": n} for n in range(APPENDS_EACH)]
    # The appends really interleaved: the workers' entries are not four separate runs.
    subjects = list(
        LedgerEntry.objects.filter(seq__gt=3).order_by("seq").values_list("subject", flat=True)
    )
    switches = sum(1 for a, b in itertools.pairwise(subjects) if a != b)
    assert switches > WORKERS - 1, f"no interleaving in {elapsed:.1f}s: {subjects}"
    script = run_script(export_bytes())
    assert (script.returncode, script.stdout.decode().strip()) == (0, str(result))
