"""Form-letter campaigns: identical comments join one cluster as they are posted; near-identical
ones (MinHash LSH over word shingles, Jaccard ≥ CLUSTER_JACCARD) are clustered by a Celery pass,
with the LSH band keys stored in PostgreSQL so clustering scales past memory.

Who may change what, so that posting, the pass and detaching never corrupt each other:
- A cluster's `comment_count` and its members change only under that cluster's row lock (an
  `UPDATE … SET comment_count = comment_count + 1` takes it), so counts stay exact.
- A new cluster is made by INSERTing it (its `representative` is unique) *before* touching the
  representative's row; the pass does the same, so the two can only meet on that unique index.
- A post locks the earlier live copy it joins (FOR KEY SHARE, in the statement that reads it):
  a withdrawal, hold or edit takes that row's FOR UPDATE lock first, so it waits for the post
  and then detaches the copy with the post's comment counted in; one committed in between makes
  PostgreSQL re-check the row, which drops out. A read that stale never files a tombstone or
  other words in a cluster (a withdrawn representative left the next live copy to start a
  second cluster of the same text).
- The pass, which locks several clusters, gives up a campaign (leaving its comments pending for
  the next pass) rather than wait long or overwrite a change made meanwhile.
- "Live" comments take part: top-level, published or hidden, and public (listed or in a
  cluster). Held, withdrawn, replies and comments hidden before they were ever public do not.
"""

from __future__ import annotations

import hashlib
import logging
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, OperationalError, connection, transaction

from policies.models import Comment, CommentBand, CommentCluster, CommentResponse

logger = logging.getLogger(__name__)

NUM_PERM = 128
SHINGLE_WORDS = 3
# Fixed, with the MinHash scheme, so that band keys computed by any process, today or after a
# restart, agree with the ones stored. Changing either means recomputing every CommentBand.
MINHASH_SEED = 20261122
MINHASH_SCHEME = "affine32"
BAND_KEY_SALT = b"openrefusal-lsh-v1"
# LSH parameters weigh a missed near-duplicate 19 times more than a needless candidate: every
# candidate is verified by its exact Jaccard, so a false positive costs one set comparison.
LSH_WEIGHTS = (0.05, 0.95)
# Candidates read per band key. A campaign's keys are shared by thousands of its variants; the
# oldest few stand for them all (one verified match per cluster is enough).
CANDIDATES_PER_KEY = 8
# pg_try_advisory_xact_lock key: one near-duplicate pass at a time across all workers.
PASS_LOCK_KEY = 0x4F52_636C_7573  # "OR" "clus"
# The pass waits at most this long for a row lock (a cluster being joined or detached from),
# well under PostgreSQL's 1 s deadlock_timeout, so it — not a user's request — gives way.
LOCK_WAIT_MS = 500
SCHEDULE_GATE = "policies:clustering:scheduled"
CLUSTERABLE = (Comment.Status.PUBLISHED, Comment.Status.HIDDEN)

_PUBLISHED, _HIDDEN = Comment.Status.PUBLISHED.value, Comment.Status.HIDDEN.value
# A comment that can stand for its text: see the module docstring.
_LIVE = (
    f"parent_id IS NULL AND status IN ('{_PUBLISHED}', '{_HIDDEN}') "
    "AND (listed OR cluster_id IS NOT NULL)"
)
_EXACT, _NEAR = CommentCluster.Kind.EXACT.value, CommentCluster.Kind.NEAR.value

# Characters that render as nothing: dropped, so "form\u200bletter" is not a new text.
_INVISIBLE = dict.fromkeys(
    [
        *(0x00AD, 0x034F, 0x061C, 0x180E, 0xFEFF),
        *range(0x200B, 0x2010),  # zero-width spaces and joiners, directional marks
        *range(0x202A, 0x202F),  # directional embeddings
        *range(0x2060, 0x2065),  # word joiner, invisible operators
        *range(0x2066, 0x2070),  # directional isolates
        *range(0xE0000, 0xE0080),  # tags
    ],
    None,
)


# --- Text ----------------------------------------------------------------------------------------


