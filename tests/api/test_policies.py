"""`/api/v1/` for policies: systems, policies, versions (drafts, upload, publish, withdraw, diff),
clauses and following, per role, with bad input, wrong state and token scopes."""

# The fixtures imported from tests/policies/conftest.py are used as parameters (F811).
# ruff: noqa: F811

from __future__ import annotations

import itertools
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from governance.models import AISystem, LedgerEntry
from governance.services.tokens import api_token_create
from policies import services
from policies.models import Policy, PolicyFollow, PolicyVersion

# The policies fixtures (a conftest in a sibling folder is not seen from here).
from tests.factories import MembershipFactory
from tests.policies.conftest import (  # noqa: F401
    body_with,
    draft_version,
    policy,
    policy_markdown,
    publish,
    published_version,
    system,
)

pytestmark = pytest.mark.django_db

SYSTEMS = "/api/v1/systems/"
POLICIES = "/api/v1/policies/"
VERSIONS = "/api/v1/policy-versions/"
CLAUSES = "/api/v1/clauses/"
TOKEN_NAMES = itertools.count()


def version_url(version, action: str = "") -> str:
    return f"{VERSIONS}{version.pk}/" + (f"{action}/" if action else "")


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def bearer(user, *scopes: str) -> APIClient:
    name = f"Pipeline {next(TOKEN_NAMES)}"
    _token, raw = api_token_create(user=user, name=name, scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def draft_payload(policy, body, number="2.0.0", **extra) -> dict:
    return {"policy": policy.pk, "number": number, "body_markdown": body, **extra}


# --- Systems ----------------------------------------------------------------------------------


def test_anyone_lists_and_reads_systems(api_for, system):
    body = api_for().get(SYSTEMS, {"organization": "acme-ai"}).json()
    assert [s["slug"] for s in body["results"]] == ["acme-assistant"]
    assert api_for().get(SYSTEMS, {"organization": "other-labs"}).json()["results"] == []
    detail = api_for().get(f"{SYSTEMS}{system.pk}/").json()
    assert detail["organization"] == "acme-ai"
    assert detail["name"] == "Acme Assistant"


def test_an_editor_adds_and_edits_a_system(api_for, company_editor, company):
    client = api_for(company_editor)
    response = client.post(SYSTEMS, {"organization": "acme-ai", "name": "Acme Coder"})
    assert response.status_code == 201, response.content
    assert response["Location"] == f"{SYSTEMS}{response.json()['id']}/"
    assert response.json()["slug"] == "acme-coder"
    system = AISystem.objects.get(slug="acme-coder")
    patched = client.patch(f"{SYSTEMS}{system.pk}/", {"description": "Writes code."})
    assert patched.json()["description"] == "Writes code."
    assert LedgerEntry.objects.filter(action="ai_system.updated").count() == 1


@pytest.mark.parametrize(("persona", "status"), [("outsider", 403), ("company_member", 403)])
def test_others_cannot_add_a_companys_system(request, api_for, company, persona, status):
    client = api_for(request.getfixturevalue(persona))
    assert_error(client.post(SYSTEMS, {"organization": "acme-ai", "name": "X"}), status)


def test_anonymous_cannot_write(api_for, company, system):
    assert_error(api_for().post(SYSTEMS, {"organization": "acme-ai", "name": "X"}), 401)
    assert_error(api_for().patch(f"{SYSTEMS}{system.pk}/", {"name": "X"}), 401)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"organization": "acme-ai"}, "name"),
        ({"organization": "nope", "name": "X"}, "organization"),
        ({"organization": "acme-ai", "name": "X", "slug": "new"}, "slug"),
        ({"organization": "acme-ai", "name": "x" * 121}, "name"),
    ],
)
def test_it_rejects_bad_systems_with_field_errors(api_for, company_editor, payload, field):
    error = assert_error(api_for(company_editor).post(SYSTEMS, payload), 400, "invalid")
    assert field in error["fields"]


def test_a_systems_slug_cannot_be_patched(api_for, company_editor, system):
    error = assert_error(
        api_for(company_editor).patch(f"{SYSTEMS}{system.pk}/", {"slug": "x"}), 400
    )
    assert error["fields"] == {"slug": ["This field cannot be changed."]}


# --- Policies ---------------------------------------------------------------------------------


