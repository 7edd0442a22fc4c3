"""Nightly bulk dumps: every public dataset the apps register (governance.public_data) as
gzip-compressed JSON Lines in the default storage, with each file's SHA-256 and row count in a
manifest.json, all read from one database snapshot (so the dump is exactly the platform as of
the manifest's `ledger_head`, and a mirror can continue from the change feed after it)."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import tempfile
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from governance.canonical import canonical_json
from governance.models import AISystem, DataDump, LedgerEntry, Organization
from governance.public_data import DUMP_DATASETS, register_dump_dataset
from governance.selectors.ledger import CHUNK_SIZE, entry_document

logger = logging.getLogger(__name__)

ROOT = "dumps"
STAMP = "%Y%m%dT%H%M%SZ"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def _line(row: dict[str, Any]) -> bytes:
    return (
        json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    )


def _write_dataset(folder: str, dataset) -> dict[str, Any]:
    """Stream one dataset into a temporary gzip file (rows are never all in memory), then into
    storage; the checksum is of the compressed bytes, the file people download."""
    name = f"{dataset.name}.jsonl.gz"
    rows = 0
    with tempfile.TemporaryFile() as raw:
        # mtime=0: the same rows always compress to the same bytes (and the same SHA-256).
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
            for row in dataset.rows():
                out.write(_line(row))
                rows += 1
        size = raw.tell()
        raw.seek(0)
        digest = hashlib.sha256()
        for block in iter(lambda: raw.read(1024 * 1024), b""):
            digest.update(block)
        raw.seek(0)
        stored = default_storage.save(f"{folder}/{name}", File(raw, name=name))
    if stored != f"{folder}/{name}":
        raise RuntimeError(f"The storage renamed {folder}/{name} to {stored}.")
    return {
        "name": name,
        "dataset": dataset.name,
        "description": dataset.description,
        "rows": rows,
        "bytes": size,
        "sha256": digest.hexdigest(),
    }


def dump_write(*, now: datetime | None = None) -> DataDump:
    """Write one complete dump and record it; older ones beyond DUMP_KEEP are deleted. A
    failure leaves the dump marked failed with the reason (and re-raises, for the log)."""
    now = now or timezone.now()
    folder = f"{ROOT}/{now.strftime(STAMP)}"
    dump = DataDump.objects.create(started_at=now, folder=folder)
    try:
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            # One snapshot for every dataset: the files agree with each other and the ledger.
            # (Only an outermost transaction can choose its isolation; the periodic task's is.)
            if outermost:
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            head = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
            files = [_write_dataset(folder, DUMP_DATASETS[name]) for name in sorted(DUMP_DATASETS)]
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": now.isoformat(),
            "ledger_head": head,
            "site": settings.SITE_URL,
            "files": files,
        }
        default_storage.save(
            f"{folder}/{MANIFEST}",
            ContentFile(json.dumps(manifest, indent=2, sort_keys=True).encode(), name=MANIFEST),
        )
    except Exception as error:
        DataDump.objects.filter(pk=dump.pk).update(
            status=DataDump.Status.FAILED, finished_at=timezone.now(), error=str(error)[:2000]
        )
        raise
    dump.status = DataDump.Status.COMPLETE
    dump.manifest = manifest
    dump.finished_at = timezone.now()
    dump.save(update_fields=["status", "manifest", "finished_at"])
    dumps_prune(keep=settings.OPENREFUSAL["DUMP_KEEP"])
    return dump


def dumps_prune(*, keep: int) -> int:
    """Delete all but the `keep` newest complete dumps (files and rows), and failed ones older
    than the oldest kept."""
    kept = list(
        DataDump.objects.filter(status=DataDump.Status.COMPLETE)
        .order_by("-started_at")
        .values_list("pk", flat=True)[:keep]
    )
    if not kept:
        return 0
    oldest = DataDump.objects.filter(pk__in=kept).order_by("started_at").first()
    old = DataDump.objects.exclude(pk__in=kept).filter(started_at__lt=oldest.started_at)
    removed = 0
    for dump in old:
        names = [f["name"] for f in dump.manifest.get("files", [])] + [MANIFEST]
        for name in names:
            path = f"{dump.folder}/{name}"
            if default_storage.exists(path):
                default_storage.delete(path)
        dump.delete()
        removed += 1
    return removed


# --- The core's own datasets ------------------------------------------------------------------


def ledger_rows():
    """The ledger, entry for entry, exactly as the export (so each line's hash recomputes)."""
    entries = LedgerEntry.objects.order_by("seq")
    for entry in entries.iterator(chunk_size=CHUNK_SIZE):
        yield json.loads(canonical_json(entry_document(entry), strict=False))


def organization_rows():
    organizations = Organization.objects.order_by("pk")
    for o in organizations.iterator(chunk_size=CHUNK_SIZE):
        yield {
            "id": o.pk,
            "name": o.name,
            "slug": o.slug,
            "kind": o.kind,
            "description": o.description,
            "website": o.website,
            "verified_at": o.verified_at.isoformat() if o.verified_at else None,
            "accredited_at": o.accredited_at.isoformat() if o.accredited_at else None,
            "accreditation_expires_at": (
                o.accreditation_expires_at.isoformat() if o.accreditation_expires_at else None
            ),
        }


def system_rows():
    systems = AISystem.objects.select_related("organization").order_by("pk")
    for s in systems.iterator(chunk_size=CHUNK_SIZE):
        yield {
            "id": s.pk,
            "organization": s.organization.slug,
            "name": s.name,
            "slug": s.slug,
            "description": s.description,
        }


def register_core_datasets() -> None:
    register_dump_dataset(
        "ledger",
        description="The public ledger, one entry per line as in /ledger/export.jsonl.",
        rows=ledger_rows,
    )
    register_dump_dataset(
        "organizations",
        description="Developers, auditors, regulators and panels.",
        rows=organization_rows,
    )
    register_dump_dataset("ai_systems", description="AI systems.", rows=system_rows)
