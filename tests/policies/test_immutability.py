"""A published version is immutable in PostgreSQL itself (migration 0002), not only in Python:
raw SQL cannot change or delete it or its clauses; only the moves published → superseded →
withdrawn are allowed. The services refuse too, with a clear error; drafts stay editable."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from governance.errors import Conflict
from policies import services
from policies.models import Clause, PolicyVersion

pytestmark = pytest.mark.django_db


def sql(statement: str, params=()) -> int:
    """Run raw SQL in a savepoint (a refused statement must not spoil the test's transaction)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def refused(statement: str, params=(), match: str = "cannot") -> None:
    with pytest.raises(DatabaseError, match=match):
        sql(statement, params)


VERSION_UPDATES = [
    ("body_markdown = 'rewritten'", ()),
    ("major = 9", ()),
    ("minor = minor + 1", ()),
    ("content_sha256 = %s", ("f" * 64,)),
    ("previous_sha256 = %s", ("e" * 64,)),
    ("summary_of_changes = 'quietly edited'", ()),
    ("published_at = now() - interval '1 day'", ()),
    ("effective_at = now() + interval '1 year'", ()),
    ("policy_id = policy_id", ()),  # no change: allowed, as a control (see below)
]


@pytest.mark.parametrize(("assignment", "params"), VERSION_UPDATES[:-1])
def test_raw_sql_cannot_change_a_published_version(published_version, assignment, params):
    before = PolicyVersion.objects.filter(pk=published_version.pk).values().get()
    refused(
        f"UPDATE policies_policyversion SET {assignment} WHERE id = %s",  # noqa: S608
        (*params, published_version.pk),
    )
    assert PolicyVersion.objects.filter(pk=published_version.pk).values().get() == before


def test_an_update_that_changes_nothing_passes(published_version):
    assert (
        sql(
            "UPDATE policies_policyversion SET policy_id = policy_id WHERE id = %s",
            (published_version.pk,),
        )
        == 1
    )


def test_raw_sql_cannot_delete_a_published_version(published_version):
    refused("DELETE FROM policies_policyversion WHERE id = %s", (published_version.pk,))
    assert PolicyVersion.objects.filter(pk=published_version.pk).exists()


def test_the_orm_cannot_delete_one_either(published_version):
    with pytest.raises(DatabaseError), transaction.atomic():
        PolicyVersion.objects.filter(pk=published_version.pk).delete()
    assert Clause.objects.filter(version=published_version).count() == 3


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE policies_clause SET text = 'softened' WHERE version_id = %s",
        "UPDATE policies_clause SET expected_behavior = 'comply' WHERE version_id = %s",
        "UPDATE policies_clause SET key = key || '.x' WHERE version_id = %s",
        "DELETE FROM policies_clause WHERE version_id = %s",
        "INSERT INTO policies_clause (version_id, key, title, text, expected_behavior, "
        "categories, position, line) VALUES (%s, 'sneaky.add', 'Sneaky', 'T', 'comply', "
        "'{}', 99, 1)",
    ],
)
def test_raw_sql_cannot_touch_a_published_versions_clauses(published_version, statement):
    before = list(Clause.objects.filter(version=published_version).values())
    refused(statement, (published_version.pk,), match="clauses")
    assert list(Clause.objects.filter(version=published_version).values()) == before


def test_clauses_cannot_be_moved_out_of_a_published_version(published_version, draft_version):
    refused(
        "UPDATE policies_clause SET version_id = %s WHERE version_id = %s",
        (draft_version.pk, published_version.pk),
        match="clauses",
    )


def test_published_to_superseded_to_withdrawn_is_allowed(published_version):
    pk = published_version.pk
    assert (
        sql(
            "UPDATE policies_policyversion SET status = 'superseded', superseded_at = now() "
            "WHERE id = %s",
            (pk,),
        )
        == 1
    )
    assert (
        sql(
            "UPDATE policies_policyversion SET status = 'withdrawn', withdrawn_at = now(), "
            "withdrawn_reason = 'Recalled.' WHERE id = %s",
            (pk,),
        )
        == 1
    )
    assert PolicyVersion.objects.get(pk=pk).status == "withdrawn"


