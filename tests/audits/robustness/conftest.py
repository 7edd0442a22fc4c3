"""Runs built from generic JSONL rows with framings and base prompts, for the robustness, drift
and trade-off tests."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audits import services as svc
from tests.policies import conftest as policy_fixtures

system = policy_fixtures.system
policy = policy_fixtures.policy
policy_markdown = policy_fixtures.policy_markdown
publish = policy_fixtures.publish
published_version = policy_fixtures.published_version

BIO = "weapons.bio.synthesis"  # behavior: refuse in the test policy
COOKING = "harmless.cooking"  # behavior: comply


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def rows_of(groups, *, prefix="s"):
    """groups: [(category, framing, label, count, should_refuse)] → JSONL rows; every framing's
    i-th sample of a category shares the base prompt `<category>-<i>`."""
    rows, seen = [], {}
    for category, framing, label, count, should_refuse in groups:
        for _ in range(count):
            i = seen.get((category, framing), 0)
            seen[(category, framing)] = i + 1
            rows.append(
                {
                    "sample_id": f"{prefix}-{category}-{framing}-{i}",
                    "category": category,
                    "prompt": f"Prompt {i} on {category} ({framing})",
                    "response": "a response",
                    "label": label,
                    "should_refuse": should_refuse,
                    "framing": framing,
                    "base_prompt_id": f"{category}-{i}",
                }
            )
    return rows


def jsonl(rows) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


@pytest.fixture
def ingest(company_editor, company, system):
    """ingest(rows, version="v1", benchmark="bench", days_ago=0, **upload options)."""
    counter = [0]

    def make(rows, *, version="v1", benchmark="bench", days_ago=0, **extra):
        counter[0] += 1
        run = svc.run_upload(
            actor=company_editor,
            organization=company,
            system=system,
            upload=SimpleUploadedFile(f"run{counter[0]}.jsonl", jsonl(rows)),
            source="self_reported",
            system_version=version,
            benchmark=benchmark,
            **extra,
        )
        if days_ago:
            type(run).objects.filter(pk=run.pk).update(
                uploaded_at=timezone.now() - timedelta(days=days_ago)
            )
        return svc.run_ingest(run.pk)

    return make


@pytest.fixture
def mapped(published_version, company_editor):
    def make(category, key, benchmark="bench"):
        svc.mapping_add(
            actor=company_editor,
            version=published_version,
            benchmark=benchmark,
            category=category,
            clause_key=key,
        )

    return make
