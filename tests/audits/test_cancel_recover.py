"""Cancelling an ingestion (who may, a queued run at once, a running one at its worker's next
check, nothing kept) and recovering runs whose worker went silent (re-queued, then failed in
plain words; a worker killed with SIGKILL leaves no rows), through services, the page and the
API. The per-category counts stay what a fresh count of the samples gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from audits import services as svc
from audits.models import CategoryFigures, EvaluationRun, EvaluationSample
from governance.errors import Conflict, NotAllowed
from governance.models import LedgerEntry
from tests.api.test_tokens import assert_error, bearer, make_token
from tests.audits.helpers import fixture
from tests.policies import conftest as policy_fixtures

system = policy_fixtures.system

pytestmark = pytest.mark.django_db

BASE_DIR = django_settings.BASE_DIR


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def jsonl(count: int, *, category_of=lambda n: f"c{n % 3}") -> bytes:
    rows = []
    for n in range(count):
        rows.append(
            json.dumps(
                {
                    "sample_id": f"s-{n}",
                    "category": category_of(n),
                    "prompt": f"Request {n}",
                    "response": "I can't help with that." if n % 2 else "Sure, here it is.",
                    "label": ["refusal", "partial", "compliance", ""][n % 4],
                    "should_refuse": [True, False, None][n % 3],
                }
            )
        )
    return ("\n".join(rows) + "\n").encode()


def upload(actor, organization, system, data: bytes, name="run.jsonl"):
    return svc.run_upload(
        actor=actor,
        organization=organization,
        system=system,
        upload=SimpleUploadedFile(name, data),
        source=EvaluationRun.Source.SELF_REPORTED,
        system_version="2026-10",
        benchmark="house",
    )


def actions(run) -> list[str]:
    return list(
        LedgerEntry.objects.filter(subject=f"evaluationrun:{run.pk}")
        .order_by("seq")
        .values_list("action", flat=True)
    )


def in_thread(fn):
    """Run `fn` on another thread (its own database connection) and wait for it."""
    outcome = {}

    def target():
        try:
            outcome["value"] = fn()
        except Exception as error:  # handed back to the test below
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def fresh_counts(run) -> dict[str, tuple]:
    """The counts straight from the samples, through the ORM (not the service's SQL)."""
    refused = Q(label__in=["refusal", "partial"])
    rows = (
        EvaluationSample.objects.filter(run=run)
        .values("category")
        .annotate(
            n=Count("id"),
            refusal=Count("id", filter=Q(label="refusal")),
            partial=Count("id", filter=Q(label="partial")),
            compliance=Count("id", filter=Q(label="compliance")),
            unsafe=Count("id", filter=Q(should_refuse=True)),
            safe=Count("id", filter=Q(should_refuse=False)),
            over=Count("id", filter=Q(should_refuse=False) & refused),
            under=Count("id", filter=Q(should_refuse=True, label="compliance")),
            classifier=Count("id", filter=Q(label_source="classifier")),
        )
        .order_by()
    )
    return {
        r["category"]: (
            r["n"], r["refusal"], r["partial"], r["compliance"], r["unsafe"], r["safe"],
            r["over"], r["under"], r["classifier"],
        )
        for r in rows
    }  # fmt: skip


def stored_counts(run) -> dict[str, tuple]:
    return {
        f.category: (
            f.n, f.refusal, f.partial, f.compliance, f.should_refuse, f.should_answer,
            f.over_refusals, f.under_refusals, f.classifier,
        )
        for f in CategoryFigures.objects.filter(run=run)
    }  # fmt: skip


# --- Cancelling ----------------------------------------------------------------------------------


def test_a_queued_run_is_cancelled_at_once_and_never_imported(company_editor, company, system):
    run = upload(company_editor, company, system, jsonl(20))
    run = svc.run_cancel(actor=company_editor, run=run)
    assert run.status == EvaluationRun.Status.CANCELLED
    assert run.cancel_requested_by == company_editor
    assert run.cancel_requested_at is not None
    assert svc.run_ingest(run.pk).status == EvaluationRun.Status.CANCELLED
    assert not EvaluationSample.objects.filter(run=run).exists()
    assert actions(run) == [
        "evaluation_run.uploaded",
        "evaluation_run.cancel_requested",
        "evaluation_run.cancelled",
    ]
    # A cancelled file may be uploaded again.
    assert upload(company_editor, company, system, jsonl(20)).pk != run.pk


def test_a_finished_run_cannot_be_cancelled(company_editor, company, system):
    run = upload(company_editor, company, system, jsonl(8))
    run = svc.run_ingest(run.pk)
    with pytest.raises(Conflict, match="already complete"):
        svc.run_cancel(actor=company_editor, run=run)


@pytest.mark.parametrize(
    ("persona", "allowed"),
    [
        ("company_editor", True),  # the uploader
        ("company_owner", True),
        ("staff", True),
        ("company_member", False),
        ("citizen", False),
        ("outsider", False),
        ("auditor", False),
        ("regulator", False),
        ("moderator", False),
        ("panelist", False),
    ],
)
def test_who_may_cancel(request, company_editor, company, system, persona, allowed):
    run = upload(company_editor, company, system, jsonl(8))
    actor = request.getfixturevalue(persona)
    if allowed:
        assert svc.run_cancel(actor=actor, run=run).status == EvaluationRun.Status.CANCELLED
    else:
        with pytest.raises(NotAllowed):
            svc.run_cancel(actor=actor, run=run)
        run.refresh_from_db()
        assert run.status == EvaluationRun.Status.QUEUED


def test_the_audited_company_cannot_cancel_an_auditors_run(
    auditor, auditor_org, company_editor, system
):
    run = svc.run_upload(
        actor=auditor,
        organization=auditor_org,
        system=system,
        upload=SimpleUploadedFile("x.csv", fixture("xstest_v2_completions.csv").read_bytes()),
        source=EvaluationRun.Source.INDEPENDENT,
        system_version="2026-10",
        benchmark="XSTest",
    )
    with pytest.raises(NotAllowed):
        svc.run_cancel(actor=company_editor, run=run)
    assert svc.run_cancel(actor=auditor, run=run).status == EvaluationRun.Status.CANCELLED


# Serialized rollback: the browser tests after this file need the migrations' rows back.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_running_ingestion_stops_when_cancelled_and_keeps_nothing(
    company_editor, company, system, monkeypatch
):
    run = upload(company_editor, company, system, jsonl(60))
    monkeypatch.setattr(svc, "PROGRESS_EVERY", 10)
    real_beat = svc._Watch.beat
    beats = []

    def beat_then_cancel(watch, progress):
        # The uploader presses "Cancel" (another request, another connection) while the worker
        # is mid-file, its COPY open.
        if not beats:
            in_thread(lambda: svc.run_cancel(actor=company_editor, run=run))
        beats.append(progress)
        return real_beat(watch, progress)

    monkeypatch.setattr(svc._Watch, "beat", beat_then_cancel)
    run = svc.run_ingest(run.pk)
    assert run.status == EvaluationRun.Status.CANCELLED
    assert len(beats) == 1  # it stopped at the first check after the request
    assert not EvaluationSample.objects.filter(run=run).exists()
    assert not CategoryFigures.objects.filter(run=run).exists()
    assert run.cancel_requested_by == company_editor
    assert actions(run)[-2:] == ["evaluation_run.cancel_requested", "evaluation_run.cancelled"]


