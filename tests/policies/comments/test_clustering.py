"""Form-letter clustering: normalisation, exact joins at posting time, the near-duplicate pass
with its band keys in PostgreSQL, merges, detaching, and the counts and listed flags the
listing relies on. Concurrency lives in test_clustering_concurrency.py."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from django.conf import settings as django_settings
from django.db import connection
from hypothesis import assume, given
from hypothesis import strategies as st

from policies import clustering
from policies.models import Comment, CommentBand, CommentCluster, CommentPeriod, CommentResponse
from policies.services import comments as svc
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# ~110 words: long enough that a changed name or sentence keeps Jaccard above 0.8.
LETTER = (
    "Dear Acme, I am writing as a parent and a nurse to urge you to stop refusing legitimate "
    "medical questions. Patients and carers rely on clear answers about dosages, interactions "
    "and symptoms, and a refusal sends them to forums and worse sources that nobody checks. "
    "Please revise the self-harm clause so that the assistant answers with care, offers crisis "
    "resources, and explains what it can say instead of refusing outright. Other assistants "
    "manage this balance every day and their users are safer for it. I would also ask that "
    "you publish how often the clause is triggered, so that the public can see whether it "
    "is working as intended. Thank you for reading this comment and for opening the policy "
    "to the public. Yours sincerely, Maria Lopez."
)
OTHER = (
    "The cooking clause is fine as written. Knife questions in a kitchen context are ordinary "
    "and the assistant should keep answering them. I have no objection to the current text "
    "and I hope it stays the way it is in the next version of the policy."
)


@pytest.fixture
def fast_rates(settings):
    """Many comments from one account in a test: lift the per-account rate limit."""
    settings.OPENREFUSAL = {
        **settings.OPENREFUSAL,
        "COMMENT_RATE_ACCOUNT": "1000/minute",
        "COMMENT_RATE_IP": "1000/minute",
    }


def words(text: str) -> frozenset[str]:
    return clustering.shingles(clustering.normalize_comment_text(text))


def make(period, body, *, author=None, status="published", parent=None, exact=True):
    """A comment as comment_post leaves it (without its permission and rate checks)."""
    top_level_public = parent is None and status == "published"
    comment = Comment.objects.create(
        period=period,
        author=author or UserFactory(password=None),
        body=body,
        normalized_sha256=clustering.comment_text_sha256(body),
        status=status,
        held_reason="new_account" if status == "held" else "",
        hidden_reason="Spam." if status == "hidden" else "",
        parent=parent,
        root=parent,
        listed=top_level_public,
        clustering_done=not top_level_public,
    )
    if exact and top_level_public:
        clustering.cluster_exact_on_post(comment)
    return comment


def fresh(comment: Comment) -> Comment:
    return Comment.objects.get(pk=comment.pk)


def assert_clusters_consistent(period) -> None:
    """What the listing and the counts rely on, for every cluster of the period: the count is
    the number of members, the representative is a member and the earliest, it alone is listed,
    variant_count is the number of distinct texts, the kind follows; and each text of a live
    comment is in at most one cluster."""
    clusters = CommentCluster.objects.filter(period=period)
    seen_texts: dict[str, int] = {}
    for cluster in clusters:
        members = list(
            Comment.objects.filter(cluster=cluster)
            .order_by("id")
            .values("id", "listed", "normalized_sha256")
        )
        assert cluster.comment_count == len(members) >= 2, cluster
        assert cluster.representative_id == members[0]["id"], cluster
        assert [m["id"] for m in members if m["listed"]] == [cluster.representative_id]
        texts = {m["normalized_sha256"] for m in members}
        assert cluster.variant_count == len(texts), cluster
        assert cluster.kind == ("near" if len(texts) > 1 else "exact")
        for text in texts:
            assert seen_texts.setdefault(text, cluster.pk) == cluster.pk, "a text in two clusters"
    live_alone = Comment.objects.filter(
        period=period, parent__isnull=True, status="published", cluster__isnull=True
    )
    assert not live_alone.filter(listed=False).exists()
    for text in live_alone.values_list("normalized_sha256", flat=True):
        assert text not in seen_texts, "a copy of a campaign's text left outside it"


# --- Normalisation -------------------------------------------------------------------------------

WORD = st.text(alphabet=st.characters(categories=["Ll", "Lu", "Nd"]), min_size=1, max_size=8)
SPACE = st.sampled_from([" ", "  ", "\n", "\t", " \r\n ", "\u00a0", "\u3000"])
EDGE = st.sampled_from(["", ",", ".", "!", "?", "…", '"', "«", "»", "(", ")", "—", "'", "¿", "*"])


@given(st.text(max_size=300))
def test_it_normalizes_idempotently(text):
    once = clustering.normalize_comment_text(text)
    assert clustering.normalize_comment_text(once) == once
    assert clustering.comment_text_sha256(once) == clustering.comment_text_sha256(text)


@given(st.lists(st.tuples(WORD, EDGE, EDGE, SPACE, st.booleans()), min_size=1, max_size=12))
def test_it_ignores_case_spacing_and_punctuation_at_word_edges(parts):
    def shouted(word):
        # Upper case that folds back to the same word (a dotless i upper-cases to "I": not so).
        loud = word.upper()
        return loud if loud.casefold() == word.casefold() else word

    plain = " ".join(word for word, *_ in parts)
    dressed = "".join(
        f"{before}{shouted(word) if shout else word}{after}{space}"
        for word, before, after, space, shout in parts
    )
    assert clustering.comment_text_sha256(f"  {dressed}") == clustering.comment_text_sha256(plain)


@given(
    st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=5), min_size=1, max_size=8),
    st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=5), min_size=1, max_size=8),
)
def test_it_tells_different_words_apart(a, b):
    assume(a != b)
    assert clustering.comment_text_sha256(" ".join(a)) != clustering.comment_text_sha256(
        " ".join(b)
    )


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Keep the refusal!", "keep THE refusal", True),
        ("\ufb01ne \uff21\uff22\uff23", "fine abc", True),  # NFKC: ligature, full-width letters
        ("STRASSE", "straße", True),  # case folding, not lower()
        ("form\u200bletter", "formletter", True),  # invisible characters do not make a new text
        ("«Stop» — now…", "stop now", True),
        ("don't", "dont", False),  # punctuation inside a word is kept
        ("e-mail", "e mail", False),
        ('"Stop," she said.', "stop she said", True),
        ("<script>alert(1)</script>", "<SCRIPT>alert(1)</SCRIPT>", True),
        ("<b>stop</b>", "b stop b", False),  # markup symbols are not punctuation
    ],
)
def test_it_normalizes_like_a_reader_would(a, b, same):
    assert (clustering.comment_text_sha256(a) == clustering.comment_text_sha256(b)) is same


def test_it_survives_hostile_text():
    huge = "word " * 200_000 + "\x00 \ud800 <b>"
    assert len(clustering.comment_text_sha256(huge)) == 64
    assert len(clustering.band_keys(clustering.normalize_comment_text(huge))) == 16
    assert clustering.normalize_comment_text("!!! ... ???") == ""
    assert clustering.band_keys("") == []


def test_it_shingles_by_three_words_and_short_texts_by_words():
    assert clustering.shingles("a b c d") == {"a b c", "b c d"}
    assert clustering.shingles("keep it") == {"keep", "it"}
    assert clustering.shingles("") == frozenset()


# --- LSH parameters and band keys ----------------------------------------------------------------


def test_lsh_parameters_favour_recall_at_the_threshold():
    bands, rows = clustering.lsh_parameters(0.8)
    assert (bands, rows) == (16, 8)
    assert bands * rows <= clustering.NUM_PERM

    def share_a_band(similarity):
        return 1 - (1 - similarity**rows) ** bands

    assert share_a_band(0.8) > 0.94
    assert share_a_band(0.85) > 0.99
    assert share_a_band(0.5) < 0.07
    assert clustering.lsh_parameters(0.9) != (bands, rows)


def test_band_keys_are_signed_64_bit_and_the_same_in_another_process():
    text = clustering.normalize_comment_text(LETTER)
    keys = clustering.band_keys(text)
    assert len(keys) == 16
    assert len(set(keys)) == 16
    assert all(-(2**63) <= key < 2**63 for key in keys)
    script = (
        "import django; django.setup(); from policies import clustering; "
        f"print(clustering.band_keys({text!r}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "DJANGO_SETTINGS_MODULE": "governance.settings"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=django_settings.BASE_DIR,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip().splitlines()[-1] == str(keys)


def test_near_texts_share_band_keys_and_different_ones_do_not():
    variant = LETTER.replace("Maria Lopez", "John Smith")
    assert clustering.jaccard(words(LETTER), words(variant)) > 0.9
    mine = set(clustering.band_keys(clustering.normalize_comment_text(LETTER)))
    assert mine & set(clustering.band_keys(clustering.normalize_comment_text(variant)))
    assert not mine & set(clustering.band_keys(clustering.normalize_comment_text(OTHER)))


# --- Exact duplicates at posting time ------------------------------------------------------------


def test_it_joins_an_identical_comment_at_once(open_period, citizen, outsider, comment):
    first = comment(citizen, open_period, LETTER)
    second = comment(outsider, open_period, LETTER.upper() + "!!")
    first, second = fresh(first), fresh(second)
    cluster = first.cluster
    assert cluster is not None
    assert second.cluster_id == cluster.pk
    assert (cluster.kind, cluster.comment_count, cluster.variant_count) == ("exact", 2, 1)
    assert cluster.representative_id == first.pk
    assert first.listed
    assert not second.listed
    # The copy needs no near-duplicate pass; the first of the text does.
    assert second.clustering_done
    assert not first.clustering_done
    assert_clusters_consistent(open_period)


def test_copies_keep_counting_into_one_cluster(open_period):
    copies = [make(open_period, "Keep the refusal.") for _ in range(6)]
    assert CommentCluster.objects.count() == 1
    cluster = CommentCluster.objects.get()
    assert cluster.comment_count == 6
    assert cluster.representative_id == copies[0].pk
    assert Comment.objects.filter(listed=True).count() == 1
    assert_clusters_consistent(open_period)


def test_a_copy_joins_an_existing_cluster_in_one_statement(open_period, django_assert_num_queries):
    make(open_period, "Keep the refusal.")
    make(open_period, "Keep the refusal.")
    third = make(open_period, "keep the refusal", exact=False)
    with django_assert_num_queries(1):
        clustering.cluster_exact_on_post(third)
    assert third.cluster_id
    assert not third.listed
    assert third.clustering_done
    assert CommentCluster.objects.get().comment_count == 3


def test_the_first_copy_makes_the_cluster_in_a_few_statements(
    open_period, django_assert_max_num_queries
):
    make(open_period, "Keep the refusal.")
    second = make(open_period, "Keep the refusal.", exact=False)
    with django_assert_max_num_queries(5):
        clustering.cluster_exact_on_post(second)
    assert CommentCluster.objects.get().comment_count == 2


def test_a_new_text_costs_one_statement(open_period, django_assert_num_queries):
    alone = make(open_period, "Nobody else says this.", exact=False)
    with django_assert_num_queries(1):
        clustering.cluster_exact_on_post(alone)
    assert alone.cluster_id is None
    assert fresh(alone).listed


@pytest.fixture
def other_period(open_period, company, company_editor, system, publish, policy_markdown):
    """A period on another policy's published version, open as long as `open_period`."""
    from policies import services

    other = services.policy_create(
        actor=company_editor, organization=company, title="Another policy", systems=[system]
    )
    version = publish(other, "1.0.0", policy_markdown, company_editor)
    return CommentPeriod.objects.create(
        version=version, opens_at=open_period.opens_at, closes_at=open_period.closes_at
    )


