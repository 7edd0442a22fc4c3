"""The public comment API: periods, comments (keyset pages, post, edit, withdraw, endorse, flag,
moderate), campaigns, responses, export — per role and token scope, with bad input."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from policies.models import Comment, CommentPeriod, CommentResponse
from tests.api.test_contract import json_schema_of, validator_for
from tests.api.test_policies import assert_error, bearer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PERIODS = "/api/v1/comment-periods/"
COMMENTS = "/api/v1/comments/"


def test_it_lists_and_reads_periods_publicly(open_period, api_for):
    listing = api_for().get(PERIODS)
    assert listing.status_code == 200
    assert listing.json()["results"][0]["state"] == "open"
    detail = api_for().get(f"{PERIODS}{open_period.pk}/").json()
    assert detail["stats"]["total"] == 0
    assert detail["version_number"] == "1.0.0"


def test_it_opens_periods_for_company_editors_only(published_version, api_for, company_editor,
                                                   outsider, citizen):  # fmt: skip
    now = timezone.now()
    payload = {"version": published_version.pk, "opens_at": now.isoformat(),
               "closes_at": (now + timedelta(days=31)).isoformat()}  # fmt: skip
    assert_error(api_for().post(PERIODS, payload, format="json"), 401)
    assert_error(api_for(outsider).post(PERIODS, payload, format="json"), 403)
    assert_error(api_for(citizen).post(PERIODS, payload, format="json"), 403)
    short = {**payload, "closes_at": (now + timedelta(days=2)).isoformat()}
    body = assert_error(api_for(company_editor).post(PERIODS, short, format="json"), 400)
    assert "closes_at" in body["fields"]
    created = api_for(company_editor).post(PERIODS, payload, format="json")
    assert created.status_code == 201
    assert_error(api_for(company_editor).post(PERIODS, payload, format="json"), 409)


def test_it_extends_with_a_reason(open_period, api_for, company_editor, outsider):
    url = f"{PERIODS}{open_period.pk}/extend/"
    later = (open_period.closes_at + timedelta(days=5)).isoformat()
    assert_error(api_for(outsider).post(url, {"closes_at": later, "reason": "x"}), 403)
    assert_error(api_for(company_editor).post(url, {"closes_at": later, "reason": ""}), 400)
    response = api_for(company_editor).post(url, {"closes_at": later, "reason": "Requests"})
    assert response.status_code == 200
    assert response.json()["extensions"][0]["reason"] == "Requests"


def test_it_posts_comments_with_a_scoped_token(open_period, citizen):
    payload = {"period": open_period.pk, "body": "Through the API", "clause": "harmless.cooking"}
    assert_error(bearer(citizen, "read:public").post(COMMENTS, payload, format="json"), 403)
    response = bearer(citizen, "write:comments").post(COMMENTS, payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["clause"] == "harmless.cooking"
    assert response.json()["author"] == citizen.public_name


def test_it_posts_once_per_idempotency_key(open_period, citizen):
    client = bearer(citizen, "write:comments")
    key = str(uuid.uuid4())
    payload = {"period": open_period.pk, "body": "Only once"}
    first = client.post(COMMENTS, payload, format="json", HTTP_IDEMPOTENCY_KEY=key)
    second = client.post(COMMENTS, payload, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert Comment.objects.count() == 1
    other = client.post(COMMENTS, {**payload, "body": "Else"}, format="json",
                        HTTP_IDEMPOTENCY_KEY=key)  # fmt: skip
    assert other.status_code == 422


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"body": ""}, 400, "body"),
        ({"body": "x" * 10_001}, 400, "body"),
        ({"body": "ok", "clause": "nope"}, 400, "clause"),
        ({"body": "ok", "parent": 999999}, 400, "parent"),
        ({"body": "ok", "on_behalf_of": "no-such-org"}, 400, "on_behalf_of"),
        ({"body": ["not", "text"]}, 400, "body"),
    ],
)
def test_it_rejects_bad_comments(open_period, api_for, citizen, payload, status, field):
    body = assert_error(
        api_for(citizen).post(COMMENTS, {"period": open_period.pk, **payload}, format="json"),
        status,
    )
    assert field in body["fields"]
    assert not Comment.objects.exists()


def test_it_rejects_a_megabyte_body(open_period, citizen):
    client = bearer(citizen, "write:comments")
    big = json.dumps({"period": open_period.pk, "body": "x" * 1_000_000})
    response = client.post(COMMENTS, big, content_type="application/json")
    assert response.status_code in (400, 413)
    assert not Comment.objects.exists()


def test_it_refuses_closed_periods_and_unverified_accounts(closed_period, open_period, api_for):
    assert_error(
        api_for(UserFactory()).post(COMMENTS, {"period": closed_period.pk, "body": "late"}), 409
    )
    assert_error(
        api_for(UserFactory(verified=False)).post(
            COMMENTS, {"period": open_period.pk, "body": "hi"}
        ),
        403,
    )


def test_it_answers_429_with_retry_after(open_period, citizen, settings):
    settings.OPENREFUSAL = {**settings.OPENREFUSAL, "COMMENT_RATE_ACCOUNT": "1/minute"}
    client = bearer(citizen, "write:comments")
    client.post(COMMENTS, {"period": open_period.pk, "body": "one"}, format="json")
    response = client.post(COMMENTS, {"period": open_period.pk, "body": "two"}, format="json")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1


def test_it_pages_with_keyset_cursors(open_period, comment, api_for):
    for i in range(120):
        comment(UserFactory(), open_period, f"Unique comment {i} on the policy")
    seen = []
    url = f"{COMMENTS}?period={open_period.pk}&sort=oldest"
    while url:
        body = api_for().get(url).json()
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 120
    back = api_for().get(f"{COMMENTS}?period={open_period.pk}&sort=oldest").json()
    page2 = api_for().get(back["next"]).json()
    assert api_for().get(page2["previous"]).json()["results"] == back["results"]
    assert_error(api_for().get(f"{COMMENTS}?period={open_period.pk}&cursor=zzz"), 400)
    assert_error(api_for().get(COMMENTS), 400)


def test_it_searches_and_filters(open_period, comment, api_for, company_member, company):
    comment(UserFactory(), open_period, "Medical questions deserve answers")
    comment(UserFactory(), open_period, "Cooking is fine", clause_key="harmless.cooking")
    comment(company_member, open_period, "Our position", on_behalf_of=company)
    found = api_for().get(f"{COMMENTS}?period={open_period.pk}&q=medical").json()["results"]
    assert [c["body"] for c in found] == ["Medical questions deserve answers"]
    clause = api_for().get(f"{COMMENTS}?period={open_period.pk}&clause=harmless.cooking").json()
    assert len(clause["results"]) == 1
    orgs = api_for().get(f"{COMMENTS}?period={open_period.pk}&organizations=1").json()
    assert [c["on_behalf_of"] for c in orgs["results"]] == ["acme-ai"]


def test_it_endorses_once(open_period, comment, citizen, outsider):
    posted = comment(citizen, open_period, "Endorse")
    client = bearer(outsider, "write:comments")
    url = f"{COMMENTS}{posted.pk}/endorsement/"
    assert client.post(url).json() == {"endorsed": True, "endorsement_count": 1}
    assert_error(client.post(url), 409)
    assert client.delete(url).json()["endorsement_count"] == 0


def test_endorsing_answers_what_the_schema_documents(open_period, comment, citizen, outsider):
    # Found by schemathesis: POST was documented as 200 and DELETE as 204 without a body, and
    # neither documented its 409.
    responses = (
        APIClient()
        .get("/api/schema/", {"format": "json"})
        .json()["paths"]["/api/v1/comments/{id}/endorsement/"]
    )
    posted = comment(citizen, open_period, "Endorse")
    client = bearer(outsider, "write:comments")
    url = f"{COMMENTS}{posted.pk}/endorsement/"
    assert client.post(url).status_code == 201
    assert client.post(url).status_code == 409
    assert client.delete(url).status_code == 200
    assert client.delete(url).status_code == 409
    assert {"201", "409"} <= set(responses["post"]["responses"])
    assert {"200", "409"} <= set(responses["delete"]["responses"])
    assert "204" not in responses["delete"]["responses"]
    body = responses["delete"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Endorsement"}


def test_it_edits_withdraws_and_flags(open_period, comment, citizen, outsider):
    posted = comment(citizen, open_period, "Frist")
    mine = bearer(citizen, "write:comments")
    assert (
        mine.patch(f"{COMMENTS}{posted.pk}/", {"body": "First"}, format="json").json()["body"]
        == "First"
    )
    assert_error(
        bearer(outsider, "write:comments").patch(f"{COMMENTS}{posted.pk}/", {"body": "x"}), 403
    )
    history = APIClient().get(f"{COMMENTS}{posted.pk}/history/").json()
    assert history["revisions"][0]["body"] == "Frist"
    flag = bearer(outsider, "write:comments").post(f"{COMMENTS}{posted.pk}/flags/",
                                                   {"reason": "spam"})  # fmt: skip
    assert flag.status_code == 201
    withdrawn = mine.post(f"{COMMENTS}{posted.pk}/withdraw/")
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["body"] == ""


def test_it_moderates_with_the_moderation_scope(open_period, comment, citizen, moderator):
    posted = comment(citizen, open_period, "Bad")
    url = f"{COMMENTS}{posted.pk}/moderate/"
    payload = {"action": "hide", "public_reason": "Spam"}
    assert_error(bearer(moderator, "write:comments").post(url, payload), 403)
    assert_error(bearer(citizen, "write:moderation").post(url, payload), 403)
    no_reason = {"action": "hide", "public_reason": ""}
    assert_error(bearer(moderator, "write:moderation").post(url, no_reason), 400)
    response = bearer(moderator, "write:moderation").post(url, payload)
    assert response.json()["status"] == "hidden"
    assert response.json()["hidden_reason"] == "Spam"
    queue = APIClient()
    queue.force_authenticate(moderator)
    assert queue.get("/api/v1/moderation-queue/").status_code == 200
    assert_error(APIClient().get("/api/v1/moderation-queue/"), 401)


def test_it_serves_campaigns_and_responses(closed_period, comment, company_editor, outsider,
                                           shift_period, api_for):  # fmt: skip
    shift_period(closed_period, closes_at=timezone.now() + timedelta(days=1))
    first = comment(UserFactory(), closed_period, "Same letter")
    comment(UserFactory(), closed_period, "Same letter")
    shift_period(closed_period, closes_at=timezone.now() - timedelta(seconds=1))
    first.refresh_from_db()
    clusters = api_for().get(f"/api/v1/comment-clusters/?period={closed_period.pk}").json()
    assert clusters["results"][0]["comment_count"] == 2
    detail = api_for().get(f"/api/v1/comment-clusters/{first.cluster_id}/").json()
    assert detail["variants"][0]["comments"] == 2
    payload = {"period": closed_period.pk, "target": "cluster", "cluster": first.cluster_id,
               "body": "Thanks"}  # fmt: skip
    assert_error(api_for(outsider).post("/api/v1/comment-responses/", payload), 403)
    created = api_for(company_editor).post("/api/v1/comment-responses/", payload)
    assert created.status_code == 201
    document = api_for().get(f"{PERIODS}{closed_period.pk}/responses/").json()
    assert document["required"] == 0  # the cluster is below the threshold of 25
    published = api_for(company_editor).post(
        f"{PERIODS}{closed_period.pk}/publish-responses/", {"summary": "Done"}
    )
    assert published.status_code == 200
    assert CommentPeriod.objects.get().responses_published_at
    assert CommentResponse.objects.count() == 1


def test_it_streams_the_docket(open_period, comment, api_for):
    comment(UserFactory(), open_period, "=HYPERLINK(evil)")
    csv = api_for().get(f"{PERIODS}{open_period.pk}/export/?format=csv")
    assert csv.status_code == 200
    text = b"".join(csv.streaming_content).decode()
    assert "'=HYPERLINK(evil)" in text
    jsonl = api_for().get(f"{PERIODS}{open_period.pk}/export/?format=jsonl")
    rows = [json.loads(line) for line in b"".join(jsonl.streaming_content).splitlines()]
    assert rows[0]["body"] == "=HYPERLINK(evil)"
    assert_error(api_for().get(f"{PERIODS}{open_period.pk}/export/?format=xml"), 400)


@pytest.fixture
def live_schema():
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def assert_documented(schema, path, method, response):
    """The answer's status is the one the reference gives, and its body fits that schema."""
    operation = schema["paths"][path][method]
    documented = json_schema_of(operation, response.status_code)
    assert documented is not None, (
        path,
        method,
        response.status_code,
        list(operation["responses"]),
    )
    errors = [e.message for e in validator_for(schema, documented).iter_errors(response.json())]
    assert not errors, (path, method, errors)


