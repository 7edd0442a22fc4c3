"""Byte-level helpers shared by the parsers: size checks before reading, a byte-counting reader
for progress, bounded line reading, strict UTF-8 and a compact set of seen sample ids."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from audits.ingest.errors import IngestError
from audits.ingest.types import Limits

UTF8_BOM = codecs.BOM_UTF8
_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def check_size(path: Path, limits: Limits) -> int:
    """The file's size, refused when empty or over the limit — before any byte is read."""
    size = os.stat(path).st_size
    if size == 0:
        raise IngestError("The file is empty.", code="empty")
    if size > limits.max_file_bytes:
        raise IngestError(
            f"The file is {_human(size)}, over the {_human(limits.max_file_bytes)} limit "
            "for one evidence upload.",
            code="too_large",
        )
    return size


def _human(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def reject_foreign_bom(head: bytes) -> None:
    for bom, name in _FOREIGN_BOMS:
        if head.startswith(bom):
            raise IngestError(
                f"The file is {name}-encoded; save it as UTF-8 and upload it again.",
                code="encoding",
            )


def encoding_error(exc: UnicodeDecodeError, *, record: int | None, unit: str) -> IngestError:
    bad = exc.object[exc.start : exc.start + 1].hex() if exc.object else "?"
    return IngestError(
        f"The file is not valid UTF-8 (byte 0x{bad} cannot be decoded); "
        "save it as UTF-8 and upload it again.",
        record=record,
        unit=unit,
        code="encoding",
    )


class CountingReader(io.RawIOBase):
    """Wraps a binary file and counts the bytes handed out, for a progress figure."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self.count += n or 0
        return n or 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_counting(path: Path) -> CountingReader:
    return CountingReader(open(path, "rb"))


def skip_utf8_bom(reader: BinaryIO) -> BinaryIO:
    """A reader positioned after a UTF-8 BOM, if the file starts with one."""
    buffered = io.BufferedReader(reader) if not hasattr(reader, "peek") else reader
    if buffered.peek(3)[:3] == UTF8_BOM:  # type: ignore[attr-defined]
        buffered.read(3)
    return buffered


def iter_lines(reader: BinaryIO, limits: Limits) -> Iterator[tuple[int, bytes]]:
    """(line number, line bytes without its newline), each line bounded in size."""
    buffered = reader if hasattr(reader, "peek") else io.BufferedReader(reader)  # type: ignore[arg-type]
    number = 0
    while True:
        line = buffered.readline(limits.max_record_bytes + 1)
        if not line:
            return
        number += 1
        if len(line) > limits.max_record_bytes and not line.endswith(b"\n"):
            raise IngestError(
                f"A line is longer than {limits.max_record_bytes} bytes.",
                record=number,
                unit="line",
                code="malformed",
            )
        if number == 1 and line.startswith(UTF8_BOM):
            line = line[3:]
        yield number, line.rstrip(b"\r\n")


class BoundedText(io.TextIOBase):
    """Strict UTF-8 text over a binary reader, one physical line at a time, each bounded —
    what `csv.reader` needs to stream a file whose quoted fields may span lines."""

    def __init__(self, reader: BinaryIO, limits: Limits) -> None:
        self._lines = iter_lines(reader, limits)
        self.line = 0

    def readable(self) -> bool:
        return True

    def __iter__(self):
        return self

    def __next__(self) -> str:
        number, raw = next(self._lines)
        self.line = number
        try:
            return raw.decode("utf-8") + "\n"
        except UnicodeDecodeError as exc:
            raise encoding_error(exc, record=number, unit="line") from None


def csv_rows(reader: BinaryIO, limits: Limits) -> Iterator[tuple[int, list[str]]]:
    """(first line of the row, fields) for every row, header included."""
    # The csv module's default field limit (128 KiB) is below a long model response.
    if csv.field_size_limit() < limits.max_record_bytes:
        csv.field_size_limit(limits.max_record_bytes)
    text = BoundedText(reader, limits)
    rows = csv.reader(text, strict=True)
    while True:
        start = text.line + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            raise IngestError(
                f"The CSV is malformed: {exc}.", record=text.line, unit="line", code="malformed"
            ) from None
        yield start, row


def check_columns(header: list[str], required: tuple[str, ...], *, title: str) -> dict[str, int]:
    index = {name.strip(): i for i, name in enumerate(header)}
    missing = [name for name in required if name not in index]
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        raise IngestError(
            f"The {title} is missing the column{'s' if len(missing) > 1 else ''} {names} "
            f"(its header has: {', '.join(repr(h) for h in header)}).",
            record=1,
            unit="line",
            code="missing_column",
        )
    return index


class SeenIds:
    """Which sample ids were already seen, in 16 bytes per id whatever the id's length.

    Ids are kept as 64-bit BLAKE2b fingerprints in an open-addressing table (an `array`, not a
    Python set, so a million ids cost ~16 MB, not ~100 MB). Two distinct ids collide with
    probability ~n²/2⁶⁵ — about 3 in 100 million for a million samples — and such a collision
    would be reported as a duplicate, never silently merged.
    """

    def __init__(self) -> None:
        self._capacity = 1 << 12
        self._table = array("Q", bytes(8 * self._capacity))
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @staticmethod
    def _fingerprint(sample_id: str) -> int:
        digest = hashlib.blake2b(sample_id.encode("utf-8", "surrogatepass"), digest_size=8)
        return int.from_bytes(digest.digest(), "little") or 1  # 0 marks an empty slot

    def add(self, sample_id: str) -> bool:
        """Records the id; False when it had been seen before."""
        if not self._insert(self._fingerprint(sample_id)):
            return False
        self._size += 1
        if self._size * 2 > self._capacity:
            self._grow()
        return True

    def _insert(self, fingerprint: int) -> bool:
        table, mask = self._table, self._capacity - 1
        slot = fingerprint & mask
        while True:
            current = table[slot]
            if current == 0:
                table[slot] = fingerprint
                return True
            if current == fingerprint:
                return False
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        old = self._table
        self._capacity *= 2
        self._table = array("Q", bytes(8 * self._capacity))
        for fingerprint in old:
            if fingerprint:
                self._insert(fingerprint)