def _strip_punctuation(word: str) -> str:
    start, end = 0, len(word)
    while start < end and unicodedata.category(word[start])[0] == "P":
        start += 1
    while end > start and unicodedata.category(word[end - 1])[0] == "P":
        end -= 1
    return word[start:end]


def _normalize_once(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE))
    # Case folding can leave a string that NFKC would change again (and vice versa).
    text = unicodedata.normalize("NFKC", text.casefold())
    return " ".join(w for w in map(_strip_punctuation, text.split()) if w)


def normalize_comment_text(body: str) -> str:
    """The text that decides "identical": NFKC, case-folded, invisible characters dropped,
    punctuation stripped from the edges of words (so "don't" and "e-mail" stay whole) and
    whitespace collapsed to single spaces."""
    text = body or ""
    # A few rounds reach the fixed point of exotic inputs (a stripped quote exposing a mark
    # that NFKC then composes); ordinary text is stable after one.
    for _ in range(4):
        once = _normalize_once(text)
        if once == text:
            break
        text = once
    return text


def comment_text_sha256(body: str) -> str:
    # surrogatepass: a lone surrogate from a JSON body must not break hashing.
    return hashlib.sha256(normalize_comment_text(body).encode("utf-8", "surrogatepass")).hexdigest()


def shingles(normalized: str) -> frozenset[str]:
    """Word 3-grams of a normalized text; a text of fewer than three words uses its words."""
    words = normalized.split()
    if len(words) < SHINGLE_WORDS:
        return frozenset(words)
    return frozenset(
        " ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)
    )


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


# --- MinHash LSH ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def lsh_parameters(threshold: float) -> tuple[int, int]:
    """(bands, rows) for a Jaccard threshold, chosen as datasketch's MinHashLSH does (the pair
    minimising the weighted areas of false positives and misses) with LSH_WEIGHTS. For 0.8 and
    128 permutations: 16 bands of 8 rows, so two texts share a band with probability 0.95 at
    J = 0.8, 0.99 at 0.85, 0.24 at 0.6 and 0.06 at 0.5."""
    return _optimal_param(threshold, NUM_PERM, *LSH_WEIGHTS)


@lru_cache(maxsize=1)
def _permutations() -> np.ndarray:
    # Made once per process: building them per MinHash would cost more than hashing a letter.
    return MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme=MINHASH_SCHEME).permutations


def band_keys(normalized: str, *, threshold: float | None = None) -> list[int]:
    """A text's LSH band keys: for each band, the signed 64-bit BLAKE2b of (band number, the
    band's MinHash values) — the same in every process (Python's hash() is salted per process).
    A text with no words has none (it can only be an exact duplicate)."""
    words = shingles(normalized)
    if not words:
        return []
    threshold = settings.OPENREFUSAL["CLUSTER_JACCARD"] if threshold is None else threshold
    bands, rows = lsh_parameters(threshold)
    minhash = MinHash(
        num_perm=NUM_PERM, seed=MINHASH_SEED, scheme=MINHASH_SCHEME, permutations=_permutations()
    )
    minhash.update_batch([w.encode("utf-8", "surrogatepass") for w in words])
    values = np.asarray(minhash.hashvalues).astype("<u8")
    keys = []
    for band in range(bands):
        digest = hashlib.blake2b(
            band.to_bytes(2, "big") + values[band * rows : (band + 1) * rows].tobytes(),
            digest_size=8,
            key=BAND_KEY_SALT,
        ).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


# --- At posting time: exact duplicates -----------------------------------------------------------

# One round trip in the usual case: find the earliest live comment with the same text, count
# the new comment into its cluster (locking the cluster row until commit) and file it there.
_JOIN_SQL = f"""
WITH earlier AS (
    SELECT id, cluster_id FROM policies_comment
    WHERE period_id = %(period)s AND normalized_sha256 = %(sha)s AND id < %(me)s AND {_LIVE}
    ORDER BY id LIMIT 1 FOR KEY SHARE
), counted AS (
    UPDATE policies_commentcluster SET comment_count = comment_count + 1, updated_at = now()
    WHERE id = (SELECT cluster_id FROM earlier) RETURNING id
), filed AS (
    UPDATE policies_comment SET cluster_id = counted.id, listed = false, clustering_done = true
    FROM counted WHERE policies_comment.id = %(me)s RETURNING counted.id
)
SELECT earlier.id, (SELECT id FROM filed) FROM earlier
"""  # noqa: S608 — a constant fragment; every value is bound

