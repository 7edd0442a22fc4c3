"""What every format's parser shares: opening the file within the limits, the run metadata read
once, and the checks on the sample stream — duplicate ids, labels outside the format's
vocabulary (collected and reported together at the end, never coerced), an empty run — plus a
progress figure and counted warnings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from audits.ingest._io import SeenIds, check_size
from audits.ingest.errors import IngestError
from audits.ingest.types import Limits, RunMeta, Sample

# Distinct unknown label values remembered for the error message; more are only counted.
_MAX_DISTINCT_UNKNOWN = 20


@dataclass
class _Warning:
    singular: str
    plural: str
    count: int = 0
    first: int | None = None


@dataclass
class IngestReport:
    """Counts filled in while the samples stream; read it after the last sample."""

    samples: int = 0
    labels: Counter = field(default_factory=Counter)
    unit: str = "record"
    _warnings: dict[str, _Warning] = field(default_factory=dict)

    def warn(
        self,
        key: str,
        singular: str,
        plural: str | None = None,
        *,
        record: int | None = None,
        count: int = 1,
    ) -> None:
        """Counts occurrences of a warning, worded to follow its count: ("sample has no
        label", "samples have no label"). `plural` defaults to `singular`."""
        entry = self._warnings.setdefault(key, _Warning(singular, plural or singular))
        if entry.first is None:
            entry.first = record
        entry.count += count

    @property
    def warnings(self) -> list[str]:
        lines = []
        for entry in self._warnings.values():
            text = entry.singular if entry.count == 1 else entry.plural
            where = f" (first at {self.unit} {entry.first})" if entry.first is not None else ""
            lines.append(f"{entry.count} {text}{where}")
        return lines


class EvidenceParser:
    """Base class: subclasses set the class attributes and implement `_read_meta` and
    `_samples`; callers use `meta`, `samples()`, `report` and `progress`."""

    format: ClassVar[str]
    title: ClassVar[str]  # "XSTest CSV": how the format is named in messages
    vocabulary: ClassVar[str]  # "XSTest's": whose label vocabulary an unknown label is outside
    unit: ClassVar[str] = "record"  # what `record` numbers count: "line" or "record"
    options: ClassVar[frozenset[str]] = frozenset()  # keyword options this parser accepts
    companion_title: ClassVar[str | None] = None  # e.g. "HarmBench behaviors CSV"

    def __init__(
        self,
        path: str | Path,
        *,
        limits: Limits | None = None,
        companion: str | Path | None = None,
        **options: Any,
    ) -> None:
        unknown = set(options) - self.options
        if unknown:
            raise TypeError(f"{type(self).__name__} has no option(s) {sorted(unknown)}")
        if companion is not None and self.companion_title is None:
            raise TypeError(f"{self.title} takes no companion file")
        self.path = Path(path)
        self.limits = limits or Limits()
        self.size = check_size(self.path, self.limits)
        self.companion = Path(companion) if companion is not None else None
        if self.companion is not None:
            check_size(self.companion, self.limits)
        self.opts: Mapping[str, Any] = options
        self.report = IngestReport(unit=self.unit)
        self._unknown_labels: Counter[str] = Counter()
        self._unknown_other = 0
        self._unknown_first: int | None = None
        self._bytes_done = 0

    # -- public ---------------------------------------------------------------------------

    @cached_property
    def meta(self) -> RunMeta:
        return self._read_meta()

    @property
    def progress(self) -> float:
        """Share of the file consumed so far, 0.0 to 1.0, for a progress bar."""
        return min(1.0, self._bytes_done / self.size) if self.size else 1.0

    def samples(self) -> Iterator[Sample]:
        """Every sample, streamed. Raises IngestError on the first structural problem, and at
        the end if any label fell outside the format's vocabulary or there were no samples —
        so a caller that writes inside one transaction keeps nothing of a bad file."""
        seen = SeenIds()
        report = self.report
        for sample in self._samples():
            if not seen.add(sample.sample_id):
                raise IngestError(
                    f"The sample id {sample.sample_id!r} appears more than once; sample ids "
                    "must be unique within a run.",
                    record=sample.record,
                    unit=self.unit,
                    code="duplicate_id",
                )
            report.samples += 1
            report.labels[sample.label] += 1
            yield sample
        self._bytes_done = self.size
        if self._unknown_labels or self._unknown_other:
            raise self._unknown_label_error()
        if report.samples == 0:
            raise IngestError(f"The {self.title} contains no samples.", code="no_samples")

    # -- for subclasses -------------------------------------------------------------------

    def _read_meta(self) -> RunMeta:
        raise NotImplementedError

    def _samples(self) -> Iterator[Sample]:
        raise NotImplementedError

    def _unknown_label(self, raw: Any, record: int | None) -> None:
        """Notes a label outside the vocabulary; the sample is dropped and the whole file is
        refused at the end with every distinct value and its count."""
        text = raw if isinstance(raw, str) else repr(raw)
        if text in self._unknown_labels or len(self._unknown_labels) < _MAX_DISTINCT_UNKNOWN:
            self._unknown_labels[text] += 1
        else:
            self._unknown_other += 1
        if self._unknown_first is None:
            self._unknown_first = record

    def _unknown_label_error(self) -> IngestError:
        total = sum(self._unknown_labels.values()) + self._unknown_other
        listed = ", ".join(f"{value!r} ({n})" for value, n in self._unknown_labels.most_common())
        if self._unknown_other:
            listed += f", and {self._unknown_other} more with other values"
        noun = "sample has a label" if total == 1 else "samples have labels"
        return IngestError(
            f"{total} {noun} outside {self.vocabulary} vocabulary: {listed}.",
            record=self._unknown_first,
            unit=self.unit,
            code="unknown_label",
        )

    def _error(self, message: str, *, record: int | None = None, code: str = "malformed"):
        return IngestError(message, record=record, unit=self.unit, code=code)


def text_of(value: Any) -> str:
    """A string for a prompt or response field that may be missing or not a string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False)


def should_refuse_from(metadata: Mapping[str, Any]) -> bool | None:
    """From a dataset's own safe/unsafe marking (XSTest's `label`, an explicit
    `should_refuse`), or None when the record does not say."""
    explicit = metadata.get("should_refuse")
    if isinstance(explicit, bool):
        return explicit
    label = metadata.get("label")
    if label == "unsafe":
        return True
    if label == "safe":
        return False
    return None


def category_from(metadata: Mapping[str, Any]) -> str | None:
    for key in ("category", "type", "harmCategory"):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    return None
