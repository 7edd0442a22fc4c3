"""Form letters arriving all at once: identical comments posted together from several threads
and processes, with the near-duplicate pass running beside them, end in one cluster each with
exact counts (real transactions, so the races are the ones production has)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.db import connection

from policies import clustering
from policies.models import Comment, CommentCluster
from policies.services import comments as svc
from tests.factories import UserFactory
from tests.policies.comments.test_clustering import (
    LETTER,
    OTHER,
    assert_clusters_consistent,
    make,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """The pass is run by the tests themselves; nothing is sent to a worker."""
    monkeypatch.setattr(clustering, "schedule_clustering", lambda: None)


def drain() -> None:
    """Run the pass until nothing is pending (a campaign it gave way on comes back next time)."""
    for _ in range(50):
        clustering.cluster_pending()
        if not Comment.objects.filter(clustering_done=False).exists():
            return
    pytest.fail("the near-duplicate pass did not drain")


def in_threads(jobs) -> list[BaseException]:
    """Run the callables together (released by one barrier), each on its own connection."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job):
        try:
            barrier.wait(timeout=30)
            job()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_it_clusters_identical_comments_posted_at_once(open_period):
    authors = [UserFactory(password=None) for _ in range(16)]
    jobs = [
        lambda author=author: svc.comment_post(author=author, period=open_period, body=LETTER)
        for author in authors
    ]
    assert in_threads(jobs) == []
    drain()  # settles any "first" comments that committed together
    assert Comment.objects.count() == 16
    cluster = CommentCluster.objects.get()
    assert cluster.comment_count == 16
    assert cluster.representative_id == Comment.objects.order_by("id").first().pk
    assert Comment.objects.filter(cluster=cluster).count() == 16
    assert list(Comment.objects.filter(listed=True).values_list("id", flat=True)) == [
        cluster.representative_id
    ]
    assert_clusters_consistent(open_period)


def test_posts_withdrawals_and_the_pass_running_together_keep_counts_exact(open_period):
    texts = [
        LETTER,
        LETTER.replace("Maria Lopez", "Jo Park"),
        OTHER,
        "Keep the refusal on weapons exactly as it is.",
    ]
    authors = [UserFactory(password=None) for _ in range(24)]
    posted: list[tuple] = []
    lock = threading.Lock()
    stop = threading.Event()

    def poster(index: int):
        def job():
            author = authors[index]
            for round_ in range(3):
                comment = svc.comment_post(
                    author=author, period=open_period, body=texts[(index + round_) % len(texts)]
                )
                with lock:
                    posted.append((author, comment))

        return job

    def withdrawer():
        # Six comments withdrawn while copies of their text are still arriving.
        for nth in range(6):
            while True:
                with lock:
                    if len(posted) > 8 * (nth + 1):
                        author, comment = posted[8 * nth + nth % 4]
                        break
                time.sleep(0.005)
            svc.comment_withdraw(actor=author, comment=comment)

    def passer():
        while not stop.is_set():
            clustering.cluster_pending(batch=20)

    helpers = [threading.Thread(target=t) for t in (passer,)]
    for helper in helpers:
        helper.start()
    try:
        errors = in_threads([poster(i) for i in range(len(authors))] + [withdrawer])
    finally:
        stop.set()
        for helper in helpers:
            helper.join(timeout=60)
        connection.close()
    assert errors == []
    drain()
    assert Comment.objects.count() == 72
    assert Comment.objects.filter(status="withdrawn").count() == 6
    assert_clusters_consistent(open_period)
    # Every live copy of a text is in its campaign: the letter and its variant share one.
    campaigns = CommentCluster.objects.filter(period=open_period)
    live = Comment.objects.filter(period=open_period, status="published")
    assert campaigns.count() == 3
    assert sum(c.comment_count for c in campaigns) == live.count()


def test_it_clusters_identical_comments_posted_from_several_processes(open_period):
    authors = [UserFactory(password=None) for _ in range(20)]
    db = connection.settings_dict
    url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or 'localhost'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    start_at = time.time() + 4  # every process posts from the same moment
    script = (
        "import django, sys, time; django.setup()\n"
        "from policies.models import CommentPeriod\n"
        "from governance.models import User\n"
        "from policies.services.comments import comment_post\n"
        "period = CommentPeriod.objects.get(pk=int(sys.argv[1]))\n"
        "authors = list(User.objects.filter(pk__in=[int(a) for a in sys.argv[3:]]))\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "for author in authors:\n"
        f"    comment_post(author=author, period=period, body={LETTER!r})\n"
    )
    env = {**os.environ, "DATABASE_URL": url, "CELERY_TASK_ALWAYS_EAGER": "0"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(open_period.pk), str(start_at)]
            + [str(a.pk) for a in authors[n::4]],
            cwd=settings.BASE_DIR,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for process in processes:
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    drain()
    cluster = CommentCluster.objects.get()
    assert cluster.comment_count == 20 == Comment.objects.count()
    assert Comment.objects.filter(listed=True).count() == 1
    assert_clusters_consistent(open_period)


