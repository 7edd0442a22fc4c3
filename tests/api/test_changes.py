"""`/api/v1/changes/`: the change feed, and docs/mirror_client.py run against a live server."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

import pytest
from django.db import transaction
from django.urls import reverse

from governance.models import LedgerEntry
from governance.services.ledger import ledger_append
from governance.services.organizations import organization_unverify
from policies import services as policy_services
from tests.policies.conftest import POLICY_MARKDOWN

FEED = "/api/v1/changes/"
MIRROR_CLIENT = Path(__file__).resolve().parents[2] / "docs" / "mirror_client.py"


def load_mirror_client():
    spec = importlib.util.spec_from_file_location("mirror_client", MIRROR_CLIENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def history(company, company_editor, staff):
    """Real changes through the services: a system, a policy, a published version."""
    system = policy_services.ai_system_create(
        actor=company_editor, organization=company, name="Acme Assistant", description=""
    )
    policy = policy_services.policy_create(
        actor=company_editor,
        organization=company,
        title="Usage Policy",
        summary="",
        systems=[system],
    )
    draft = policy_services.version_draft_create(
        actor=company_editor,
        policy=policy,
        number="1.0.0",
        body_markdown=POLICY_MARKDOWN,
        summary_of_changes="First.",
    )
    version = policy_services.version_publish(actor=company_editor, version=draft)
    return {"system": system, "policy": policy, "version": version}


def feed(api, **params):
    response = api.get(FEED, params)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", [None, "citizen", "regulator", "company_editor"])
def test_it_lists_every_change_in_seq_order_for_everyone(request, api_for, history, persona):
    user = request.getfixturevalue(persona) if persona else None
    page = feed(api_for(user))
    seqs = [c["seq"] for c in page["results"]]
    assert seqs == list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs
    assert page["head"] == page["last_seq"] == seqs[-1]
    assert page["next"] is None


@pytest.mark.django_db
def test_it_links_each_change_to_its_resource(api_for, history):
    api = api_for()
    changes = feed(api)["results"]
    version = history["version"]
    published = next(c for c in changes if c["action"] == "policy_version.published")
    assert published["subject"] == f"policyversion:{version.pk}"
    assert published["links"]["api"] == reverse("policy-version-detail", args=[version.pk])
    assert published["links"]["page"] == "/policies/acme-ai/usage-policy/v/1.0.0/"
    assert published["organization"] == "acme-ai"
    assert published["policy"] == history["policy"].pk
    for change in changes:
        assert change["links"]["ledger"] == f"/api/v1/ledger/{change['seq']}/"
        assert api.get(change["links"]["api"]).status_code == 200, change


@pytest.mark.django_db
def test_a_subject_without_a_public_address_has_null_links(api_for):
    with transaction.atomic():
        ledger_append(actor="system", action="something.happened", subject="unknownthing:4")
        ledger_append(actor="system", action="organization.verified", subject="organization:999")
    changes = feed(api_for())["results"]
    assert [c["links"]["api"] for c in changes] == [None, None]
    assert [c["links"]["page"] for c in changes] == [None, None]


@pytest.mark.django_db
def test_it_pages_by_seq_with_a_next_link_and_a_capped_limit(api_for, history):
    api = api_for()
    total = LedgerEntry.objects.count()
    assert total >= 3
    seen, url = [], f"{FEED}?limit=2"
    while url:
        response = api.get(url)
        assert response.status_code == 200
        page = response.json()
        assert len(page["results"]) <= 2
        seen += [c["seq"] for c in page["results"]]
        url = page["next"]
    assert seen == list(range(1, total + 1))
    response = api.get(FEED, {"limit": 1001})
    assert response.status_code == 400
    assert "limit" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_it_resumes_after_a_seq(api_for, history):
    page = feed(api_for(), after=2)
    assert page["results"][0]["seq"] == 3
    assert page["after"] == 2


@pytest.mark.django_db
@pytest.mark.parametrize("after", ["-1", "abc", "1.5", "9" * 30])
def test_it_refuses_a_malformed_after(api_for, history, after):
    response = api_for().get(FEED, {"after": after})
    assert response.status_code == 400
    assert "after" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_it_refuses_an_after_beyond_the_head_with_a_clear_error(api_for, history):
    head = LedgerEntry.objects.order_by("-seq").first().seq
    assert feed(api_for(), after=head)["results"] == []
    response = api_for().get(FEED, {"after": head + 1})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "after_beyond_head"
    assert str(head) in error["message"]


@pytest.mark.django_db
def test_an_empty_ledger_has_an_empty_feed(api_for):
    page = feed(api_for())
    assert page == {"after": 0, "last_seq": 0, "head": 0, "next": None, "results": []}


@pytest.mark.django_db
def test_the_hashes_in_the_feed_recompute(api_for, history):
    client = load_mirror_client()
    for change in feed(api_for())["results"]:
        assert client.entry_hash(change) == change["hash"]


@pytest.mark.django_db
def test_a_token_needs_read_public(api_for, citizen):
    from rest_framework.test import APIClient

    from governance.services.tokens import api_token_create

    _, raw = api_token_create(user=citizen, name="t", scopes=["write:comments"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(FEED).status_code == 403
    _, raw = api_token_create(user=citizen, name="t2", scopes=["read:public"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(FEED).status_code == 200


@pytest.mark.django_db
def test_the_feed_page_costs_a_fixed_number_of_queries(
    api_for, history, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        feed(api_for(), limit=1000)


# --- The example mirror client against a live server -------------------------------------------


def mirror_rows(path):
    db = sqlite3.connect(path)
    try:
        changes = db.execute(
            "SELECT seq, action, subject, hash FROM changes ORDER BY seq"
        ).fetchall()
        resources = {
            subject: (api_url, json.loads(data) if data else None)
            for subject, api_url, data in db.execute("SELECT subject, api_url, data FROM resources")
        }
        after = int(db.execute("SELECT value FROM state WHERE key = 'after'").fetchone()[0])
    finally:
        db.close()
    return changes, resources, after


# Serialized rollback, as the browser tests: their data (content types…) survives the flush.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_example_client_keeps_an_exact_mirror(
    live_server, tmp_path, history, staff, company_editor, other_company
):
    import httpx

    client = load_mirror_client()
    path = str(tmp_path / "mirror.sqlite")
    # Small pages, so the client follows `next` several times.
    assert client.mirror(live_server.url, path, limit=3) == LedgerEntry.objects.count()

    def check():
        changes, resources, after = mirror_rows(path)
        ledger = list(
            LedgerEntry.objects.order_by("seq").values_list("seq", "action", "subject", "hash")
        )
        assert changes == ledger
        assert after == ledger[-1][0]
        assert set(resources) == {subject for _, _, subject, _ in ledger}
        for _subject, (api_url, data) in resources.items():
            if api_url is None:
                assert data is None
                continue
            live = httpx.get(live_server.url + api_url)
            assert data == (live.json() if live.status_code == 200 else None)

    check()
    # More changes: the next run fetches only them, and re-reads the changed resources.
    before = LedgerEntry.objects.count()
    policy_services.policy_update(
        actor=company_editor, policy=history["policy"], title="Usage Policy (revised)"
    )
    organization_unverify(actor=staff, organization=other_company, reason="Lapsed.")
    added = client.mirror(live_server.url, path, limit=3)
    assert added == LedgerEntry.objects.count() - before > 0
    check()
    assert client.mirror(live_server.url, path) == 0


# Serialized rollback, as the browser tests: their data (content types…) survives the flush.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_example_client_refuses_a_broken_chain(live_server, tmp_path, history):
    client = load_mirror_client()
    path = str(tmp_path / "mirror.sqlite")
    client.mirror(live_server.url, path)
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "UPDATE changes SET hash = ? WHERE seq = (SELECT MAX(seq) FROM changes)", ("0" * 64,)
        )
    db.close()
    with transaction.atomic():
        ledger_append(actor="system", action="test.happened", subject="thing:1")
    with pytest.raises(client.MirrorError, match="chain breaks"):
        client.mirror(live_server.url, path)
