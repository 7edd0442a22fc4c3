"""Public comment at docket scale: 1,000,000 comments on one version (90 % in 200 form-letter
campaigns with near variants, 10 % unique texts), loaded with COPY in the state the services and
the clustering pass leave (clusters, listed flags, counts, LSH band keys, endorsements); then
the listing's first page and page 10,000, search, sustained comment POSTs through gunicorn with
the clustering pass keeping up, and a 10,000-comment burst against the rate limits.
(`--quick`: 100,000 comments, shorter loads.)
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from bench.core import BASE_DIR, Context, Figure, http_load, latency_figures, percentile
from bench.policies import _Document
from bench.policies import _people as _policy_people
from governance.api_auth import hash_token
from governance.models import ApiToken, Organization, User
from governance.models.tokens import TOKEN_PREFIX
from governance.services.organizations import organization_create, organization_verify
from policies.clustering import band_keys, comment_text_sha256, normalize_comment_text
from policies.models import Comment, CommentBand, CommentCluster, CommentPeriod, Endorsement
from policies.selectors.comments import PAGE_SIZE, _encode
from policies.services import comments as comment_services
from policies.services import policy_create, version_draft_create, version_publish

AREA = "comments"
PAGE_TARGET_MS = 100.0
SEARCH_TARGET_MS = 200.0
POST_TARGET = 300.0
DRAIN_TARGET_S = 60.0
DEEP_PAGE = 10_000
API_PAGE_SIZE = 50  # the API's page (policies.api.comments)
ORGANIZATION_SLUG = "bench-docket"

CAMPAIGNS = 200
# The largest campaign holds this share of the letters: at a million comments that is 270,000,
# enough for a campaign listing 10,000 pages deep (the main listing, a campaign once, has only
# the ~100,000 unique texts: 4,000 pages). The others follow Zipf's law, like real campaigns.
LARGEST_CAMPAIGN_SHARE = 0.30
UNIQUE_SHARE = 0.10
# Every tenth letter of a campaign is personalised with one of this many sign-offs.
VARIANTS = 10
REPLY_SHARE = 0.02
ENDORSED_SHARE = 0.15

# --- Texts ---------------------------------------------------------------------------------------

# Words of public comments on AI refusal policies, the commonest first; texts draw them by Zipf's
# law, so search terms range from "in most comments" to "in a few hundred".
_WORDS = """
    the to and of a that is in for it this not be should are on with as policy you assistant
    we people refuse can would have or they will when help my about clause questions if please
    model refusal company information ask users answer more safety what need their i harm
    because which should clear rules no so who how public all research medical legal children
    risk content context support protect answers do also being requests change version
    transparency evidence data example explain why ask teachers students parents doctors nurse
    security researchers journalists privacy election voting misinformation weapons exploit
    malware defense patch vulnerability crisis self-harm hotline emergency dosage medicine
    symptoms diagnosis pharmacist therapy mental health disability accessibility language
    translation minority rural tenant eviction lawyer court contract immigration asylum benefits
    debt fraud scam phishing elderly consumer bank satire fiction novel poetry history war museum
    archive chemistry homework biology laboratory experiment curriculum exam coursework plagiarism
    appeal audit benchmark independent regulator accountability oversight enforcement penalty
    complaint consent license copyright artist musician photographer deepfake likeness voice
    cloning impersonation harassment hate slur extremism propaganda radicalisation moderation
    censorship speech democracy campaign candidate ballot polling registration turnout
    disinformation hunting firearms storage ballistics explosives fireworks pesticide agriculture
    veterinarian farmer fisherman pilot aviation maritime nuclear radiation enrichment reactor
    physics engineering bridge earthquake flood wildfire evacuation shelter refugee translation
    interpreter deaf blind braille dyslexia autism caregiver hospice palliative grief bereavement
    adoption fertility pregnancy abortion contraception vaccine epidemic pandemic quarantine
    ventilation asbestos mold radon landlord mortgage pension retirement unemployment union strike
    wage overtime gig courier warehouse robot automation surveillance biometric facial recognition
    location tracking stalking domestic violence survivor shelter restraining order
    """
VOCABULARY = tuple(dict.fromkeys(_WORDS.split()))
_ZIPF = list(itertools.accumulate(1 / (rank + 1) ** 1.07 for rank in range(len(VOCABULARY))))
# (label, query): a common word, a two-word AND, a rare word, and a phrase.
SEARCHES = (
    ("a common word", "refusal"),
    ("two words", "medical dosage"),
    ("a rare word", "eviction"),
    ("a phrase", '"crisis hotline"'),
)


def _sentence(rng: random.Random) -> str:
    words = rng.choices(VOCABULARY, cum_weights=_ZIPF, k=rng.randint(8, 18))
    return " ".join(words).capitalize() + "."


def _unique_text(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 6)))


def _letter(campaign: int) -> str:
    """Campaign `campaign`'s form letter, about a hundred words, the same in every process."""
    rng = random.Random(f"letter-{campaign}")
    body = " ".join(_sentence(rng) for _ in range(7))
    return f"Dear company, {body} Sincerely, a concerned member of the public."