# Before a new comment is stored (the usual case of a form letter, in one round trip): the
# earliest live comment with the same text and, when it has a cluster, that cluster counted one
# up (its row locked until commit), so the new comment is inserted already filed there.
_PRE_JOIN_SQL = f"""
WITH earlier AS (
    SELECT id, cluster_id FROM policies_comment
    WHERE period_id = %(period)s AND normalized_sha256 = %(sha)s AND {_LIVE}
    ORDER BY id LIMIT 1 FOR KEY SHARE
), counted AS (
    UPDATE policies_commentcluster SET comment_count = comment_count + 1, updated_at = now()
    WHERE id = (SELECT cluster_id FROM earlier) RETURNING id
)
SELECT earlier.id, (SELECT id FROM counted) FROM earlier
"""  # noqa: S608 — a constant fragment; every value is bound

_EARLIEST_SQL = f"""
SELECT id, cluster_id FROM policies_comment
WHERE period_id = %s AND normalized_sha256 = %s AND id < %s AND {_LIVE}
ORDER BY id LIMIT 1 FOR KEY SHARE
"""  # noqa: S608 — a constant fragment; every value is bound

# Whether the earlier comment is (now) live, of these words and in that cluster.
_STILL_IN_SQL = f"""
SELECT 1 FROM policies_comment
WHERE id = %s AND cluster_id = %s AND normalized_sha256 = %s AND {_LIVE}
"""  # noqa: S608 — a constant fragment; every value is bound

# File the earlier comment in the cluster just made for it — only if it is, on its latest row
# version (PostgreSQL re-evaluates the WHERE under the row lock), still alone, live and of
# these words: a withdrawal committed since it was read must not put a tombstone in a cluster.
_FILE_EARLIER_SQL = f"""
UPDATE policies_comment SET cluster_id = %s
WHERE id = %s AND cluster_id IS NULL AND normalized_sha256 = %s AND {_LIVE}
"""  # noqa: S608 — a constant fragment; every value is bound

_FILE_ALONE_SQL = f"""
UPDATE policies_comment SET cluster_id = %s, listed = (id = %s)
WHERE id = ANY(%s) AND cluster_id IS NULL AND {_LIVE}
"""  # noqa: S608 — a constant fragment; every value is bound

_CREATE_SQL = """
INSERT INTO policies_commentcluster
    (period_id, representative_id, kind, comment_count, variant_count, created_at, updated_at)
VALUES (%s, %s, 'exact', 2, 1, now(), now())
ON CONFLICT (representative_id) DO UPDATE
    SET comment_count = policies_commentcluster.comment_count + 1, updated_at = now()
RETURNING id, (xmax = 0)
"""


def cluster_exact_on_post(comment: Comment) -> None:
    """Called last in the transaction that stores a top-level published comment: if an earlier
    live comment of the period has the same normalized text, join its cluster (made now, with
    that comment as representative, if it has none), unlisted and needing no near-duplicate
    pass. Two first comments with the same text that commit together both stay listed; the
    near-duplicate pass merges them."""
    if comment.parent_id is not None or comment.status not in CLUSTERABLE or comment.cluster_id:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _JOIN_SQL,
            {"period": comment.period_id, "sha": comment.normalized_sha256, "me": comment.pk},
        )
        row = cursor.fetchone()
        if row is None:
            return  # the first of its words: the near-duplicate pass looks at it
        cluster_id = row[1] or _join_slowly(cursor, comment)
    if cluster_id is not None:
        comment.cluster_id, comment.listed, comment.clustering_done = cluster_id, False, True


def exact_cluster_for_new(period_id: int, sha: str) -> tuple[bool, int | None]:
    """Called in the transaction that is about to store a top-level published comment with
    this normalized text: whether an earlier live comment has the same words, and the cluster
    (already counted for the new comment) to file it in when that one has one. When it has
    none, store the comment listed and call `cluster_exact_on_post`, which makes the cluster."""
    with connection.cursor() as cursor:
        cursor.execute(_PRE_JOIN_SQL, {"period": period_id, "sha": sha})
        row = cursor.fetchone()
    if row is None:
        return False, None
    return True, row[1]


