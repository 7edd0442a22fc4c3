"""Framing on every sample: importers' names normalised to the common framings, unknown ones kept
as given, absurd values refused with nothing imported."""

from __future__ import annotations

import pytest

from audits.framings import normalize_framing
from audits.ingest.errors import IngestError
from audits.models import EvaluationRun, EvaluationSample
from tests.audits.helpers import fixture
from tests.audits.robustness.conftest import rows_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("DirectRequest", "direct"),  # HarmBench's baseline method
        ("none", "direct"),  # StrongREJECT's no-jailbreak
        ("GCG", "adversarial_suffix"),
        ("GCG-Transfer", "adversarial_suffix"),
        ("suffix", "adversarial_suffix"),
        ("AIM", "role_play"),
        ("Role-Play", "role_play"),
        ("translation_hmong", "translation"),
        ("base64_input_only", "encoding"),
        ("rot_13", "encoding"),
        ("crescendo", "multi_turn"),
        ("long reasoning", "long_reasoning"),
        ("prefill", "prefill"),
        ("PAIR", "PAIR"),  # not one of the common framings: kept as given, not guessed
        ("  my  house attack ", "my house attack"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_known_names_are_normalised_and_others_kept(raw, expected):
    assert normalize_framing(raw) == expected


def test_an_absurdly_long_framing_is_refused():
    with pytest.raises(IngestError) as error:
        normalize_framing("x" * 61)
    assert error.value.code == "malformed"


def test_generic_jsonl_framings_are_stored_normalised(ingest):
    odd = {
        "sample_id": "odd",
        "prompt": "p",
        "response": "r",
        "framing": "PAIR",
        "label": "refusal",
    }
    rows = [
        *rows_of([("bio", "direct", "refusal", 2, True), ("bio", "GCG", "compliance", 2, True)]),
        odd,
    ]
    run = ingest(rows)
    assert run.status == EvaluationRun.Status.COMPLETE, run.error
    stored = dict(EvaluationSample.objects.filter(run=run).values_list("sample_id", "framing"))
    assert stored["s-bio-GCG-0"] == "adversarial_suffix"
    assert stored["s-bio-direct-1"] == "direct"
    assert stored["odd"] == "PAIR"
    bases = set(EvaluationSample.objects.filter(run=run).values_list("base_prompt_id", flat=True))
    assert bases == {"bio-0", "bio-1", ""}


@pytest.mark.parametrize(
    ("field", "value"), [("framing", "f" * 200), ("base_prompt_id", "b" * 301)]
)
def test_an_overlong_framing_or_base_prompt_fails_the_run_keeping_nothing(ingest, field, value):
    rows = rows_of([("bio", "direct", "refusal", 3, True)])
    rows[1][field] = value
    run = ingest(rows)
    assert run.status == EvaluationRun.Status.FAILED
    assert "at most" in run.error
    assert "line 2" in run.error
    assert not EvaluationSample.objects.filter(run=run).exists()


def _upload(actor, organization, system, name, **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from audits import services as svc

    run = svc.run_upload(
        actor=actor,
        organization=organization,
        system=system,
        upload=SimpleUploadedFile(name, fixture(name).read_bytes()),
        source="self_reported",
        system_version="v1",
        **extra,
    )
    return svc.run_ingest(run.pk)


def test_harmbench_method_becomes_the_framing(company_editor, company, system):
    from django.core.files.uploadedfile import SimpleUploadedFile

    # HarmBench writes results/<method>/<experiment>/results/<model>.json; the method is
    # named at upload (the file itself does not carry it).
    run = _upload(
        company_editor, company, system, "harmbench_results.json",
        benchmark="HarmBench", harness_format="harmbench_json", options={"method": "GCG"},
        companion=SimpleUploadedFile(
            "behaviors.csv", fixture("harmbench_behaviors.csv").read_bytes()
        ),
    )  # fmt: skip
    assert run.status == EvaluationRun.Status.COMPLETE, run.error
    samples = list(EvaluationSample.objects.filter(run=run))
    assert samples
    assert {s.framing for s in samples} == {"adversarial_suffix"}
    assert all(s.base_prompt_id and s.sample_id.startswith(s.base_prompt_id) for s in samples)


def test_strong_reject_jailbreaks_become_framings(company_editor, company, system):
    run = _upload(
        company_editor, company, system, "inspect_strong_reject.eval", benchmark="strong_reject"
    )
    assert run.status == EvaluationRun.Status.COMPLETE, run.error
    framings = dict(EvaluationSample.objects.filter(run=run).values_list("sample_id", "framing"))
    assert framings["sr-1"] == "direct"  # StrongREJECT's "none"
    assert framings["sr-2"] == "role_play"  # its AIM jailbreak
