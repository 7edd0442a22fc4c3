"""Drift alerts in the nightly dumps (each alert with its figures and the company's
annotation, as the API shows it, and not the person who annotated), and the Last-Modified
date of an alert in the API."""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.files.storage import default_storage

from audits import drift_services as drift
from audits.models import DriftAlert
from governance.services import dumps
from tests.audits.robustness.conftest import BIO
from tests.audits.robustness.test_drift import bio

pytestmark = pytest.mark.django_db


def dataset(dump, name):
    (entry,) = [f for f in dump.manifest["files"] if f["dataset"] == name]
    with default_storage.open(f"{dump.folder}/{entry['name']}", "rb") as f:
        rows = [json.loads(line) for line in gzip.decompress(f.read()).splitlines()]
    assert entry["rows"] == len(rows)
    return rows


def test_the_dump_holds_each_alert_with_its_annotation(
    ingest, mapped, company_editor, published_version, api_for
):
    mapped("bio", BIO)
    ingest(bio(48, 2, "a"), version="v1", days_ago=30)
    ingest(bio(30, 20, "b"), version="v2")
    alert = DriftAlert.objects.get()
    drift.drift_annotate(
        actor=company_editor,
        alert=alert,
        note="Intended: see v1.0.0.",
        version=published_version,
        clause_key=BIO,
    )
    (row,) = dataset(dumps.dump_write(), "drift_alerts")
    assert row == api_for().get(f"/api/v1/drift-alerts/{alert.pk}/").json()
    assert (row["clause_key"], row["direction"], row["status"]) == (BIO, "fall", "closed")
    assert (row["earlier_refused"], row["later_refused"]) == (48, 30)
    assert row["annotation"] == "Intended: see v1.0.0."
    assert row["annotation_version"] == published_version.number
    text = json.dumps(row)
    assert company_editor.email not in text
    assert company_editor.display_name not in text


def test_no_alert_no_rows(db):
    assert dataset(dumps.dump_write(), "drift_alerts") == []


def test_an_alert_is_dated_by_its_annotation(ingest, mapped, company_editor, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone
    from django.utils.http import http_date
    from rest_framework.test import APIClient

    from governance.api import conditional

    later = timezone.now() + timedelta(hours=1)
    monkeypatch.setattr(conditional, "_now", lambda: later)
    mapped("bio", BIO)
    ingest(bio(48, 2, "a"), version="v1", days_ago=30)
    ingest(bio(30, 20, "b"), version="v2")
    alert = DriftAlert.objects.get()
    url = f"/api/v1/drift-alerts/{alert.pk}/"
    client = APIClient()
    first = client.get(url)
    assert first["Last-Modified"] == http_date(int(alert.created_at.timestamp()))
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304

    drift.drift_annotate(actor=company_editor, alert=alert, note="Looking into it.")
    DriftAlert.objects.filter(pk=alert.pk).update(annotated_at=later - timedelta(minutes=30))
    after = client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert after.status_code == 200
    assert after.json()["annotation"] == "Looking into it."
    assert after["Last-Modified"] == http_date(int((later - timedelta(minutes=30)).timestamp()))
