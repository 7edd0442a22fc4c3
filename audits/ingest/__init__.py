"""Streaming parsers for the result files of evaluation harnesses — pure Python, no Django.

    evidence = open_evidence(path)                  # or format="xstest_csv" to override
    evidence.meta                                   # RunMeta: harness, model, benchmark, …
    for sample in evidence.samples(): ...           # Sample, streamed in bounded memory
    evidence.report.warnings, evidence.progress

Every problem with the file raises IngestError (message, record, code). A caller that writes
the samples inside one transaction keeps nothing of a bad file: the checks that need the whole
file (labels outside the format's vocabulary, no samples at all) raise after the last sample.
The formats and their label mappings are documented in docs/evidence-formats.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audits.ingest.airbench import JUDGE_CURRENT, JUDGE_LEGACY, AirBenchCsvParser
from audits.ingest.base import EvidenceParser, IngestReport
from audits.ingest.detect import COMPANIONS, TITLES, detect_format, sniff
from audits.ingest.errors import IngestError
from audits.ingest.generic import GenericCsvParser, GenericJsonlParser
from audits.ingest.harmbench import HarmBenchJsonParser
from audits.ingest.inspect_log import InspectEvalParser, InspectJsonParser
from audits.ingest.lm_eval import LmEvalJsonlParser
from audits.ingest.promptfoo import PromptfooJsonParser
from audits.ingest.types import LABELS, Label, Limits, RunMeta, Sample
from audits.ingest.xstest import XSTestCsvParser

FORMATS: dict[str, type[EvidenceParser]] = {
    parser.format: parser
    for parser in (
        InspectEvalParser,
        InspectJsonParser,
        XSTestCsvParser,
        HarmBenchJsonParser,
        LmEvalJsonlParser,
        PromptfooJsonParser,
        AirBenchCsvParser,
        GenericCsvParser,
        GenericJsonlParser,
    )
}


def open_evidence(
    path: str | Path,
    *,
    format: str | None = None,
    limits: Limits | None = None,
    companion: str | Path | None = None,
    **options: Any,
) -> EvidenceParser:
    """A parser for `path`, its format detected from the content unless `format` overrides it.

    `companion` is the second file some formats take (HarmBench: the behaviors CSV;
    lm-evaluation-harness: the results JSON). `options` are per format: `judge_revision`
    (AIR-Bench: "current" or "legacy"), `method` (HarmBench attack method, recorded as the
    framing), `metric` and `filter` (lm-evaluation-harness), `scorer` (inspect-ai).
    An override that contradicts the content ("promptfoo" for an inspect log) is refused.
    """
    limits = limits or Limits()
    detected = sniff(path, limits=limits)
    if format is None:
        format = detect_format(path, limits=limits) if detected is None else detected
    if detected in COMPANIONS:
        raise IngestError(COMPANIONS[detected], code="wrong_format")
    if format not in FORMATS:
        raise IngestError(
            f"Unknown evidence format {format!r}; choose one of {', '.join(FORMATS)}.",
            code="invalid",
        )
    if detected is not None and detected != format:
        raise IngestError(
            f"You chose {TITLES[format]}, but this file is {TITLES[detected]}.",
            code="wrong_format",
        )
    return FORMATS[format](path, limits=limits, companion=companion, **options)


__all__ = [
    "FORMATS",
    "JUDGE_CURRENT",
    "JUDGE_LEGACY",
    "LABELS",
    "TITLES",
    "EvidenceParser",
    "IngestError",
    "IngestReport",
    "Label",
    "Limits",
    "RunMeta",
    "Sample",
    "detect_format",
    "open_evidence",
    "sniff",
]