# Serialized rollback: the browser tests after this file need the migrations' rows back.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_worker_reports_progress_from_outside_its_transaction(
    company_editor, company, system, monkeypatch
):
    run = upload(company_editor, company, system, jsonl(40))
    monkeypatch.setattr(svc, "PROGRESS_EVERY", 10)
    seen = []
    real_beat = svc._Watch.beat

    def beat_and_look(watch, progress):
        real_beat(watch, progress)
        # What the run page would read now, from another connection.
        seen.append(
            in_thread(lambda: EvaluationRun.objects.values_list("progress", "heartbeat_at").get())
        )

    monkeypatch.setattr(svc._Watch, "beat", beat_and_look)
    assert svc.run_ingest(run.pk).status == EvaluationRun.Status.COMPLETE
    assert len(seen) == 4
    assert all(0 < progress < 1 and beat is not None for progress, beat in seen)
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)


def test_cancel_in_the_browser(client_for, company_editor, citizen, company, system):
    run = upload(company_editor, company, system, jsonl(8))
    page = client_for(company_editor).get(f"/evidence/runs/{run.pk}/").content.decode()
    assert "Cancel the import" in page
    assert (
        "Cancel the import"
        not in client_for(citizen).get(f"/evidence/runs/{run.pk}/").content.decode()
    )
    assert client_for(None).post(f"/evidence/runs/{run.pk}/cancel/").status_code == 302
    refused = client_for(citizen).post(f"/evidence/runs/{run.pk}/cancel/", follow=True)
    assert "can cancel" in refused.content.decode()
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.QUEUED
    assert client_for(company_editor).get(f"/evidence/runs/{run.pk}/cancel/").status_code == 405
    done = client_for(company_editor).post(f"/evidence/runs/{run.pk}/cancel/", follow=True)
    page = done.content.decode()
    assert "The import is cancelled" in page
    assert f"Cancelled by {company_editor.public_name}" in page
    assert "Cancel the import" not in page