def test_exact_and_near_clustering_stay_within_a_period(open_period, other_period):
    make(open_period, LETTER)
    elsewhere = make(other_period, LETTER)
    assert elsewhere.cluster_id is None
    make(other_period, LETTER.replace("Maria Lopez", "Jo Park"))
    clustering.cluster_pending()
    assert not CommentCluster.objects.filter(period=open_period).exists()
    assert CommentCluster.objects.get(period=other_period).comment_count == 2
    assert CommentBand.objects.filter(period=open_period).count() == 16
    assert CommentBand.objects.filter(period=other_period).count() == 32


def test_held_withdrawn_and_replies_are_never_joined(open_period, moderator):
    held = make(open_period, "Keep the refusal.", status="held")
    root = make(open_period, "Something else.")
    reply = make(open_period, "Keep the refusal.", parent=root)
    withdrawn = make(open_period, "Keep the refusal.")
    Comment.objects.filter(pk=withdrawn.pk).update(status="withdrawn")
    later = make(open_period, "Keep the refusal.")
    assert later.cluster_id is None  # no live earlier copy: it is the first
    assert fresh(later).listed
    for comment in (held, reply, withdrawn):
        assert fresh(comment).cluster_id is None
    assert not CommentCluster.objects.exists()
    assert clustering.cluster_pending() == 3  # root, later and withdrawn were pending
    assert not CommentCluster.objects.exists()


