"""`/api/v1/ledger/`: list with filters and cursors, one entry, and the JSONL export."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from governance.canonical import canonical_json
from governance.models import ApiToken, LedgerEntry, User
from governance.services.ledger import entry_hash, ledger_append
from governance.services.tokens import api_token_create
from tests.factories import UserFactory

LIST = "/api/v1/ledger/"
EXPORT = "/api/v1/ledger/export/"


def append(n=1, *, actor="system", action="test.happened", subject="thing:1", payload=None):
    with transaction.atomic():
        return [
            ledger_append(
                actor=actor,
                action=action,
                subject=subject,
                payload={"i": i} if payload is None else payload,
            )
            for i in range(n)
        ]


def seqs(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["seq"] for item in response.json()["results"]]


@pytest.fixture
def varied(company, citizen):
    with transaction.atomic():
        ledger_append(actor="system", action="organization.verified", subject=company)
        ledger_append(
            actor=citizen,
            action="organization.member_added",
            subject=company,
            payload={"role": "editor"},
        )
        ledger_append(actor=citizen, action="user.display_name_changed", subject=citizen)
        ledger_append(actor="system", action="organization.verified", subject="organization:999")


# --- List -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("persona", [None, "citizen", "outsider", "regulator", "staff"])
def test_it_lists_entries_newest_first_for_everyone(request, api_for, varied, persona):
    user = request.getfixturevalue(persona) if persona else None
    response = api_for(user).get(LIST)
    assert seqs(response) == [4, 3, 2, 1]


@pytest.mark.django_db
def test_it_gives_each_entry_its_hashable_document_and_public_names(api_for, varied, citizen):
    items = api_for().get(LIST).json()["results"]
    member_added = next(i for i in items if i["seq"] == 2)
    assert member_added["actor"] == f"user:{citizen.pk}"
    assert member_added["actor_name"] == "Citizen Ada"
    assert member_added["payload"] == {"role": "editor"}
    assert member_added["url"] == "/api/v1/ledger/2/"
    assert next(i for i in items if i["seq"] == 1)["actor_name"] == "OpenRefusal (system)"
    assert "citizen@example.org" not in json.dumps(items)
    for item in items:
        # Anyone can recompute the hash from the API's own fields.
        document = {k: v for k, v in item.items() if k not in {"actor_name", "url", "hash"}}
        assert entry_hash(document) == item["hash"]


@pytest.mark.django_db
def test_it_names_deleted_accounts_former_members(api_for):
    gone = UserFactory(display_name="Gone Person")
    append(1, actor=gone)
    gone.deleted_at = timezone.now()
    gone.save()
    (item,) = api_for().get(LIST).json()["results"]
    assert item["actor_name"] == "Former member"


@pytest.mark.django_db
def test_it_filters(api_for, varied, company, citizen):
    api = api_for()
    assert seqs(api.get(LIST, {"subject": f"organization:{company.pk}"})) == [2, 1]
    assert seqs(api.get(LIST, {"subject": "organization"})) == []
    assert seqs(api.get(LIST, {"subject_type": "organization"})) == [4, 2, 1]
    assert seqs(api.get(LIST, {"subject_type": "user"})) == [3]
    assert seqs(api.get(LIST, {"subject_type": "organizatio"})) == []
    assert seqs(api.get(LIST, {"action": "organization.verified"})) == [4, 1]
    assert seqs(api.get(LIST, {"actor": f"user:{citizen.pk}"})) == [3, 2]
    assert seqs(api.get(LIST, {"actor": "system", "subject_type": "organization"})) == [4, 1]
    assert seqs(api.get(LIST, {"after": 2})) == [4, 3]
    assert seqs(api.get(LIST, {"before": 3})) == [2, 1]
    assert seqs(api.get(LIST, {"after": 1, "before": 4})) == [3, 2]


@pytest.mark.django_db
def test_it_filters_by_time(api_for):
    (old,) = append(1)
    (new,) = append(1)
    api = api_for()
    assert seqs(api.get(LIST, {"since": new.at.isoformat()})) == [2]
    assert seqs(api.get(LIST, {"until": old.at.isoformat()})) == [1]
    later = (timezone.now() + timedelta(days=1)).isoformat()
    assert seqs(api.get(LIST, {"since": later})) == []
    assert seqs(api.get(LIST, {"since": "2000-01-01", "until": later})) == [2, 1]


@pytest.mark.django_db
def test_it_walks_every_entry_by_cursor_without_duplicates_or_gaps(api_for):
    append(120)
    api = api_for()
    seen: list[int] = []
    url = f"{LIST}?page_size=25"
    pages = 0
    while url:
        body = api.get(url).json()
        seen += [item["seq"] for item in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 5
    assert seen == list(range(120, 0, -1))


@pytest.mark.django_db
def test_it_keeps_filters_in_the_cursor_links(api_for):
    append(30, action="test.kept")
    append(30, action="test.other")
    api = api_for()
    body = api.get(LIST, {"action": "test.kept", "page_size": 20}).json()
    assert "action=test.kept" in body["next"]
    second = api.get(body["next"]).json()
    assert [i["seq"] for i in second["results"]] == list(range(10, 0, -1))
    assert second["next"] is None
    back = api.get(second["previous"]).json()
    assert [i["seq"] for i in back["results"]] == list(range(30, 10, -1))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"before": "abc"}, "before"),
        ({"after": "-1"}, "after"),
        ({"after": "1.5"}, "after"),
        ({"before": "9" * 40}, "before"),
        ({"after": str(2**63)}, "after"),
        ({"since": "not-a-date"}, "since"),
        ({"until": "2026-13-45"}, "until"),
        ({"subject": "s" * 500}, "subject"),
        ({"action": "a" * 500}, "action"),
        ({"subject_type": "x" * 500}, "subject_type"),
        ({"subject": "a\x00b"}, "subject"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "cD0xMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTA="}, None),
    ],
)
def test_it_answers_bad_input_with_a_400_naming_the_field(api_for, params, field):
    append(2)
    response = api_for().get(LIST, params)
    if field is None:
        # A well-formed cursor past the end is simply an empty page, never a 500.
        assert response.status_code in (200, 400)
        return
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]


@pytest.mark.django_db
def test_it_ignores_a_nonsense_page_size(api_for):
    append(3)
    assert seqs(api_for().get(LIST, {"page_size": "lots"})) == [3, 2, 1]
    assert len(api_for().get(LIST, {"page_size": 100000}).json()["results"]) == 3


@pytest.mark.django_db
def test_it_pins_the_query_count_of_a_page(api_for, django_assert_max_num_queries):
    # Passwordless accounts: hashing 20 passwords would dominate the test's time.
    authors = User.objects.bulk_create(
        User(email=f"author{i}@example.org", display_name=f"Author {i}") for i in range(20)
    )
    with transaction.atomic():
        for i in range(100):
            ledger_append(actor=authors[i % 20], action="test.many", subject=f"thing:{i}")
    api = api_for()
    with django_assert_max_num_queries(2):  # the page and the actors' names
        response = api.get(LIST, {"page_size": 100})
    assert len(response.json()["results"]) == 100


# --- Detail ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_one_entry(api_for, citizen):
    (entry,) = append(1, actor=citizen, payload={"k": "v"})
    response = api_for().get(f"{LIST}1/")
    assert response.status_code == 200
    body = response.json()
    assert body["seq"] == 1
    assert body["hash"] == entry.hash
    assert body["prev_hash"] == "0" * 64
    assert body["actor_name"] == "Citizen Ada"


@pytest.mark.django_db
@pytest.mark.parametrize("seq", ["2", "0", "9999999999999999999", "99999999999999999999999", "x"])
def test_it_answers_404_for_an_entry_that_does_not_exist(api_for, seq):
    append(1)
    response = api_for().get(f"{LIST}{seq}/")
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_it_is_read_only(api_for, citizen, method):
    append(1)
    for user in (None, citizen):
        url = LIST if method == "post" else f"{LIST}1/"
        response = getattr(api_for(user), method)(url, {"payload": {}}, format="json")
        assert response.status_code == 405
    assert LedgerEntry.objects.count() == 1


@pytest.mark.django_db
def test_it_accepts_a_read_token_and_refuses_a_token_without_the_read_scope(client, citizen):
    append(1)
    _, reader = api_token_create(
        user=citizen, name="reader", scopes=[ApiToken.Scope.READ_PUBLIC.value]
    )
    _, writer = api_token_create(
        user=citizen, name="writer", scopes=[ApiToken.Scope.WRITE_ACCOUNT.value]
    )
    assert client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {reader}").status_code == 200
    assert client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {writer}").status_code == 403
    assert client.get(LIST, HTTP_AUTHORIZATION="Bearer orf_unknown").status_code == 401


# --- Export ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_exports_the_same_stream_as_the_page(api_for, client):
    append(7, payload={"x": "ünï", "n": [1, None, True]})
    response = api_for().get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].startswith("attachment;")
    body = b"".join(response.streaming_content)
    page_body = b"".join(client.get("/ledger/export.jsonl").streaming_content)
    assert body == page_body
    lines = body.splitlines()
    assert len(lines) == 7
    for line in lines:
        assert canonical_json(json.loads(line)) == line


@pytest.mark.django_db
def test_it_resumes_the_export_and_honours_an_ndjson_accept_header(api_for):
    append(5)
    response = api_for().get(EXPORT, {"after": 3}, HTTP_ACCEPT="application/x-ndjson")
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [4, 5]


@pytest.mark.django_db
def test_it_exports_an_empty_ledger_as_an_empty_file(api_for):
    response = api_for().get(EXPORT)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b""


@pytest.mark.django_db
@pytest.mark.parametrize("after", ["abc", "-1", "1.5", "9" * 40])
def test_it_refuses_a_bad_export_start_with_a_400(api_for, after):
    response = api_for().get(EXPORT, {"after": after})
    assert response.status_code == 400
    assert "after" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_it_refuses_writes_on_the_export(api_for, citizen):
    assert api_for(citizen).post(EXPORT, {}).status_code == 405


# --- Schema ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_documents_the_ledger_endpoints(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/ledger/", "/api/v1/ledger/{seq}/", "/api/v1/ledger/export/"} <= set(paths)
    listing = paths["/api/v1/ledger/"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"subject", "subject_type", "action", "actor", "after", "before", "since", "until"} <= (
        names
    )
    assert listing["summary"] == "List ledger entries"
    export = paths["/api/v1/ledger/export/"]["get"]
    assert "application/x-ndjson" in export["responses"]["200"]["content"]