@pytest.mark.parametrize("status", ["draft", "superseded", "published"])
def test_a_withdrawn_version_stays_withdrawn(published_version, company_owner, status):
    services.version_withdraw(actor=company_owner, version=published_version, reason="Recalled.")
    refused(
        "UPDATE policies_policyversion SET status = %s WHERE id = %s",
        (status, published_version.pk),
    )
    refused(
        "UPDATE policies_policyversion SET withdrawn_reason = 'Rewritten reason' WHERE id = %s",
        (published_version.pk,),
        match="withdrawn",
    )


@pytest.mark.parametrize("status", ["draft", "published"])
def test_a_superseded_version_cannot_come_back(
    published_version, company_owner, policy_markdown, publish, status
):
    publish(published_version.policy, "2.0.0", policy_markdown + "\nMore.\n", company_owner)
    refused(
        "UPDATE policies_policyversion SET status = %s WHERE id = %s",
        (status, published_version.pk),
    )


def test_a_published_version_cannot_go_back_to_draft(published_version):
    refused(
        "UPDATE policies_policyversion SET status = 'draft' WHERE id = %s", (published_version.pk,)
    )


def test_the_services_refuse_to_edit_a_published_version(published_version, company_owner):
    with pytest.raises(Conflict, match="can no longer be changed") as error:
        services.version_draft_update(
            actor=company_owner, version=published_version, body_markdown="## Rewritten\n"
        )
    assert error.value.code == "not_draft"
    with pytest.raises(Conflict):
        services.version_draft_update(
            actor=company_owner, version=published_version, number="9.0.0"
        )
    with pytest.raises(Conflict):
        services.version_publish(actor=company_owner, version=published_version)
    with pytest.raises(Conflict):
        services.version_draft_delete(actor=company_owner, version=published_version)


def test_a_stale_draft_object_cannot_edit_what_was_published_since(draft_version, company_editor):
    stale = PolicyVersion.objects.get(pk=draft_version.pk)
    services.version_publish(actor=company_editor, version=draft_version)
    with pytest.raises(Conflict):
        services.version_draft_update(actor=company_editor, version=stale, summary_of_changes="x")


def test_a_draft_remains_fully_editable(draft_version, company_editor):
    pk = draft_version.pk
    assert sql("UPDATE policies_policyversion SET body_markdown = 'x' WHERE id = %s", (pk,)) == 1
    assert sql("UPDATE policies_clause SET text = 'y' WHERE version_id = %s", (pk,)) == 3
    assert sql("DELETE FROM policies_clause WHERE version_id = %s", (pk,)) == 3
    later = timezone.now()
    version = services.version_draft_update(
        actor=company_editor,
        version=draft_version,
        number="1.2.0",
        body_markdown=draft_version.body_markdown,
        summary_of_changes="Changed again.",
        effective_at=later,
    )
    assert (version.number, version.effective_at) == ("1.2.0", later)
    assert version.clauses.count() == 3
    sql("DELETE FROM policies_clause WHERE version_id = %s", (pk,))
    assert sql("DELETE FROM policies_policyversion WHERE id = %s", (pk,)) == 1


# --- The staff admin shows, never edits -------------------------------------------------------

ADMIN_MODELS = ["aisystem", "policy", "policyversion", "clause", "policyfollow"]


def admin_url(model: str, view: str = "changelist", *args) -> str:
    app = "governance" if model == "aisystem" else "policies"
    return reverse(f"admin:{app}_{model}_{view}", args=args)


@pytest.mark.parametrize("model", ADMIN_MODELS)
def test_the_admin_lists_every_policy_model(client_for, staff, published_version, citizen, model):
    services.policy_follow(user=citizen, policy=published_version.policy)
    assert client_for(staff).get(admin_url(model)).status_code == 200


def test_the_admin_shows_a_published_version_read_only(client_for, staff, published_version):
    client = client_for(staff)
    page = client.get(admin_url("policyversion", "change", published_version.pk))
    assert page.status_code == 200
    assert b"Save" not in page.content
    refused_post = client.post(
        admin_url("policyversion", "change", published_version.pk), {"body_markdown": "x"}
    )
    assert refused_post.status_code == 403
    delete = admin_url("policyversion", "delete", published_version.pk)
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(admin_url("policyversion", "add")).status_code == 403
    published_version.refresh_from_db()
    assert published_version.body_markdown != "x"