def test_a_comment_hidden_while_held_stands_for_nothing(open_period):
    hidden = make(open_period, "Keep the refusal.", status="hidden", exact=False)
    assert not hidden.listed  # hidden before it was ever public
    later = make(open_period, "Keep the refusal.")
    assert later.cluster_id is None


def test_a_hidden_public_comment_keeps_representing_its_campaign(open_period, moderator):
    first = make(open_period, "Keep the refusal.")
    svc.comment_moderate(moderator=moderator, comment=first, action="hide", public_reason="Rude.")
    second = make(open_period, "Keep the refusal.")
    assert second.cluster_id is not None
    assert fresh(first).cluster_id == second.cluster_id
    assert fresh(first).listed  # the placeholder stands for the campaign
    assert_clusters_consistent(open_period)


# --- The near-duplicate pass ---------------------------------------------------------------------


def test_it_clusters_a_form_letter_with_a_changed_name(open_period, comment, citizen, outsider):
    first = comment(citizen, open_period, LETTER)
    variant = comment(outsider, open_period, LETTER.replace("Maria Lopez", "John Smith"))
    other = make(open_period, OTHER)
    assert fresh(variant).cluster_id is None  # not identical: the pass decides
    assert clustering.cluster_pending() == 3
    first, variant, other = fresh(first), fresh(variant), fresh(other)
    assert first.cluster_id == variant.cluster_id is not None
    cluster = first.cluster
    assert (cluster.kind, cluster.comment_count, cluster.variant_count) == ("near", 2, 2)
    assert cluster.representative_id == first.pk
    assert first.listed
    assert not variant.listed
    assert other.cluster_id is None
    assert other.listed
    assert Comment.objects.filter(clustering_done=False).count() == 0
    assert clustering.cluster_pending() == 0
    assert_clusters_consistent(open_period)


