"""Evidence writes: upload a result file, ingest it (a Celery task), relabel a sample.

Uploading checks who may report for whom, refuses a file over the size limit before reading it,
stores it named by its SHA-256 (a second upload of the same file by the same organization is
refused with a pointer to the first), records the run on the ledger and queues the ingestion.
Ingestion streams the file through `audits.ingest`, labels each sample (the harness's label,
else the offline classifier's) and loads every sample with COPY in one transaction together
with the run's completion: a file that fails leaves no samples, only the run marked failed
with the reason in plain words.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import rules
from django.conf import settings
from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from audits import classifier
from audits.framings import check_base_prompt_id, normalize_framing
from audits.ingest import FORMATS, IngestError, Limits, open_evidence
from audits.models import EvaluationRun, EvaluationSample, SampleRelabel
from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import AISystem, Organization, User
from governance.services.ledger import ledger_append

log = logging.getLogger(__name__)

PROGRESS_EVERY = 5000  # samples between progress notes (heartbeats)
BEAT_SECONDS = 5.0  # and at most this long between them, however slow the samples come
_COPY_COLUMNS = (
    "run_id, sample_id, category, prompt, response, prompt_sha256, response_sha256, label, "
    "label_source, label_raw, should_refuse, framing, base_prompt_id, record"
)
_TEXT_FIELDS = {
    "system_version": 120,
    "benchmark": 120,
    "benchmark_version": 60,
    "notes": 5000,
}


def _setting(name: str) -> Any:
    return settings.OPENREFUSAL[name]


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, fields={field: [message]})


def _allowed(user: Any, permission: str, target: Any) -> bool:
    if user is None or not getattr(user, "is_active", False):
        return False
    return rules.has_perm(permission, user, target)


def _clean(field: str, value: Any, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _invalid(field, "This must be text.")
    value = value.strip()
    if "\x00" in value:
        raise _invalid(field, "This contains a NUL character.")
    if required and not value:
        raise _invalid(field, "This field is required.")
    limit = _TEXT_FIELDS[field]
    if len(value) > limit:
        raise _invalid(field, f"At most {limit:,} characters (this has {len(value):,}).")
    return value


def limits() -> Limits:
    return Limits(
        max_file_bytes=_setting("EVIDENCE_MAX_BYTES"),
        max_uncompressed_bytes=_setting("EVIDENCE_MAX_UNCOMPRESSED_BYTES"),
    )


def _hash_upload(upload) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


def _check_upload(upload, field: str) -> None:
    if upload is None:
        raise _invalid(field, "Choose a file to upload.")
    if not hasattr(upload, "chunks") or not hasattr(upload, "size"):
        raise _invalid(field, "This must be a file.")
    maximum = _setting("EVIDENCE_MAX_BYTES")
    if upload.size > maximum:  # from the upload's size: nothing of it is read
        raise _invalid(
            field,
            f"A result file may be at most {maximum / 1024**2:,.0f} MB "
            f"(this one is {upload.size / 1024**2:,.0f} MB).",
        )
    if upload.size == 0:
        raise _invalid(field, "This file is empty.")


def _source_allowed(actor: User, organization: Organization, system: AISystem, source: str):
    if source == EvaluationRun.Source.SELF_REPORTED:
        if organization.pk != system.organization_id:
            raise _invalid(
                "organization",
                "Self-reported evidence comes from the company that makes the system.",
            )
        if not _allowed(actor, "audits.upload_self_reported", system):
            raise NotAllowed(
                f"Only editors and owners of {system.organization.name} (a verified developer) "
                "can report its own results."
            )
    elif source == EvaluationRun.Source.INDEPENDENT:
        if organization.kind != Organization.Kind.AUDITOR:
            raise _invalid(
                "source", "Only an accredited auditor can upload evidence as independent."
            )
        if not _allowed(actor, "audits.upload_independent", organization):
            message = (
                f"{organization.name} is not an accredited auditor (or its accreditation has "
                "expired), so its evidence cannot be marked independent."
                if not (
                    organization.accreditation_expires_at
                    and organization.accreditation_expires_at > timezone.now()
                )
                else f"Only members of {organization.name} can upload its evidence."
            )
            raise NotAllowed(message, fields={"source": [message]})
    else:
        raise _invalid("source", "Choose self_reported or independent.")


@transaction.atomic
def run_upload(
    *,
    actor: User,
    organization: Organization,
    system: AISystem,
    upload,
    source: str,
    system_version: str,
    benchmark: str,
    benchmark_version: str = "",
    harness_format: str | None = None,
    companion=None,
    options: dict[str, Any] | None = None,
    withhold_prompts: bool = False,
    withhold_responses: bool = False,
    run_at: datetime | None = None,
    notes: str = "",
) -> EvaluationRun:
    """Store an evaluation result file and queue its ingestion."""
    _source_allowed(actor, organization, system, source)
    system_version = _clean("system_version", system_version, required=True)
    benchmark = _clean("benchmark", benchmark, required=True)
    benchmark_version = _clean("benchmark_version", benchmark_version, required=False)
    notes = _clean("notes", notes, required=False)
    if harness_format in ("", "auto"):
        harness_format = None
    if harness_format is not None and harness_format not in FORMATS:
        raise _invalid(
            "harness_format", f"Unknown format; choose one of {', '.join(sorted(FORMATS))}."
        )
    options = dict(options or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
        raise _invalid("options", "Options are names and text values.")
    _check_upload(upload, "artifact")
    if companion is not None:
        _check_upload(companion, "companion")
    sha, size = _hash_upload(upload)
    earlier = (
        EvaluationRun.objects.filter(organization=organization, artifact_sha256=sha)
        .exclude(status__in=[EvaluationRun.Status.FAILED, EvaluationRun.Status.CANCELLED])
        .first()
    )
    if earlier is not None:
        raise Conflict(
            f"{organization.name} already uploaded this file (run #{earlier.pk}, "
            f"{earlier.benchmark} on {earlier.system_version}).",
            code="duplicate_artifact",
        )
    # Detect (or check the chosen format) now, so a wrong file is refused at once.
    with _local_copy(upload) as path, _local_copy(companion) as companion_path:
        try:
            parser = open_evidence(
                path,
                format=harness_format,
                limits=limits(),
                companion=companion_path,
                **options,
            )
            meta = parser.meta
            # The first sample too: a missing column or a foreign file is refused now, not
            # after the upload was accepted (problems further in fail the ingestion).
            next(iter(parser.samples()), None)
        except IngestError as error:
            raise _invalid("artifact", str(error)) from None
        except TypeError as error:
            raise _invalid("options", f"Options not understood: {error}") from None
    run = EvaluationRun(
        organization=organization,
        system=system,
        system_version=system_version,
        benchmark=benchmark,
        benchmark_version=benchmark_version or (meta.benchmark_version or ""),
        harness_format=parser.format,
        harness=(meta.harness or "")[:80],
        harness_version=(meta.harness_version or "")[:60],
        model_name=(meta.model or "")[:200],
        judge=(meta.judge or "")[:200],
        judge_revision=(meta.judge_revision or "")[:60],
        source=source,
        run_at=run_at or meta.run_at,
        notes=notes,
        artifact_name=(getattr(upload, "name", "") or "upload")[-255:],
        artifact_size=size,
        artifact_sha256=sha,
        companion_name=(getattr(companion, "name", "") or "")[-255:] if companion else "",
        options=options,
        withhold_prompts=bool(withhold_prompts),
        withhold_responses=bool(withhold_responses),
        uploaded_by=actor,
        enqueued_at=timezone.now(),
    )
    run.artifact.save(sha, File(upload), save=False)
    if companion is not None:
        run.companion.save(sha, File(companion), save=False)
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:
        raise Conflict(
            f"{organization.name} already uploaded this file.", code="duplicate_artifact"
        ) from None
    ledger_append(
        actor=actor,
        action="evaluation_run.uploaded",
        subject=run,
        payload={
            "organization": organization.slug,
            "system": system.slug,
            "system_version": system_version,
            "benchmark": benchmark,
            "format": run.harness_format,
            "source": source,
            "sha256": sha,
            "bytes": size,
        },
    )
    transaction.on_commit(lambda: _enqueue(run.pk), robust=True)
    return run


def _enqueue(run_id: int) -> None:
    from audits.tasks import ingest_run

    ingest_run.delay(run_id)


@contextmanager
def _local_copy(upload) -> Iterator[Path | None]:
    """A path on disk for the parsers: the upload's temporary file when it has one, else a
    copy (small uploads live in memory)."""
    if upload is None:
        yield None
        return
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        yield Path(temporary())
        return
    with tempfile.NamedTemporaryFile(suffix=Path(upload.name or "").suffix[-10:]) as handle:
        upload.seek(0)
        for chunk in upload.chunks():
            handle.write(chunk)
        handle.flush()
        upload.seek(0)
        yield Path(handle.name)


@contextmanager
def _stored_path(field) -> Iterator[Path | None]:
    if not field:
        yield None
        return
    try:
        yield Path(field.path)
    except NotImplementedError:  # object storage: work on a local copy
        with tempfile.NamedTemporaryFile() as handle, field.open("rb") as source:
            shutil.copyfileobj(source, handle)
            handle.flush()
            yield Path(handle.name)


# --- Ingestion -----------------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _pg_text(text: str) -> str:
    # PostgreSQL text cannot hold NUL; the SHA-256 is of the text as the file had it.
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _rows(run: EvaluationRun, parser, labels: Counter, progress) -> Iterator[tuple]:
    classify = classifier.classify
    last_beat = time.monotonic()
    for n, sample in enumerate(parser.samples(), 1):
        if sample.label is not None:
            label, source = sample.label, EvaluationSample.LabelSource.HARNESS
            if sample.response:
                # The classifier's known error, measured on every harness-labelled response
                # (a partial refusal counts as a refusal, as in the XSTest paper).
                agrees = (label != "compliance") == (classify(sample.response) == "refusal")
                labels[("check", "agree" if agrees else "disagree")] += 1
        else:
            label, source = classify(sample.response), EvaluationSample.LabelSource.CLASSIFIER
        labels[(label, source)] += 1
        if len(sample.sample_id) > 300 or len(sample.category or "") > 300:
            raise IngestError(
                "Sample ids and categories may be at most 300 characters.",
                record=sample.record,
                code="malformed",
            )
        prompt, response = sample.prompt or "", sample.response or ""
        yield (
            run.pk,
            sample.sample_id,
            sample.category or "",
            # Withheld texts are stored for those who may read them (auditors, regulators);
            # everyone else is shown only their SHA-256.
            _pg_text(prompt),
            _pg_text(response),
            _sha(prompt),
            _sha(response),
            label,
            source,
            (sample.label_raw or "")[:100],
            sample.should_refuse,
            *_framing(sample, getattr(parser, "unit", "record")),
            sample.record,
        )
        if n % PROGRESS_EVERY == 0 or (
            n % 100 == 0 and time.monotonic() - last_beat >= BEAT_SECONDS
        ):
            progress(parser.progress)
            last_beat = time.monotonic()


def _framing(sample, unit: str) -> tuple[str, str]:
    """The sample's framing under its canonical name, and its base prompt's id."""
    try:
        return normalize_framing(sample.framing) or "", check_base_prompt_id(sample.base_prompt_id)
    except IngestError as error:
        raise IngestError(error.message, record=sample.record, unit=unit, code=error.code) from None


def _mark(run_id: int, **changes) -> None:
    EvaluationRun.objects.filter(pk=run_id).update(**changes)


class _Stopped(Exception):
    """The ingestion stops without keeping anything: cancelled, or no longer this worker's
    attempt (the run was re-queued or failed by `runs_recover`)."""


_ACTIVE = (EvaluationRun.Status.PARSING, EvaluationRun.Status.SCORING)

# Every per-category count, in SQL, for one run: written in the ingestion's transaction.
_FIGURES_SQL = """
INSERT INTO audits_categoryfigures (run_id, category, n, refusal, partial, compliance,
    should_refuse, should_answer, over_refusals, under_refusals, classifier)
