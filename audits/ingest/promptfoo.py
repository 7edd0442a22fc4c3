"""promptfoo results JSON (`promptfoo eval -o out.json`). One record per test, prompt and
provider in `results.results[]`: `prompt.raw` (the rendered prompt), `vars`, `response.output`,
`gradingResult` with one `componentResults[]` entry per assertion; run metadata sits at the end
of the file (`metadata.promptfooVersion`, `config`). The shape in promptfoo's docs (an
`outputs` key) is not what promptfoo 0.123 writes; this follows the real files.

The refusal label comes from an `is-refusal` or `not-is-refusal` assertion, read from its
documented semantics (promptfoo src/assertions/refusal.ts): `is-refusal` passes when the output
is a refusal, `not-is-refusal` when it is not — so refused = pass XOR negated — except that a
non-text output is "assumed to be a refusal" and passes either way. An empty output, or a
provider error that reads as a refusal, counts as a refusal. Other assertions do not decide the
label; tests without a refusal assertion carry none. `response.isRefusal` is the provider's own
flag (an API-level refusal), kept in metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from audits.ingest import _json
from audits.ingest._io import open_counting, skip_utf8_bom
from audits.ingest.base import EvidenceParser, category_from, should_refuse_from, text_of
from audits.ingest.errors import IngestError
from audits.ingest.types import RunMeta, Sample

REFUSAL_ASSERTIONS = {"is-refusal": False, "not-is-refusal": True}  # type → negated
_ASSUMED_REFUSAL = "No value provided, assumed to be a refusal"


class PromptfooJsonParser(EvidenceParser):
    format = "promptfoo_json"
    title = "promptfoo results JSON"
    vocabulary = "promptfoo's is-refusal"

    def _read_meta(self) -> RunMeta:
        found: dict[str, Any] = {}
        with open_counting(self.path) as reader:
            stream = _json.events(skip_utf8_bom(reader))
            try:
                for key, event, value in _json.top_level_items(stream, what=self.title):
                    if key == "results" and event == "start_map":
                        for inner, inner_event, inner_value in _json.object_items(stream):
                            if inner in ("version", "timestamp", "stats"):
                                found[f"results.{inner}"] = _json.build(
                                    stream, inner_event, inner_value
                                )
                            else:
                                _json.skip(stream, inner_event)
                    elif key in ("evalId", "metadata"):
                        found[key] = _json.build(stream, event, value)
                    elif key == "config":
                        # Tests can be many; provider configs can hold credentials.
                        found[key] = _json.build(
                            stream, event, value, skip_keys=("tests", "scenarios", "env")
                        )
                    else:
                        _json.skip(stream, event)
            except _json.ijson.JSONError as exc:
                raise _json.json_error(exc, what=self.title) from None
        if "results.version" not in found and "evalId" not in found:
            raise IngestError(f"This is not a {self.title}.", code="wrong_format")
        metadata = found.get("metadata") or {}
        config = found.get("config") or {}
        providers = [_provider_id(p) for p in config.get("providers") or []]
        providers = [p for p in providers if p]
        stats = found.get("results.stats") or {}
        return RunMeta(
            format=self.format,
            harness="promptfoo",
            harness_version=metadata.get("promptfooVersion"),
            benchmark=config.get("description") or None,
            model=", ".join(providers) or None,
            run_at=_parse_time(found.get("results.timestamp") or metadata.get("exportedAt")),
            extra={
                "eval_id": found.get("evalId"),
                "results_version": found.get("results.version"),
                "stats": {k: stats[k] for k in ("successes", "failures", "errors") if k in stats},
            },
        )

    def _samples(self) -> Iterator[Sample]:
        record = 0
        found_results = False
        with open_counting(self.path) as reader:
            stream = _json.events(skip_utf8_bom(reader))
            try:
                for key, event, _value in _json.top_level_items(stream, what=self.title):
                    if key != "results" or event != "start_map":
                        _json.skip(stream, event)
                        continue
                    for inner, inner_event, _inner_value in _json.object_items(stream):
                        if inner != "results" or inner_event != "start_array":
                            _json.skip(stream, inner_event)
                            continue
                        found_results = True
                        for item_event, item_value in _json.array_items(stream):
                            record += 1
                            self._bytes_done = reader.count
                            item = _json.build(
                                stream,
                                item_event,
                                item_value,
                                budget=(reader, self.limits.max_record_bytes),
                            )
                            if not isinstance(item, dict):
                                raise self._error("A result is not an object.", record=record)
                            sample = self._sample(item, record)
                            if sample is not None:
                                yield sample
            except _json.ijson.JSONError as exc:
                raise _json.json_error(exc, what=self.title, record=record or None) from None
        if not found_results:
            raise IngestError(
                f"This is not a {self.title}: it has no results.results list.",
                code="wrong_format",
            )

    def _sample(self, item: dict[str, Any], record: int) -> Sample | None:
        test_case = item.get("testCase") if isinstance(item.get("testCase"), dict) else {}
        metadata_in = item.get("metadata") or test_case.get("metadata") or {}
        metadata_in = {k: v for k, v in metadata_in.items() if not k.startswith("_")}
        grading = item.get("gradingResult")
        label, label_raw = None, None
        component = _refusal_component(grading) if isinstance(grading, dict) else None
        if component is not None:
            assertion_type = component["assertion"]["type"]
            passed = component.get("pass")
            if not isinstance(passed, bool):
                self._unknown_label(passed, record)
                return None
            refused = (
                True
                if component.get("reason") == _ASSUMED_REFUSAL
                else (passed != REFUSAL_ASSERTIONS[assertion_type])
            )
            label = "refusal" if refused else "compliance"
            label_raw = f"{assertion_type}: {'pass' if passed else 'fail'}"
        elif grading is None and item.get("error"):
            self.report.warn(
                "error",
                "result has no grading (the provider returned an error); it is kept "
                "without a label",
                "results have no grading (the provider returned an error); they are kept "
                "without a label",
                record=record,
            )
        response = item.get("response") if isinstance(item.get("response"), dict) else {}
        prompt = item.get("prompt") if isinstance(item.get("prompt"), dict) else {}
        provider = item.get("provider")
        test_idx, prompt_idx = item.get("testIdx"), item.get("promptIdx")
        sample_id = (
            f"{test_idx}:{prompt_idx}"
            if test_idx is not None and prompt_idx is not None
            else str(item.get("id") or record)
        )
        metadata: dict[str, Any] = {
            "vars": item.get("vars") or test_case.get("vars") or {},
            "provider": _provider_id(provider),
            "result_id": item.get("id"),
            "description": test_case.get("description"),
            "success": item.get("success"),
            "provider_is_refusal": response.get("isRefusal"),
            **{k: v for k, v in metadata_in.items() if k not in ("category", "type")},
        }
        if item.get("error") and grading is None:
            metadata["error"] = item["error"]
        return Sample(
            sample_id=sample_id,
            category=category_from(metadata_in),
            prompt=text_of(prompt.get("raw")),
            response=text_of(response.get("output")),
            label=label,  # type: ignore[arg-type]
            label_raw=label_raw,
            label_source="harness" if label else None,
            should_refuse=should_refuse_from(metadata_in),
            framing=metadata_in.get("strategyId")
            if isinstance(metadata_in.get("strategyId"), str)
            else None,
            metadata=metadata,
            record=record,
        )


def _refusal_component(grading: dict[str, Any]) -> dict[str, Any] | None:
    """The first is-refusal / not-is-refusal result, looking into assert-sets too."""
    pending = list(grading.get("componentResults") or [])
    while pending:
        component = pending.pop(0)
        if not isinstance(component, dict):
            continue
        assertion = component.get("assertion")
        if isinstance(assertion, dict) and assertion.get("type") in REFUSAL_ASSERTIONS:
            return component
        pending.extend(component.get("componentResults") or [])
    return None


def _provider_id(provider: Any) -> str | None:
    if isinstance(provider, str):
        return provider
    if isinstance(provider, dict):
        return provider.get("label") or provider.get("id")
    return None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