def test_it_clusters_a_form_letter_with_a_changed_sentence(open_period):
    changed = LETTER.replace(
        "Other assistants manage this balance every day and their users are safer for it.",
        "Our clinic sees this harm every week.",
    )
    assert 0.8 <= clustering.jaccard(words(LETTER), words(changed)) < 0.9
    first = make(open_period, LETTER)
    second = make(open_period, changed)
    clustering.cluster_pending()
    assert fresh(first).cluster_id == fresh(second).cluster_id is not None


def test_it_keeps_different_comments_apart(open_period):
    make(open_period, LETTER)
    make(open_period, OTHER)
    half = " ".join(LETTER.split()[:55]) + " " + " ".join(OTHER.split())
    assert clustering.jaccard(words(LETTER), words(half)) < 0.5
    make(open_period, half)
    assert clustering.cluster_pending() == 3
    assert not CommentCluster.objects.exists()
    assert Comment.objects.filter(listed=True).count() == 3


def _with_tail(n: int) -> str:
    return LETTER + " " + " ".join(f"extra{i}" for i in range(n))


def test_it_respects_the_threshold_exactly(open_period):
    base = words(LETTER)
    above, below = _with_tail(25), _with_tail(35)  # about 0.83 and 0.78 alike
    assert clustering.jaccard(base, words(above)) > 0.8 > clustering.jaccard(base, words(below))
    first = make(open_period, LETTER)
    stays = make(open_period, below)
    clustering.cluster_pending()
    assert fresh(stays).cluster_id is None
    assert not CommentCluster.objects.exists()
    joins = make(open_period, above)
    clustering.cluster_pending()
    assert fresh(joins).cluster_id == fresh(first).cluster_id is not None
    # Single linkage: `below` is 0.93 alike to `above`, so the campaign now takes it in too.
    assert clustering.jaccard(words(above), words(below)) > 0.9
    assert fresh(stays).cluster_id == fresh(first).cluster_id
    assert_clusters_consistent(open_period)


def test_it_follows_the_configured_threshold(open_period, settings):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "CLUSTER_JACCARD": 0.9}
    first = make(open_period, LETTER)
    near = make(open_period, _with_tail(20))  # about 0.83 alike
    close = make(open_period, _with_tail(5))  # about 0.95 alike
    clustering.cluster_pending()
    assert fresh(near).cluster_id is None
    assert fresh(close).cluster_id == fresh(first).cluster_id is not None
    bands, _rows = clustering.lsh_parameters(0.9)
    assert CommentBand.objects.filter(comment=first).count() == bands


def test_it_stores_band_keys_once_per_text_and_period(open_period):
    first = make(open_period, LETTER)
    copies = [make(open_period, LETTER, exact=False) for _ in range(3)]  # as if they raced
    clustering.cluster_pending()
    keys = clustering.band_keys(clustering.normalize_comment_text(LETTER))
    stored = list(CommentBand.objects.filter(period=open_period).values_list("comment_id", "key"))
    assert sorted(stored) == sorted((first.pk, key) for key in keys)
    assert all(fresh(c).cluster_id == fresh(first).cluster_id is not None for c in copies)