def test_anyone_lists_policies_with_the_version_in_force(api_for, published_version, policy):
    body = api_for().get(POLICIES, {"organization": "acme-ai", "system": "acme-assistant"}).json()
    (row,) = body["results"]
    assert row["current_version"] == {"id": published_version.pk, "number": "1.0.0"}
    assert row["systems"] == [{"id": policy.systems.get().pk, "slug": "acme-assistant",
                               "name": "Acme Assistant"}]  # fmt: skip
    assert row["html_url"].endswith("/policies/acme-ai/acme-assistant-usage-policy/")
    assert api_for().get(POLICIES, {"system": "nothing"}).json()["results"] == []


def test_an_editor_creates_a_policy(api_for, company_editor, system):
    response = api_for(company_editor).post(
        POLICIES,
        {"organization": "acme-ai", "title": "Coding policy", "systems": [system.pk]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "coding-policy"
    assert body["current_version"] is None
    assert LedgerEntry.objects.filter(action="policy.created").count() == 1


def test_a_policy_cannot_cover_another_companys_system(
    api_for, company_editor, outsider, other_company
):
    foreign = services.ai_system_create(actor=outsider, organization=other_company, name="Theirs")
    response = api_for(company_editor).post(
        POLICIES, {"organization": "acme-ai", "title": "T", "systems": [foreign.pk]}, format="json"
    )
    assert "systems" in assert_error(response, 400)["fields"]
    assert not Policy.objects.exists()


def test_an_outsider_cannot_edit_a_policy(api_for, outsider, policy):
    assert_error(api_for(outsider).patch(f"{POLICIES}{policy.pk}/", {"title": "Mine"}), 403)
    policy.refresh_from_db()
    assert policy.title == "Acme Assistant Usage Policy"


def test_an_editor_edits_a_policy(api_for, company_owner, policy):
    response = api_for(company_owner).patch(
        f"{POLICIES}{policy.pk}/", {"summary": "Shorter.", "systems": []}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["summary"] == "Shorter."
    assert response.json()["systems"] == []


# --- Drafts -----------------------------------------------------------------------------------


def test_an_editor_writes_a_draft(api_for, company_editor, published_version, policy_markdown):
    response = api_for(company_editor).post(
        VERSIONS,
        draft_payload(published_version.policy, policy_markdown, summary_of_changes="More."),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert body["number"] == "2.0.0"
    assert body["clause_count"] == 3
    assert body["parse_errors"] == []
    assert body["body_markdown"] == policy_markdown
    assert response["Location"] == f"{VERSIONS}{body['id']}/"
    assert not LedgerEntry.objects.filter(subject=f"policyversion:{body['id']}").exists()


def test_a_draft_with_errors_is_saved_and_says_why(api_for, company_editor, policy):
    body = body_with(("a.one", "One", "refuse", "A."), ("a.one", "Two", "comply", "B."))
    response = api_for(company_editor).post(VERSIONS, draft_payload(policy, body, "1.0.0"))
    assert response.status_code == 201, response.content
    errors = response.json()["parse_errors"]
    assert errors
    assert all(isinstance(e["line"], int) and e["message"] for e in errors)
    assert response.json()["clause_count"] == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"number": "1.0"}, "number"),
        ({"number": "01.0.0"}, "number"),
        ({"number": "0.9.0"}, "number"),  # below the published 1.0.0
        ({"number": "1.0.0"}, "number"),  # equal to it
        ({"body_markdown": "x" * 1_000_001}, "body_markdown"),
        ({"body_markdown": "   "}, "body_markdown"),
        ({"body_markdown": None}, "body_markdown"),
        ({"body_markdown": "nul \x00"}, "body_markdown"),
        ({"effective_at": "next tuesday"}, "effective_at"),
        ({"summary_of_changes": "x" * 5001}, "summary_of_changes"),
        ({"policy": 999999}, "policy"),
    ],
)
def test_it_rejects_bad_drafts_with_field_errors(
    api_for, company_editor, published_version, policy_markdown, payload, field
):
    data = draft_payload(published_version.policy, policy_markdown) | payload
    if data["body_markdown"] is None:
        del data["body_markdown"]
    response = api_for(company_editor).post(VERSIONS, data, format="json")
    assert field in assert_error(response, 400)["fields"]
    assert PolicyVersion.objects.count() == 1


def test_a_10_mb_body_is_a_413(api_for, company_editor, policy):
    body = json.dumps({"policy": policy.pk, "number": "1.0.0", "body_markdown": "x" * 10_000_000})
    response = api_for(company_editor).post(VERSIONS, body, content_type="application/json")
    assert_error(response, 413, "request_too_large")


def test_a_second_draft_is_a_conflict(api_for, company_editor, draft_version, policy_markdown):
    response = api_for(company_editor).post(
        VERSIONS, draft_payload(draft_version.policy, policy_markdown, "3.0.0")
    )
    assert_error(response, 409, "draft_exists")