def test_the_reference_gives_the_endorsement_answers_as_sent(live_schema, open_period, comment,
                                                              citizen, outsider):  # fmt: skip
    # POST answers 201 with a body and DELETE 200 with a body (the reference said 200 and 204).
    posted = comment(citizen, open_period, "Endorse me")
    client = bearer(outsider, "write:comments")
    url = f"{COMMENTS}{posted.pk}/endorsement/"
    path = "/api/v1/comments/{id}/endorsement/"
    endorsed = client.post(url)
    assert endorsed.status_code == 201
    assert_documented(live_schema, path, "post", endorsed)
    taken_back = client.delete(url)
    assert taken_back.status_code == 200
    assert taken_back.json() == {"endorsed": False, "endorsement_count": 0}
    assert_documented(live_schema, path, "delete", taken_back)
    assert "204" not in live_schema["paths"][path]["delete"]["responses"]


def test_the_reference_gives_a_campaigns_variants(live_schema, closed_period, comment,
                                                   shift_period, api_for):  # fmt: skip
    shift_period(closed_period, closes_at=timezone.now() + timedelta(days=1))
    first = comment(UserFactory(), closed_period, "Same letter")
    comment(UserFactory(), closed_period, "Same letter")
    first.refresh_from_db()
    detail = api_for().get(f"/api/v1/comment-clusters/{first.cluster_id}/")
    assert detail.json()["variants"] == [{"body": "Same letter", "comments": 2}]
    assert_documented(live_schema, "/api/v1/comment-clusters/{id}/", "get", detail)
    documented = json_schema_of(live_schema["paths"]["/api/v1/comment-clusters/{id}/"]["get"], 200)
    name = documented["$ref"].rsplit("/", 1)[-1]
    assert "variants" in live_schema["components"]["schemas"][name]["properties"]


def test_the_reference_gives_both_export_types(live_schema, open_period, api_for):
    documented = live_schema["paths"]["/api/v1/comment-periods/{id}/export/"]["get"]
    types = set(documented["responses"]["200"]["content"])
    for fmt in ("jsonl", "csv"):
        response = api_for().get(f"{PERIODS}{open_period.pk}/export/?format={fmt}")
        assert response.status_code == 200
        assert response["Content-Type"].split(";")[0] in types, (fmt, types)
    default = api_for().get(f"{PERIODS}{open_period.pk}/export/")
    assert default["Content-Type"] == "application/x-ndjson"
