"""The policies app's datasets in the nightly dumps: only what is public, under public names."""

from __future__ import annotations

import gzip
import json

import pytest
from django.core.files.storage import default_storage

from governance.services.dumps import dump_write
from policies import services
from policies.services import comments as comment_services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def rows(dump, dataset):
    name = f"{dataset}.jsonl.gz"
    with default_storage.open(f"{dump.folder}/{name}", "rb") as raw:
        return [json.loads(line) for line in gzip.decompress(raw.read()).splitlines()]


def test_only_published_comments_are_dumped_under_public_names(
    open_period, comment, citizen, outsider, regulator, moderator, draft_version
):
    citizen.display_name = "Ada the Pseudonymous"
    citizen.save()
    shown = comment(citizen, open_period, "Keep the crisis resources, please.")
    hidden = comment(outsider, open_period, "Hidden text that must not leak.")
    comment_services.comment_moderate(
        moderator=moderator, comment=hidden, action="hide", public_reason="Off topic."
    )
    withdrawn = comment(regulator, open_period, "Withdrawn text that must not leak.")
    comment_services.comment_withdraw(actor=regulator, comment=withdrawn)
    held = comment(outsider, open_period, "Held text that must not leak.")
    comment_services.comment_moderate(
        moderator=moderator, comment=held, action="hold", public_reason="Checking."
    )

    dump = dump_write()

    comments = rows(dump, "comments")
    assert [c["id"] for c in comments] == [shown.pk]
    assert comments[0]["author"] == "Ada the Pseudonymous"
    assert comments[0]["body"] == "Keep the crisis resources, please."
    everything = b"".join(
        gzip.decompress(default_storage.open(f"{dump.folder}/{f['name']}", "rb").read())
        for f in dump.manifest["files"]
    )
    for secret in (b"must not leak", citizen.email.encode(), outsider.email.encode()):
        assert secret not in everything
    # The draft (v1.1.0) is not public: neither it nor its clauses are dumped.
    versions = rows(dump, "policy_versions")
    assert [v["number"] for v in versions] == ["1.0.0"]
    assert draft_version.pk not in {c["version"] for c in rows(dump, "clauses")}
    assert {c["key"] for c in rows(dump, "clauses")} == {
        "weapons.bio.synthesis",
        "self-harm.support",
        "harmless.cooking",
    }
    assert [p["id"] for p in rows(dump, "comment_periods")] == [open_period.pk]


def test_a_withdrawn_version_stays_on_the_record(published_version, company_editor):
    services.version_withdraw(actor=company_editor, version=published_version, reason="Mistake.")
    versions = rows(dump_write(), "policy_versions")
    assert [(v["status"], v["withdrawn_reason"]) for v in versions] == [("withdrawn", "Mistake.")]
