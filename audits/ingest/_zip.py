"""A streaming zip reader for inspect-ai `.eval` logs.

Python 3.11's `zipfile` cannot decompress Zstandard members (method 93, what inspect-ai writes
today) and loads the whole central directory into memory. This reader walks the central
directory entry by entry, reads each member's raw bytes from its local header, and decompresses
them as a stream — stored, deflate or Zstandard — while enforcing the zip-bomb limits on what it
actually produces (declared sizes are only a first check: a hostile archive can lie in them),
and the CRC-32 and size at the end of every member.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from audits.ingest.errors import IngestError
from audits.ingest.types import Limits

STORED, DEFLATED, ZSTANDARD = 0, 8, 93
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = 0x02014B50
_LOCAL = 0x04034B50
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    method: int
    flags: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int


def _truncated(detail: str) -> IngestError:
    return IngestError(
        f"The .eval file is not a complete zip archive ({detail}); it may have been truncated "
        "during upload or while the evaluation was still running.",
        code="truncated",
    )


class ZipReader:
    """Members of one archive, read one at a time; `budget` counts decompressed bytes across
    all members against `limits.max_uncompressed_bytes`."""

    def __init__(self, path, size: int, limits: Limits) -> None:
        self.path = path
        self.size = size
        self.limits = limits
        self.produced = 0
        self._data = open(path, "rb")  # noqa: SIM115  (closed in close())
        self._cd_offset, self._cd_size, self.count = self._find_central_directory()
        if self.count > limits.max_zip_members:
            raise IngestError(
                f"The archive has {self.count} members, over the limit of "
                f"{limits.max_zip_members}.",
                code="zip_bomb",
            )

    def close(self) -> None:
        self._data.close()

    def __enter__(self) -> ZipReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- central directory ---------------------------------------------------------------

    def _find_central_directory(self) -> tuple[int, int, int]:
        f = self._data
        tail_size = min(self.size, 22 + 0xFFFF)
        f.seek(self.size - tail_size)
        tail = f.read(tail_size)
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < 22:
            raise _truncated("its end-of-archive record is missing")
        eocd_pos = self.size - tail_size + at
        (_, _, _, _, count, cd_size, cd_offset, _) = struct.unpack("<IHHHHIIH", tail[at : at + 22])
        if count == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):
            count, cd_size, cd_offset = self._zip64_directory(eocd_pos)
        if cd_offset + cd_size > eocd_pos:
            raise _truncated("its central directory points past the end of the file")
        return cd_offset, cd_size, count

    def _zip64_directory(self, eocd_pos: int) -> tuple[int, int, int]:
        f = self._data
        if eocd_pos < 20:
            raise _truncated("its zip64 locator is missing")
        f.seek(eocd_pos - 20)
        locator = f.read(20)
        if locator[:4] != _EOCD64_LOCATOR:
            raise _truncated("its zip64 locator is missing")
        (eocd64_offset,) = struct.unpack("<Q", locator[8:16])
        f.seek(eocd64_offset)
        record = f.read(56)
        if len(record) < 56 or record[:4] != _EOCD64:
            raise _truncated("its zip64 end-of-archive record is missing")
        count, cd_size, cd_offset = struct.unpack("<QQQ", record[32:56])
        return count, cd_size, cd_offset

    def members(self) -> Iterator[Member]:
        """Central directory entries in order, read incrementally (its own file handle)."""
        with open(self.path, "rb") as raw:
            raw.seek(self._cd_offset)
            f = io.BufferedReader(raw, buffer_size=_CHUNK)  # type: ignore[arg-type]
            for _ in range(self.count):
                header = f.read(46)
                if len(header) < 46 or struct.unpack("<I", header[:4])[0] != _CENTRAL:
                    raise _truncated("its central directory is damaged")
                (
                    _sig,
                    _made,
                    _need,
                    flags,
                    method,
                    _time,
                    _date,
                    crc,
                    csize,
                    size,
                    name_len,
                    extra_len,
                    comment_len,
                    _disk,
                    _iattr,
                    _eattr,
                    offset,
                ) = struct.unpack("<IHHHHHHIIIHHHHHII", header)
                name_bytes = f.read(name_len)
                extra = f.read(extra_len)
                f.read(comment_len)
                if 0xFFFFFFFF in (csize, size, offset):
                    size, csize, offset = _zip64_sizes(extra, size, csize, offset)
                name = name_bytes.decode("utf-8" if flags & 0x800 else "cp437")
                yield Member(name, method, flags, crc, csize, size, offset)

    # -- members ----------------------------------------------------------------------

    def open(self, member: Member) -> MemberReader:
        if member.flags & 0x1:
            raise IngestError(f"The archive member {member.name} is encrypted.", code="unsupported")
        if member.method not in (STORED, DEFLATED, ZSTANDARD):
            raise IngestError(
                f"The archive member {member.name} uses zip compression method "
                f"{member.method}; only stored, deflate and Zstandard are read.",
                code="unsupported",
            )
        self._check_declared(member)
        f = self._data
        f.seek(member.header_offset)
        local = f.read(30)
        if len(local) < 30 or struct.unpack("<I", local[:4])[0] != _LOCAL:
            raise _truncated(f"the member {member.name} is missing")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        start = member.header_offset + 30 + name_len + extra_len
        if start + member.compressed_size > self.size:
            raise _truncated(f"the member {member.name} is cut short")
        raw = _Slice(f, start, member.compressed_size)
        if member.method == STORED:
            stream: BinaryIO = raw  # type: ignore[assignment]
        elif member.method == DEFLATED:
            stream = _Inflate(raw)  # type: ignore[assignment]
        else:
            stream = zstandard.ZstdDecompressor().stream_reader(
                raw, read_across_frames=True, closefd=False
            )
        return MemberReader(self, member, stream)

    def _check_declared(self, member: Member) -> None:
        limits = self.limits
        if member.size > limits.max_uncompressed_bytes:
            raise _bomb(member, limits)
        if (
            member.size > limits.ratio_floor_bytes
            and member.size > member.compressed_size * limits.max_compression_ratio
        ):
            raise _bomb(member, limits)

    def read_member(self, member: Member) -> bytes:
        """A whole member, for the small ones (header.json); bounded by max_record_bytes."""
        if member.size > self.limits.max_record_bytes:
            raise IngestError(
                f"The archive member {member.name} is larger than "
                f"{self.limits.max_record_bytes} bytes.",
                code="too_large",
            )
        with self.open(member) as reader:
            return reader.read()


def _zip64_sizes(extra: bytes, size: int, csize: int, offset: int) -> tuple[int, int, int]:
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[at : at + 4])
        body = extra[at + 4 : at + 4 + length]
        if tag == 0x0001:
            values = list(struct.unpack(f"<{len(body) // 8}Q", body[: len(body) // 8 * 8]))
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
            if offset == 0xFFFFFFFF and values:
                offset = values.pop(0)
            return size, csize, offset
        at += 4 + length
    raise _truncated("a zip64 member has no zip64 sizes")


def _bomb(member: Member, limits: Limits) -> IngestError:
    return IngestError(
        f"The archive member {member.name} expands far beyond its compressed size (over "
        f"{limits.max_compression_ratio:g} times or {limits.max_uncompressed_bytes} bytes in all); "
        "it is refused as a possible zip bomb.",
        code="zip_bomb",
    )


class MemberReader(io.RawIOBase):
    """Decompressed bytes of one member; enforces the bomb limits on bytes actually produced
    and checks the size and CRC-32 the central directory declared once the stream ends."""

    def __init__(self, archive: ZipReader, member: Member, stream: BinaryIO) -> None:
        self._archive = archive
        self.member = member
        self._stream = stream
        self._produced = 0
        self._crc = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(_CHUNK):
                chunks.append(chunk)
            return b"".join(chunks)
        if size == 0:
            return b""
        try:
            data = self._stream.read(size)
        except zstandard.ZstdError as exc:
            raise self._corrupt(f"Zstandard: {exc}") from None
        except zlib.error as exc:
            raise self._corrupt(f"deflate: {exc}") from None
        if not data:
            self._finish()
            return b""
        self._account(data)
        return data

    def _account(self, data: bytes) -> None:
        member, limits, archive = self.member, self._archive.limits, self._archive
        self._produced += len(data)
        archive.produced += len(data)
        self._crc = zlib.crc32(data, self._crc)
        if self._produced > member.size:
            # More than declared: either corrupt or a bomb lying about its size.
            raise _bomb(member, limits)
        if archive.produced > limits.max_uncompressed_bytes:
            raise _bomb(member, limits)
        if (
            self._produced > limits.ratio_floor_bytes
            and self._produced > member.compressed_size * limits.max_compression_ratio
        ):
            raise _bomb(member, limits)

    def _finish(self) -> None:
        self._done = True
        if self._produced != self.member.size:
            raise self._corrupt(f"{self._produced} bytes decompressed, {self.member.size} declared")
        if self._crc != self.member.crc:
            raise self._corrupt("CRC-32 mismatch")

    def _corrupt(self, detail: str) -> IngestError:
        return IngestError(
            f"The archive member {self.member.name} is damaged ({detail}); the .eval file may "
            "be truncated or corrupt.",
            code="truncated",
        )


class _Slice(io.RawIOBase):
    """`length` bytes of `f` from `start`, read through its own position."""

    def __init__(self, f: BinaryIO, start: int, length: int) -> None:
        self._f = f
        self._pos = start
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        self._f.seek(self._pos)
        data = self._f.read(size)
        self._pos += len(data)
        self._left -= len(data)
        if len(data) < size:
            self._left = 0
        return data


class _Inflate(io.RawIOBase):
    """Raw deflate (zip method 8), never producing more than asked per call."""

    def __init__(self, raw: _Slice) -> None:
        self._raw = raw
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = _CHUNK if size is None or size < 0 else size
        inflater = self._inflater
        while True:
            if inflater.unconsumed_tail:
                data = inflater.decompress(inflater.unconsumed_tail, size)
            elif inflater.eof:
                return b""
            else:
                chunk = self._raw.read(_CHUNK)
                if not chunk:
                    return inflater.flush()[:size]
                data = inflater.decompress(chunk, size)
            if data:
                return data