SELECT run_id, category, count(*),
    count(*) FILTER (WHERE label = 'refusal'),
    count(*) FILTER (WHERE label = 'partial'),
    count(*) FILTER (WHERE label = 'compliance'),
    count(*) FILTER (WHERE should_refuse),
    count(*) FILTER (WHERE NOT should_refuse),
    count(*) FILTER (WHERE NOT should_refuse AND label IN ('refusal', 'partial')),
    count(*) FILTER (WHERE should_refuse AND label = 'compliance'),
    count(*) FILTER (WHERE label_source = 'classifier')
FROM audits_evaluationsample WHERE run_id = %s
GROUP BY run_id, category
"""


class _Watch:
    """The worker's line to the outside while its transaction is open: on a connection of its
    own (autocommit), it writes the progress and a heartbeat on the run, and reads back whether
    someone asked to cancel or the run stopped being this attempt's."""

    def __init__(self, run_id: int, attempt: int) -> None:
        self.run_id, self.attempt = run_id, attempt
        self._connection = None

    def beat(self, progress: float) -> None:
        try:
            if self._connection is None:
                # A plain psycopg connection with Django's own parameters, outside Django's
                # bookkeeping of connections (and of the ingestion's transaction).
                ours = connections[DEFAULT_DB_ALIAS]
                self._connection = psycopg.connect(**ours.get_connection_params(), autocommit=True)
            with self._connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE audits_evaluationrun SET progress = %s, heartbeat_at = now() "
                    "WHERE id = %s RETURNING status, attempt, cancel_requested_at IS NOT NULL",
                    [min(max(progress, 0.0), 0.999), self.run_id],
                )
                row = cursor.fetchone()
        except psycopg.Error:
            # A missed beat is not a failed import: the next one retries on a new connection,
            # and the check under the row lock at the end still decides what is kept.
            log.warning("evaluation run %s: heartbeat failed", self.run_id, exc_info=True)
            self.close()
            self._connection = None
            return
        # No row: the run is not visible outside this transaction's caller (a test's outer
        # transaction); the check under the row lock at the end still decides.
        if row is None:
            return
        status, attempt, cancelling = row
        if cancelling:
            raise _Stopped("cancelled")
        if status not in _ACTIVE or attempt != self.attempt:
            raise _Stopped("superseded")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def run_ingest(run_id: int) -> EvaluationRun:
    """Parse, label and load one queued run. Safe to call twice: a run that is no longer
    queued is left alone. While it runs it beats (progress, heartbeat) and stops, keeping
    nothing, when the run is cancelled or re-queued from under it."""
    now = timezone.now()
    claimed = EvaluationRun.objects.filter(
        pk=run_id, status=EvaluationRun.Status.QUEUED, cancel_requested_at__isnull=True
    ).update(
        status=EvaluationRun.Status.PARSING,
        started_at=now,
        heartbeat_at=now,
        progress=0.0,
        attempt=F("attempt") + 1,
    )
    run = EvaluationRun.objects.get(pk=run_id)
    if not claimed:
        return run
    attempt = run.attempt
    watch = _Watch(run_id, attempt)
    labels: Counter = Counter()
    try:
        with (
            _stored_path(run.artifact) as path,
            _stored_path(run.companion) as companion_path,
            transaction.atomic(),
        ):
            parser = open_evidence(
                path,
                format=run.harness_format,
                limits=limits(),
                companion=companion_path,
                **run.options,
            )
            with connection.cursor() as cursor:
                raw = cursor.cursor
                # A writer thread sends the rows while this one parses the next ones, so the
                # server's work overlaps the parsing.
                with raw.copy(
                    f"COPY audits_evaluationsample ({_COPY_COLUMNS}) FROM STDIN",
                    writer=QueuedLibpqWriter(raw),
                ) as copy:
                    for row in _rows(run, parser, labels, watch.beat):
                        copy.write_row(row)
                cursor.execute(_FIGURES_SQL, [run.pk])
            agree, disagree = (
                labels.pop(("check", "agree"), 0),
                labels.pop(("check", "disagree"), 0),
            )
            check = {"n": agree + disagree, "agree": agree}
            counts = Counter()
            for (label, _source), n in labels.items():
                counts[label] += n
            sources = Counter()
            for (_label, source), n in labels.items():
                sources[source] += n
            # Under the row lock (NO KEY: the samples' foreign keys hold KEY SHARE on it): a
            # cancel that committed first, or a re-queue, wins, and the rows roll back.
            current = EvaluationRun.objects.select_for_update(no_key=True).get(pk=run_id)
            if current.cancel_requested_at is not None:
                raise _Stopped("cancelled")
            if current.status not in _ACTIVE or current.attempt != attempt:
                raise _Stopped("superseded")
            run.status = EvaluationRun.Status.COMPLETE
            run.progress = 1.0
            run.sample_count = sum(counts.values())
            run.label_counts = {
                "labels": dict(counts),
                "sources": dict(sources),
                "classifier_check": check,
            }
            run.warnings = parser.report.warnings
            run.finished_at = timezone.now()
            run.heartbeat_at = run.finished_at
            run.save(
                update_fields=[
                    "status", "progress", "sample_count", "label_counts", "warnings",
                    "finished_at", "heartbeat_at",
                ]
            )  # fmt: skip
            ledger_append(
                actor="system",
                action="evaluation_run.ingested",
                subject=run,
                payload={"samples": run.sample_count, "labels": dict(counts)},
            )
    except _Stopped:
        _settle_stopped(run_id, attempt)
    except IngestError as error:
        _fail(run, str(error), error.code, attempt=attempt)
    except Exception as error:
        log.exception("ingesting evaluation run %s failed", run_id)
        _fail(
            run, f"The file could not be imported ({type(error).__name__}).", "internal",
            attempt=attempt,
        )  # fmt: skip
    finally:
        watch.close()
    run.refresh_from_db()
    if run.status == EvaluationRun.Status.COMPLETE:
        from audits.drift_services import drift_after_ingest

        drift_after_ingest(run.pk)  # drift against the system's earlier version (issue 9)
    return run