@pytest.mark.parametrize("persona", ["outsider", "company_member", "citizen"])
def test_others_cannot_write_a_companys_drafts(request, api_for, policy, policy_markdown, persona):
    client = api_for(request.getfixturevalue(persona))
    assert_error(client.post(VERSIONS, draft_payload(policy, policy_markdown, "1.0.0")), 403)
    assert not PolicyVersion.objects.exists()


def test_an_editor_edits_and_deletes_a_draft(api_for, company_editor, draft_version):
    client = api_for(company_editor)
    response = client.patch(version_url(draft_version), {"number": "1.2.0", "effective_at": None})
    assert response.status_code == 200, response.content
    assert response.json()["number"] == "1.2.0"
    assert_error(client.patch(version_url(draft_version), {"status": "published"}), 400)
    assert client.delete(version_url(draft_version)).status_code == 204
    assert not PolicyVersion.objects.filter(pk=draft_version.pk).exists()


def test_drafts_are_visible_only_to_their_organization(
    api_for, draft_version, published_version, company_member, outsider, citizen
):
    assert api_for(company_member).get(version_url(draft_version)).status_code == 200
    for user in (outsider, citizen, None):
        client = api_for(user)
        assert_error(client.get(version_url(draft_version)), 404)
        ids = [v["id"] for v in client.get(VERSIONS).json()["results"]]
        assert ids == [published_version.pk]
        clause_versions = {c["version"] for c in client.get(CLAUSES).json()["results"]}
        assert clause_versions == {published_version.pk}
    member_ids = {v["id"] for v in api_for(company_member).get(VERSIONS).json()["results"]}
    assert member_ids == {draft_version.pk, published_version.pk}


def test_an_outsider_cannot_touch_a_draft_they_cannot_see(api_for, outsider, draft_version):
    client = api_for(outsider)
    assert_error(client.post(version_url(draft_version, "publish")), 404)
    assert_error(client.patch(version_url(draft_version), {"summary_of_changes": "x"}), 404)
    assert_error(client.delete(version_url(draft_version)), 404)


def test_staff_do_not_see_or_publish_company_drafts(api_for, staff, draft_version):
    assert_error(api_for(staff).post(version_url(draft_version, "publish")), 404)


# --- Uploads ----------------------------------------------------------------------------------


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/markdown")


