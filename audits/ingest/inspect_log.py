"""inspect-ai evaluation logs: `.eval` (a zip: `header.json`, one `samples/<id>_epoch_<n>.json`
per sample and epoch; members Zstandard-compressed, zip method 93, or deflate in older logs)
and `.json` (the same under `eval` and `samples`).

Each sample has `input` (text or chat messages), `target`, `metadata`, `output.completion` and
`scores: {scorer name: {value, answer, explanation}}`. Scorer values mean different things for
different scorers, so the label is read only where the scorer's meaning is known, in this order:
- inspect_evals' xstest task (`model_graded_qa` with its C/P/I grade pattern): C → compliance,
  P → partial, I → refusal (full refusal);
- strong_reject's `{"refusal": 0|1, "convincingness", "specificity"}`: 1 → refusal,
  0 → compliance; an empty `{}` (the judge's answer was unparsable) → no label, counted;
- any scorer whose `answer` is itself one of refusal / partial / compliance.
Otherwise the sample carries no label (a generic C/I usually means correct/incorrect, not
compliant/refused). Several epochs of one sample become separate samples `<id>:<epoch>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from audits.ingest import _json
from audits.ingest._io import open_counting, skip_utf8_bom
from audits.ingest._zip import ZipReader
from audits.ingest.base import EvidenceParser, category_from, should_refuse_from, text_of
from audits.ingest.errors import IngestError
from audits.ingest.types import LABELS, RunMeta, Sample

XSTEST_GRADES = {"C": "compliance", "P": "partial", "I": "refusal"}
STRONG_REJECT_REFUSAL = {1: "refusal", 0: "compliance"}
# Bulky per-sample keys never needed for a sample row: skipped while parsing, never built.
SAMPLE_SKIP = (
    "events", "messages", "attachments", "events_data", "store", "model_usage",
    "role_usage", "error_retries", "sandbox", "uuid",
)  # fmt: skip
_SAMPLE_MEMBER = re.compile(r"^samples/.+\.json$")
_WANTED_TOP = ("version", "status", "eval", "results", "stats")


class _Inspect(EvidenceParser):
    vocabulary = "the inspect scorer's"
    options = frozenset({"scorer"})

    # -- run metadata -------------------------------------------------------------------

    def _header(self) -> dict[str, Any]:
        raise NotImplementedError

    def _read_meta(self) -> RunMeta:
        header = self._header()
        spec = header.get("eval")
        if not isinstance(spec, dict) or "task" not in spec:
            raise IngestError(
                f"This is not an {self.title}: it has no eval spec.", code="wrong_format"
            )
        self._spec = spec
        task = str(spec.get("task"))
        scorers = [s.get("name") for s in spec.get("scorers") or [] if isinstance(s, dict)]
        extra: dict[str, Any] = {
            key: spec[key] for key in ("eval_id", "run_id", "task_id", "task_args") if key in spec
        }
        extra["status"] = header.get("status")
        extra["scorers"] = scorers
        extra["epochs"] = self._epochs
        if isinstance(spec.get("dataset"), dict):
            dataset = spec["dataset"]
            extra["dataset"] = {
                k: dataset[k] for k in ("name", "location", "samples") if k in dataset
            }
        results = header.get("results")
        if isinstance(results, dict):
            extra["results"] = [
                {
                    "scorer": score.get("name"),
                    "metrics": {
                        name: metric.get("value")
                        for name, metric in (score.get("metrics") or {}).items()
                        if isinstance(metric, dict)
                    },
                }
                for score in results.get("scores") or []
                if isinstance(score, dict)
            ]
        if header.get("status") not in (None, "success"):
            self.report.warn(
                "status", f"log has status {header.get('status')!r}: the run did not finish"
            )
        return RunMeta(
            format=self.format,
            harness="inspect-ai",
            harness_version=(spec.get("packages") or {}).get("inspect_ai"),
            benchmark=task,
            benchmark_version=str(spec["task_version"]) if "task_version" in spec else None,
            model=spec.get("model"),
            run_at=_parse_time(spec.get("created")),
            judge=_judge(spec),
            extra=extra,
        )

    @property
    def _epochs(self) -> int:
        epochs = ((getattr(self, "_spec", None) or {}).get("config") or {}).get("epochs")
        return epochs if isinstance(epochs, int) and epochs > 0 else 1

    @property
    def _task(self) -> str:
        spec = getattr(self, "_spec", None) or {}
        name = str(spec.get("task_registry_name") or spec.get("task") or "")
        return name.rsplit("/", 1)[-1]

    # -- samples ------------------------------------------------------------------------

    def _sample(self, data: dict[str, Any], record: int) -> Sample | None:
        if "id" not in data:
            raise self._error("A sample has no id.", record=record)
        epoch = data.get("epoch", 1)
        sample_id = str(data["id"]) if self._epochs == 1 else f"{data['id']}:{epoch}"
        metadata_in = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        result = self._label(data.get("scores") or {}, record)
        if result is None:
            return None
        label, label_raw, scorer = result
        output = data.get("output") if isinstance(data.get("output"), dict) else {}
        metadata: dict[str, Any] = {"epoch": epoch, "target": data.get("target")}
        metadata.update({k: v for k, v in metadata_in.items() if k not in ("category", "type")})
        if scorer:
            metadata["scorer"] = scorer
            score = (data.get("scores") or {}).get(scorer) or {}
            if score.get("explanation"):
                metadata["score_explanation"] = score["explanation"]
        if data.get("error"):
            error = data["error"]
            metadata["error"] = error.get("message") if isinstance(error, dict) else str(error)
            self.report.warn(
                "error", "sample ended in an error", "samples ended in an error", record=record
            )
        should_refuse = should_refuse_from(metadata_in)
        if should_refuse is None and self._task == "strong_reject":
            should_refuse = True  # every StrongREJECT prompt is a forbidden request
        framing = metadata_in.get("framing") or metadata_in.get("jailbreak_method")
        base = metadata_in.get("base_prompt_id")
        return Sample(
            sample_id=sample_id,
            category=category_from(metadata_in),
            prompt=_input_text(data.get("input")),
            response=text_of(output.get("completion")),
            label=label,  # type: ignore[arg-type]
            label_raw=label_raw,
            label_source="harness" if label else None,
            should_refuse=should_refuse,
            framing=framing if isinstance(framing, str) else None,
            base_prompt_id=text_of(base) if base is not None else None,
            metadata=metadata,
            record=record,
        )

    def _label(self, scores: dict[str, Any], record: int):
        """(label, raw, scorer) — None when the label is outside the scorer's vocabulary."""
        if not isinstance(scores, dict):
            return None, None, None
        chosen = self.opts.get("scorer")
        names = [chosen] if chosen else list(scores)
        for name in names:
            score = scores.get(name)
            if not isinstance(score, dict):
                continue
            value, answer = score.get("value"), score.get("answer")
            if self._task == "xstest" and isinstance(value, str):
                if value in XSTEST_GRADES:
                    return XSTEST_GRADES[value], value, name
                self._unknown_label(value, record)
                return None
            if isinstance(value, dict) and (not value or "refusal" in value):
                if not value:
                    self.report.warn(
                        "unparsed",
                        "sample has an empty strong_reject score (the judge's answer could "
                        "not be parsed); it is kept without a label",
                        "samples have an empty strong_reject score (the judge's answer could "
                        "not be parsed); they are kept without a label",
                        record=record,
                    )
                    return None, "{}", name
                refusal = value["refusal"]
                if not isinstance(refusal, bool) and refusal in STRONG_REJECT_REFUSAL:
                    return STRONG_REJECT_REFUSAL[int(refusal)], f"refusal={refusal}", name
                self._unknown_label(f"refusal={refusal!r}", record)
                return None
            if isinstance(answer, str) and answer.strip().lower() in LABELS:
                return answer.strip().lower(), answer, name
        return None, None, None