def _still_in(cursor, earlier: int, cluster_id: int, sha: str) -> bool:
    """Called with the cluster's row lock held: see _STILL_IN_SQL."""
    cursor.execute(_STILL_IN_SQL, [earlier, cluster_id, sha])
    return cursor.fetchone() is not None


def _uncount(cursor, cluster_id: int) -> None:
    cursor.execute(
        "UPDATE policies_commentcluster SET comment_count = comment_count - 1 WHERE id = %s",
        [cluster_id],
    )


def _join_slowly(cursor, comment: Comment) -> int | None:
    """The earlier comment has no cluster yet (or its cluster was merged away meanwhile): make
    or find its cluster with fresh reads. Returns the cluster joined, or None when the comment
    stays on its own for the pass to settle."""
    sha = comment.normalized_sha256
    for _attempt in range(3):
        cursor.execute(_EARLIEST_SQL, [comment.period_id, sha, comment.pk])
        row = cursor.fetchone()
        if row is None:
            return None
        earlier, cluster_id = row
        if cluster_id is None:
            cursor.execute(_CREATE_SQL, [comment.period_id, earlier])
            cluster_id, inserted = cursor.fetchone()
            cursor.execute(_FILE_EARLIER_SQL, [cluster_id, earlier, sha])
            if cursor.rowcount == 0 and not _still_in(cursor, earlier, cluster_id, sha):
                # The pass filed it elsewhere, or it was withdrawn, held or edited, in between:
                # take back what was done here and look again.
                if inserted:
                    cursor.execute(
                        "DELETE FROM policies_commentcluster WHERE id = %s", [cluster_id]
                    )
                else:
                    _uncount(cursor, cluster_id)
                continue
        else:
            cursor.execute(
                "UPDATE policies_commentcluster SET comment_count = comment_count + 1, "
                "updated_at = now() WHERE id = %s",
                [cluster_id],
            )
            if cursor.rowcount == 0:
                continue  # merged away and deleted meanwhile
        cursor.execute(
            "UPDATE policies_comment SET cluster_id = %s, listed = false, clustering_done = true "
            "WHERE id = %s",
            [cluster_id, comment.pk],
        )
        return cluster_id
    return None


# --- Leaving a cluster ---------------------------------------------------------------------------


def cluster_detach(comment: Comment) -> None:
    """Take a comment out of its cluster (withdrawn, held, or edited to other words): the
    counts follow; the earliest remaining member represents the cluster (and is listed) if this
    one did; a cluster left with one member dissolves, unless the company has answered it.
    Afterwards the comment is listed if it is top-level and not held. Expects the caller to
    hold the comment's row lock (the services' select_for_update)."""
    listed = comment.parent_id is None and comment.status != Comment.Status.HELD
    cluster_id = comment.cluster_id
    comment.cluster_id, comment.listed = None, listed
    Comment.objects.filter(pk=comment.pk).update(cluster=None, listed=listed)
    if cluster_id is None:
        return
    cluster = (
        CommentCluster.objects.select_for_update()
        .filter(pk=cluster_id)
        .values("id", "representative_id", "comment_count", "variant_count")
        .first()
    )
    if cluster is None:
        return
    members = Comment.objects.filter(cluster_id=cluster_id)
    first_two = list(members.order_by("id").values_list("id", flat=True)[:2])
    answered = CommentResponse.objects.filter(cluster_id=cluster_id).exists()
    if len(first_two) <= 1 and not answered:
        # The last member stands alone again: a live comment, so listed.
        members.update(cluster=None, listed=True)
        CommentCluster.objects.filter(pk=cluster_id).delete()
        return
    changes: dict = {"comment_count": max(len(first_two), cluster["comment_count"] - 1)}
    if cluster["representative_id"] == comment.pk and first_two:
        changes["representative_id"] = first_two[0]
        Comment.objects.filter(pk=first_two[0]).update(listed=True)
    if cluster["variant_count"] > 1:
        if comment.revisions.exists():
            # Edited: the words it was clustered with are no longer on its row; recount.
            variants = members.values("normalized_sha256").distinct().count()
        else:
            alike = members.filter(
                period_id=comment.period_id, normalized_sha256=comment.normalized_sha256
            ).exists()
            variants = cluster["variant_count"] - (0 if alike else 1)
        changes["variant_count"] = max(1, variants)
        changes["kind"] = _NEAR if changes["variant_count"] > 1 else _EXACT
    CommentCluster.objects.filter(pk=cluster_id).update(**changes)


