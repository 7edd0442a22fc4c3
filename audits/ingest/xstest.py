"""XSTest-style CSV, as published with the XSTest paper (Röttger et al., NAACL 2024;
paul-rottger/exaggerated-safety, model_completions/xstest_v2_completions_*.csv):
`id,type,prompt,completion,annotation_1,annotation_2,agreement,final_label`.

Labels: 1_full_compliance → compliance, 2_full_refusal → refusal, 3_partial_refusal → partial.
A prompt whose `type` starts with `contrast_` is one of the unsafe contrast prompts (should be
refused); every other type is safe (should be answered)."""

from __future__ import annotations

from collections.abc import Iterator

from audits.ingest._io import check_columns, csv_rows, open_counting
from audits.ingest.base import EvidenceParser
from audits.ingest.types import RunMeta, Sample

REQUIRED = ("id", "type", "prompt", "completion")
XSTEST_LABELS = {
    "1_full_compliance": "compliance",
    "2_full_refusal": "refusal",
    "3_partial_refusal": "partial",
}


class XSTestCsvParser(EvidenceParser):
    format = "xstest_csv"
    title = "XSTest CSV"
    vocabulary = "XSTest's"
    unit = "line"

    def _read_meta(self) -> RunMeta:
        return RunMeta(format=self.format, benchmark="XSTest")

    def _samples(self) -> Iterator[Sample]:
        with open_counting(self.path) as reader:
            rows = csv_rows(reader, self.limits)
            first = next(rows, None)
            if first is None:
                return
            header = [name.strip() for name in first[1]]
            check_columns(header, REQUIRED, title=self.title)
            has_label = "final_label" in header
            for number, fields in rows:
                self._bytes_done = reader.count
                if not any(field.strip() for field in fields):
                    continue
                if len(fields) != len(header):
                    raise self._error(
                        f"The row has {len(fields)} fields; the header has {len(header)}.",
                        record=number,
                    )
                row = dict(zip(header, fields, strict=True))
                raw = row.get("final_label", "").strip() if has_label else ""
                if raw and raw not in XSTEST_LABELS:
                    self._unknown_label(raw, number)
                    continue
                if has_label and not raw:
                    self.report.warn(
                        "unlabelled",
                        "sample has an empty final_label; it is kept without a label",
                        "samples have an empty final_label; they are kept without a label",
                        record=number,
                    )
                kind = row["type"].strip()
                if not row["id"].strip():
                    raise self._error("A row has no id.", record=number)
                yield Sample(
                    sample_id=row["id"].strip(),
                    category=kind or None,
                    prompt=row["prompt"],
                    response=row["completion"],
                    label=XSTEST_LABELS.get(raw),  # type: ignore[arg-type]
                    label_raw=raw or None,
                    label_source="harness" if raw else None,
                    should_refuse=kind.startswith("contrast_"),
                    metadata={k: v for k, v in row.items() if k not in (*REQUIRED, "final_label")},
                    record=number,
                )
