"""lm-evaluation-harness per-sample log (`--log_samples`: samples_<task>_<date>.jsonl) with, as
the companion file, the run's results JSON (results_<date>.json) for run metadata.

Each line: `doc_id`, `doc` (the dataset row), `target`, `arguments` (the rendered prompt),
`resps`/`filtered_resps` (the model's output before/after the task's filters), `filter`,
`metrics` (names) and one key per metric with the sample's value. The refusal label comes from
a refusal metric (by default the first of `refusal`, `is_refusal`, `refused` the line reports):
1 → refusal, 0 → compliance. Without one, samples carry no label. Tasks with several filters
log each document once per filter; one filter is kept (the first seen, or the `filter`
option) so sample ids stay unique.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from audits.ingest import _json
from audits.ingest._io import encoding_error, iter_lines, open_counting, skip_utf8_bom
from audits.ingest.base import EvidenceParser, category_from, should_refuse_from, text_of
from audits.ingest.errors import IngestError
from audits.ingest.types import RunMeta, Sample

REFUSAL_METRICS = ("refusal", "is_refusal", "refused")
_SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_\d{4}-\d{2}-\d{2}T[\d\-.:]+\.jsonl$")
_RESULTS_KEYS = {
    "results", "versions", "config", "lm_eval_version", "date", "model_name", "model_source",
    "git_hash", "n-samples", "total_evaluation_time_seconds", "transformers_version",
}  # fmt: skip


class LmEvalJsonlParser(EvidenceParser):
    format = "lm_eval_jsonl"
    title = "lm-evaluation-harness samples JSONL"
    vocabulary = "the refusal metric's"
    unit = "line"
    options = frozenset({"metric", "filter"})
    companion_title = "lm-evaluation-harness results JSON"

    def _results(self) -> dict[str, Any]:
        if self.companion is None:
            return {}
        found: dict[str, Any] = {}
        what = self.companion_title
        with open_counting(self.companion) as reader:
            stream = _json.events(skip_utf8_bom(reader))
            try:
                for key, event, value in _json.top_level_items(stream, what=what):
                    if key in _RESULTS_KEYS:
                        found[key] = _json.build(stream, event, value)
                    else:
                        _json.skip(stream, event)
            except _json.ijson.JSONError as exc:
                raise _json.json_error(exc, what=what) from None
        if "lm_eval_version" not in found and "versions" not in found:
            raise IngestError(f"The companion file is not an {what}.", code="wrong_format")
        return found

    def _task(self, results: dict[str, Any]) -> str | None:
        match = _SAMPLES_NAME.match(self.path.name)
        if match:
            return match["task"]
        tasks = list(results.get("results") or {})
        return tasks[0] if len(tasks) == 1 else None

    def _read_meta(self) -> RunMeta:
        results = self._results()
        task = self._task(results)
        config = results.get("config") or {}
        date = results.get("date")
        run_at = (
            datetime.fromtimestamp(float(date), tz=UTC) if isinstance(date, int | float) else None
        )
        version = (results.get("versions") or {}).get(task) if task else None
        extra = {
            key: results[key]
            for key in ("model_source", "git_hash", "n-samples", "total_evaluation_time_seconds")
            if key in results
        }
        if task and task in (results.get("results") or {}):
            extra["task_results"] = results["results"][task]
        if config:
            extra["config"] = config
        return RunMeta(
            format=self.format,
            harness="lm-evaluation-harness",
            harness_version=results.get("lm_eval_version"),
            benchmark=task,
            benchmark_version=None if version is None else str(version),
            model=results.get("model_name") or config.get("model_args") or config.get("model"),
            run_at=run_at,
            extra=extra,
        )

    def _samples(self) -> Iterator[Sample]:
        kept_filter = self.opts.get("filter")
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
                if not isinstance(row, dict) or "doc_id" not in row or "doc" not in row:
                    raise IngestError(
                        f"This line is not an {self.title} record (no doc_id/doc).",
                        record=number,
                        unit="line",
                        code="wrong_format",
                    )
                row_filter = row.get("filter", "none")
                if kept_filter is None:
                    kept_filter = row_filter
                if row_filter != kept_filter:
                    self.report.warn(
                        f"filter:{row_filter}",
                        f"record of filter {row_filter!r} was skipped (filter "
                        f"{kept_filter!r} is imported)",
                        f"records of filter {row_filter!r} were skipped (filter "
                        f"{kept_filter!r} is imported)",
                        record=number,
                    )
                    continue
                sample = self._sample(row, number)
                if sample is not None:
                    yield sample

    def _sample(self, row: dict[str, Any], number: int) -> Sample | None:
        doc = row["doc"] if isinstance(row["doc"], dict) else {"doc": row["doc"]}
        metric = self._metric(row)
        label = label_raw = None
        if metric is not None:
            raw = row.get(metric)
            label_raw = None if raw is None else str(raw)
            if raw is None:
                pass
            elif not isinstance(raw, bool) and raw in (0, 1):
                label = "refusal" if raw == 1 else "compliance"
            else:
                self._unknown_label(raw, number)
                return None
        metadata: dict[str, Any] = {
            "doc": doc,
            "target": row.get("target"),
            "filter": row.get("filter"),
        }
        for key in ("doc_hash", "prompt_hash", "target_hash"):
            if key in row:
                metadata[key] = row[key]
        metadata["metrics"] = {name: row.get(name) for name in row.get("metrics") or []}
        if metric:
            metadata["refusal_metric"] = metric
        return Sample(
            sample_id=str(row["doc_id"]),
            category=category_from(doc),
            prompt=_prompt(row, doc),
            response=_response(row),
            label=label,  # type: ignore[arg-type]
            label_raw=label_raw,
            label_source="harness" if label else None,
            should_refuse=should_refuse_from(doc),
            framing=doc.get("framing") if isinstance(doc.get("framing"), str) else None,
            base_prompt_id=text_of(doc["base_prompt_id"]) if doc.get("base_prompt_id") else None,
            metadata=metadata,
            record=number,
        )

    def _metric(self, row: dict[str, Any]) -> str | None:
        chosen = self.opts.get("metric")
        if chosen:
            return chosen if chosen in row else None
        names = row.get("metrics") or [key for key in REFUSAL_METRICS if key in row]
        return next((name for name in REFUSAL_METRICS if name in names and name in row), None)


def _prompt(row: dict[str, Any], doc: dict[str, Any]) -> str:
    arguments = row.get("arguments")
    if isinstance(arguments, dict) and arguments:
        first = next(iter(arguments.values()))
        if isinstance(first, dict) and "arg_0" in first:
            return text_of(first["arg_0"])
    if isinstance(arguments, list) and arguments and isinstance(arguments[0], list):
        # lm-eval before 0.4.3 logged arguments as [[context, generation kwargs], …].
        return text_of(arguments[0][0] if arguments[0] else None)
    return text_of(doc.get("prompt"))


def _response(row: dict[str, Any]) -> str:
    filtered = row.get("filtered_resps")
    if isinstance(filtered, list) and filtered:
        return text_of(filtered[0])
    resps = row.get("resps")
    if isinstance(resps, list) and resps and isinstance(resps[0], list) and resps[0]:
        return text_of(resps[0][0])
    return ""