# --- Scheduling ----------------------------------------------------------------------------------


def schedule_clustering() -> None:
    """After commit, enqueue the near-duplicate pass — at most about once a second across all
    processes (one pass drains everything pending, so more would only queue no-ops). A broker
    outage is logged, not raised: the comment is stored and the beat schedule catches up."""

    def enqueue() -> None:
        if cache.add(SCHEDULE_GATE, 1, timeout=1):
            from policies.tasks import comments_cluster_pending

            comments_cluster_pending.delay()

    transaction.on_commit(enqueue, robust=True)


# --- The near-duplicate pass ---------------------------------------------------------------------


@dataclass
class _Node:
    """A comment as the pass saw it."""

    id: int
    period_id: int
    sha: str
    cluster_id: int | None

    @property
    def unit(self) -> tuple[str, int]:
        return ("k", self.cluster_id) if self.cluster_id else ("c", self.id)


class _Stale(Exception):
    """Something the plan relied on changed meanwhile: leave the campaign for the next pass."""


class _Unmergeable(Exception):
    """Two clusters the company has each answered: kept apart rather than lose an answer."""


def cluster_pending(*, batch: int = 500, max_seconds: float | None = None) -> int:
    """The near-duplicate pass over comments with clustering_done=False, oldest first: one
    transaction of up to `batch` comments, or (with `max_seconds`) batches until none is
    pending or the time is up. Returns how many comments were settled; 0 when none was
    pending or another pass holds the lock."""
    threshold = settings.OPENREFUSAL["CLUSTER_JACCARD"]
    started = time.monotonic()
    total = 0
    while True:
        try:
            done = _pass_batch(batch, threshold)
        except OperationalError as exc:
            if not _lock_conflict(exc):
                raise
            # A comment or cluster was locked by a request for too long: its turn comes next.
            logger.info("Clustering pass gave way to a lock: %s", exc)
            return total
        total += done
        if done == 0 or max_seconds is None or time.monotonic() - started >= max_seconds:
            return total


def _pass_batch(batch: int, threshold: float) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [PASS_LOCK_KEY])
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute(f"SET LOCAL lock_timeout = {LOCK_WAIT_MS}")
        pending = list(
            Comment.objects.filter(clustering_done=False)
            .order_by("id")
            .values_list(
                "id",
                "period_id",
                "parent_id",
                "status",
                "listed",
                "normalized_sha256",
                "cluster_id",
            )[:batch]
        )
        if not pending:
            return 0
        deferred = _settle(cursor, pending, threshold)
        done = [row[0] for row in pending if row[0] not in deferred]
        Comment.objects.filter(id__in=done).update(clustering_done=True)
        return len(done)


def _lock_conflict(exc: OperationalError) -> bool:
    # lock_not_available (our lock_timeout) and deadlock_detected: transient, retried later.
    return getattr(exc.__cause__, "sqlstate", None) in ("55P03", "40P01")


