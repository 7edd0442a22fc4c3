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
from tests.policies.comments.test_clustering import LETTER, OTHER, assert_clusters_consistent

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