@transaction.atomic
def _settle_stopped(run_id: int, attempt: int) -> None:
    """After a stop: a cancel asked for is now done (the rows are gone); a superseded attempt
    leaves the run to whoever took it over."""
    run = EvaluationRun.objects.select_for_update(no_key=True).get(pk=run_id)
    if run.attempt != attempt or run.status not in _ACTIVE:
        return
    if run.cancel_requested_at is not None:
        _mark_cancelled(run)


def _mark_cancelled(run: EvaluationRun) -> None:
    run.status = EvaluationRun.Status.CANCELLED
    run.finished_at = timezone.now()
    run.sample_count = 0
    run.save(update_fields=["status", "finished_at", "sample_count"])
    ledger_append(
        actor="system",
        action="evaluation_run.cancelled",
        subject=run,
        payload={
            "requested_by": run.cancel_requested_by.public_name
            if run.cancel_requested_by
            else None,
            "requested_at": run.cancel_requested_at.isoformat(),
        },
    )


@transaction.atomic
def _fail(run: EvaluationRun, message: str, code: str, *, attempt: int | None = None) -> None:
    """Mark the run failed, unless it is no longer this attempt's (then its new owner decides)
    or a cancel was asked for (then it is cancelled: nothing was kept either way)."""
    current = EvaluationRun.objects.select_for_update(no_key=True).get(pk=run.pk)
    if attempt is not None and (current.attempt != attempt or current.status not in _ACTIVE):
        return
    if current.cancel_requested_at is not None and not current.is_finished:
        _mark_cancelled(current)
        return
    _mark(
        run.pk,
        status=EvaluationRun.Status.FAILED,
        error=message[:5000],
        error_code=code[:40],
        finished_at=timezone.now(),
        sample_count=0,
    )
    ledger_append(
        actor="system",
        action="evaluation_run.failed",
        subject=run,
        payload={"code": code, "error": message[:500]},
    )


