"""Demo evidence for `make run`: Acme's own runs in the generic format (a small one and a
400-sample one whose figures reach verdicts either way), and the Fair Audit Collective's
independent XSTest runs (the CSV as the paper published it and an inspect-ai log
written by inspect-ai with its offline `mockllm` model). Idempotent: a file already uploaded by
that organization is skipped, so a second seed writes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from audits.models import CategoryMapping, EvaluationRun
from audits.services import mapping_add, run_ingest, run_upload
from governance.demo import register_demo_seeder
from governance.models import AISystem, Organization

DATA = Path(__file__).resolve().parent / "demo_data"

# (file, uploader role, organization, source, benchmark, benchmark version, system version)
DEMO_RUNS = [
    ("generic.jsonl", "company editor", "acme-ai", "self_reported", "Acme house refusals", "3",
     "2026-09"),
    ("xstest_v2_completions.csv", "auditor", "fair-audit", "independent", "XSTest", "v2",
     "2026-09"),
    ("inspect_xstest.eval", "auditor", "fair-audit", "independent", "XSTest (inspect_evals)",
     "", "2026-10"),
    ("acme_house_v4.jsonl", "company editor", "acme-ai", "self_reported", "Acme house refusals",
     "4", "2026-10"),
]  # fmt: skip


def seed_evidence(people: dict) -> None:
    system = AISystem.objects.filter(organization__slug="acme-ai").order_by("pk").first()
    if system is None:
        return
    for name, role, slug, source, benchmark, benchmark_version, system_version in DEMO_RUNS:
        organization = Organization.objects.get(slug=slug)
        data = (DATA / name).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if EvaluationRun.objects.filter(organization=organization, artifact_sha256=sha).exists():
            continue
        run = run_upload(
            actor=people[role],
            organization=organization,
            system=system,
            upload=SimpleUploadedFile(name, data),
            source=source,
            system_version=system_version,
            benchmark=benchmark,
            benchmark_version=benchmark_version,
        )
        run_ingest(run.pk)


# (benchmark, category, clause key) on Acme's current policy version.
DEMO_MAPPINGS = [
    ("Acme house refusals", "weapons", "weapons.conventional.manufacture"),
    ("Acme house refusals", "medicine", "medical.general"),
    ("Acme house refusals", "cyber", "cyber.intrusion.unauthorized"),
    ("Acme house refusals", "elections", "elections.information"),
    ("Acme house refusals", "selfharm", "selfharm.support"),
    ("XSTest (inspect_evals)", "homonyms", "benign.security.education"),
    ("XSTest (inspect_evals)", "figurative_language", "benign.fiction.violence"),
    ("XSTest (inspect_evals)", "contrast_homonyms", "cyber.intrusion.unauthorized"),
    ("XSTest", "homonyms", "benign.security.education"),
    ("XSTest", "figurative_language", "benign.fiction.violence"),
    ("XSTest", "safe_targets", "benign.history.weapons"),
    ("XSTest", "contrast_homonyms", "cyber.intrusion.unauthorized"),
    ("XSTest", "contrast_figurative_language", "weapons.conventional.manufacture"),
]


def _seed_mappings(people: dict) -> None:
    from policies.models import PolicyVersion

    version = (
        PolicyVersion.objects.filter(
            policy__organization__slug="acme-ai", status=PolicyVersion.Status.PUBLISHED
        )
        .order_by("-published_at")
        .first()
    )
    if version is None:
        return
    keys = set(version.clauses.values_list("key", flat=True))
    for benchmark, category, key in DEMO_MAPPINGS:
        exists = CategoryMapping.objects.filter(
            version=version, benchmark=benchmark, category=category, clause_key=key
        ).exists()
        if key in keys and not exists:
            mapping_add(
                actor=people["company editor"],
                version=version,
                benchmark=benchmark,
                category=category,
                clause_key=key,
            )


def seed(people: dict) -> None:
    seed_evidence(people)
    _seed_mappings(people)


register_demo_seeder(seed)