def _settle(cursor, pending: list[tuple], threshold: float) -> set[int]:
    """Band, match and merge one batch of pending comments; returns the ids left pending."""
    nodes: dict[int, _Node] = {}
    for pk, period_id, parent_id, status, listed, sha, cluster_id in pending:
        if parent_id is None and status in CLUSTERABLE and (listed or cluster_id):
            nodes[pk] = _Node(pk, period_id, sha, cluster_id)
    live = set(nodes)  # replies, held and withdrawn comments are settled as they are
    if not live:
        return set()

    # A text's earliest live comment stands for it; every other cluster (or lone comment) that
    # holds the text — left by copies that raced past each other — is linked to it, so that
    # each text ends in one cluster whatever was withdrawn or held meanwhile.
    units = _text_units(cursor, {(nodes[pk].period_id, nodes[pk].sha) for pk in live})
    edges: list[tuple[int, int]] = []
    seeds: set[int] = set()
    for holders in units.values():
        first = holders[0]
        seeds.add(first.id)
        for holder in holders:
            nodes.setdefault(holder.id, holder)
            if holder.id != first.id:
                edges.append((holder.id, first.id))
    for pk in sorted(live):
        holders = units.get((nodes[pk].period_id, nodes[pk].sha))
        if holders and holders[0].id != pk:
            edges.append((pk, holders[0].id))

    # A text new to the pass gets its MinHash, band keys (stored once per text and period) and
    # a search for near-duplicates; an older text whose keys were lost (its banded comment was
    # edited to other words) gets them back. Exact copies of a banded text need neither.
    banded = _having_bands(cursor, seeds)
    to_hash = sorted(pk for pk in seeds if pk in live or pk not in banded)
    if to_hash:
        bodies = dict(Comment.objects.filter(id__in=to_hash).values_list("id", "body"))
        shingled: dict[int, frozenset[str]] = {}
        keys: dict[int, list[int]] = {}
        new_bands: list[CommentBand] = []
        for pk in to_hash:
            normalized = normalize_comment_text(bodies.get(pk, ""))
            shingled[pk] = shingles(normalized)
            keys[pk] = band_keys(normalized, threshold=threshold)
            if pk not in banded:
                new_bands += (
                    CommentBand(period_id=nodes[pk].period_id, comment_id=pk, key=key)
                    for key in keys[pk]
                )
        CommentBand.objects.bulk_create(new_bands, batch_size=4000)
        edges += _near_edges(cursor, keys, shingled, nodes, threshold)
    return _merge_components(cursor, nodes, edges, live)


def _text_units(cursor, texts: Iterable[tuple[int, str]]) -> dict[tuple[int, str], list[_Node]]:
    """For each (period, normalized sha256): the live comments that hold it, one per cluster
    (its earliest with that text) plus each lone one, earliest first. Reads the `comment_text`
    index; a text new to the pass has few copies by the time the pass sees it."""
    texts = list(texts)
    if not texts:
        return {}
    cursor.execute(
        f"""
        SELECT t.period_id, t.sha, u.id, u.cluster_id
        FROM unnest(%s::bigint[], %s::text[]) AS t(period_id, sha)
        CROSS JOIN LATERAL (
            SELECT DISTINCT ON (coalesce(cluster_id, -id)) id, cluster_id
            FROM policies_comment
            WHERE period_id = t.period_id AND normalized_sha256 = t.sha AND {_LIVE}
            ORDER BY coalesce(cluster_id, -id), id
        ) u
        ORDER BY u.id
        """,  # noqa: S608 — a constant fragment; every value is bound
        [[p for p, _ in texts], [s for _, s in texts]],
    )
    found: dict[tuple[int, str], list[_Node]] = defaultdict(list)
    for p, s, pk, cluster in cursor.fetchall():
        found[(p, s)].append(_Node(pk, p, s, cluster))
    return found


def _having_bands(cursor, ids: Iterable[int]) -> set[int]:
    ids = list(ids)
    if not ids:
        return set()
    cursor.execute(
        "SELECT DISTINCT comment_id FROM policies_commentband WHERE comment_id = ANY(%s)", [ids]
    )
    return {row[0] for row in cursor.fetchall()}


