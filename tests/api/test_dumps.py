"""Bulk dumps: the files, their checksums and row counts, the manifest, the listing in the API
and on /data/, downloads, and the nightly schedule."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from governance.models import DataDump, LedgerEntry
from governance.public_data import DUMP_DATASETS
from governance.services import dumps
from governance.services.ledger import ledger_append
from governance.tasks import dumps_write

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def history(company, other_company):
    with transaction.atomic():
        for n in range(5):
            ledger_append(actor="system", action="test.happened", subject=company, payload={"n": n})


def read(dump, name):
    with default_storage.open(f"{dump.folder}/{name}", "rb") as f:
        return f.read()


def test_it_writes_every_registered_dataset_with_its_checksum_and_row_count(history):
    dump = dumps.dump_write()
    assert dump.status == DataDump.Status.COMPLETE
    files = {f["dataset"]: f for f in dump.manifest["files"]}
    assert set(files) == set(DUMP_DATASETS)
    assert {
        "ledger",
        "organizations",
        "policies",
        "policy_versions",
        "clauses",
        "comments",
        "evaluation_runs",
    } <= set(files)
    for f in files.values():
        data = read(dump, f["name"])
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
        assert len(data) == f["bytes"]
        lines = gzip.decompress(data).splitlines()
        assert len(lines) == f["rows"]
        for line in lines:
            json.loads(line)
    assert files["organizations"]["rows"] == 2
    manifest = json.loads(read(dump, "manifest.json"))
    assert manifest == json.loads(json.dumps(dump.manifest))
    assert manifest["ledger_head"] == LedgerEntry.objects.order_by("-seq").first().seq


def test_the_ledger_file_is_the_export_and_its_chain_verifies(history):
    dump = dumps.dump_write()
    data = gzip.decompress(read(dump, "ledger.jsonl.gz"))
    assert len(data.splitlines()) == 5
    script = Path(django_settings.BASE_DIR) / "docs" / "verify_ledger.py"
    result = subprocess.run(
        [sys.executable, str(script)], input=data, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith(b"OK: 5 entries")


def test_the_same_data_gives_the_same_checksums(history):
    first = dumps.dump_write()
    second = dumps.dump_write(now=first.started_at.replace(year=first.started_at.year + 1))
    assert [f["sha256"] for f in first.manifest["files"]] == [
        f["sha256"] for f in second.manifest["files"]
    ]


def test_rows_are_streamed_not_loaded(history, monkeypatch):
    # Each dataset is a generator reading with .iterator(): no list of every row is built.
    seen = []
    original = DUMP_DATASETS["ledger"]

    def rows():
        for row in original.rows():
            seen.append(row["seq"])
            yield row

    monkeypatch.setitem(
        DUMP_DATASETS,
        "ledger",
        original.__class__(name="ledger", description=original.description, rows=rows),
    )
    dumps.dump_write()
    assert seen == [1, 2, 3, 4, 5]


def test_a_failing_dataset_marks_the_dump_failed(history, monkeypatch):
    def broken():
        yield {"ok": 1}
        raise RuntimeError("the disk is full")

    original = DUMP_DATASETS["ledger"]
    monkeypatch.setitem(
        DUMP_DATASETS, "ledger", original.__class__(name="ledger", description="", rows=broken)
    )
    with pytest.raises(RuntimeError):
        dumps.dump_write()
    dump = DataDump.objects.get()
    assert dump.status == DataDump.Status.FAILED
    assert "the disk is full" in dump.error
    assert DataDump.objects.filter(status="complete").count() == 0


def test_old_dumps_are_pruned(history, settings):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "DUMP_KEEP": 2}
    made = []
    for year in (2030, 2031, 2032):
        made.append(dumps.dump_write(now=made[0].started_at.replace(year=year) if made else None))
    assert DataDump.objects.count() == 2
    assert not default_storage.exists(f"{made[0].folder}/manifest.json")
    assert default_storage.exists(f"{made[-1].folder}/manifest.json")


def test_the_task_is_scheduled_nightly():
    entry = django_settings.CELERY_BEAT_SCHEDULE["nightly-dumps"]
    assert entry["task"] == "governance.tasks.dumps_write"
    assert entry["schedule"].hour == {2}


def test_the_task_writes_a_dump(history):
    assert DataDump.objects.get(pk=dumps_write()).status == "complete"


# --- Listing and downloads --------------------------------------------------------------------


@pytest.mark.parametrize("persona", [None, "citizen", "regulator"])
def test_the_api_lists_dumps_with_download_links(request, api_for, history, persona):
    user = request.getfixturevalue(persona) if persona else None
    dump = dumps.dump_write()
    api = api_for(user)
    response = api.get("/api/v1/dumps/")
    assert response.status_code == 200
    [listed] = response.json()["results"]
    assert listed["ledger_head"] == 5
    for f in listed["files"]:
        download = api.get(f["url"])
        assert download.status_code == 200
        data = b"".join(download.streaming_content)
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
    manifest = api.get(listed["manifest_url"])
    assert json.loads(b"".join(manifest.streaming_content)) == json.loads(json.dumps(dump.manifest))
    assert api.get(f"/api/v1/dumps/{dump.pk}/").status_code == 200


def test_failed_dumps_are_not_listed(api_for):
    DataDump.objects.create(started_at="2026-01-01T00:00:00Z", folder="dumps/x", status="failed")
    assert api_for().get("/api/v1/dumps/").json()["results"] == []


def test_the_data_page_lists_the_files(client_for, history, django_assert_max_num_queries):
    dump = dumps.dump_write()
    with django_assert_max_num_queries(5):
        response = client_for().get("/data/")
    assert response.status_code == 200
    for f in dump.manifest["files"]:
        assert f["sha256"].encode() in response.content
        assert f["name"].encode() in response.content


def test_the_data_page_says_when_there_is_no_dump(client_for):
    response = client_for().get("/data/")
    assert response.status_code == 200
    assert b"No dump yet" in response.content


@pytest.mark.parametrize(
    "path",
    [
        "/data/{stamp}/secret.txt",
        "/data/{stamp}/..%2F..%2Fsettings.py",
        "/data/19990101T000000Z/manifest.json",
        "/data/{stamp}/ledger.jsonl",
    ],
)
def test_only_files_of_a_manifest_can_be_downloaded(client_for, history, path):
    dump = dumps.dump_write()
    default_storage.save(f"{dump.folder}/secret.txt", ContentFile(b"x"))
    stamp = dump.folder.rsplit("/", 1)[-1]
    assert client_for().get(path.format(stamp=stamp)).status_code == 404
