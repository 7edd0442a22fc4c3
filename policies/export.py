"""The whole docket of a comment period as CSV or JSON Lines, streamed in constant memory from a
server-side cursor (a national docket does not fit in a worker's memory)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.db import transaction

from policies.models import Comment, CommentPeriod

COLUMNS = (
    "id", "created_at", "author", "on_behalf_of", "clause_key", "parent_id", "status",
    "hidden_reason", "cluster_id", "endorsement_count", "edited_at", "body",
)  # fmt: skip
CHUNK = 2000
# Spreadsheet programs run cells starting with these as formulas.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def docket_rows(period: CommentPeriod) -> Iterator[dict]:
    """Every comment not held, oldest first; withdrawn and hidden comments keep their place
    without their text."""
    rows = (
        Comment.objects.filter(period=period)
        .exclude(status=Comment.Status.HELD)
        .order_by("id")
        .values_list(
            "id",
            "created_at",
            "author__display_name",
            "author__deleted_at",
            "author_id",
            "on_behalf_of__name",
            "clause__key",
            "parent_id",
            "status",
            "hidden_reason",
            "cluster_id",
            "endorsement_count",
            "edited_at",
            "body",
        )
    )
    # A named (server-side) cursor lives inside a transaction.
    with transaction.atomic():
        for (pk, created, name, deleted, author_id, org, clause, parent, status, hidden_reason,
             cluster, endorsements, edited, body) in rows.iterator(chunk_size=CHUNK):  # fmt: skip
            author = "Former member" if deleted else name or f"Member #{author_id}"
            shown = status in (Comment.Status.PUBLISHED,)
            yield {
                "id": pk,
                "created_at": created.isoformat(),
                "author": author,
                "on_behalf_of": org or "",
                "clause_key": clause or "",
                "parent_id": parent,
                "status": status,
                "hidden_reason": hidden_reason if status == Comment.Status.HIDDEN else "",
                "cluster_id": cluster,
                "endorsement_count": endorsements,
                "edited_at": edited.isoformat() if edited else None,
                "body": body if shown else "",
            }


def _safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def docket_csv_lines(period: CommentPeriod) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for row in docket_rows(period):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_safe_cell(row[c]) for c in COLUMNS])
        yield buffer.getvalue().encode("utf-8")


def docket_jsonl_lines(period: CommentPeriod) -> Iterator[bytes]:
    for row in docket_rows(period):
        yield (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