def _near_edges(
    cursor,
    keys: dict[int, list[int]],
    shingled: dict[int, frozenset[str]],
    nodes: dict[int, _Node],
    threshold: float,
) -> list[tuple[int, int]]:
    """Pairs (text, earlier-stored text) sharing a band key in their period whose word
    shingles are at least `threshold` alike — at most one pair per cluster met."""
    seeds, periods, flat = [], [], []
    for pk, text_keys in keys.items():
        for key in text_keys:
            seeds.append(pk)
            periods.append(nodes[pk].period_id)
            flat.append(key)
    if not flat:
        return []
    cursor.execute(
        """
        SELECT q.seed, b.comment_id, count(*) AS shared
        FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS q(seed, period_id, key)
        CROSS JOIN LATERAL (
            SELECT comment_id FROM policies_commentband cb
            WHERE cb.period_id = q.period_id AND cb.key = q.key AND cb.comment_id <> q.seed
            LIMIT %s
        ) b
        GROUP BY q.seed, b.comment_id
        ORDER BY q.seed, shared DESC, b.comment_id
        """,
        [seeds, periods, flat, CANDIDATES_PER_KEY],
    )
    candidates: dict[int, list[int]] = defaultdict(list)
    for seed, candidate, _shared in cursor.fetchall():
        candidates[seed].append(candidate)
    wanted = {c for found in candidates.values() for c in found}
    if not wanted:
        return []
    rows = Comment.objects.filter(id__in=wanted).values_list(
        "id",
        "period_id",
        "parent_id",
        "status",
        "listed",
        "normalized_sha256",
        "cluster_id",
        "body",
    )
    theirs: dict[int, frozenset[str]] = {}
    orphans: dict[int, tuple[int, str]] = {}
    for pk, period_id, parent_id, status, listed, sha, cluster_id, body in rows:
        theirs[pk] = shingled.get(pk) or shingles(normalize_comment_text(body))
        if parent_id is None and status in CLUSTERABLE and (listed or cluster_id):
            nodes.setdefault(pk, _Node(pk, period_id, sha, cluster_id))
        else:
            # Withdrawn, held or hidden since: its band keys still stand for its text, which
            # the earliest live comment with the same words now represents.
            orphans[pk] = (period_id, sha)
    stand_ins = {
        text: holders[0] for text, holders in _text_units(cursor, set(orphans.values())).items()
    }
    for node in stand_ins.values():
        nodes.setdefault(node.id, node)

    edges = []
    for seed, found in candidates.items():
        mine = shingled[seed]
        met = {nodes[seed].unit}
        for candidate in found:
            if candidate not in theirs:
                continue
            anchor = stand_ins.get(orphans[candidate]) if candidate in orphans else nodes[candidate]
            if anchor is None or nodes[anchor.id].unit in met:
                continue
            if jaccard(mine, theirs[candidate]) >= threshold:
                met.add(nodes[anchor.id].unit)
                edges.append((seed, anchor.id))
    return edges


def _merge_components(
    cursor, nodes: dict[int, _Node], edges: list[tuple[int, int]], live: set[int]
) -> set[int]:
    """Union the clusters and lone comments joined by `edges`; merge each group in its own
    savepoint. Returns the pending ids of groups that must wait for the next pass."""
    parent: dict[tuple, tuple] = {}

    def find(unit: tuple) -> tuple:
        parent.setdefault(unit, unit)
        while parent[unit] != unit:
            parent[unit] = parent[parent[unit]]
            unit = parent[unit]
        return unit

    for a, b in edges:
        ra, rb = find(nodes[a].unit), find(nodes[b].unit)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[tuple, set[tuple]] = defaultdict(set)
    for unit in list(parent):
        groups[find(unit)].add(unit)
    period_of = {node.unit: node.period_id for node in nodes.values()}
    shas = {node.id: node.sha for node in nodes.values()}
    deferred: set[int] = set()
    for root, units in groups.items():
        if len(units) < 2:
            continue
        try:
            with transaction.atomic():
                _merge(cursor, period_of[root], units, shas)
        except _Unmergeable:
            logger.info("Clusters %s are each answered; not merged", sorted(units))
        except (_Stale, IntegrityError, OperationalError) as exc:
            if isinstance(exc, OperationalError) and not _lock_conflict(exc):
                raise
            logger.info("Clustering of %s deferred: %s", sorted(units), exc or "changed meanwhile")
            deferred |= {pk for pk in live if find(nodes[pk].unit) == root}
    return deferred


