"""OpenRefusal's own generic formats, for every tool without a parser of its own: a CSV or a JSONL
with one sample per row/line and the columns `sample_id, category, prompt, response, label,
should_refuse` (optionally `framing`, `base_prompt_id`; anything else lands in metadata).
Documented with examples in docs/evidence-formats.md."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from audits.ingest._io import check_columns, csv_rows, encoding_error, iter_lines, open_counting
from audits.ingest.base import EvidenceParser
from audits.ingest.types import LABELS, RunMeta, Sample

REQUIRED = ("sample_id", "prompt", "response")
KNOWN = (*REQUIRED, "category", "label", "should_refuse", "framing", "base_prompt_id")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class _Generic(EvidenceParser):
    vocabulary = "the generic format's"

    def _read_meta(self) -> RunMeta:
        # The generic formats carry no run metadata; the uploader supplies it in the form.
        return RunMeta(format=self.format)

    def _sample(self, row: dict[str, Any], record: int) -> Sample | None:
        sample_id = row.get("sample_id")
        if isinstance(sample_id, int | float) and not isinstance(sample_id, bool):
            sample_id = str(sample_id)
        if not isinstance(sample_id, str) or not sample_id.strip():
            raise self._error("A sample has no sample_id.", record=record)
        for key in ("prompt", "response"):
            if row.get(key) is not None and not isinstance(row[key], str):
                raise self._error(f"The field {key!r} must be text.", record=record)
        label, label_raw = self._label(row.get("label"), record)
        if label is False:
            return None
        metadata = {k: v for k, v in row.items() if k not in KNOWN and k != "metadata"}
        if isinstance(row.get("metadata"), dict):
            metadata.update(row["metadata"])
        return Sample(
            sample_id=sample_id.strip(),
            category=_optional_text(row.get("category")),
            prompt=row.get("prompt") or "",
            response=row.get("response") or "",
            label=label,  # type: ignore[arg-type]
            label_raw=label_raw,
            label_source="harness" if label else None,
            should_refuse=self._should_refuse(row.get("should_refuse"), record),
            framing=_optional_text(row.get("framing")),
            base_prompt_id=_optional_text(row.get("base_prompt_id")),
            metadata=metadata,
            record=record,
        )

    def _label(self, raw: Any, record: int):
        """(label, raw) — (False, raw) when the value is outside the vocabulary."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None, None
        if isinstance(raw, str) and raw.strip().lower() in LABELS:
            return raw.strip().lower(), raw
        self._unknown_label(raw, record)
        return False, raw

    def _should_refuse(self, raw: Any, record: int) -> bool | None:
        if raw is None or isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text == "":
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise self._error(
            f"should_refuse must be true, false or empty, not {raw!r}.", record=record
        )


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class GenericJsonlParser(_Generic):
    format = "generic_jsonl"
    title = "generic JSONL"
    unit = "line"

    def _samples(self) -> Iterator[Sample]:
        with open_counting(self.path) as reader:
            for number, line in iter_lines(reader, self.limits):
                self._bytes_done = reader.count
                if not line.strip():
                    continue
                try:
                    row = json.loads(line.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise encoding_error(exc, record=number, unit="line") from None
                except ValueError as exc:
                    raise self._error(
                        f"The line is not valid JSON ({exc}).", record=number
                    ) from None
                if not isinstance(row, dict):
                    raise self._error("Each line must be a JSON object.", record=number)
                missing = [key for key in REQUIRED if key not in row]
                if missing:
                    raise self._error(
                        f"The line has no {', '.join(repr(m) for m in missing)} field.",
                        record=number,
                        code="missing_column",
                    )
                sample = self._sample(row, number)
                if sample is not None:
                    yield sample


class GenericCsvParser(_Generic):
    format = "generic_csv"
    title = "generic CSV"
    unit = "line"

    def _samples(self) -> Iterator[Sample]:
        with open_counting(self.path) as reader:
            rows = csv_rows(reader, self.limits)
            first = next(rows, None)
            if first is None:
                return
            header = [name.strip() for name in first[1]]
            check_columns(header, REQUIRED, title=self.title)
            for number, fields in rows:
                self._bytes_done = reader.count
                if not any(field.strip() for field in fields):
                    continue
                if len(fields) != len(header):
                    raise self._error(
                        f"The row has {len(fields)} fields; the header has {len(header)}.",
                        record=number,
                    )
                sample = self._sample(dict(zip(header, fields, strict=True)), number)
                if sample is not None:
                    yield sample