def test_it_finds_earlier_texts_through_the_stored_keys(open_period, django_assert_max_num_queries):
    first = make(open_period, LETTER)
    assert clustering.cluster_pending() == 1  # banded and done, alone
    assert CommentBand.objects.filter(comment=first).exists()
    variant = make(open_period, LETTER.replace("Maria Lopez", "Sam Lee"))
    with django_assert_max_num_queries(20):
        assert clustering.cluster_pending() == 1
    assert fresh(variant).cluster_id == fresh(first).cluster_id is not None


def test_a_pass_of_unrelated_texts_takes_a_constant_number_of_queries(
    open_period, django_assert_max_num_queries
):
    author = UserFactory(password=None)
    for n in range(40):
        make(
            open_period,
            f"Comment number {n}: " + " ".join(f"w{n}x{i}" for i in range(12)),
            author=author,
        )
    # Nine statements, plus the savepoint the test's own transaction turns the pass into.
    with django_assert_max_num_queries(11):
        assert clustering.cluster_pending(batch=100) == 40
    assert CommentBand.objects.count() == 40 * 16


def test_it_works_in_batches_in_id_order(open_period):
    comments = [make(open_period, f"Distinct comment {n} about something.") for n in range(5)]
    assert clustering.cluster_pending(batch=2) == 2
    assert [fresh(c).clustering_done for c in comments] == [True, True, False, False, False]
    assert clustering.cluster_pending(batch=2, max_seconds=30) == 3
    assert clustering.cluster_pending() == 0


def test_it_merges_copies_that_raced_past_each_other(open_period):
    """Two first copies committed together: neither saw the other, both are listed."""
    a = make(open_period, "Keep the refusal.", exact=False)
    b = make(open_period, "keep the refusal!", exact=False)
    c = make(open_period, "Keep the refusal.")  # joins a, the earliest
    assert fresh(b).cluster_id is None
    assert fresh(b).listed
    clustering.cluster_pending()
    cluster = fresh(a).cluster
    assert fresh(b).cluster_id == fresh(c).cluster_id == cluster.pk
    assert (cluster.kind, cluster.comment_count, cluster.variant_count) == ("exact", 3, 1)
    assert_clusters_consistent(open_period)


def test_it_merges_two_clusters_of_the_same_text(open_period):
    """Copies that saw different "first" comments made two clusters; the pass makes one."""
    a = make(open_period, "Keep the refusal.", exact=False)
    b = make(open_period, "Keep the refusal.", exact=False)
    Comment.objects.filter(pk=a.pk).update(status="withdrawn")
    make(open_period, "Keep the refusal.")  # joins b
    Comment.objects.filter(pk=a.pk).update(status="published")
    make(open_period, "Keep the refusal.")  # joins a
    assert CommentCluster.objects.count() == 2
    clustering.cluster_pending()
    cluster = CommentCluster.objects.get()
    assert cluster.representative_id == a.pk
    assert (cluster.kind, cluster.comment_count, cluster.variant_count) == ("exact", 4, 1)
    assert fresh(b).cluster_id == cluster.pk
    assert_clusters_consistent(open_period)


def test_it_merges_split_clusters_after_the_first_copy_is_withdrawn(open_period):
    """The split left by a race, whose earliest comment then leaves: its cluster's new
    representative is later than the other cluster's, yet the two still become one."""
    a = make(open_period, "Keep the refusal.", exact=False)
    b = make(open_period, "Keep the refusal.", exact=False)
    Comment.objects.filter(pk=a.pk).update(status="withdrawn")
    make(open_period, "Keep the refusal.")  # joins b
    Comment.objects.filter(pk=a.pk).update(status="published")
    a_copies = [make(open_period, "Keep the refusal.") for _ in range(2)]  # join a
    a = fresh(a)
    a.status = "withdrawn"
    a.save(update_fields=["status"])
    clustering.cluster_detach(a)
    assert fresh(a_copies[0]).cluster.representative_id == a_copies[0].pk
    assert CommentCluster.objects.count() == 2
    clustering.cluster_pending()
    cluster = CommentCluster.objects.get()
    assert cluster.representative_id == b.pk
    assert cluster.comment_count == 4
    assert_clusters_consistent(open_period)


def test_it_merges_a_campaign_into_the_older_one(open_period):
    variant = LETTER.replace("Maria Lopez", "Jo Park")
    old = [make(open_period, LETTER) for _ in range(3)]
    new = [make(open_period, variant) for _ in range(2)]
    older, newer = fresh(old[0]).cluster_id, fresh(new[0]).cluster_id
    assert older < newer
    clustering.cluster_pending()
    assert not CommentCluster.objects.filter(pk=newer).exists()
    cluster = CommentCluster.objects.get(pk=older)
    assert (cluster.kind, cluster.comment_count, cluster.variant_count) == ("near", 5, 2)
    assert cluster.representative_id == old[0].pk
    assert list(Comment.objects.filter(listed=True).values_list("id", flat=True)) == [old[0].pk]
    assert_clusters_consistent(open_period)