def _merge(cursor, period_id: int, units: set[tuple], shas: dict[int, str]) -> None:
    """Make one cluster of `units` (clusters and lone comments): the older cluster (or the one
    the company answered) absorbs the others in one UPDATE; the earliest comment represents it
    and is the only one listed; counts and variants are carried over, not recounted."""
    cluster_ids = sorted(pk for kind, pk in units if kind == "k")
    alone = sorted(pk for kind, pk in units if kind == "c")
    locked: dict[int, tuple] = {}
    if cluster_ids:
        cursor.execute(
            """
            SELECT cl.id, cl.representative_id, cl.comment_count, cl.variant_count,
                   c.normalized_sha256
            FROM policies_commentcluster cl
            JOIN policies_comment c ON c.id = cl.representative_id
            WHERE cl.id = ANY(%s) ORDER BY cl.id FOR UPDATE OF cl
            """,
            [cluster_ids],
        )
        locked = {row[0]: row[1:] for row in cursor.fetchall()}
        if len(locked) != len(cluster_ids):
            raise _Stale("a cluster was merged or dissolved meanwhile")
    answered = set()
    if len(cluster_ids) > 1:
        answered = set(
            CommentResponse.objects.filter(cluster_id__in=cluster_ids).values_list(
                "cluster_id", flat=True
            )
        )
        if len(answered) > 1:
            raise _Unmergeable
    target = (min(answered) if answered else cluster_ids[0]) if cluster_ids else None
    others = [pk for pk in cluster_ids if pk != target]
    rep = min([locked[pk][0] for pk in cluster_ids] + alone)
    count = sum(locked[pk][1] for pk in cluster_ids) + len(alone)

    # Distinct texts: known from the representatives of single-text clusters and lone comments;
    # a cluster of several texts is asked only about those texts.
    single = {shas[pk] for pk in alone} | {
        locked[pk][3] for pk in cluster_ids if locked[pk][2] == 1
    }
    several = [pk for pk in cluster_ids if locked[pk][2] > 1]
    recount = len(several) > 1
    if not several:
        variants = len(single)
    elif len(several) == 1:
        cursor.execute(
            "SELECT DISTINCT normalized_sha256 FROM policies_comment "
            "WHERE period_id = %s AND normalized_sha256 = ANY(%s) AND cluster_id = %s",
            [period_id, list(single), several[0]],
        )
        variants = locked[several[0]][2] + len(single - {row[0] for row in cursor.fetchall()})
    else:
        variants = 0  # recounted once the members have moved

    if target is None:
        cursor.execute(
            """
            INSERT INTO policies_commentcluster (period_id, representative_id, kind,
                comment_count, variant_count, created_at, updated_at)
            VALUES (%s, %s, %s, %s, %s, now(), now())
            ON CONFLICT (representative_id) DO NOTHING RETURNING id
            """,
            [period_id, rep, _NEAR if variants > 1 else _EXACT, count, variants],
        )
        row = cursor.fetchone()
        if row is None:
            raise _Stale("a post made this comment's cluster meanwhile")
        target, old_rep = row[0], rep
    else:
        old_rep = locked[target][0]
        if rep in alone:
            # Before the lone comment's row is touched: see the module docstring.
            _set_representative(cursor, target, rep)
    if alone:
        cursor.execute(
            _FILE_ALONE_SQL,
            [target, rep, alone],
        )
        if cursor.rowcount != len(alone):
            raise _Stale("a comment was clustered, withdrawn or held meanwhile")
    if others:
        cursor.execute(
            "UPDATE policies_comment SET cluster_id = %s, listed = false "
            "WHERE cluster_id = ANY(%s)",
            [target, others],
        )
        cursor.execute("DELETE FROM policies_commentcluster WHERE id = ANY(%s)", [others])
    if rep != old_rep:
        if rep not in alone:
            _set_representative(cursor, target, rep)
        cursor.execute(
            "UPDATE policies_comment SET listed = (id = %s) WHERE id IN (%s, %s)",
            [rep, rep, old_rep],
        )
    if recount:
        cursor.execute(
            "SELECT count(DISTINCT normalized_sha256) FROM policies_comment WHERE cluster_id = %s",
            [target],
        )
        variants = cursor.fetchone()[0]
    cursor.execute(
        "UPDATE policies_commentcluster SET comment_count = %s, variant_count = %s, kind = %s, "
        "updated_at = now() WHERE id = %s",
        [count, variants, _NEAR if variants > 1 else _EXACT, target],
    )


def _set_representative(cursor, cluster_id: int, rep: int) -> None:
    cursor.execute(
        "UPDATE policies_commentcluster SET representative_id = %s WHERE id = %s", [rep, cluster_id]
    )
