"""Demo data of issue 9 for `make run`, seeded after the evidence demo (audits.demo): Acme's own
"Acme jailbreak suite" run on two versions of its assistant, each asking 30 base prompts per
category directly and reframed (prefill, adversarial suffix, role-play, long reasoning,
translation), with a real drift between them — the later version refuses weapons requests
less often, and refuses more security-education questions — so the robustness, drift, and
trade-off pages are populated on first start. Generated deterministically; idempotent (a file
already uploaded is skipped, and drift detection opens an alert once)."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime

from django.core.files.uploadedfile import SimpleUploadedFile

from audits.models import CategoryMapping, EvaluationRun
from audits.services import mapping_add, run_ingest, run_upload
from governance.demo import register_demo_seeder
from governance.models import AISystem, Organization

BENCHMARK = "Acme jailbreak suite"
BASE_PROMPTS = 30
FRAMINGS = ("direct", "prefill", "GCG", "role_play", "long_reasoning", "translation_zulu")
# (category, should refuse, clause key)
CATEGORIES = (
    ("weapons", True, "weapons.conventional.manufacture"),
    ("cyber", True, "cyber.intrusion.unauthorized"),
    ("security-education", False, "benign.security.education"),
)
# Per system version: the chance of a refusal, per category and framing.
REFUSAL = {
    "2026-09": {
        "weapons": {"direct": 0.97, "prefill": 0.6, "GCG": 0.8, "role_play": 0.9,
                    "long_reasoning": 0.55, "translation_zulu": 0.9},
        "cyber": {"direct": 0.93, "prefill": 0.7, "GCG": 0.85, "role_play": 0.9,
                  "long_reasoning": 0.6, "translation_zulu": 0.85},
        "security-education": dict.fromkeys(FRAMINGS, 0.05),
    },
    "2026-10": {
        "weapons": {"direct": 0.7, "prefill": 0.35, "GCG": 0.6, "role_play": 0.45,
                    "long_reasoning": 0.2, "translation_zulu": 0.65},
        "cyber": {"direct": 0.94, "prefill": 0.7, "GCG": 0.88, "role_play": 0.9,
                  "long_reasoning": 0.62, "translation_zulu": 0.9},
        "security-education": dict.fromkeys(FRAMINGS, 0.3),
    },
}  # fmt: skip
RUN_AT = {
    "2026-09": datetime(2026, 9, 20, tzinfo=UTC),
    "2026-10": datetime(2026, 10, 20, tzinfo=UTC),
}


def _jsonl(system_version: str) -> bytes:
    rng = random.Random(f"openrefusal-demo-{system_version}")  # noqa: S311 — demo data
    lines = []
    for category, should_refuse, _key in CATEGORIES:
        for i in range(BASE_PROMPTS):
            base = f"{category}-{i:02d}"
            for framing in FRAMINGS:
                refused = rng.random() < REFUSAL[system_version][category][framing]
                lines.append(
                    json.dumps(
                        {
                            "sample_id": f"{base}-{framing}",
                            "category": category,
                            "prompt": f"Demo {category} request {i} ({framing}), kept by Acme.",
                            "response": "I can't help with that." if refused else "Here is how…",
                            "label": "refusal" if refused else "compliance",
                            "should_refuse": should_refuse,
                            "framing": framing,
                            "base_prompt_id": base,
                        }
                    )
                )
    return ("\n".join(lines) + "\n").encode()


def seed(people: dict) -> None:
    system = AISystem.objects.filter(organization__slug="acme-ai").order_by("pk").first()
    organization = Organization.objects.filter(slug="acme-ai").first()
    if system is None or organization is None:
        return
    _seed_mappings(people)
    for system_version in ("2026-09", "2026-10"):
        data = _jsonl(system_version)
        sha = hashlib.sha256(data).hexdigest()
        if EvaluationRun.objects.filter(organization=organization, artifact_sha256=sha).exists():
            continue
        run = run_upload(
            actor=people["company editor"],
            organization=organization,
            system=system,
            upload=SimpleUploadedFile(f"jailbreak-suite-{system_version}.jsonl", data),
            source="self_reported",
            system_version=system_version,
            benchmark=BENCHMARK,
            benchmark_version="1",
            run_at=RUN_AT[system_version],
            # The attack prompts stay with Acme: the public sees their SHA-256.
            withhold_prompts=True,
        )
        run_ingest(run.pk)  # opens the drift alerts of the later version


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
    for category, _refuse, key in CATEGORIES:
        exists = CategoryMapping.objects.filter(
            version=version, benchmark=BENCHMARK, category=category, clause_key=key
        ).exists()
        if key in keys and not exists:
            mapping_add(
                actor=people["company editor"],
                version=version,
                benchmark=BENCHMARK,
                category=category,
                clause_key=key,
            )


register_demo_seeder(seed)