def test_a_new_variant_joins_a_campaign_of_several_texts(open_period):
    make(open_period, LETTER)
    make(open_period, LETTER.replace("Maria Lopez", "Jo Park"))
    make(open_period, LETTER.replace("Maria Lopez", "Jo Park"))
    clustering.cluster_pending()
    cluster = CommentCluster.objects.get()
    assert (cluster.comment_count, cluster.variant_count) == (3, 2)
    third = make(open_period, LETTER.replace("Maria Lopez", "Ann Wu"))
    again = make(open_period, LETTER.replace("Maria Lopez", "Jo Park"))  # an exact copy
    clustering.cluster_pending()
    cluster.refresh_from_db()
    assert (cluster.comment_count, cluster.variant_count) == (5, 3)
    assert fresh(third).cluster_id == fresh(again).cluster_id == cluster.pk
    assert_clusters_consistent(open_period)


def test_an_earlier_lone_comment_becomes_the_representative(open_period):
    """A lone first comment whose near-duplicates were clustered before it was looked at."""
    first = make(open_period, LETTER)
    Comment.objects.filter(pk=first.pk).update(clustering_done=True)  # looked at, no bands
    variant = LETTER.replace("Maria Lopez", "Jo Park")
    make(open_period, variant)
    make(open_period, variant)
    CommentBand.objects.bulk_create(
        CommentBand(period=open_period, comment=first, key=key)
        for key in clustering.band_keys(clustering.normalize_comment_text(LETTER))
    )
    clustering.cluster_pending()
    cluster = CommentCluster.objects.get()
    assert cluster.representative_id == first.pk
    assert fresh(first).listed
    assert cluster.comment_count == 3
    assert_clusters_consistent(open_period)


def test_it_never_clusters_replies_or_held_comments(open_period, comment, citizen, outsider):
    root = comment(citizen, open_period, LETTER)
    reply = comment(outsider, open_period, LETTER, parent=root)
    held = make(open_period, LETTER.replace("Maria Lopez", "Jo Park"), status="held")
    assert fresh(reply).clustering_done
    assert fresh(held).clustering_done
    clustering.cluster_pending()
    assert not CommentCluster.objects.exists()
    assert not CommentBand.objects.exclude(comment=root).exists()
    assert fresh(root).listed
    assert not fresh(reply).listed
    assert not fresh(held).listed


def test_comments_held_after_posting_are_skipped_by_the_pass(open_period, moderator):
    first = make(open_period, LETTER)
    variant = make(open_period, LETTER.replace("Maria Lopez", "Jo Park"))
    svc.comment_moderate(
        moderator=moderator, comment=variant, action="hold", public_reason="Check."
    )
    assert clustering.cluster_pending() == 2
    assert fresh(variant).cluster_id is None
    assert not CommentCluster.objects.exists()
    assert fresh(first).listed


def test_a_withdrawn_banded_comment_still_leads_to_its_campaign(open_period, comment, citizen):
    first = comment(citizen, open_period, LETTER)
    second = make(open_period, LETTER)
    third = make(open_period, LETTER)
    clustering.cluster_pending()
    svc.comment_withdraw(actor=citizen, comment=first)
    variant = make(open_period, LETTER.replace("Maria Lopez", "Jo Park"))
    clustering.cluster_pending()
    cluster = fresh(second).cluster
    assert fresh(variant).cluster_id == cluster.pk == fresh(third).cluster_id
    assert (cluster.comment_count, cluster.variant_count, cluster.kind) == (3, 2, "near")
    assert cluster.representative_id == second.pk
    assert_clusters_consistent(open_period)


def test_lost_band_keys_are_restored_from_a_copy(open_period, citizen, comment, fast_rates):
    first = make(open_period, LETTER)
    clustering.cluster_pending()
    CommentBand.objects.all().delete()  # as after its banded comment was edited away
    copy = make(open_period, LETTER, exact=False)
    clustering.cluster_pending()
    assert CommentBand.objects.filter(comment=first).count() == 16
    assert fresh(copy).cluster_id == fresh(first).cluster_id is not None


