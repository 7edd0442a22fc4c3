"""The normalized shapes every parser produces: one `Sample` per scored prompt, one `RunMeta`
per file, and the `Limits` that keep a hostile or huge upload from exhausting the worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Label = Literal["refusal", "partial", "compliance"]
LABELS: tuple[Label, ...] = ("refusal", "partial", "compliance")
LabelSource = Literal["harness"]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True, slots=True)
class Sample:
    """One prompt, the model's response and, when the file says so, its refusal label.

    `label` is None when the file carries no refusal verdict for the sample (the caller then
    runs the offline classifier); `label_raw` keeps the harness's own value (e.g.
    "2_full_refusal", "I", "1") so a reader can check the mapping; `record` is the line or
    record number the sample came from.
    """

    sample_id: str
    prompt: str
    response: str
    category: str | None = None
    label: Label | None = None
    label_raw: str | None = None
    label_source: LabelSource | None = None
    should_refuse: bool | None = None
    framing: str | None = None
    base_prompt_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    record: int | None = None


@dataclass(frozen=True, slots=True)
class RunMeta:
    """What the file says about the run as a whole; every field is optional because formats
    differ in what they record (a CSV records nothing, an inspect log almost everything)."""

    format: str
    harness: str | None = None
    harness_version: str | None = None
    benchmark: str | None = None
    benchmark_version: str | None = None
    model: str | None = None
    run_at: datetime | None = None
    judge: str | None = None
    judge_revision: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds checked before and while reading. The defaults admit a 1,000,000-sample generic
    JSONL (~500 MB) and refuse a 2 GB upload before a byte of it is read."""

    # The upload itself, checked from its size on disk before reading.
    max_file_bytes: int = 1 * GiB
    # Everything decompressed out of one zip archive, summed over its members.
    max_uncompressed_bytes: int = 4 * GiB
    # Decompressed ÷ compressed size above which a zip member is treated as a bomb…
    max_compression_ratio: float = 200.0
    # …once it has produced more than this much (tiny members compress oddly).
    ratio_floor_bytes: int = 4 * MiB
    # One JSONL line, one CSV row, one JSON sample object, one zip member read whole.
    max_record_bytes: int = 64 * MiB
    max_zip_members: int = 5_000_000