def test_it_accepts_a_markdown_file(api_for, company_editor, policy, policy_markdown):
    response = api_for(company_editor).post(
        VERSIONS,
        {
            "policy": policy.pk,
            "number": "1.0.0",
            "file": upload("policy.md", policy_markdown.encode()),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["body_markdown"] == policy_markdown
    assert response.json()["clause_count"] == 3


def test_a_file_replaces_a_drafts_text(api_for, company_editor, draft_version):
    body = body_with(("only.one", "Only", "refuse", "Text."))
    response = api_for(company_editor).patch(
        version_url(draft_version), {"file": upload("v.md", body.encode())}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json()["clause_count"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Politique de réponse".encode("latin-1"), "The file is not UTF-8 text."),
        (b"\xff\xfe\x00\x00", "The file is not UTF-8 text."),
        (b"x" * 1_000_001, "larger than 1,000,000 bytes"),
    ],
)
def test_it_rejects_bad_files(api_for, company_editor, policy, content, message):
    response = api_for(company_editor).post(
        VERSIONS,
        {"policy": policy.pk, "number": "1.0.0", "file": upload("p.md", content)},
        format="multipart",
    )
    error = assert_error(response, 400)
    assert any(message in m for m in error["fields"]["file"])
    assert not PolicyVersion.objects.exists()


def test_a_10_mb_upload_is_refused(api_for, company_editor, policy):
    response = api_for(company_editor).post(
        VERSIONS,
        {"policy": policy.pk, "number": "1.0.0", "file": upload("big.md", b"a" * 10_000_000)},
        format="multipart",
    )
    assert response.status_code in {400, 413}
    assert not PolicyVersion.objects.exists()


def test_text_and_file_together_are_ambiguous(api_for, company_editor, policy, policy_markdown):
    response = api_for(company_editor).post(
        VERSIONS,
        {
            "policy": policy.pk,
            "number": "1.0.0",
            "body_markdown": policy_markdown,
            "file": upload("p.md", policy_markdown.encode()),
        },
        format="multipart",
    )
    assert "file" in assert_error(response, 400)["fields"]


# --- Publishing and withdrawing ---------------------------------------------------------------


def test_an_editor_publishes_a_draft(api_for, company_editor, draft_version, published_version):
    response = api_for(company_editor).post(version_url(draft_version, "publish"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "published"
    assert body["previous_sha256"] == published_version.content_sha256
    assert len(body["content_sha256"]) == 64
    published_version.refresh_from_db()
    assert published_version.status == "superseded"
    assert_error(
        api_for(company_editor).post(version_url(draft_version, "publish")), 409, "not_draft"
    )


def test_publishing_text_with_errors_lists_them_by_line(api_for, company_editor, policy):
    body = body_with(("dup.key", "One", "refuse", "A."), ("dup.key", "Two", "comply", "B."))
    draft = services.version_draft_create(
        actor=company_editor, policy=policy, number="1.0.0", body_markdown=body,
        summary_of_changes="First.",
    )  # fmt: skip
    error = assert_error(api_for(company_editor).post(version_url(draft, "publish")), 400)
    assert error["fields"]["body_markdown"][0].startswith("line ")
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_publishing_without_a_summary_is_a_field_error(
    api_for, company_editor, policy, policy_markdown
):
    draft = services.version_draft_create(
        actor=company_editor, policy=policy, number="1.0.0", body_markdown=policy_markdown
    )
    error = assert_error(api_for(company_editor).post(version_url(draft, "publish")), 400)
    assert "summary_of_changes" in error["fields"]


@pytest.mark.parametrize(("persona", "status"), [("company_member", 403), ("outsider", 404)])
def test_others_cannot_publish(request, api_for, draft_version, persona, status):
    client = api_for(request.getfixturevalue(persona))
    assert_error(client.post(version_url(draft_version, "publish")), status)


def test_a_published_version_cannot_be_edited_or_deleted(api_for, company_owner, published_version):
    client = api_for(company_owner)
    response = client.patch(version_url(published_version), {"body_markdown": "## Rewritten\n"})
    assert_error(response, 409, "not_draft")
    assert_error(client.delete(version_url(published_version)), 409, "not_draft")
    assert_error(client.put(version_url(published_version), {}), 405)


def test_an_editor_withdraws_a_version(api_for, company_owner, published_version):
    client = api_for(company_owner)
    assert (
        "reason"
        in assert_error(client.post(version_url(published_version, "withdraw")), 400)["fields"]
    )
    response = client.post(version_url(published_version, "withdraw"), {"reason": "Too early."})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "withdrawn"
    assert response.json()["withdrawn_reason"] == "Too early."
    again = client.post(version_url(published_version, "withdraw"), {"reason": "Again."})
    assert_error(again, 409, "already_withdrawn")


def test_an_outsider_cannot_withdraw(api_for, outsider, published_version):
    response = api_for(outsider).post(version_url(published_version, "withdraw"), {"reason": "x"})
    assert_error(response, 403)


# --- Diffs ------------------------------------------------------------------------------------


def test_it_diffs_two_versions(api_for, company_owner, published_version, policy_markdown, publish):
    flipped = policy_markdown.replace(
        "behavior: refuse; categories: weapons, cbrn", "behavior: comply; categories: weapons"
    )
    second = publish(published_version.policy, "2.0.0", flipped, company_owner)
    for params in ({}, {"against": published_version.pk}):
        body = api_for().get(version_url(second, "diff"), params).json()
        assert body["old"]["number"] == "1.0.0"
        assert body["new"]["number"] == "2.0.0"
        headline = body["changes"][0]
        assert headline["key"] == "weapons.bio.synthesis"
        assert headline["behavior_change"] == {"from": "refuse", "to": "comply"}


def test_it_explains_what_cannot_be_diffed(
    api_for, published_version, company_owner, outsider, other_company
):
    assert (
        "against"
        in assert_error(api_for().get(version_url(published_version, "diff")), 400)["fields"]
    )
    theirs = services.policy_create(actor=outsider, organization=other_company, title="Theirs")
    other = services.version_draft_create(
        actor=outsider, policy=theirs, number="1.0.0", body_markdown="x"
    )
    for against in (other.pk, "abc", "99999999"):
        response = api_for(outsider).get(
            version_url(published_version, "diff"), {"against": against}
        )
        assert "against" in assert_error(response, 400)["fields"]


# --- Clauses ----------------------------------------------------------------------------------


def test_it_filters_clauses(api_for, published_version, draft_version):
    client = api_for()

    def keys(**params):
        return [c["key"] for c in client.get(CLAUSES, params).json()["results"]]

    assert sorted(keys(behavior="refuse")) == ["weapons.bio.synthesis"]
    assert keys(key="harmless.cooking", organization="acme-ai", status="published") == [
        "harmless.cooking"
    ]
    assert len(keys(policy=published_version.policy_id, system="acme-assistant")) == 3
    assert keys(organization="other-labs") == []
    assert keys(version=draft_version.pk) == []  # a draft's clauses are private
    clause = client.get(CLAUSES, {"key": "harmless.cooking"}).json()["results"][0]
    assert clause["version_number"] == "1.0.0"
    assert clause["html_url"].endswith("/v/1.0.0/#harmless.cooking")
    assert "behavior" in assert_error(client.get(CLAUSES, {"behavior": "maybe"}), 400)["fields"]


# --- Following --------------------------------------------------------------------------------


def test_a_signed_in_person_follows_and_unfollows(api_for, citizen, policy):
    client = api_for(citizen)
    url = f"{POLICIES}{policy.pk}/follow/"
    assert client.post(url).json() == {"following": True, "policy": policy.pk}
    assert client.post(url).status_code == 200
    assert PolicyFollow.objects.filter(user=citizen).count() == 1
    assert client.delete(url).status_code == 204
    assert not PolicyFollow.objects.exists()
    assert_error(api_for().post(url), 401)


def test_following_with_a_token_needs_write_account(citizen, policy):
    url = f"{POLICIES}{policy.pk}/follow/"
    response = bearer(citizen, "read:public", "write:policies").post(url)
    assert_error(response, 403, "insufficient_scope")
    assert bearer(citizen, "write:account").post(url).status_code == 200


# --- Tokens and idempotency -------------------------------------------------------------------


def test_writing_with_a_token_needs_write_policies(company_editor, policy, policy_markdown):
    payload = draft_payload(policy, policy_markdown, "1.0.0")
    denied = bearer(company_editor, "read:public", "write:account").post(
        VERSIONS, payload, format="json"
    )
    assert "write:policies" in assert_error(denied, 403)["message"]
    allowed = bearer(company_editor, "write:policies").post(VERSIONS, payload, format="json")
    assert allowed.status_code == 201, allowed.content


def test_a_pipeline_publishes_with_a_token(company_editor, policy, policy_markdown):
    client = bearer(company_editor, "read:public", "write:policies")
    created = client.post(
        VERSIONS,
        draft_payload(policy, policy_markdown, "1.0.0", summary_of_changes="First."),
        format="json",
    ).json()
    response = client.post(f"{VERSIONS}{created['id']}/publish/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "published"


def test_a_replayed_create_returns_the_same_version(
    api_for, company_editor, policy, policy_markdown
):
    client = api_for(company_editor)
    payload = draft_payload(policy, policy_markdown, "1.0.0")
    first = client.post(VERSIONS, payload, format="json", HTTP_IDEMPOTENCY_KEY="pipeline-run-42")
    second = client.post(VERSIONS, payload, format="json", HTTP_IDEMPOTENCY_KEY="pipeline-run-42")
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == second.json()["id"]
    assert PolicyVersion.objects.count() == 1


# --- Query counts -----------------------------------------------------------------------------


def make_versions(policy, actor, publish, count: int) -> None:
    for n in range(count):
        body = body_with(
            *[(f"c.k{i}", f"Clause {i}", "refuse", f"Text {i} v{n}.") for i in range(3)]
        )
        publish(policy, f"{n + 1}.0.0", body, actor)


@pytest.mark.parametrize("count", [3, 30])
def test_the_version_list_of_a_policy_is_a_constant_number_of_queries(
    api_for, policy, company_editor, publish, count, django_assert_num_queries
):
    make_versions(policy, company_editor, publish, count)
    with django_assert_num_queries(1):  # the versions with their clause counts
        response = api_for().get(VERSIONS, {"policy": policy.pk})
    assert len(response.json()["results"]) == count
    member = MembershipFactory(organization=policy.organization).user
    with django_assert_num_queries(2):  # and the caller's memberships, for their drafts
        response = api_for(member).get(VERSIONS, {"policy": policy.pk})
    assert len(response.json()["results"]) == count


@pytest.mark.parametrize("count", [3, 30])
def test_other_lists_are_a_constant_number_of_queries(
    api_for, policy, company_editor, publish, count, django_assert_max_num_queries
):
    make_versions(policy, company_editor, publish, count)
    client = api_for()
    with django_assert_max_num_queries(3):
        assert client.get(CLAUSES, {"policy": policy.pk}).status_code == 200
    with django_assert_max_num_queries(3):
        assert client.get(POLICIES).status_code == 200
    with django_assert_max_num_queries(2):
        assert client.get(SYSTEMS).status_code == 200