def test_campaigns_the_company_answered_are_not_merged(open_period, company):
    variant = LETTER.replace("Maria Lopez", "Jo Park")
    a = [make(open_period, LETTER) for _ in range(2)]
    b = [make(open_period, variant) for _ in range(2)]
    for comment in (a[0], b[0]):
        CommentResponse.objects.create(
            period=open_period,
            target="cluster",
            cluster=fresh(comment).cluster,
            body="We read it.",
            organization=company,
        )
    clustering.cluster_pending()
    assert CommentCluster.objects.count() == 2
    assert not Comment.objects.filter(clustering_done=False).exists()


def test_an_answered_campaign_absorbs_an_unanswered_one(open_period, company):
    variant = LETTER.replace("Maria Lopez", "Jo Park")
    a = [make(open_period, LETTER) for _ in range(2)]
    b = [make(open_period, variant) for _ in range(2)]
    answered = fresh(b[0]).cluster
    CommentResponse.objects.create(
        period=open_period, target="cluster", cluster=answered, body="Noted.", organization=company
    )
    clustering.cluster_pending()
    cluster = CommentCluster.objects.get()
    assert cluster.pk == answered.pk
    assert cluster.representative_id == a[0].pk
    assert cluster.comment_count == 4
    assert_clusters_consistent(open_period)


def test_the_pass_skips_when_another_pass_holds_the_lock(open_period):
    make(open_period, LETTER)
    held, release = threading.Event(), threading.Event()

    def hold_the_lock():
        from django.db import connection as their_connection

        with their_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [clustering.PASS_LOCK_KEY])
            held.set()
            release.wait(10)
            cursor.execute("SELECT pg_advisory_unlock(%s)", [clustering.PASS_LOCK_KEY])
        their_connection.close()

    other = threading.Thread(target=hold_the_lock)
    other.start()
    try:
        assert held.wait(10)
        assert clustering.cluster_pending() == 0
    finally:
        release.set()
        other.join()
    assert clustering.cluster_pending() == 1


# --- Leaving a cluster ---------------------------------------------------------------------------


def test_withdrawing_the_representative_elects_the_next_and_dissolves(
    open_period, comment, fast_rates
):
    authors = [UserFactory(password=None) for _ in range(3)]
    a, b, c = (comment(author, open_period, "Same words here") for author in authors)
    cluster = fresh(a).cluster
    svc.comment_withdraw(actor=authors[0], comment=a)
    cluster.refresh_from_db()
    assert (cluster.representative_id, cluster.comment_count) == (b.pk, 2)
    assert fresh(b).listed
    assert not fresh(c).listed
    assert fresh(a).listed
    assert fresh(a).cluster_id is None
    assert_clusters_consistent(open_period)
    svc.comment_withdraw(actor=authors[1], comment=b)
    assert not CommentCluster.objects.exists()
    assert fresh(c).cluster_id is None
    assert fresh(c).listed


def test_detaching_a_member_only_counts_it_out(open_period):
    a, b, c = (make(open_period, "Same words here") for _ in range(3))
    c = fresh(c)
    c.status = "withdrawn"
    c.save(update_fields=["status"])
    clustering.cluster_detach(c)
    cluster = fresh(a).cluster
    assert (cluster.representative_id, cluster.comment_count) == (a.pk, 2)
    assert fresh(c).listed
    assert fresh(c).cluster_id is None
    assert fresh(a).listed
    assert not fresh(b).listed


def test_holding_a_member_takes_it_out_of_view(open_period, moderator):
    a, b, _c = (make(open_period, "Same words here") for _ in range(3))
    svc.comment_moderate(moderator=moderator, comment=a, action="hold", public_reason="Check.")
    a = fresh(a)
    assert a.cluster_id is None
    assert not a.listed
    cluster = fresh(b).cluster
    assert (cluster.representative_id, cluster.comment_count) == (b.pk, 2)
    assert fresh(b).listed
    assert_clusters_consistent(open_period)


def test_leaving_a_near_campaign_updates_its_variants(open_period, fast_rates, comment):
    variant = LETTER.replace("Maria Lopez", "Jo Park")
    authors = [UserFactory(password=None) for _ in range(3)]
    comment(authors[0], open_period, LETTER)
    comment(authors[1], open_period, LETTER)
    odd = comment(authors[2], open_period, variant)
    clustering.cluster_pending()
    cluster = fresh(odd).cluster
    assert (cluster.comment_count, cluster.variant_count, cluster.kind) == (3, 2, "near")
    svc.comment_withdraw(actor=authors[2], comment=odd)
    cluster.refresh_from_db()
    assert (cluster.comment_count, cluster.variant_count, cluster.kind) == (2, 1, "exact")
    assert_clusters_consistent(open_period)


