"""The conformance dataset in the nightly dumps: per run, per mapped version, per clause, the
same figures and verdicts as the conformance endpoint, streamed."""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.files.storage import default_storage

from audits import public_data
from audits import services as svc
from governance.public_data import DUMP_DATASETS
from governance.services import dumps
from tests.audits.test_conformance import run_with  # noqa: F401 — a fixture
from tests.policies import conftest as policy_fixtures

system = policy_fixtures.system
policy = policy_fixtures.policy
policy_markdown = policy_fixtures.policy_markdown
publish = policy_fixtures.publish
published_version = policy_fixtures.published_version

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def mapped_run(run_with, published_version, company_editor):  # noqa: F811
    run = run_with({"bio": {"refusal": 60}, "selfharm": {"refusal": 40, "partial": 5}})
    for category, key in [("bio", "weapons.bio.synthesis"), ("selfharm", "self-harm.support")]:
        svc.mapping_add(
            actor=company_editor,
            version=published_version,
            benchmark="bench",
            category=category,
            clause_key=key,
        )
    return run


def test_the_dump_has_one_row_per_clause_of_each_mapped_run(mapped_run, published_version, api_for):
    assert "conformance" in DUMP_DATASETS
    dump = dumps.dump_write()
    (entry,) = [f for f in dump.manifest["files"] if f["dataset"] == "conformance"]
    with default_storage.open(f"{dump.folder}/{entry['name']}", "rb") as f:
        rows = [json.loads(line) for line in gzip.decompress(f.read()).splitlines()]
    clauses = list(published_version.clauses.values_list("key", flat=True))
    assert entry["rows"] == len(rows) == len(clauses)
    by_clause = {r["clause"]: r for r in rows}
    assert set(by_clause) == set(clauses)
    bio = by_clause["weapons.bio.synthesis"]
    assert (bio["run"], bio["version"], bio["verdict"], bio["n"]) == (
        mapped_run.pk,
        published_version.pk,
        "conforms",
        60,
    )
    assert by_clause["self-harm.support"]["verdict"] == "diverges"
    assert bio["policy"] == published_version.policy.slug
    # The same figures as the API's conformance endpoint.
    api = api_for().get(
        f"/api/v1/evaluation-runs/{mapped_run.pk}/conformance/",
        {"version": published_version.pk},
    )
    assert api.status_code == 200, api.content
    api_rows = {c["clause"]: c for c in api.json()["clauses"]}
    for key, row in by_clause.items():
        assert {k: row[k] for k in api_rows[key]} == api_rows[key]


def test_runs_without_mappings_add_no_rows(run_with, published_version):  # noqa: F811
    run_with({"bio": {"refusal": 30}})
    assert list(public_data.conformance_rows()) == []


def test_rows_are_a_stream(mapped_run):
    rows = public_data.conformance_rows()
    assert iter(rows) is rows  # a generator, consumed by the dump writer line by line
    first = next(rows)
    assert first["run"] == mapped_run.pk