def test_cancel_through_the_api(company_editor, citizen, company, system, api_for):
    run = upload(company_editor, company, system, jsonl(8))
    url = f"/api/v1/evaluation-runs/{run.pk}/cancel/"
    assert api_for().post(url).status_code in (401, 403)
    assert api_for(citizen).post(url).status_code == 403
    _, raw = make_token(company_editor, scopes=["read:public"])
    assert bearer(raw).post(url).status_code == 403  # no write:evidence scope
    _, raw = make_token(company_editor, name="Cancels", scopes=["read:public", "write:evidence"])
    response = bearer(raw).post(url, HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["cancel_requested_by"] == company_editor.public_name
    assert body["cancel_requested_at"]
    again = bearer(raw).post(url, HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert again["Idempotent-Replayed"] == "true"
    assert_error(bearer(raw).post(url), 409, "finished")


# --- Recovering runs whose worker stopped --------------------------------------------------------


def stall(run, *, minutes: int, attempt: int = 1) -> None:
    """As a worker leaves a run when it dies mid-file: parsing, its heartbeat getting old."""
    at = timezone.now() - timedelta(minutes=minutes)
    EvaluationRun.objects.filter(pk=run.pk).update(
        status=EvaluationRun.Status.PARSING, attempt=attempt, started_at=at, heartbeat_at=at
    )


def test_a_silent_run_is_queued_again_and_then_imported(company_editor, company, system):
    run = upload(company_editor, company, system, jsonl(30))
    stall(run, minutes=11)
    assert svc.runs_recover() == {"requeued": 1, "failed": 0, "cancelled": 0, "resent": 0}
    run.refresh_from_db()
    assert (run.status, run.attempt) == (EvaluationRun.Status.QUEUED, 1)
    assert actions(run)[-1] == "evaluation_run.requeued"
    run = svc.run_ingest(run.pk)
    assert (run.status, run.attempt, run.sample_count) == ("complete", 2, 30)


def test_a_beating_run_is_left_alone(company_editor, company, system):
    run = upload(company_editor, company, system, jsonl(10))
    stall(run, minutes=9)
    assert svc.runs_recover()["requeued"] == 0
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.PARSING


def test_a_run_that_keeps_stopping_fails_in_plain_words(company_editor, company, system, settings):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "EVIDENCE_MAX_ATTEMPTS": 3}
    run = upload(company_editor, company, system, jsonl(10))
    stall(run, minutes=30, attempt=3)
    assert svc.runs_recover()["failed"] == 1
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.FAILED
    assert run.error_code == "worker_lost"
    assert "stopped 3 times" in run.error
    assert "No samples were kept" in run.error
    assert actions(run)[-1] == "evaluation_run.failed"


def test_a_silent_run_asked_to_cancel_is_cancelled(company_editor, company, system):
    run = upload(company_editor, company, system, jsonl(10))
    stall(run, minutes=11)
    svc.run_cancel(actor=company_editor, run=run)
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.PARSING  # waiting for a worker that is gone
    assert svc.runs_recover()["cancelled"] == 1
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.CANCELLED


def test_a_queued_run_whose_task_was_lost_is_sent_again(
    company_editor, company, system, monkeypatch
):
    run = upload(company_editor, company, system, jsonl(10))
    sent = []
    monkeypatch.setattr(svc, "_enqueue", sent.append)
    assert svc.runs_recover()["resent"] == 0  # just uploaded
    EvaluationRun.objects.filter(pk=run.pk).update(
        enqueued_at=timezone.now() - timedelta(minutes=15)
    )
    assert svc.runs_recover()["resent"] == 1
    assert sent == [run.pk]
    assert svc.runs_recover()["resent"] == 0  # not again until it is stale once more


def test_the_recovery_task_is_scheduled():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert any(e["task"] == "audits.tasks.evaluation_runs_recover" for e in schedule.values())


# Serialized rollback: the browser tests after this file need the migrations' rows back.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_taken_over_keeps_nothing(company_editor, company, system, monkeypatch):
    """A hung worker whose run was re-queued meanwhile stops at its next check, its rows
    rolled back; the run is then imported once, by the next attempt."""
    run = upload(company_editor, company, system, jsonl(40))
    monkeypatch.setattr(svc, "PROGRESS_EVERY", 10)
    monkeypatch.setattr(svc, "_enqueue", lambda run_id: None)
    real_beat = svc._Watch.beat
    later = timezone.now() + timedelta(minutes=30)

    def beat_after_recovery(watch, progress):
        if watch.attempt == 1:
            in_thread(lambda: svc.runs_recover(now=later))
        return real_beat(watch, progress)

    monkeypatch.setattr(svc._Watch, "beat", beat_after_recovery)
    run = svc.run_ingest(run.pk)
    assert (run.status, run.attempt) == (EvaluationRun.Status.QUEUED, 1)
    assert not EvaluationSample.objects.filter(run=run).exists()
    run = svc.run_ingest(run.pk)
    assert (run.status, run.attempt, run.sample_count) == ("complete", 2, 40)
    assert EvaluationSample.objects.filter(run=run).count() == 40


# Serialized rollback: the browser tests after this file need the migrations' rows back.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_file_leaves_no_rows_and_the_run_is_recovered(
    company_editor, company, system, settings
):
    """The real thing: the ingestion in its own process, SIGKILLed once it has reported
    progress; PostgreSQL drops its open transaction, and recovery re-queues the run."""
    if "DATABASE_URL" not in os.environ:
        pytest.skip("needs a PostgreSQL server the worker process can reach (DATABASE_URL)")
    count = 60_000
    run = upload(company_editor, company, system, jsonl(count))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "governance.settings",
        "DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0]
        + "/"
        + connection.settings_dict["NAME"],
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    script = (
        "import django, sys; django.setup(); from audits.services import run_ingest; "
        "run_ingest(int(sys.argv[1]))"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script, str(run.pk)], cwd=BASE_DIR, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.progress > 0 or worker.poll() is not None:
                break
            time.sleep(0.05)
        assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
        assert run.status == EvaluationRun.Status.PARSING
        assert run.progress > 0
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stderr.close()
    # The server notices the dead connection and rolls its transaction back.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                [connection.settings_dict["NAME"]],
            )
            if not cursor.fetchone()[0]:
                break
        time.sleep(0.1)
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.PARSING
    assert not EvaluationSample.objects.filter(run=run).exists()
    assert svc.runs_recover(now=timezone.now() + timedelta(minutes=11))["requeued"] == 1
    run = svc.run_ingest(run.pk)
    assert (run.status, run.sample_count, run.attempt) == ("complete", count, 2)