def _variant(campaign: int, k: int) -> str:
    return f"{_letter(campaign)} I live in district {k + 1} and this matters to my family."


# --- People, tokens, the docket ------------------------------------------------------------------


def _people(kind: str, count: int) -> list[int]:
    """Ids of `count` verified bench accounts of one kind, 90 days old (older than the hold for
    new accounts), made in bulk."""
    prefix = f"bench-{kind}-"
    existing = list(
        User.objects.filter(email__startswith=prefix).order_by("pk").values_list("pk", flat=True)
    )
    missing = count - len(existing)
    if missing > 0:
        joined = timezone.now() - timedelta(days=90)
        users = User.objects.bulk_create(
            [
                User(
                    email=f"{prefix}{n}@bench.test",
                    display_name=f"{kind.title()} {n}",
                    password="!",  # noqa: S106 — an unusable password: they post with tokens
                    date_joined=joined,
                )
                for n in range(len(existing), count)
            ],
            batch_size=2000,
        )
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users],
            batch_size=2000,
        )
        existing += [u.pk for u in users]
    return existing[:count]


def _tokens(user_ids: list[int]) -> list[str]:
    """One `write:comments` token per account, stored as the token service stores them (the
    SHA-256 only), in bulk."""
    raws = [f"{TOKEN_PREFIX}bench{uuid.uuid4().hex}" for _ in user_ids]
    ApiToken.objects.bulk_create(
        [
            ApiToken(
                user_id=pk,
                name="bench",
                prefix=raw[:12],
                key_sha256=hash_token(raw),
                scopes=[ApiToken.Scope.WRITE_COMMENTS.value],
            )
            for pk, raw in zip(user_ids, raws, strict=True)
        ],
        batch_size=2000,
    )
    return raws


def _docket() -> CommentPeriod:
    """A verified developer's 300-clause policy (the policies bench's document), published and
    opened for comment through the services."""
    editor, staff = _policy_people()
    organization = Organization.objects.filter(slug=ORGANIZATION_SLUG).first()
    if organization is None:
        organization = organization_create(
            actor=editor, name="Bench Docket Inc", kind=Organization.Kind.DEVELOPER,
            slug=ORGANIZATION_SLUG,
        )  # fmt: skip
        organization_verify(actor=staff, organization=organization)
    policy = policy_create(
        actor=editor, organization=organization, title="Docket policy", slug="docket-policy"
    )
    version = version_draft_create(
        actor=editor, policy=policy, number="1.0.0", body_markdown=_Document(seed=11).markdown(),
        summary_of_changes="The version a national docket comments on.",
    )  # fmt: skip
    version_publish(actor=editor, version=version)
    now = timezone.now()
    return comment_services.comment_period_open(
        actor=editor, version=version, opens_at=now, closes_at=now + timedelta(days=90)
    )


def _docket_path(period: CommentPeriod) -> str:
    version = period.version
    policy = version.policy
    return f"/policies/{policy.organization.slug}/{policy.slug}/v/{version.number}/comments/"


# --- Loading a million comments ------------------------------------------------------------------


@dataclass
class Loaded:
    rows: int
    seconds: float
    unique: int
    replies: int
    bands: int
    endorsements: int
    largest_cluster: int
    largest_size: int
    sizes: list[int] = field(default_factory=list)
    parallel: bool = False


def _campaign_sizes(letters: int) -> list[int]:
    largest = int(letters * LARGEST_CAMPAIGN_SHARE)
    weights = [1 / k for k in range(1, CAMPAIGNS)]
    scale = (letters - largest) / sum(weights)
    sizes = [largest] + [max(2, int(w * scale)) for w in weights]
    sizes[1] += letters - sum(sizes)
    return sizes


def _next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
        return cursor.fetchone()[0]


