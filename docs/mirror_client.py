"""Keep a local SQLite mirror of an OpenRefusal platform by remembering one number.

    python docs/mirror_client.py https://openrefusal.example mirror.sqlite [--token orf_…]

Each run asks the change feed (`GET /api/v1/changes/?after=<n>`) for what happened since the
last seq it stored, checks every entry's hash and its link to the previous one (the same rules
as docs/verify_ledger.py), stores the entries in `changes`, re-reads each changed resource from
its API link into `resources` (or notes that it has no public address), and stores the new seq
in `state`. Everything of one page is written in one SQLite transaction, so an interrupted run
resumes where it stopped and a mirror never holds half a page. Run it from cron as often as you
like; it needs httpx (`pip install httpx`) and the standard library.

Tables:
    changes(seq PRIMARY KEY, at, actor, action, subject, payload JSON, prev_hash, hash)
    resources(subject PRIMARY KEY, api_url, page_url, seq, data JSON or NULL)
    state(key PRIMARY KEY, value)   -- key 'after': the last seq mirrored
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
import time

import httpx

GENESIS = "0" * 64
HASHED = ("seq", "at", "actor", "action", "subject", "payload", "prev_hash")

SCHEMA = """
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    subject TEXT NOT NULL, payload TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS resources (
    subject TEXT PRIMARY KEY, api_url TEXT, page_url TEXT, seq INTEGER NOT NULL, data TEXT
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class MirrorError(Exception):
    pass


def entry_hash(change: dict) -> str:
    document = {key: change[key] for key in HASHED}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def get_json(client: httpx.Client, url: str, *, params: dict | None = None) -> httpx.Response:
    """GET, waiting out rate limits (429 + Retry-After) rather than failing."""
    for _ in range(10):
        response = client.get(url, params=params)
        if response.status_code != 429:
            return response
        time.sleep(min(int(response.headers.get("Retry-After", "1")), 60))
    raise MirrorError(f"Still rate-limited on {url}")


def open_mirror(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    return db


def last_mirrored(db: sqlite3.Connection) -> tuple[int, str]:
    row = db.execute("SELECT value FROM state WHERE key = 'after'").fetchone()
    after = int(row[0]) if row else 0
    last = db.execute("SELECT hash FROM changes WHERE seq = ?", (after,)).fetchone()
    return after, last[0] if last else GENESIS


def mirror(base_url: str, path: str, *, token: str | None = None, limit: int = 500) -> int:
    """Bring the mirror at `path` up to date; return the number of changes added."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    db = open_mirror(path)
    added = 0
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        after, prev_hash = last_mirrored(db)
        while True:
            response = get_json(client, "/api/v1/changes/", params={"after": after, "limit": limit})
            if response.status_code != 200:
                raise MirrorError(
                    f"The change feed answered {response.status_code}: {response.text}"
                )
            page = response.json()
            changes = page["results"]
            if not changes:
                break
            with db:  # one transaction per page
                for change in changes:
                    if change["seq"] != after + 1 or change["prev_hash"] != prev_hash:
                        raise MirrorError(f"The chain breaks at seq {change['seq']}")
                    if entry_hash(change) != change["hash"]:
                        raise MirrorError(f"Hash mismatch at seq {change['seq']}")
                    db.execute(
                        "INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            change["seq"], change["at"], change["actor"], change["action"],
                            change["subject"], json.dumps(change["payload"], sort_keys=True),
                            change["prev_hash"], change["hash"],
                        ),
                    )  # fmt: skip
                    after, prev_hash = change["seq"], change["hash"]
                # Each resource changed on this page is read once, as it is now.
                latest = {change["subject"]: change for change in changes}
                for subject, change in latest.items():
                    api_url, page_url = change["links"]["api"], change["links"]["page"]
                    data = None
                    if api_url:
                        resource = get_json(client, api_url)
                        if resource.status_code == 200:
                            data = json.dumps(resource.json(), sort_keys=True)
                        elif resource.status_code not in (403, 404, 410):
                            raise MirrorError(f"{api_url} answered {resource.status_code}")
                    db.execute(
                        "INSERT INTO resources VALUES (?, ?, ?, ?, ?) ON CONFLICT (subject) DO "
                        "UPDATE SET api_url = excluded.api_url, page_url = excluded.page_url, "
                        "seq = excluded.seq, data = excluded.data",
                        (subject, api_url, page_url, change["seq"], data),
                    )
                db.execute(
                    "INSERT INTO state VALUES ('after', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(after),),
                )
            added += len(changes)
            if page["next"] is None:
                break
    db.close()
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="e.g. https://openrefusal.example")
    parser.add_argument("database", help="the SQLite file (created if missing)")
    parser.add_argument("--token", help="an API token (orf_…), for higher rate limits")
    args = parser.parse_args(argv)
    try:
        added = mirror(args.base_url, args.database, token=args.token)
    except (MirrorError, httpx.HTTPError) as error:
        print(f"mirror failed: {error}", file=sys.stderr)
        return 1
    after, _ = last_mirrored(open_mirror(args.database))
    print(f"OK: {added} new changes, mirrored up to seq {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
