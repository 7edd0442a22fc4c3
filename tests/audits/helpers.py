"""Paths to the evidence fixtures and a small zip writer that can lie, for the ingest tests."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import zstandard

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "formats"


def shared(name: str) -> Path:
    return SHARED / name


def fixture(name: str) -> Path:
    return FIXTURES / name


def compress(data: bytes, method: int) -> bytes:
    if method == 0:
        return data
    if method == 8:
        deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        return deflater.compress(data) + deflater.flush()
    if method == 93:
        return zstandard.ZstdCompressor(level=19).compress(data)
    raise ValueError(method)


def write_zip(path: Path, members: list[dict]) -> Path:
    """Each member: name, data (uncompressed), method (0, 8, 93…), and optionally raw
    (compressed bytes as stored), size/crc (as declared, to make them lie) and flags."""
    out = bytearray()
    central = bytearray()
    for member in members:
        name = member["name"].encode()
        data = member.get("data", b"")
        method = member.get("method", 93)
        raw = member["raw"] if "raw" in member else compress(data, method)
        crc = member.get("crc", zlib.crc32(data))
        size = member.get("size", len(data))
        flags = member.get("flags", 0)
        offset = len(out)
        out += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 63, flags, method, 0, 0x21, crc, len(raw), size,
            len(name), 0,
        )  # fmt: skip
        out += name + raw
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 63, 63, flags, method, 0, 0x21, crc, len(raw),
            size, len(name), 0, 0, 0, 0, 0, offset,
        )  # fmt: skip
        central += name
    cd_offset = len(out)
    out += central
    out += struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), cd_offset, 0
    )
    path.write_bytes(bytes(out))
    return path