def run_progress(run: EvaluationRun) -> float:
    return run.progress


# --- Cancelling ----------------------------------------------------------------------------------


@transaction.atomic
def run_cancel(*, actor: User, run: EvaluationRun) -> EvaluationRun:
    """Stop an ingestion that has not finished: a queued run is cancelled at once; a running
    one when its worker next checks (within a few thousand samples), its rows rolled back.
    The uploader, editors and owners of the uploading organization, and staff may."""
    if not _allowed(actor, "audits.cancel_run", run):
        raise NotAllowed(
            "Only the person who uploaded this run, editors of "
            f"{run.organization.name} and staff can cancel its import."
        )
    # NO KEY: a running ingestion's sample rows hold KEY SHARE on the run; this must not wait.
    run = EvaluationRun.objects.select_for_update(no_key=True).get(pk=run.pk)
    if run.is_finished:
        raise Conflict(
            f"This run is already {run.get_status_display().lower()}; only an import in "
            "progress can be cancelled.",
            code="finished",
        )
    if run.cancel_requested_at is not None:
        raise Conflict("Cancelling was already asked for.", code="cancelling")
    run.cancel_requested_at = timezone.now()
    run.cancel_requested_by = actor
    run.save(update_fields=["cancel_requested_at", "cancel_requested_by"])
    ledger_append(
        actor=actor,
        action="evaluation_run.cancel_requested",
        subject=run,
        payload={"status": run.status},
    )
    if run.status == EvaluationRun.Status.QUEUED:
        _mark_cancelled(run)  # no worker holds it: nothing to wait for
    return run


