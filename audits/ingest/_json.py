"""Incremental JSON on top of ijson's event stream: build only the values asked for, skip the
rest without materialising it, so a multi-gigabyte log is read in bounded memory."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import ijson

from audits.ingest.errors import IngestError

Event = tuple[str, Any]
_START = ("start_map", "start_array")
_END = ("end_map", "end_array")


def events(reader: BinaryIO) -> Iterator[Event]:
    """ijson's (event, value) stream with floats as floats (not Decimal)."""
    return ijson.basic_parse(reader, use_float=True)


def is_nan_or_overflow(exc: Exception) -> bool:
    """ijson (yajl) rejects NaN/Infinity and integers over 2⁶³, which Python's json writes and
    reads; inspect-ai logs may contain them (inspect-ai itself falls back the same way)."""
    text = str(exc).lower()
    return any(
        marker in text
        for marker in (
            "invalid char in json text",
            "unexpected symbol",
            "a digit is required after the minus sign",
            "integer overflow",
        )
    )


def json_error(exc: Exception, *, what: str, record: int | None = None) -> IngestError:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "premature eof" in first_line.lower():
        return IngestError(
            f"The {what} ends before its JSON is complete — the file is truncated.",
            record=record,
            code="truncated",
        )
    if "utf8" in first_line.lower() or "utf-8" in first_line.lower():
        return IngestError(
            f"The {what} is not valid UTF-8; save it as UTF-8 and upload it again.",
            record=record,
            code="encoding",
        )
    return IngestError(
        f"The {what} is not valid JSON ({first_line}).", record=record, code="malformed"
    )


def skip(stream: Iterator[Event], event: str) -> None:
    """Consumes the rest of a value whose first event was `event`."""
    if event not in _START:
        return
    depth = 1
    for event, _ in stream:
        if event in _START:
            depth += 1
        elif event in _END:
            depth -= 1
            if depth == 0:
                return


def build(
    stream: Iterator[Event],
    event: str,
    value: Any,
    *,
    skip_keys: Iterable[str] = (),
    budget: tuple[Any, int] | None = None,
) -> Any:
    """The value whose first event was (`event`, `value`), leaving out — never building — the
    direct children of an object named in `skip_keys`. `budget` = (a reader with a byte
    `count`, a limit): refuses a value whose text runs longer than the limit."""
    if event not in _START:
        return value
    skipped = frozenset(skip_keys)
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    counter, limit = budget if budget else (None, 0)
    start = counter.count if counter is not None else 0
    for event, value in stream:
        if counter is not None and counter.count - start > limit:
            raise IngestError(f"A record is longer than {limit} bytes.", code="too_large")
        if depth == 1 and event == "map_key" and value in skipped:
            next_event, _ = next(stream)
            skip(stream, next_event)
            continue
        builder.event(event, value)
        if event in _START:
            depth += 1
        elif event in _END:
            depth -= 1
            if depth == 0:
                return builder.value
    raise IngestError("The JSON ends in the middle of a value.", code="truncated")


def expect(stream: Iterator[Event], wanted: str, *, what: str) -> Any:
    try:
        event, value = next(stream)
    except StopIteration:
        raise IngestError(f"The {what} is empty.", code="empty") from None
    if event != wanted:
        kind = {"start_map": "an object", "start_array": "a list"}.get(wanted, wanted)
        raise IngestError(f"The {what} is not {kind} at the top level.", code="wrong_format")
    return value


def top_level_items(stream: Iterator[Event], *, what: str) -> Iterator[tuple[str, str, Any]]:
    """(key, first event, first value) for each member of the top-level object; the caller
    must consume each value (with `build` or `skip`) before asking for the next."""
    expect(stream, "start_map", what=what)
    return object_items(stream)


def object_items(stream: Iterator[Event]) -> Iterator[tuple[str, str, Any]]:
    """Like `top_level_items`, for an object whose start_map was just consumed."""
    for event, value in stream:
        if event == "end_map":
            return
        first_event, first_value = next(stream)
        yield value, first_event, first_value


def array_items(stream: Iterator[Event]) -> Iterator[tuple[str, Any]]:
    """(first event, first value) of each element of an array whose start_array was just
    consumed; the caller consumes each element before asking for the next."""
    for event, value in stream:
        if event == "end_array":
            return
        yield event, value


def loads_lenient(data: bytes) -> Any:
    """Python's json (which reads NaN/Infinity) for one bounded record."""
    return json.loads(data)
