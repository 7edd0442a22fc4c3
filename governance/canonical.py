"""Canonical JSON, the byte form the ledger hashes: sorted keys, no spaces, UTF-8, no floats.

The standalone verifier (docs/verify_ledger.py) uses the same rules; docs/ledger.md states them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# I-JSON (RFC 7493): integers beyond ±(2**53 - 1) do not survive a round trip through
# languages whose JSON numbers are doubles, so a verifier written in one of them would
# compute a different hash. Refusing them keeps the ledger verifiable from any language.
MAX_SAFE_INTEGER = 2**53 - 1


def _check(value: Any) -> None:
    # Floats are refused because their text form is not portable between languages; services
    # pass decimals as strings.
    if isinstance(value, float):
        raise TypeError("Ledger payloads may not contain floats; pass decimals as strings.")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("Ledger payload keys must be strings.")
            _check(key)
            _check(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item)
    elif isinstance(value, str):
        # PostgreSQL's jsonb cannot store NUL, and lone surrogates are not valid UTF-8.
        if "\x00" in value:
            raise ValueError("Ledger payload strings may not contain NUL characters.")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("Ledger payload strings must be valid Unicode text.") from None
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(
                "Ledger payload integers must lie within ±(2**53 - 1); pass larger ones as strings."
            )
    else:
        raise TypeError(f"Ledger payloads may not contain {type(value).__name__}.")


def canonical_json(value: Any, *, strict: bool = True) -> bytes:
    """The canonical bytes of `value`. `strict=False` skips the content rules: verification
    and export must still be able to print (and then flag) a row someone tampered with."""
    if strict:
        _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