# --- Forced interleavings ------------------------------------------------------------------------


def paused_after(sql_matches, reached: threading.Event, release: threading.Event):
    """An execute wrapper (for the connection of the thread that installs it) that stops the
    first time a statement matching `sql_matches` has run, until `release` is set."""

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not reached.is_set() and sql_matches(sql):
            reached.set()
            assert release.wait(timeout=30), "never released"
        return result

    return wrapper


def in_background(job) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run():
        try:
            job()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _lock_waits() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_until_blocked_or_done(thread: threading.Thread | None = None) -> None:
    """Until a connection of the test database waits for a lock (or `thread` ends): 30 s at
    most."""
    for _ in range(600):
        if _lock_waits() or (thread is not None and not thread.is_alive()):
            return
        time.sleep(0.05)
    pytest.fail("nothing waited for a lock")


def test_a_withdrawal_after_a_post_read_its_earlier_copy_keeps_the_tombstone_out(open_period):
    """A post reads the earliest live copy of its words (alone, so it makes the cluster); that
    copy is withdrawn and committed before the post files it. The post must re-check on the
    locked row and cluster with the copy that is live now — not put the tombstone in a cluster
    (which then left the next live copy to start a second cluster of the same words)."""
    first = svc.comment_post(author=UserFactory(password=None), period=open_period, body=LETTER)
    copy = make(open_period, LETTER, exact=False)  # committed together with `first`: alone
    reached, release = threading.Event(), threading.Event()
    author = UserFactory(password=None)

    def post():
        hook = paused_after(lambda sql: sql == clustering._EARLIEST_SQL, reached, release)
        with connection.execute_wrapper(hook):
            return svc.comment_post(author=author, period=open_period, body=LETTER)

    poster, post_errors = in_background(post)
    withdrawer, withdraw_errors = None, []
    try:
        assert reached.wait(timeout=30)
        withdrawer, withdraw_errors = in_background(
            lambda: svc.comment_withdraw(actor=first.author, comment=first)
        )
        # The withdrawal commits meanwhile, or waits for the post: either is fine, as long as
        # the post then acts on what is true.
        wait_until_blocked_or_done(withdrawer)
    finally:
        release.set()
        poster.join(timeout=60)
        if withdrawer is not None:
            withdrawer.join(timeout=60)
    assert post_errors == []
    assert withdraw_errors == []
    later = svc.comment_post(author=UserFactory(password=None), period=open_period, body=LETTER)

    assert Comment.objects.get(pk=first.pk).cluster_id is None
    assert not CommentCluster.objects.filter(representative=first).exists()
    drain()
    assert_clusters_consistent(open_period)
    cluster = CommentCluster.objects.get()
    assert cluster.representative_id == copy.pk
    assert set(Comment.objects.filter(cluster=cluster).values_list("id", flat=True)) == {
        copy.pk,
        later.pk,
        Comment.objects.get(author=author).pk,
    }
    assert cluster.comment_count == 3


def test_a_post_waiting_on_a_withdrawal_from_its_cluster_does_not_join_it_blindly(open_period):
    """The only copy of a variant leaves its near-duplicate cluster (withdrawn) while a post of
    the same words, having read it in that cluster, waits for the cluster's lock. Once the lock
    is its, the post must see the copy gone rather than join a cluster whose variants were just
    counted without those words."""
    for _ in range(2):
        svc.comment_post(author=UserFactory(password=None), period=open_period, body=LETTER)
    variant_text = LETTER.replace("Maria Lopez", "Jo Park")
    variant = svc.comment_post(
        author=UserFactory(password=None), period=open_period, body=variant_text
    )
    drain()
    assert CommentCluster.objects.get().variant_count == 2
    reached, release = threading.Event(), threading.Event()

    def withdraw():
        hook = paused_after(
            lambda sql: "policies_commentcluster" in sql and "FOR UPDATE" in sql, reached, release
        )
        with connection.execute_wrapper(hook):
            svc.comment_withdraw(actor=variant.author, comment=variant)

    author = UserFactory(password=None)
    withdrawer, withdraw_errors = in_background(withdraw)
    poster, post_errors = None, []
    try:
        assert reached.wait(timeout=30)  # the cluster is locked, the variant already out of it
        poster, post_errors = in_background(
            lambda: svc.comment_post(author=author, period=open_period, body=variant_text)
        )
        wait_until_blocked_or_done()  # the post waits for the withdrawal
    finally:
        release.set()
        withdrawer.join(timeout=60)
        if poster is not None:
            poster.join(timeout=60)
    assert withdraw_errors == []
    assert post_errors == []

    assert_clusters_consistent(open_period)
    drain()
    assert_clusters_consistent(open_period)
    cluster = CommentCluster.objects.get()
    assert cluster.comment_count == 3
    assert cluster.variant_count == 2
    assert Comment.objects.get(author=author).cluster_id == cluster.pk