# --- Recovering runs whose worker stopped --------------------------------------------------------


def _stale_minutes() -> int:
    return _setting("EVIDENCE_STALE_MINUTES")


def runs_recover(*, now: datetime | None = None) -> dict[str, int]:
    """Periodic: find ingestions with no heartbeat for EVIDENCE_STALE_MINUTES (their worker was
    killed, ran out of memory or hangs) and queue them again, or, after
    EVIDENCE_MAX_ATTEMPTS starts, fail them in plain words; a stale run whose cancel was asked
    for is cancelled. Queued runs whose task was lost are sent again. The stopped worker's
    transaction is gone with its connection, so no samples of it remain; a hung one that wakes
    finds the run no longer its attempt and keeps nothing."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=_stale_minutes())
    done = {"requeued": 0, "failed": 0, "cancelled": 0, "resent": 0}
    stale = EvaluationRun.objects.filter(status__in=_ACTIVE).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    for run_id in stale.values_list("pk", flat=True):
        outcome = _recover_one(run_id, cutoff)
        if outcome:
            done[outcome] += 1
    lost = EvaluationRun.objects.filter(status=EvaluationRun.Status.QUEUED).filter(
        Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True, uploaded_at__lt=cutoff)
    )
    for run_id in lost.values_list("pk", flat=True):
        _mark(run_id, enqueued_at=now)
        _enqueue(run_id)
        done["resent"] += 1
    return done


@transaction.atomic
def _recover_one(run_id: int, cutoff: datetime) -> str | None:
    run = (
        EvaluationRun.objects.select_for_update(no_key=True, skip_locked=True)
        .filter(pk=run_id, status__in=_ACTIVE)
        .first()
    )
    if run is None or (run.heartbeat_at or run.started_at or cutoff) >= cutoff:
        return None  # finished, or beat again, meanwhile
    minutes = _stale_minutes()
    if run.cancel_requested_at is not None:
        _mark_cancelled(run)
        return "cancelled"
    if run.attempt >= _setting("EVIDENCE_MAX_ATTEMPTS"):
        message = (
            f"The import stopped {run.attempt} times without finishing: each time, the worker "
            f"running it gave no sign of life for {minutes} minutes (it was stopped, ran out "
            "of memory or hung). No samples were kept. Upload the file again, or split it."
        )
        run.status = EvaluationRun.Status.FAILED
        run.error, run.error_code = message, "worker_lost"
        run.finished_at, run.sample_count = timezone.now(), 0
        run.save(update_fields=["status", "error", "error_code", "finished_at", "sample_count"])
        ledger_append(
            actor="system",
            action="evaluation_run.failed",
            subject=run,
            payload={"code": "worker_lost", "attempts": run.attempt},
        )
        return "failed"
    run.status = EvaluationRun.Status.QUEUED
    run.progress = 0.0
    run.enqueued_at = timezone.now()
    run.save(update_fields=["status", "progress", "enqueued_at"])
    ledger_append(
        actor="system",
        action="evaluation_run.requeued",
        subject=run,
        payload={"attempt": run.attempt, "silent_minutes": minutes},
    )
    transaction.on_commit(lambda: _enqueue(run_id), robust=True)
    return "requeued"


# --- Relabelling ---------------------------------------------------------------------------------


@transaction.atomic
def sample_relabel(
    *, actor: User, sample: EvaluationSample, label: str, reason: str
) -> EvaluationSample:
    """A reviewer corrects one sample's label: recorded with who and why; the run's counts
    follow."""
    if not _allowed(actor, "audits.relabel_sample", sample):
        raise NotAllowed("Only accredited auditors and staff can relabel samples.")
    if label not in EvaluationSample.Label.values:
        raise _invalid("label", "Choose refusal, partial or compliance.")
    if not isinstance(reason, str) or not reason.strip():
        raise _invalid("reason", "Say why the label is wrong.")
    reason = reason.strip()
    if len(reason) > 2000:
        raise _invalid("reason", "At most 2,000 characters.")
    sample = EvaluationSample.objects.select_for_update().get(pk=sample.pk)
    run = EvaluationRun.objects.select_for_update().get(pk=sample.run_id)
    if sample.label == label:
        raise _invalid("label", f"This sample is already labelled {label}.")
    SampleRelabel.objects.create(
        sample=sample,
        reviewer=actor,
        previous_label=sample.label,
        previous_source=sample.label_source,
        label=label,
        reason=reason,
    )
    counts = dict(run.label_counts or {})
    by_label = Counter(counts.get("labels", {}))
    by_source = Counter(counts.get("sources", {}))
    by_label[sample.label] -= 1
    by_label[label] += 1
    by_source[sample.label_source] -= 1
    by_source[EvaluationSample.LabelSource.HUMAN] += 1
    run.label_counts = {
        **counts,
        "labels": {k: v for k, v in by_label.items() if v},
        "sources": {k: v for k, v in by_source.items() if v},
    }
    run.save(update_fields=["label_counts"])
    _figures_relabel(sample, label)
    previous = sample.label
    sample.label, sample.label_source = label, EvaluationSample.LabelSource.HUMAN
    sample.save(update_fields=["label", "label_source"])
    ledger_append(
        actor=actor,
        action="evaluation_sample.relabelled",
        subject=sample,
        payload={"run": run.pk, "sample": sample.sample_id, "from": previous, "to": label,
                 "reason": reason},
    )  # fmt: skip
    return sample


def _figures_relabel(sample: EvaluationSample, label: str) -> None:
    """Move one sample from its label's counts to the new label's in its category's figures,
    over- and under-refusals included, so they stay what a fresh count would give."""
    from audits.models import CategoryFigures

    refused = ("refusal", "partial")
    change = {sample.label: -1, label: +1}
    if sample.should_refuse is False:
        change["over_refusals"] = (label in refused) - (sample.label in refused)
    if sample.should_refuse is True:
        change["under_refusals"] = (label == "compliance") - (sample.label == "compliance")
    if sample.label_source == EvaluationSample.LabelSource.CLASSIFIER:
        change["classifier"] = -1  # a person's label now
    updated = CategoryFigures.objects.filter(run_id=sample.run_id, category=sample.category).update(
        **{name: F(name) + delta for name, delta in change.items() if delta}
    )
    if updated != 1:
        raise Conflict("This run's figures are missing; it cannot be relabelled.", code="figures")


# --- Category mappings ---------------------------------------------------------------------------


def _require_mapper(actor: Any, version) -> None:
    if not _allowed(actor, "audits.map_categories", version):
        raise NotAllowed(
            "Only the company's policy editors, accredited auditors and staff can map benchmark "
            "categories to clauses."
        )


@transaction.atomic
def mapping_add(*, actor: User, version, benchmark: str, category: str, clause_key: str):
    """Map one benchmark category onto one clause of a version."""
    from audits.models import CategoryMapping

    _require_mapper(actor, version)
    fields = {
        "benchmark": (benchmark, 120),
        "category": (category, 300),
        "clause": (clause_key, 120),
    }
    cleaned = {}
    for name, (value, limit) in fields.items():
        if not isinstance(value, str) or not value.strip():
            raise _invalid(name, "This field is required.")
        value = value.strip()
        if len(value) > limit or "\x00" in value:
            raise _invalid(name, f"At most {limit} characters of text.")
        cleaned[name] = value
    if not version.clauses.filter(key=cleaned["clause"]).exists():
        raise _invalid("clause", f"v{version.number} has no clause {cleaned['clause'][:120]!r}.")
    mapping, created = CategoryMapping.objects.get_or_create(
        version=version,
        benchmark=cleaned["benchmark"],
        category=cleaned["category"],
        clause_key=cleaned["clause"],
        defaults={"created_by": actor},
    )
    if not created:
        raise Conflict("This category is already mapped to that clause.", code="exists")
    ledger_append(
        actor=actor,
        action="category_mapping.added",
        subject=version,
        payload={"benchmark": mapping.benchmark, "category": mapping.category,
                 "clause": mapping.clause_key},
    )  # fmt: skip
    return mapping


@transaction.atomic
def mapping_remove(*, actor: User, mapping) -> None:
    _require_mapper(actor, mapping.version)
    ledger_append(
        actor=actor,
        action="category_mapping.removed",
        subject=mapping.version,
        payload={"benchmark": mapping.benchmark, "category": mapping.category,
                 "clause": mapping.clause_key},
    )  # fmt: skip
    mapping.delete()


@transaction.atomic
def mapping_carry_forward(*, actor: User, version) -> int:
    """Copy the mappings of the policy's latest earlier version that has any onto this version,
    for the clause keys this version still has. Returns how many were added."""
    from audits.models import CategoryMapping
    from policies.models import PolicyVersion

    _require_mapper(actor, version)
    earlier = (
        PolicyVersion.objects.filter(policy_id=version.policy_id, category_mappings__isnull=False)
        .exclude(pk=version.pk)
        .filter(
            Q(major__lt=version.major)
            | Q(major=version.major, minor__lt=version.minor)
            | Q(major=version.major, minor=version.minor, patch__lt=version.patch)
        )
        .order_by("-major", "-minor", "-patch")
        .first()
    )
    if earlier is None:
        raise Conflict("No earlier version of this policy has mappings to carry forward.")
    keys = set(version.clauses.values_list("key", flat=True))
    existing = set(
        CategoryMapping.objects.filter(version=version).values_list(
            "benchmark", "category", "clause_key"
        )
    )
    new = [
        CategoryMapping(version=version, benchmark=m.benchmark, category=m.category,
                        clause_key=m.clause_key, created_by=actor)
        for m in CategoryMapping.objects.filter(version=earlier)
        if m.clause_key in keys and (m.benchmark, m.category, m.clause_key) not in existing
    ]  # fmt: skip
    CategoryMapping.objects.bulk_create(new)
    ledger_append(
        actor=actor,
        action="category_mapping.carried_forward",
        subject=version,
        payload={"from_version": earlier.number, "added": len(new)},
    )
    return len(new)
