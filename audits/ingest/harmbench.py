"""HarmBench results JSON, as written by HarmBench's evaluate_completions.py
(centerforaisafety/HarmBench): `{behavior_id: [{"test_case", "generation", "label"}, …]}`,
where `label` is the HarmBench classifier's verdict — 1: the behaviour was exhibited (the
attack succeeded, the model complied), 0: it was not (the model refused), -1: the classifier's
answer could not be parsed. With `--include_advbench_metric` each entry also has
`advbench_label`, kept in metadata.

Categories come from the behaviors CSV the run used
(data/behavior_datasets/harmbench_behaviors_text_all.csv: `Behavior, FunctionalCategory,
SemanticCategory, Tags, ContextString, BehaviorID`), given as the companion file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from audits.ingest import _json
from audits.ingest._io import check_columns, csv_rows, open_counting, skip_utf8_bom
from audits.ingest.base import EvidenceParser, text_of
from audits.ingest.errors import IngestError
from audits.ingest.types import RunMeta, Sample

HARMBENCH_LABELS = {1: "compliance", 0: "refusal"}
BEHAVIOR_COLUMNS = ("BehaviorID", "SemanticCategory")
# A behaviors CSV is read whole (HarmBench's has ~400 to 1,500 rows); this bounds a hostile one.
MAX_BEHAVIORS = 200_000


class HarmBenchJsonParser(EvidenceParser):
    format = "harmbench_json"
    title = "HarmBench results JSON"
    vocabulary = "HarmBench's"
    options = frozenset({"method"})
    companion_title = "HarmBench behaviors CSV"

    def _read_meta(self) -> RunMeta:
        extra: dict[str, Any] = {}
        if self.opts.get("method"):
            extra["method"] = self.opts["method"]
        return RunMeta(format=self.format, benchmark="HarmBench", harness="HarmBench", extra=extra)

    def _behaviors(self) -> dict[str, dict[str, str]]:
        if self.companion is None:
            return {}
        behaviors: dict[str, dict[str, str]] = {}
        with open_counting(self.companion) as reader:
            rows = csv_rows(reader, self.limits)
            first = next(rows, None)
            if first is None:
                raise IngestError(f"The {self.companion_title} is empty.", code="empty")
            header = [name.strip() for name in first[1]]
            check_columns(header, BEHAVIOR_COLUMNS, title=self.companion_title)  # type: ignore[arg-type]
            for number, fields in rows:
                if len(behaviors) >= MAX_BEHAVIORS:
                    raise IngestError(
                        f"The {self.companion_title} has more than {MAX_BEHAVIORS} rows.",
                        record=number,
                        unit="line",
                        code="too_large",
                    )
                row = dict(zip(header, fields, strict=False))
                behaviors[row["BehaviorID"].strip()] = {
                    "semantic_category": (row.get("SemanticCategory") or "").strip(),
                    "functional_category": (row.get("FunctionalCategory") or "").strip(),
                }
        return behaviors

    def _samples(self) -> Iterator[Sample]:
        behaviors = self._behaviors()
        method = self.opts.get("method") or None
        record = 0
        with open_counting(self.path) as reader:
            stream = _json.events(skip_utf8_bom(reader))
            try:
                for behavior_id, event, _ in _json.top_level_items(stream, what=self.title):
                    if event != "start_array":
                        raise self._wrong_shape(record + 1)
                    index = -1
                    for item_event, item_value in stream:
                        if item_event == "end_array":
                            break
                        record += 1
                        index += 1
                        self._bytes_done = reader.count
                        item = _json.build(stream, item_event, item_value)
                        if not isinstance(item, dict) or "generation" not in item:
                            raise self._wrong_shape(record)
                        sample = self._sample(behavior_id, index, item, record, behaviors, method)
                        if sample is not None:
                            yield sample
            except _json.ijson.JSONError as exc:
                raise _json.json_error(exc, what=self.title, record=record or None) from None

    def _sample(self, behavior_id, index, item, record, behaviors, method) -> Sample | None:
        raw = item.get("label")
        if raw == -1 and not isinstance(raw, bool):
            label = None
            self.report.warn(
                "unparsable",
                "sample has HarmBench label -1 (the classifier's answer could not be "
                "parsed); it is kept without a label",
                "samples have HarmBench label -1 (the classifier's answer could not be "
                "parsed); they are kept without a label",
                record=record,
            )
        elif raw is None:
            label = None
        elif not isinstance(raw, bool) and raw in HARMBENCH_LABELS:
            label = HARMBENCH_LABELS[int(raw)]
        else:
            self._unknown_label(raw, record)
            return None
        behavior = behaviors.get(behavior_id)
        if behaviors and behavior is None:
            self.report.warn(
                "unknown_behavior",
                "sample belongs to a behavior missing from the behaviors CSV; it has no category",
                "samples belong to behaviors missing from the behaviors CSV; they have no category",
                record=record,
            )
        metadata: dict[str, Any] = {"behavior_id": behavior_id, "test_case_index": index}
        if behavior and behavior["functional_category"]:
            metadata["functional_category"] = behavior["functional_category"]
        for key, value in item.items():
            if key not in ("test_case", "generation", "label"):
                metadata[key] = value
        return Sample(
            sample_id=f"{behavior_id}:{index}",
            category=(behavior or {}).get("semantic_category") or None,
            prompt=text_of(item.get("test_case")),
            response=text_of(item.get("generation")),
            label=label,  # type: ignore[arg-type]
            label_raw=None if raw is None else str(raw),
            label_source="harness" if label else None,
            # Every HarmBench behavior is one a model should refuse.
            should_refuse=True,
            framing=method,
            base_prompt_id=behavior_id,
            metadata=metadata,
            record=record,
        )

    def _wrong_shape(self, record: int) -> IngestError:
        return IngestError(
            f"This is not a {self.title}: it should map each behavior id to a list of "
            '{"test_case", "generation", "label"} objects.',
            record=record,
            code="wrong_format",
        )
