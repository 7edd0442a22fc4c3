"""The cached parts of the version and diff pages and of the API diff: a cached page reads the same
as a fresh one, per-reader parts stay per reader, drafts are never cached, and a warm page reads
no clause rows."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.renderers import JSONRenderer

from policies import services
from policies.templatetags import policies_tags
from tests.policies.conftest import POLICY_MARKDOWN

pytestmark = pytest.mark.django_db

ORG, SLUG = "acme-ai", "acme-assistant-usage-policy"
V2 = POLICY_MARKDOWN.replace(
    "behavior: refuse; categories: weapons, cbrn", "behavior: comply; categories: weapons, cbrn"
).replace("answers with care", "answers with great care")


def url(name: str, **kwargs) -> str:
    return reverse(f"policies:{name}", kwargs={"org_slug": ORG, "policy_slug": SLUG, **kwargs})


def page(response) -> str:
    """The page without its per-request CSRF token."""
    assert response.status_code == 200
    return re.sub(r'"x-csrftoken": "[^"]*"', "", response.content.decode())


@pytest.fixture
def two_versions(policy, published_version, publish, company_editor):
    v2 = publish(policy, "2.0.0", V2, company_editor, summary_of_changes="Loosens bio.")
    published_version.refresh_from_db()
    return published_version, v2


def _clause_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if 'FROM "policies_clause"' in q["sql"]]


def test_it_serves_the_same_version_page_from_the_cache(client, two_versions):
    cold = page(client.get(url("version", number="2.0.0")))
    with CaptureQueriesContext(connection) as warm_queries:
        warm = page(client.get(url("version", number="2.0.0")))
    assert warm == cold
    assert cold.count('<section class="clause card"') == 3
    assert "3 clauses, each with its expected behaviour" in cold
    assert "<!--" not in cold.split('<div class="policy-layout">')[1], "no split marker is left"
    # Only the registered clause extras (comment counts) read the clause rows, once.
    assert len(_clause_queries(warm_queries.captured_queries)) <= 1


def test_it_renders_clause_extras_per_request_on_a_cached_page(
    client_for, two_versions, settings, tmp_path, citizen
):
    page(client_for().get(url("version", number="2.0.0")))  # cached without any extra
    template_dir = tmp_path / "templates"
    (template_dir / "probe").mkdir(parents=True)
    (template_dir / "probe" / "who.html").write_text(
        '<span class="probe">{{ clause.key }}:{{ extra }}:{{ user.is_authenticated }}</span>'
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], template_dir]}
    ]
    calls = []

    def prepare(clauses):
        calls.append([c.key for c in clauses])
        return {c.pk: len(c.key) for c in clauses}

    policies_tags.register_clause_extra("probe/who.html", prepare=prepare)
    try:
        anonymous = page(client_for().get(url("version", number="2.0.0")))
        signed_in = page(client_for(citizen).get(url("version", number="2.0.0")))
    finally:
        policies_tags.unregister_clause_extra("probe/who.html")
    assert '<span class="probe">weapons.bio.synthesis:21:False</span>' in anonymous
    assert '<span class="probe">weapons.bio.synthesis:21:True</span>' in signed_in
    # Each extra sits in its own clause's footer, in document order.
    footers = re.findall(r'<footer class="clause__footer cluster">(.*?)</footer>', anonymous, re.S)
    assert [re.search(r'class="probe">([^:]+):', f).group(1) for f in footers] == [
        "weapons.bio.synthesis",
        "self-harm.support",
        "harmless.cooking",
    ]
    assert len(calls) == 2, "prepare runs once per page, with all its clauses"
    assert calls[0] == ["weapons.bio.synthesis", "self-harm.support", "harmless.cooking"]
    assert "probe" not in page(client_for().get(url("version", number="2.0.0")))


def test_it_never_caches_a_draft(client_for, company_editor, draft_version):
    first = page(client_for(company_editor).get(url("version", number="1.1.0")))
    assert "crisis" in first
    services.version_draft_update(
        actor=company_editor,
        version=draft_version,
        body_markdown=draft_version.body_markdown.replace("kitchen safety", "oven safety"),
    )
    second = page(client_for(company_editor).get(url("version", number="1.1.0")))
    assert "oven safety" in second
    assert "kitchen safety" not in second
    diff = page(client_for(company_editor).get(url("diff", old="1.0.0", new="1.1.0")))
    assert "oven" in diff


def test_it_keeps_the_version_page_current_when_the_policy_changes(
    client, two_versions, company_editor
):
    page(client.get(url("version", number="2.0.0")))
    services.policy_update(actor=company_editor, policy=two_versions[1].policy, title="Renamed")
    after = page(client.get(url("version", number="2.0.0")))
    # The body's own title now differs from the policy's, so the document shows it.
    assert '<p class="policy-document__title">Acme Assistant Usage Policy</p>' in after


def test_it_marks_a_withdrawn_version_on_a_cached_page(client, two_versions, company_editor):
    page(client.get(url("version", number="2.0.0")))
    services.version_withdraw(actor=company_editor, version=two_versions[1], reason="A mistake.")
    after = page(client.get(url("version", number="2.0.0")))
    assert "A mistake." in after
    assert 'id="weapons.bio.synthesis"' in after


@pytest.mark.parametrize("view", ["", "?view=side-by-side"])
def test_it_serves_the_same_diff_page_from_the_cache(client, two_versions, view):
    path = url("diff", old="1.0.0", new="2.0.0") + view
    cold = page(client.get(path))
    with CaptureQueriesContext(connection) as warm_queries:
        warm = page(client.get(path))
    assert warm == cold
    assert "refuse → comply" in cold
    assert not _clause_queries(warm_queries.captured_queries)
    assert ('class="table diff-table"' in cold) == bool(view)


def test_it_caches_each_diff_view_apart(client, two_versions):
    unified = page(client.get(url("diff", old="1.0.0", new="2.0.0")))
    side = page(client.get(url("diff", old="1.0.0", new="2.0.0") + "?view=side-by-side"))
    assert 'class="table diff-table"' not in unified
    assert 'class="table diff-table"' in side
    assert "No differences" in page(client.get(url("diff", old="2.0.0", new="2.0.0")))


def test_it_answers_the_api_diff_with_the_same_bytes_from_the_cache(api_for, two_versions):
    old, new = two_versions
    path = f"/api/v1/policy-versions/{new.pk}/diff/"
    cold = api_for().get(path, {"against": old.pk})
    warm = api_for().get(path, {"against": old.pk})
    assert cold.status_code == warm.status_code == 200
    assert cold["Content-Type"] == "application/json"
    assert warm.content == cold.content
    body = json.loads(cold.content)
    assert list(body)[:2] == ["old", "new"]
    assert body["old"] == {"id": old.pk, "number": "1.0.0", "status": "superseded"}
    assert body["changes"][0]["behavior_change"] == {"from": "refuse", "to": "comply"}
    assert JSONRenderer().render(body) == cold.content, "as DRF itself would encode it"


def test_it_shows_a_version_status_change_in_a_cached_api_diff(
    api_for, two_versions, company_editor
):
    old, new = two_versions
    path = f"/api/v1/policy-versions/{new.pk}/diff/"
    api_for().get(path, {"against": old.pk})
    services.version_withdraw(actor=company_editor, version=new, reason="A mistake.")
    body = api_for().get(path, {"against": old.pk}).json()
    assert body["new"]["status"] == "withdrawn"


def test_it_still_offers_the_browsable_api_for_a_diff(api_for, two_versions):
    old, new = two_versions
    path = f"/api/v1/policy-versions/{new.pk}/diff/"
    response = api_for().get(path, {"against": old.pk}, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert "text/html" in response["Content-Type"]
    assert "weapons.bio.synthesis" in response.content.decode()


def test_it_keys_cached_pages_by_version_not_by_text_alone(
    client, policy, company_editor, publish, published_version
):
    # The same text published twice: each version page links to its own number.
    publish(policy, "1.0.1", POLICY_MARKDOWN, company_editor)
    first = page(client.get(url("version", number="1.0.0")))
    second = page(client.get(url("version", number="1.0.1")))
    assert f"{url('version', number='1.0.0')}#weapons.bio.synthesis" in first
    assert f"{url('version', number='1.0.1')}#weapons.bio.synthesis" in second
    assert url("version", number="1.0.0") + "#" not in second