def test_editing_out_of_a_near_campaign_recounts_its_variants(open_period, fast_rates, comment):
    variant = LETTER.replace("Maria Lopez", "Jo Park")
    authors = [UserFactory(password=None) for _ in range(3)]
    comment(authors[0], open_period, LETTER)
    comment(authors[1], open_period, variant)
    odd = comment(authors[2], open_period, LETTER.replace("Maria Lopez", "Al Green"))
    clustering.cluster_pending()
    cluster = fresh(odd).cluster
    assert (cluster.comment_count, cluster.variant_count) == (3, 3)
    svc.comment_edit(actor=authors[2], comment=odd, body=OTHER)
    cluster.refresh_from_db()
    assert (cluster.comment_count, cluster.variant_count) == (2, 2)
    assert fresh(odd).cluster_id is None
    assert not fresh(odd).clustering_done
    clustering.cluster_pending()
    assert_clusters_consistent(open_period)


def test_an_answered_cluster_is_kept_when_one_member_is_left(open_period, company, comment):
    authors = [UserFactory(password=None) for _ in range(2)]
    a, b = (comment(author, open_period, "Same words here") for author in authors)
    cluster = fresh(a).cluster
    CommentResponse.objects.create(
        period=open_period, target="cluster", cluster=cluster, body="Noted.", organization=company
    )
    svc.comment_withdraw(actor=authors[1], comment=b)
    cluster.refresh_from_db()
    assert (cluster.comment_count, cluster.representative_id) == (1, a.pk)
    assert fresh(a).listed


def test_detaching_a_lone_comment_only_sets_its_listing(open_period):
    alone = make(open_period, "Nobody else says this.")
    Comment.objects.filter(pk=alone.pk).update(status="held")
    alone = fresh(alone)
    clustering.cluster_detach(alone)
    assert not fresh(alone).listed


# --- Scheduling and the task ---------------------------------------------------------------------


def test_it_schedules_the_pass_at_most_once_a_second(
    monkeypatch, django_capture_on_commit_callbacks
):
    from policies import tasks

    sent = []
    monkeypatch.setattr(tasks.comments_cluster_pending, "delay", lambda *a: sent.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        clustering.schedule_clustering()
        clustering.schedule_clustering()
    with django_capture_on_commit_callbacks(execute=True):
        clustering.schedule_clustering()
    assert sent == [()]


def test_it_sends_nothing_when_the_transaction_rolls_back(
    monkeypatch, django_capture_on_commit_callbacks
):
    from policies import tasks

    sent = []
    monkeypatch.setattr(tasks.comments_cluster_pending, "delay", lambda *a: sent.append(a))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        clustering.schedule_clustering()
    assert len(callbacks) == 1
    assert sent == []


def test_a_broker_outage_does_not_fail_the_comment(monkeypatch, django_capture_on_commit_callbacks):
    from policies import tasks

    def broken(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.comments_cluster_pending, "delay", broken)
    with django_capture_on_commit_callbacks(execute=True):
        clustering.schedule_clustering()  # logged, not raised


def test_the_task_drains_the_queue(open_period, monkeypatch):
    from policies import tasks

    for n in range(7):
        make(open_period, f"Distinct comment {n} about something.")
    make(open_period, LETTER)
    make(open_period, LETTER.replace("Maria Lopez", "Jo Park"))
    monkeypatch.setattr(clustering, "cluster_pending", _small_batches(clustering.cluster_pending))
    assert tasks.comments_cluster_pending() == 9
    assert not Comment.objects.filter(clustering_done=False).exists()
    assert CommentCluster.objects.count() == 1


def _small_batches(real):
    return lambda **kwargs: real(**{**kwargs, "batch": 2})


def test_the_task_hands_over_when_its_time_is_up(open_period, monkeypatch):
    from policies import tasks

    for n in range(3):
        make(open_period, f"Distinct comment {n} about something.")
    again = []
    monkeypatch.setattr(tasks.comments_cluster_pending, "delay", lambda *a: again.append(a))
    assert tasks.comments_cluster_pending(seconds=0.0) == 0
    assert again == [(0.0,)]


def test_the_beat_runs_the_pass_as_a_safety_net():
    entries = [
        e
        for e in django_settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"].endswith("comments_cluster_pending")
    ]
    assert entries == [{"task": "policies.tasks.comments_cluster_pending", "schedule": 30.0}]


def test_band_rows_live_in_postgresql(open_period):
    make(open_period, LETTER)
    clustering.cluster_pending()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM policies_commentband WHERE period_id = %s AND key = ANY(%s)",
            [open_period.pk, clustering.band_keys(clustering.normalize_comment_text(LETTER))],
        )
        assert cursor.fetchone()[0] == 16