class InspectEvalParser(_Inspect):
    format = "inspect_eval"
    title = "inspect-ai .eval log"

    def _header(self) -> dict[str, Any]:
        with ZipReader(self.path, self.size, self.limits) as archive:
            members = {}
            for member in archive.members():
                if member.name in ("header.json", "_journal/start.json"):
                    members[member.name] = member
            chosen = members.get("header.json") or members.get("_journal/start.json")
            if chosen is None:
                raise IngestError(
                    "This zip archive is not an inspect-ai log (it has no header.json).",
                    code="wrong_format",
                )
            data = archive.read_member(chosen)
        try:
            header = _json.loads_lenient(data)
        except ValueError as exc:
            raise IngestError(
                f"The log's {chosen.name} is not valid JSON ({exc}).", code="malformed"
            ) from None
        if not isinstance(header, dict):
            raise IngestError("The log's header is not an object.", code="wrong_format")
        if chosen.name != "header.json":
            header.setdefault("status", "started")
        return header

    def _samples(self) -> Iterator[Sample]:
        self.meta  # noqa: B018  (the eval spec decides how scores read)
        with ZipReader(self.path, self.size, self.limits) as archive:
            record = 0
            for member in archive.members():
                if not _SAMPLE_MEMBER.match(member.name):
                    continue
                record += 1
                data = self._read_sample(archive, member, record)
                self._bytes_done = min(self.size, member.header_offset + member.compressed_size)
                sample = self._sample(data, record)
                if sample is not None:
                    yield sample

    def _read_sample(self, archive: ZipReader, member, record: int) -> dict[str, Any]:
        what = f"archive member {member.name}"
        try:
            with archive.open(member) as reader:
                stream = _json.events(reader)
                first_event, first_value = next(stream)
                data = _json.build(stream, first_event, first_value, skip_keys=SAMPLE_SKIP)
                # Read to the end so the member's size and CRC-32 are checked.
                while reader.read(1 << 16):
                    pass
        except StopIteration:
            raise IngestError(f"The {what} is empty.", record=record, code="malformed") from None
        except _json.ijson.JSONError as exc:
            if not _json.is_nan_or_overflow(exc):
                raise _json.json_error(exc, what=what, record=record) from None
            # NaN/Infinity or a huge integer: Python's json reads them; the member is bounded.
            data = _json.loads_lenient(archive.read_member(member))
            if isinstance(data, dict):
                for key in SAMPLE_SKIP:
                    data.pop(key, None)
        if not isinstance(data, dict):
            raise IngestError(
                f"The {what} is not a sample object.", record=record, code="malformed"
            )
        return data


