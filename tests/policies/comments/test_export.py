"""The docket export streams in constant memory: 200,000 comments read through a server-side
cursor, every row once, with a memory bound far below what holding the rows would need."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest
from django.db import connection

from policies import export
from policies.models import Comment

pytestmark = pytest.mark.django_db

ROWS = 200_000


def _bulk_comments(period, author, n: int) -> None:
    """COPY `n` published comments into the period (the fast path a real import would use)."""
    columns = (
        "period_id, author_id, body, normalized_sha256, status, held_reason, hidden_reason, "
        "listed, clustering_done, endorsement_count, reply_count, link_count, created_at"
    )
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY policies_comment ({columns}) FROM STDIN") as copy,
    ):
        for i in range(n):
            copy.write_row(
                (
                    period.pk,
                    author.pk,
                    f"Comment number {i} about the refusal policy " * 3,
                    f"{i:064x}",
                    "published",
                    "",
                    "",
                    True,
                    True,
                    0,
                    0,
                    0,
                    "2026-11-01T00:00:00+00:00",
                )
            )


def test_it_streams_200000_comments_in_bounded_memory(open_period, citizen):
    _bulk_comments(open_period, citizen, ROWS)
    tracemalloc.start()
    count = 0
    seen_last = 0
    for line in export.docket_jsonl_lines(open_period):
        row = json.loads(line)
        assert row["id"] > seen_last
        seen_last = row["id"]
        count += 1
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == ROWS
    # Holding 200,000 rows of ~130 characters would take well over 60 MB of Python objects.
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_it_neutralises_formulas_and_hides_what_is_not_public(
    open_period, citizen, outsider, moderator, comment
):
    from django.utils import timezone

    from policies.services import comments as svc
    from tests.factories import UserFactory

    formula = comment(citizen, open_period, "=cmd|' /C calc'!A0")
    hidden = comment(outsider, open_period, "Private details here")
    svc.comment_moderate(moderator=moderator, comment=hidden, action="hide",
                         public_reason="Doxxing")  # fmt: skip
    comment(UserFactory(date_joined=timezone.now()), open_period, "Held text")
    rows = list(csv.DictReader(io.StringIO(
        b"".join(export.docket_csv_lines(open_period)).decode("utf-8-sig"))))  # fmt: skip
    assert [r["id"] for r in rows] == [str(formula.pk), str(hidden.pk)]
    assert rows[0]["body"].startswith("'=")
    assert rows[1]["body"] == ""
    assert rows[1]["hidden_reason"] == "Doxxing"
    assert Comment.objects.count() == 3