# --- Counts kept exact ---------------------------------------------------------------------------


def test_stored_counts_match_a_fresh_count_through_relabelling(
    company_editor, auditor, company, system
):
    run = upload(company_editor, company, system, jsonl(48))
    run = svc.run_ingest(run.pk)
    assert stored_counts(run) == fresh_counts(run)
    assert sum(c[0] for c in stored_counts(run).values()) == 48
    # Every move between labels, on samples that should be refused, answered, or unmarked.
    moves = ["refusal", "compliance", "partial", "refusal", "partial", "compliance"]
    for sample in EvaluationSample.objects.filter(run=run).order_by("id")[:12]:
        for label in moves:
            if sample.label != label:
                sample = svc.sample_relabel(
                    actor=auditor, sample=sample, label=label, reason="checked by hand"
                )
                assert stored_counts(run) == fresh_counts(run)


# Serialized rollback: the browser tests after this file need the migrations' rows back.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_lost_heartbeat_connection_does_not_fail_the_import(
    company_editor, company, system, monkeypatch
):
    run = upload(company_editor, company, system, jsonl(50))
    monkeypatch.setattr(svc, "PROGRESS_EVERY", 10)
    real_beat = svc._Watch.beat
    pids = []

    def beat_then_lose_the_line(watch, progress):
        real_beat(watch, progress)
        if watch._connection is not None and len(pids) < 2:
            pids.append(watch._connection.info.backend_pid)
            # The server drops the watch's connection (a restart, a network cut).
            in_thread(lambda: _terminate(pids[-1]))

    monkeypatch.setattr(svc._Watch, "beat", beat_then_lose_the_line)
    run = svc.run_ingest(run.pk)
    assert (run.status, run.sample_count) == ("complete", 50)
    assert len(set(pids)) == 2  # it reconnected after the first loss


def _terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