class InspectJsonParser(_Inspect):
    format = "inspect_json"
    title = "inspect-ai .json log"

    def _header(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        try:
            with open_counting(self.path) as reader:
                stream = _json.events(skip_utf8_bom(reader))
                for key, event, value in _json.top_level_items(stream, what=self.title):
                    if key in _WANTED_TOP:
                        found[key] = _json.build(stream, event, value)
                        if all(k in found for k in _WANTED_TOP):
                            break
                    else:
                        _json.skip(stream, event)
        except _json.ijson.JSONError as exc:
            if not _json.is_nan_or_overflow(exc):
                raise _json.json_error(exc, what=self.title) from None
            whole = self._load_whole()
            found = {k: whole[k] for k in _WANTED_TOP if k in whole}
        return found

    def _load_whole(self) -> dict[str, Any]:
        """Python's json for a log with NaN/Infinity, which ijson cannot read — only when the
        whole file fits the per-record bound."""
        if self.size > self.limits.max_record_bytes:
            raise IngestError(
                "The log contains NaN or Infinity values, which can only be read from logs "
                f"under {self.limits.max_record_bytes} bytes; convert it to .eval "
                "(inspect log convert) and upload that.",
                code="too_large",
            )
        with open(self.path, "rb") as f:
            data = _json.loads_lenient(f.read())
        if not isinstance(data, dict):
            raise IngestError(f"This is not an {self.title}.", code="wrong_format")
        return data

    def _samples(self) -> Iterator[Sample]:
        self.meta  # noqa: B018  (the eval spec decides how scores read)
        record = 0
        try:
            with open_counting(self.path) as reader:
                stream = _json.events(skip_utf8_bom(reader))
                for key, event, _value in _json.top_level_items(stream, what=self.title):
                    if key != "samples" or event != "start_array":
                        _json.skip(stream, event)
                        continue
                    for item_event, item_value in _json.array_items(stream):
                        record += 1
                        self._bytes_done = reader.count
                        data = _json.build(
                            stream,
                            item_event,
                            item_value,
                            skip_keys=SAMPLE_SKIP,
                            budget=(reader, self.limits.max_record_bytes),
                        )
                        if not isinstance(data, dict):
                            raise self._error("A sample is not an object.", record=record)
                        sample = self._sample(data, record)
                        if sample is not None:
                            yield sample
                    return  # what follows the samples (reductions) is not needed
        except _json.ijson.JSONError as exc:
            if not _json.is_nan_or_overflow(exc):
                raise _json.json_error(exc, what=self.title, record=record or None) from None
            if record > 1:
                # Samples were already handed out; restarting would hand them out twice.
                raise IngestError(
                    "The log contains NaN or Infinity values part-way through; convert it to "
                    ".eval (inspect log convert) and upload that.",
                    record=record,
                    code="malformed",
                ) from None
            for number, data in enumerate(self._load_whole().get("samples") or [], start=1):
                sample = self._sample(data, number)
                if sample is not None:
                    yield sample


def _input_text(value: Any) -> str:
    """The prompt: a plain input, or the user turns of a chat input."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        turns = [m for m in value if isinstance(m, dict)]
        users = [m for m in turns if m.get("role") == "user"] or turns
        return "\n\n".join(_content_text(m.get("content")) for m in users)
    return text_of(value)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return text_of(content)


def _judge(spec: dict[str, Any]) -> str | None:
    names = []
    for scorer in spec.get("scorers") or []:
        if not isinstance(scorer, dict):
            continue
        model = (scorer.get("options") or {}).get("model")
        if isinstance(model, dict):
            model = model.get("model")
        names.append(
            f"{scorer.get('name')} ({model})" if isinstance(model, str) else str(scorer.get("name"))
        )
    return ", ".join(names) or None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
