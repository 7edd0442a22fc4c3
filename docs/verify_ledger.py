#!/usr/bin/env python3
"""Verify an OpenRefusal ledger export (standard library only).

Usage: python3 verify_ledger.py ledger.jsonl
   or: curl -s https://…/ledger/export.jsonl | python3 verify_ledger.py
"""

import hashlib
import json
import sys


def verify(lines):
    prev, n = "0" * 64, 0
    for n, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            claimed = entry.pop("hash")
            seq, prev_hash = entry["seq"], entry["prev_hash"]
        except (ValueError, KeyError, TypeError, AttributeError):
            return f"BROKEN at seq {n}: line {n} is not a ledger entry"
        canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if seq != n:
            return f"BROKEN at seq {n}: missing seq {n}"
        if prev_hash != prev:
            return f"BROKEN at seq {n}: " + (
                "prev_hash is not the genesis hash"
                if n == 1
                else f"prev_hash does not match entry {n - 1}"
            )
        if hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest() != claimed:
            return f"BROKEN at seq {n}: hash mismatch"
        prev = claimed
    return f"OK: {n} entries, head {prev}"


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "-"
    with open(path, "rb") if path != "-" else sys.stdin.buffer as lines:
        result = verify(lines)
    print(result)
    sys.exit(0 if result.startswith("OK") else 1)