def _copy(cursor, table: str, columns: str, rows: Iterable[tuple]) -> int:
    count = 0
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _load(period: CommentPeriod, total: int, authors: list[int]) -> Loaded:
    """COPY `total` comments in one transaction, in the state posting and the clustering pass
    would have left them: each campaign one cluster (its first letter the listed representative,
    the rest unlisted, counts and variant counts exact, kind near), unique texts listed, a few
    replies with their threads' counts, endorsements as rows and counts, LSH band keys for every
    distinct text, clustering_done everywhere. Ids are assigned here, in posting order."""
    rng = random.Random(20261122)
    threshold = settings.OPENREFUSAL["CLUSTER_JACCARD"]
    clause_ids = list(period.version.clauses.order_by("position").values_list("pk", flat=True))
    unique_count = int(total * UNIQUE_SHARE)
    sizes = _campaign_sizes(total - unique_count)
    kinds = [-1] * unique_count
    for campaign, size in enumerate(sizes):
        kinds += [campaign] * size
    rng.shuffle(kinds)

    # Replies answer a recent unique comment (threads happen while a comment is fresh).
    reply_to: dict[int, int] = {}
    replies_of: Counter[int] = Counter()
    recent: list[int] = []
    for position, kind in enumerate(kinds):
        if kind >= 0:
            continue
        if len(recent) > 50 and rng.random() < REPLY_SHARE:
            root = recent[rng.randrange(len(recent) - 1000 if len(recent) > 1000 else 0,
                                        len(recent))]  # fmt: skip
            reply_to[position] = root
            replies_of[root] += 1
        else:
            recent.append(position)

    first_id = _next_id(Comment._meta.db_table)
    cluster_base = _next_id(CommentCluster._meta.db_table)
    letters = [_letter(c) for c in range(CAMPAIGNS)]
    letter_shas = [comment_text_sha256(t) for t in letters]
    variants = [[_variant(c, k) for k in range(VARIANTS)] for c in range(CAMPAIGNS)]
    variant_shas = [[comment_text_sha256(t) for t in row] for row in variants]
    campaign_clause = [rng.choice([None, *clause_ids[:40]]) for _ in range(CAMPAIGNS)]
    uniques = [_unique_text(rng) for _ in range(unique_count)]

    columns = (
        "id, period_id, author_id, clause_id, parent_id, root_id, body, normalized_sha256, "
        "status, held_reason, hidden_reason, listed, cluster_id, clustering_done, "
        "endorsement_count, reply_count, link_count, created_at"
    )
    started = time.perf_counter()
    # The MinHash band keys (and the normalized texts' SHA-256) of every distinct text — each
    # campaign text's first letter, then each unique comment in posting order — come from a
    # pool of processes while PostgreSQL ingests the comments. The pool forks without an open
    # database connection, which a child could otherwise close under the parent.
    to_band: list[tuple[int, str]] = []
    member = [0] * CAMPAIGNS
    for position, kind in enumerate(kinds):
        if kind >= 0:
            m = member[kind]
            member[kind] += 1
            if m == 0:
                to_band.append((first_id + position, letters[kind]))
            elif m % 10 == 9 and m // 10 < VARIANTS:
                to_band.append((first_id + position, variants[kind][m // 10]))
    unique_iter = iter(uniques)
    unique_at: dict[int, str] = {}
    for position, kind in enumerate(kinds):
        if kind < 0:
            unique_at[position] = next(unique_iter)
            if position not in reply_to:
                to_band.append((first_id + position, unique_at[position]))
    connections.close_all()
    pool = multiprocessing.get_context("fork").Pool(2)
    hashed = itertools.chain.from_iterable(
        pool.imap(_hash_texts, ((chunk, threshold) for chunk in _chunks_of(to_band, 2000)))
    )
    bands: list[tuple[int, list[int]]] = []

    def next_sha(pk: int) -> str:
        """The pool's SHA-256 of comment `pk`'s text (the pool works in posting order)."""
        while True:
            done_pk, sha, keys = next(hashed)
            bands.append((done_pk, keys))
            if done_pk == pk:
                return sha

    endorsements: list[tuple[int, int, datetime]] = []
    at0 = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=29) / max(total, 1)
    member = [0] * CAMPAIGNS
    counts = [0] * CAMPAIGNS
    texts_seen: list[set[str]] = [set() for _ in range(CAMPAIGNS)]
    representative: dict[int, int] = {}
    clause_of: dict[int, int | None] = {}

    def comment_rows() -> Iterator[tuple]:
        for position, kind in enumerate(kinds):
            pk = first_id + position
            created = at0 + step * position
            author = authors[rng.randrange(len(authors))]
            parent = root = cluster = None
            endorsed = reply_count = 0
            if kind < 0:
                body = unique_at[position]
                if position in reply_to:
                    sha = comment_text_sha256(body)
                    root = parent = first_id + reply_to[position]
                    clause = clause_of[reply_to[position]]
                    listed = False
                else:
                    sha = next_sha(pk)
                    clause = rng.choice(clause_ids) if rng.random() < 0.5 else None
                    clause_of[position] = clause
                    listed = True
                    reply_count = replies_of.get(position, 0)
            else:
                m = member[kind]
                member[kind] += 1
                counts[kind] += 1
                if m % 10 == 9:
                    k = (m // 10) % VARIANTS
                    body, sha = variants[kind][k], variant_shas[kind][k]
                else:
                    body, sha = letters[kind], letter_shas[kind]
                texts_seen[kind].add(sha)
                clause, cluster = campaign_clause[kind], cluster_base + kind
                listed = m == 0
                if listed:
                    representative[kind] = pk
            if listed and rng.random() < ENDORSED_SHARE:
                endorsed = min(int(rng.paretovariate(1.2)), 300)
                when = created + timedelta(hours=1)
                endorsements.extend((u, pk, when) for u in rng.sample(authors, endorsed))
            yield (pk, period.pk, author, clause, parent, root, body, sha, "published", "", "",
                   listed, cluster, True, endorsed, reply_count, 0, created)  # fmt: skip

    try:
        trusted = _may_skip_foreign_keys()
        if trusted:
            # The loader assigns every id itself and _check_load verifies the references
            # afterwards, so the foreign-key triggers are skipped (checking four per row at the
            # commit would add half the load's time), the comments go in over two connections
            # (one core each: the tsvector is PostgreSQL's work) and the secondary indexes are
            # built once at the end rather than row by row.
            with _indexes_rebuilt(Comment._meta.db_table):
                rows = _copy_parallel(Comment._meta.db_table, columns, comment_rows())
        with transaction.atomic(), connection.cursor() as django_cursor:
            cursor = django_cursor.connection.cursor()
            if trusted:
                cursor.execute("SET LOCAL session_replication_role = replica")
            else:
                # Django's foreign keys are deferred to the commit: comments and clusters, which
                # name each other, go in one transaction.
                rows = _copy(cursor, Comment._meta.db_table, columns, comment_rows())
            for _rest in hashed:  # texts after the last unique comment: none, but drain it
                bands.append((_rest[0], _rest[2]))
            now = datetime.now(UTC)
            _copy(
                cursor,
                CommentCluster._meta.db_table,
                "id, period_id, representative_id, kind, comment_count, variant_count, "
                "created_at, updated_at",
                (
                    (cluster_base + c, period.pk, representative[c],
                     CommentCluster.Kind.NEAR.value if len(texts_seen[c]) > 1
                     else CommentCluster.Kind.EXACT.value,
                     counts[c], len(texts_seen[c]), now, now)
                    for c in range(CAMPAIGNS)
                ),
            )  # fmt: skip
            band_rows = _copy(
                cursor,
                CommentBand._meta.db_table,
                "period_id, comment_id, key",
                ((period.pk, pk, key) for pk, keys in bands for key in keys),
            )
            _copy(
                cursor, Endorsement._meta.db_table, "user_id, comment_id, created_at", endorsements
            )
            for model in (Comment, CommentCluster, CommentBand, Endorsement):
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
    finally:
        pool.close()
        pool.join()
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        for model in (Comment, CommentCluster, CommentBand, Endorsement):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return Loaded(
        rows=rows,
        seconds=seconds,
        unique=unique_count - len(reply_to),
        replies=len(reply_to),
        bands=band_rows,
        endorsements=len(endorsements),
        largest_cluster=cluster_base,
        largest_size=sizes[0],
        sizes=sizes,
        parallel=trusted,
    )


def _hash_texts(args: tuple[list[tuple[int, str]], float]) -> list[tuple[int, str, list[int]]]:
    """(comment id, SHA-256 of the normalized text, LSH band keys) with the clustering module's
    own functions — what posting and the clustering pass compute."""
    texts, threshold = args
    out = []
    for pk, text in texts:
        keys = band_keys(normalize_comment_text(text), threshold=threshold)
        out.append((pk, comment_text_sha256(text), keys))
    return out


def _index_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", [table])
        return cursor.fetchone()[0]


def _may_skip_foreign_keys() -> bool:
    """session_replication_role (no foreign-key triggers) needs a superuser, as the bench's
    own PostgreSQL and CI's have."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


def _copy_parallel(table: str, columns: str, rows: Iterator[tuple], streams: int = 2) -> int:
    """COPY `rows` over `streams` connections at once, one per core: computing each row's
    tsvector and index entries is PostgreSQL's work, and one backend uses one core. This thread
    makes the rows and hands out batches; each stream commits its share."""
    queues: list[queue.Queue] = [queue.Queue(maxsize=4) for _ in range(streams)]
    errors: list[BaseException] = []

    def stream(batches: queue.Queue) -> None:
        try:
            with transaction.atomic(), connection.cursor() as django_cursor:
                cursor = django_cursor.connection.cursor()
                cursor.execute("SET LOCAL session_replication_role = replica")
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for batch in iter(batches.get, None):
                        for row in batch:
                            copy.write_row(row)
        except BaseException as exc:
            errors.append(exc)
            while batches.get() is not None:  # keep the producer from blocking
                pass
        finally:
            connection.close()

    threads = [threading.Thread(target=stream, args=(q,)) for q in queues]
    for thread in threads:
        thread.start()
    count = 0
    try:
        for n, batch in enumerate(_chunks_of(rows, 2000)):
            queues[n % streams].put(batch)
            count += len(batch)
    finally:
        for q in queues:
            q.put(None)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return count


@contextmanager
def _indexes_rebuilt(table: str) -> Iterator[None]:
    """Drop `table`'s secondary indexes (not those behind its constraints) for the body of the
    `with`, then build them again from their own definitions, two at a time; the set of
    indexes afterwards is checked to be the one before."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
        definitions = cursor.fetchall()
        for name, _ in definitions:
            cursor.execute(f'DROP INDEX "{name}"')
    try:
        yield
    finally:
        pending = queue.Queue()
        for _, definition in definitions:
            pending.put(definition)
        errors: list[BaseException] = []

        def build() -> None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SET maintenance_work_mem = '256MB'")
                    while True:
                        try:
                            definition = pending.get_nowait()
                        except queue.Empty:
                            return
                        cursor.execute(definition)
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        builders = [threading.Thread(target=build) for _ in range(2)]
        for builder in builders:
            builder.start()
        for builder in builders:
            builder.join()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = %s",
                [table],
            )
            present = {row[0] for row in cursor.fetchall()}
        missing = {name for name, _ in definitions} - present
        if errors or missing:
            raise RuntimeError(f"indexes of {table} not rebuilt: {sorted(missing)} {errors}")


def _chunks_of(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


DANGLING = (
    (
        "a comment names a missing cluster",
        "SELECT count(*) FROM policies_comment c WHERE c.cluster_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM policies_commentcluster k WHERE k.id = c.cluster_id)",
    ),
    (
        "a reply names a missing thread",
        "SELECT count(*) FROM policies_comment c WHERE c.root_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM policies_comment r WHERE r.id = c.root_id)",
    ),
    (
        "a cluster's representative is missing or not its member",
        "SELECT count(*) FROM policies_commentcluster k LEFT JOIN policies_comment c "
        "ON c.id = k.representative_id WHERE c.id IS NULL OR c.cluster_id <> k.id",
    ),
    (
        "a comment names a missing author",
        "SELECT count(*) FROM policies_comment c WHERE NOT EXISTS "
        "(SELECT 1 FROM governance_user u WHERE u.id = c.author_id)",
    ),
    (
        "a band key or an endorsement names a missing comment",
        "SELECT (SELECT count(*) FROM policies_commentband b WHERE NOT EXISTS "
        "(SELECT 1 FROM policies_comment c WHERE c.id = b.comment_id)) + (SELECT count(*) "
        "FROM policies_endorsement e WHERE NOT EXISTS "
        "(SELECT 1 FROM policies_comment c WHERE c.id = e.comment_id))",
    ),
)


def _check_load(period: CommentPeriod, loaded: Loaded) -> None:
    """The loaded docket is the state the services keep: stop the run if it is not."""
    comments = Comment.objects.filter(period=period)
    listed = comments.filter(listed=True).count()
    campaigns = CommentCluster.objects.filter(period=period)
    expected_listed = loaded.unique + CAMPAIGNS
    problems = []
    if comments.count() != loaded.rows:
        problems.append(f"{comments.count()} comments, not {loaded.rows}")
    if listed != expected_listed:
        problems.append(f"{listed} listed, not {expected_listed}")
    if campaigns.count() != CAMPAIGNS:
        problems.append(f"{campaigns.count()} clusters, not {CAMPAIGNS}")
    largest = campaigns.get(pk=loaded.largest_cluster)
    members = comments.filter(cluster_id=largest.pk).count()
    if members != largest.comment_count or largest.comment_count != loaded.largest_size:
        problems.append(f"largest campaign: {members} members, count {largest.comment_count}")
    if comments.filter(clustering_done=False).exists():
        problems.append("comments left pending")
    # The references the foreign keys would have checked during the load.
    with connection.cursor() as cursor:
        for label, sql in DANGLING:
            cursor.execute(sql)
            if cursor.fetchone()[0]:
                problems.append(label)
    if problems:
        raise RuntimeError("the loaded docket is inconsistent: " + "; ".join(problems))


# --- Pages ---------------------------------------------------------------------------------------


def _cursor_for_page(period: CommentPeriod, page: int, size: int, *, cluster: int | None = None):
    """The cursor of listing page `page` (newest first, `size` a page): the one the "older" link
    of page `page - 1` carries, built from the data. Returns (cursor, the page's first id)."""
    rows = Comment.objects.filter(period=period)
    rows = rows.filter(cluster_id=cluster) if cluster else rows.filter(listed=True)
    ids = list(
        rows.order_by("-id").values_list("id", flat=True)[
            (page - 1) * size - 1 : (page - 1) * size + 1
        ]
    )
    if len(ids) < 2:
        raise ValueError(f"the listing has no page {page:,}")
    return _encode("n", Comment(pk=ids[0]), "newest"), ids[1]


def _check_page(base_url: str, path: str, first_id: int) -> None:
    """A figure measured on the wrong page measures nothing (the docket shows the first page
    for a cursor it cannot read): the page must start with the expected comment."""
    response = httpx.get(base_url + path, timeout=60)
    if path.startswith("/api/"):
        results = response.json().get("results") if response.status_code == 200 else None
        shown = results[0]["id"] if results else None
        ok = shown == first_id
    else:
        ok = response.status_code == 200 and f'id="comment-{first_id}"' in response.text
    if not ok:
        raise RuntimeError(f"GET {path} does not start with comment {first_id}")


def _deepest(listed: int, size: int) -> int:
    return min(DEEP_PAGE, (listed - 1) // size + 1)


# --- Posting -------------------------------------------------------------------------------------

_TAG = re.compile(r"\[ref ([0-9a-f]{32})\]")


@dataclass
class PostLoad:
    seconds: float
    statuses: Counter
    latencies: list[float]
    accepted: dict[str, int]  # tag → comment id of each 201
    refused: set[str]  # tags answered 429

    @property
    def created(self) -> int:
        return self.statuses.get(201, 0)


def _post_load(
    base_url: str,
    period_id: int,
    jobs: Iterator[tuple[str, str]],
    *,
    seconds: float,
    concurrency: int,
) -> PostLoad:
    """POST (token, body) jobs to the comments API from `concurrency` keep-alive clients until
    the jobs run out or `seconds` pass. A body's "[ref …]" tag identifies it in the database."""
    if not base_url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError("the bench only sends traffic to its own loopback server")
    lock = threading.Lock()
    result = PostLoad(0.0, Counter(), [], {}, set())
    deadline = time.monotonic() + seconds

    def worker() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while time.monotonic() < deadline:
                with lock:
                    job = next(jobs, None)
                if job is None:
                    return
                token, body = job
                tag = _TAG.search(body)
                started = time.perf_counter()
                try:
                    response = client.post(
                        "/api/v1/comments/",
                        json={"period": period_id, "body": body},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    status = response.status_code
                    pk = response.json().get("id") if status == 201 else None
                except (httpx.HTTPError, ValueError):
                    status, pk = 0, None
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    result.statuses[status] += 1
                    result.latencies.append(elapsed)
                    if tag and status == 201:
                        result.accepted[tag[1]] = pk
                    elif tag and status == 429:
                        result.refused.add(tag[1])

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def _body(rng: random.Random, unique_share: float, *, always_tagged: bool = False) -> str:
    """A text of one's own (`unique_share` of them), a personalised letter (5 %) or a campaign's
    exact letter, the big campaigns most often. Texts are tagged "[ref …]" to be found in the
    database again, but for exact letters unless `always_tagged` (a tag makes a near copy)."""
    tag = f"[ref {uuid.uuid4().hex}]"
    draw = rng.random()
    if draw < unique_share:
        return f"{_unique_text(rng)} {tag}"
    campaign = min(int(rng.paretovariate(1.0)) - 1, CAMPAIGNS - 1)
    if draw < unique_share + 0.05:
        return f"{_variant(campaign, rng.randrange(VARIANTS))} {tag}"
    return f"{_letter(campaign)} {tag}" if always_tagged else _letter(campaign)


def _start_cluster_worker(env: dict[str, str], stop_file: Path) -> subprocess.Popen:
    """The near-duplicate pass in its own process, as a Celery worker would run it: a pass
    whenever something is pending, until told to stop."""
    code = (
        "import pathlib, time, django\n"
        "django.setup()\n"
        "from policies.clustering import cluster_pending\n"
        f"stop = pathlib.Path({str(stop_file)!r})\n"
        "while not stop.exists():\n"
        "    if cluster_pending(batch=500, max_seconds=5) == 0:\n"
        "        time.sleep(0.2)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=BASE_DIR, env=env)


def _pending() -> int:
    return Comment.objects.filter(clustering_done=False).count()


class _PendingSampler(threading.Thread):
    """Samples the clustering queue's length once a second during the load."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.samples: list[int] = []

    def run(self) -> None:
        try:
            while not self.stop.wait(1.0):
                self.samples.append(_pending())
        finally:
            connection.close()


def _cpu_seconds(bind: str, worker_pid: int) -> Counter:
    """CPU seconds used so far by each kind of process on the machine: this bench's gunicorn
    (found by its BIND), PostgreSQL, Redis, the load generator (this process), the clustering
    worker, and everything else. Two readings around a load say where its CPU went."""
    tick = os.sysconf("SC_CLK_TCK")
    used: Counter = Counter()
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            seconds = (int(fields[11]) + int(fields[12])) / tick
            if pid == me:
                kind = "load generator"
            elif pid == worker_pid:
                kind = "clustering pass"
            elif name.startswith(("postgres", "postmaster")):
                kind = "postgres"
            elif name.startswith("redis"):
                kind = "redis"
            elif f"BIND={bind}".encode() in Path(f"/proc/{pid}/environ").read_bytes():
                kind = "gunicorn"
            else:
                kind = "other processes"
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
        used[kind] += seconds
    return used


def _cpu_note(before: Counter, after: Counter, seconds: float) -> str:
    cores = {kind: (after[kind] - before.get(kind, 0)) / seconds for kind in after}
    shown = sorted(((n, kind) for kind, n in cores.items() if n >= 0.01), reverse=True)
    return ", ".join(f"{kind} {n:.2f}" for n, kind in shown) + f" (of {os.cpu_count()} cores)"


def _stored(period: CommentPeriod, after_id: int) -> Counter:
    """How many comments of the period, posted after `after_id`, carry each tag."""
    tags: Counter = Counter()
    bodies = Comment.objects.filter(period=period, id__gt=after_id).values_list("body", flat=True)
    for body in bodies.iterator(chunk_size=5000):
        match = _TAG.search(body)
        if match:
            tags[match[1]] += 1
    return tags


def _max_id() -> int:
    return Comment.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- The figures ---------------------------------------------------------------------------------


def run(ctx: Context) -> list[Figure]:
    total = ctx.scaled(1_000_000, 100_000)
    period = _docket()
    authors = _people("commenter", ctx.scaled(5000, 1000))
    loaded = _load(period, total, authors)
    _check_load(period, loaded)
    copy_base = ctx.baseline("raw_copy")
    figures = [
        Figure(
            AREA,
            f"load of {total:,} comments (COPY, with clusters, bands, endorsements)",
            loaded.rows / loaded.seconds,
            "rows/s",
            "raw COPY",
            copy_base.value if copy_base else None,
            note=(
                f"{loaded.seconds:.1f} s for {loaded.rows:,} comments ({loaded.unique:,} unique "
                f"texts, {loaded.replies:,} replies, {total - loaded.unique - loaded.replies:,} "
                f"letters in {CAMPAIGNS} campaigns), {loaded.bands:,} LSH band keys and "
                f"{loaded.endorsements:,} endorsements; the comment table has a generated "
                f"tsvector and {_index_count(Comment._meta.db_table)} indexes"
            ),
        )
    ]

    base = _docket_path(period)
    requests = ctx.scaled(300, 80)
    listed = Comment.objects.filter(period=period, listed=True).count()
    deep = _deepest(listed, PAGE_SIZE)
    deep_cursor, deep_first = _cursor_for_page(period, deep, PAGE_SIZE)
    largest = loaded.largest_cluster
    campaign_deep = _deepest(loaded.largest_size, PAGE_SIZE)
    campaign_cursor, campaign_first = _cursor_for_page(period, campaign_deep, PAGE_SIZE,
                                                       cluster=largest)  # fmt: skip
    api_deep = _deepest(listed, API_PAGE_SIZE)
    api_cursor, api_first = _cursor_for_page(period, api_deep, API_PAGE_SIZE)
    api = f"/api/v1/comments/?period={period.pk}"
    pages = [
        ("docket, first page (HTML)", base, PAGE_TARGET_MS, None),
        (f"docket, page {deep:,} of {listed:,} listed (HTML, the deepest)",
         f"{base}?cursor={deep_cursor}", PAGE_TARGET_MS, deep_first),
        (f"campaign listing, page {campaign_deep:,} of a {loaded.largest_size:,}-letter "
         "campaign (HTML)",
         f"{base}?cluster={largest}&cursor={campaign_cursor}", PAGE_TARGET_MS, campaign_first),
        ("campaign page with its variants (HTML)", f"{base}clusters/{largest}/",
         PAGE_TARGET_MS, None),
        ("API comments, first page", api, PAGE_TARGET_MS, None),
        (f"API comments, page {api_deep:,} (the deepest)", f"{api}&cursor={api_cursor}",
         PAGE_TARGET_MS, api_first),
        ("API comments, most endorsed", f"{api}&sort=endorsed", PAGE_TARGET_MS, None),
    ]  # fmt: skip
    pages += [
        (f"search, {label} ({query})", f"{api}&q={quote(query)}", SEARCH_TARGET_MS, None)
        for label, query in SEARCHES
    ]  # fmt: skip
    pages.append(
        ("search on the docket page (HTML)", f"{base}?q=eviction%20tenant", SEARCH_TARGET_MS, None)
    )
    for label, path, target, expected in pages:
        if expected is not None:
            _check_page(ctx.base_url, path, expected)
        result = http_load(ctx.base_url, path, requests=requests, concurrency=4)
        figures.extend(latency_figures(AREA, label, result, ctx, target_p95_ms=target)[:2])

    figures += _sustained(ctx, period)
    figures.append(_burst(ctx, period))
    return figures


def _sustained(ctx: Context, period: CommentPeriod) -> list[Figure]:
    """Comment POSTs through the API for a fixed time, 90 % form letters, while the clustering
    pass runs in its own process; then how long the pass takes to catch up."""
    seconds = ctx.scaled(20, 8)
    tokens = _tokens(_people("poster", ctx.scaled(4000, 1000)))
    rng = random.Random(5)
    # Each account posts at most every len(tokens) requests: far under its 10 a minute.
    jobs = ((token, _body(rng, 0.10)) for token in itertools.cycle(tokens))
    stop_file = BASE_DIR / "bench" / "results" / f"cluster-stop-{uuid.uuid4().hex}"
    worker = _start_cluster_worker(ctx.env, stop_file)
    sampler = _PendingSampler()
    before = _max_id()
    try:
        time.sleep(2)  # the worker's Django start-up
        sampler.start()
        cpu_before = _cpu_seconds(ctx.env["BIND"], worker.pid)
        load = _post_load(ctx.base_url, period.pk, jobs, seconds=seconds, concurrency=16)
        cpu = _cpu_note(cpu_before, _cpu_seconds(ctx.env["BIND"], worker.pid), load.seconds)
        sampler.stop.set()
        sampler.join()
        ended = time.perf_counter()
        drained = None
        while time.perf_counter() - ended < 300:
            if _pending() == 0:
                drained = time.perf_counter() - ended
                break
            time.sleep(0.25)
    finally:
        stop_file.touch()
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
        stop_file.unlink(missing_ok=True)
    created = Comment.objects.filter(period=period, id__gt=before).count()
    rate = load.created / load.seconds
    insert = ctx.baseline("raw_insert")
    hello = ctx.baseline("hello_rps")
    others = {s: n for s, n in load.statuses.items() if s != 201}
    return [
        Figure(
            AREA,
            "comment POST, sustained (API, Bearer tokens, 16 clients, 2 gunicorn workers)",
            rate,
            "req/s",
            "raw INSERT loop",
            insert.value if insert else None,
            target=f">= {POST_TARGET:g}/s",
            target_met=rate >= POST_TARGET and created == load.created and not others,
            note=(
                f"{load.created:,} created in {load.seconds:.1f} s ({created:,} stored), other "
                f"answers {others or 'none'}; p50 {percentile(load.latencies, 50):.0f} ms, p95 "
                f"{percentile(load.latencies, 95):.0f} ms; hello-world view "
                + (f"{hello.value:,.0f} req/s" if hello else "not measured")
                + f"; cores busy during the load: {cpu}"
            ),
        ),
        Figure(
            AREA,
            "clustering queue drained after the POST load",
            drained,
            "s",
            higher_is_better=False,
            target=f"< {DRAIN_TARGET_S:g} s",
            target_met=drained is not None and drained < DRAIN_TARGET_S,
            note=(
                f"pending during the load: max {max(sampler.samples, default=0):,}, last "
                f"{sampler.samples[-1] if sampler.samples else 0:,} (sampled each second)"
                if drained is not None
                else f"{_pending():,} still pending after 300 s"
            ),
        ),
    ]


def _burst(ctx: Context, period: CommentPeriod) -> Figure:
    """Many accounts posting as fast as they can: each may post 10 a minute (the per-address
    limit is lifted for the bench, whose traffic all comes from 127.0.0.1). Every 201 must be
    stored exactly once and every other answer must be a 429 that stored nothing."""
    accounts, each = ctx.scaled(500, 100), 20
    tokens = _tokens(_people("burster", accounts))
    rng = random.Random(9)
    # An account's requests come one after another, as a script posting in a loop would.
    jobs = iter(
        [(token, _body(rng, 0.5, always_tagged=True)) for token in tokens for _ in range(each)]
    )
    before = _max_id()
    burst = _post_load(ctx.base_url, period.pk, jobs, seconds=600, concurrency=32)
    stored = _stored(period, before)
    sent = sum(burst.statuses.values())
    accepted, limited = burst.created, burst.statuses.get(429, 0)
    lost = [t for t in burst.accepted if stored.get(t, 0) == 0]
    twice = [t for t, n in stored.items() if n > 1]
    refused_but_stored = [t for t in burst.refused if stored.get(t, 0)]
    others = {s: n for s, n in burst.statuses.items() if s not in (201, 429)}
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    ok = not (lost or twice or refused_but_stored or others) and sum(stored.values()) == accepted
    return Figure(
        AREA,
        f"burst of {sent:,} comment POSTs ({accounts} accounts x {each}, 32 clients)",
        accepted,
        "stored",
        target="each 201 stored once; the rest 429",
        target_met=ok and accepted + limited == sent,
        note=(
            f"{accepted:,} answered 201 and stored once, {limited:,} answered 429 "
            f"(limit {settings.OPENREFUSAL['COMMENT_RATE_ACCOUNT']} per account, counted in "
            f"{backend}); lost {len(lost)}, stored twice {len(twice)}, refused but stored "
            f"{len(refused_but_stored)}, other answers {others or 'none'}; "
            f"{burst.seconds:.1f} s, {sent / burst.seconds:,.0f} req/s"
        ),
    )
