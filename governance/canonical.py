"""Canonical JSON, the byte form the ledger hashes: sorted keys, no spaces, UTF-8, no floats.

Floats are refused because their text form is not portable between languages; services pass
decimals as strings. The standalone verifier in the README uses the same rules.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _check(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("Ledger payloads may not contain floats; pass decimals as strings.")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("Ledger payload keys must be strings.")
            _check(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item)
    elif isinstance(value, str) and "\x00" in value:
        raise ValueError("Ledger payload strings may not contain NUL characters.")
    elif not (value is None or isinstance(value, bool | int | str)):
        raise TypeError(f"Ledger payloads may not contain {type(value).__name__}.")


def canonical_json(value: Any) -> bytes:
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
