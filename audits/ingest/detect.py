"""Which evidence format a file is, from its content (never its name): zip magic, the keys of
the first JSON object or line, the header of a CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import ijson

from audits.ingest._io import UTF8_BOM, check_size, encoding_error, reject_foreign_bom
from audits.ingest._zip import ZipReader
from audits.ingest.errors import IngestError
from audits.ingest.types import Limits

# Enough for every real file's deciding keys (they come first); a sniff never reads more.
SNIFF_BYTES = 1024 * 1024

# Files that only accompany a run: recognised so the error can say what to do with them.
COMPANIONS = {
    "lm_eval_results_json": (
        "This is lm-evaluation-harness's results summary, which has no per-sample records. "
        "Upload the samples JSONL written with --log_samples, and attach this file to it as "
        "the run's results JSON."
    ),
    "harmbench_behaviors_csv": (
        "This is a HarmBench behaviors CSV, which has no model responses. Upload the results "
        "JSON written by evaluate_completions.py, and attach this file to it for categories."
    ),
}

TITLES = {
    "inspect_eval": "an inspect-ai .eval log",
    "inspect_json": "an inspect-ai .json log",
    "xstest_csv": "an XSTest CSV",
    "harmbench_json": "a HarmBench results JSON",
    "lm_eval_jsonl": "an lm-evaluation-harness samples JSONL",
    "promptfoo_json": "a promptfoo results JSON",
    "airbench_csv": "an AIR-Bench 2024 result CSV",
    "generic_csv": "a generic evidence CSV",
    "generic_jsonl": "a generic evidence JSONL",
    "lm_eval_results_json": "an lm-evaluation-harness results JSON",
    "harmbench_behaviors_csv": "a HarmBench behaviors CSV",
}

_UNKNOWN = (
    "The file is not a recognised evidence format. Supported: inspect-ai logs (.eval, .json), "
    "XSTest CSV, HarmBench results JSON, lm-evaluation-harness samples JSONL, promptfoo "
    "results JSON, AIR-Bench 2024 result CSV, and the generic CSV/JSONL "
    "(sample_id, category, prompt, response, label, should_refuse)."
)


def detect_format(path: str | Path, *, limits: Limits | None = None) -> str:
    """The format key of an evidence file (see `audits.ingest.FORMATS`), or IngestError when
    the file is empty, too large, not UTF-8, only a companion file, or not recognised."""
    kind = sniff(path, limits=limits)
    if kind in COMPANIONS:
        raise IngestError(COMPANIONS[kind], code="wrong_format")
    if kind is None:
        raise IngestError(_UNKNOWN, code="wrong_format")
    return kind


def sniff(path: str | Path, *, limits: Limits | None = None) -> str | None:
    """Like `detect_format`, but returns companion kinds too and None when unrecognised."""
    limits = limits or Limits()
    path = Path(path)
    size = check_size(path, limits)
    with open(path, "rb") as f:
        head = f.read(min(size, SNIFF_BYTES))
    reject_foreign_bom(head)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(path, size, limits)
    body = head[3:] if head.startswith(UTF8_BOM) else head
    stripped = body.lstrip()
    if not stripped:
        raise IngestError("The file contains only whitespace.", code="empty")
    if b"\x00" in body:
        raise IngestError(_UNKNOWN + " (This file is binary.)", code="wrong_format")
    if stripped[:1] in (b"{", b"["):
        return _sniff_json(stripped)
    return _sniff_csv(body)


def _sniff_zip(path: Path, size: int, limits: Limits) -> str:
    with ZipReader(path, size, limits) as archive:
        for member in archive.members():
            if member.name in ("header.json", "_journal/start.json") or member.name.startswith(
                "samples/"
            ):
                return "inspect_eval"
    raise IngestError(
        "This zip archive is not an inspect-ai log (it has no header.json or samples/).",
        code="wrong_format",
    )


def _sniff_json(head: bytes) -> str | None:
    first_line, _, rest = head.partition(b"\n")
    try:
        first = json.loads(first_line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise encoding_error(exc, record=1, unit="line") from None
    except ValueError:
        first = None
    if isinstance(first, dict):
        kind = _jsonl_kind(first)
        if kind:
            return kind  # a JSONL record, even in a one-line file
        if not rest.strip():
            return _json_kind_from_keys(first)  # a whole JSON document on one line
        if rest.lstrip()[:1] == b"{":
            return None  # JSON lines, but not ones we know
    return _json_kind_streaming(head)


def _jsonl_kind(record: dict) -> str | None:
    if "doc_id" in record and "doc" in record:
        return "lm_eval_jsonl"
    if "sample_id" in record:
        return "generic_jsonl"
    return None


def _json_kind_from_keys(obj: dict) -> str | None:
    if "evalId" in obj or (isinstance(obj.get("results"), dict) and "results" in obj["results"]):
        return "promptfoo_json"
    if isinstance(obj.get("eval"), dict):
        return "inspect_json"
    if "lm_eval_version" in obj or "configs" in obj or "group_subtasks" in obj:
        return "lm_eval_results_json"
    values = list(obj.values())
    first = values[0] if values else None
    if isinstance(first, list) and first and isinstance(first[0], dict):
        return "harmbench_json" if {"generation", "test_case"} & set(first[0]) else None
    return None


def _json_kind_streaming(head: bytes) -> str | None:
    """Decides from the first events of a JSON document, which may be cut off at SNIFF_BYTES:
    the deciding keys of every supported format come near its start."""
    depth = 0
    top_key = None
    top_keys: set[str] = set()
    top_value_is_list = False
    try:
        for event, value in ijson.basic_parse(io.BytesIO(head)):
            if event in ("start_map", "start_array"):
                if depth == 0 and event == "start_array":
                    return None  # a top-level list: none of the supported JSON formats
                if depth == 1:
                    top_value_is_list = event == "start_array"
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
            elif event == "map_key" and depth == 1:
                if value == "evalId":
                    return "promptfoo_json"
                if value == "eval":
                    return "inspect_json"
                if value in ("lm_eval_version", "configs", "group_subtasks"):
                    return "lm_eval_results_json"
                top_key = value
                top_keys.add(value)
            elif event == "map_key" and depth == 2 and top_key == "results" and value == "results":
                return "promptfoo_json"
            elif event == "map_key" and depth == 3 and top_value_is_list:
                return "harmbench_json" if value in ("generation", "test_case") else None
    except ijson.JSONError as exc:
        if "utf8" in str(exc).lower():
            raise IngestError(
                "The file is not valid UTF-8; save it as UTF-8 and upload it again.",
                code="encoding",
            ) from None
    # A JSONL whose first line is longer than the sniff: its first object's keys still tell.
    return _jsonl_kind(dict.fromkeys(top_keys))


def _sniff_csv(body: bytes) -> str | None:
    line = body.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise encoding_error(exc, record=1, unit="line") from None
    try:
        header = {name.strip() for name in next(csv.reader([text]))}
    except (csv.Error, StopIteration):
        return None
    if "cate-idx" in header:
        return "airbench_csv"
    if {"id", "type", "prompt"} <= header:
        return "xstest_csv"
    if "sample_id" in header:
        return "generic_csv"
    if {"BehaviorID", "SemanticCategory"} <= header:
        return "harmbench_behaviors_csv"
    return None
