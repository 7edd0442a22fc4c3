"""`Idempotency-Key` on API POSTs: processed once per caller and key, replayed, conflicts and
releases; browser form tokens are covered in tests/governance/test_tokens_pages.py."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import include, path
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from governance.idempotency import claim, purge_expired_records, request_digest
from governance.models import ApiToken, IdempotencyRecord
from governance.services.tokens import api_token_create
from governance.tasks import purge_idempotency_records

URL = "/api/v1/me/tokens/"
BODY = {"name": "Export", "scopes": ["read:public"]}

# A test-only URLconf (this module) that adds views failing on purpose to the real site.
handler404 = "governance.views.errors.page_not_found"
handler500 = "governance.views.errors.server_error"
CALLS: list[str] = []


class FlakyView(APIView):
    """Fails with an exception on its first call and a 503 on its second, then succeeds."""

    def post(self, request):
        CALLS.append(request.data.get("n"))
        if len(CALLS) == 1:
            raise RuntimeError("boom")
        if len(CALLS) == 2:
            return Response({"detail": "busy"}, status=503)
        return Response({"calls": len(CALLS)}, status=201)


class UploadView(APIView):
    """Answers with what it received, so a replay can be told from a second run."""

    def post(self, request):
        CALLS.append("upload")
        upload = request.FILES["artifact"]
        return Response(
            {"size": upload.size, "note": request.data.get("note"), "run": len(CALLS)}, status=201
        )


urlpatterns = [
    path("api/v1/test-flaky/", FlakyView.as_view()),
    path("api/v1/test-upload/", UploadView.as_view()),
    path("", include("governance.urls")),
]


def post(client, key, data=BODY, url=URL):
    return client.post(url, data, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def citizen_api(citizen, api_for):
    return api_for(citizen)


@pytest.mark.django_db
def test_it_processes_a_repeat_once_and_replays_the_response(citizen, citizen_api):
    first = post(citizen_api, "key-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    second = post(citizen_api, "key-1")
    assert second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second["Location"] == first["Location"] == f"{URL}{first.json()['id']}/"
    assert ApiToken.objects.filter(user=citizen).count() == 1
    # Everything is replayed but the secret, which is shown once.
    replayed = second.json()
    assert replayed.pop("token") is None
    original = dict(first.json())
    raw = original.pop("token")
    assert raw.startswith("orf_")
    assert replayed == original
    record = IdempotencyRecord.objects.get()
    assert raw not in str(record.response_body)


@pytest.mark.django_db
def test_it_replays_an_error_response_too(citizen_api):
    first = post(citizen_api, "bad", {"name": "", "scopes": ["read:public"]})
    assert first.status_code == 400
    second = post(citizen_api, "bad", {"name": "", "scopes": ["read:public"]})
    assert second.status_code == 400
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()


@pytest.mark.django_db
def test_the_same_key_with_another_request_is_refused(citizen_api):
    assert post(citizen_api, "key-1").status_code == 201
    response = post(citizen_api, "key-1", {"name": "Other", "scopes": ["read:public"]})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert ApiToken.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_refused(citizen, citizen_api):
    token, _ = api_token_create(user=citizen, name="t", scopes=["read:public"])
    assert post(citizen_api, "k").status_code == 201
    response = post(citizen_api, "k", {}, url=f"{URL}{token.pk}/revoke/")
    assert response.status_code == 422
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_a_repeat_while_the_first_is_in_flight_gets_409(citizen, citizen_api):
    IdempotencyRecord.objects.create(
        owner=f"user:{citizen.pk}",
        key="busy",
        method="POST",
        path=URL,
        request_sha256=request_digest(JSONRenderer().render(BODY)),
    )
    response = post(citizen_api, "busy")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_in_flight"
    assert response["Retry-After"]
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_a_request_that_died_in_flight_is_taken_over_after_a_while(citizen, citizen_api):
    record = IdempotencyRecord.objects.create(
        owner=f"user:{citizen.pk}", key="dead", method="POST", path=URL, request_sha256="x"
    )
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    assert post(citizen_api, "dead").status_code == 201
    assert post(citizen_api, "dead")["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key",
    ["x" * 256, "has space", "tab\tinside", "ünïcode", ""],
    ids=["too-long", "space", "tab", "non-ascii", "empty"],
)
def test_it_refuses_a_malformed_key(citizen_api, key):
    response = post(citizen_api, key)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_idempotency_key"
    assert "Idempotency-Key" in error["fields"]
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_it_accepts_the_longest_key(citizen_api):
    assert post(citizen_api, "~" * 255).status_code == 201


@pytest.mark.django_db
def test_keys_are_private_to_each_caller(citizen, outsider, api_for):
    assert post(api_for(citizen), "shared").status_code == 201
    other = post(api_for(outsider), "shared")
    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other
    assert ApiToken.objects.filter(user=outsider).count() == 1


@pytest.mark.django_db
def test_a_token_and_a_session_of_one_person_have_separate_keys(citizen, citizen_api):
    _token, raw = api_token_create(user=citizen, name="cli", scopes=["write:account"])
    by_token = APIClient()
    by_token.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert post(by_token, "k").status_code == 201
    assert post(by_token, "k")["Idempotent-Replayed"] == "true"
    assert post(citizen_api, "k", {"name": "Other", "scopes": ["read:public"]}).status_code == 201
    assert set(IdempotencyRecord.objects.values_list("owner", flat=True)) == {
        f"token:{_token.pk}",
        f"user:{citizen.pk}",
    }


@pytest.mark.django_db
def test_an_anonymous_or_badly_authenticated_post_is_not_remembered(db):
    assert post(APIClient(), "k").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer orf_nope")
    assert post(bad, "k").status_code == 401
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_a_throttled_or_forbidden_attempt_is_handled_by_the_view(citizen):
    _token, raw = api_token_create(user=citizen, name="ro", scopes=["read:public"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = post(client, "k")
    assert response.status_code == 403
    # A 4xx is a final answer: it is replayed rather than retried.
    assert post(client, "k")["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_posts_without_a_key_and_other_methods_are_untouched(citizen_api):
    assert citizen_api.post(URL, BODY, format="json").status_code == 201
    assert citizen_api.get(URL, HTTP_IDEMPOTENCY_KEY="has space").status_code == 200
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_a_server_error_or_exception_releases_the_key(citizen, settings):
    settings.ROOT_URLCONF = __name__
    CALLS.clear()
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(citizen)
    crashed = post(client, "retry-me", {"n": 1}, url="/api/v1/test-flaky/")
    assert crashed.status_code == 500
    assert crashed.json()["error"]["code"] == "server_error"
    assert not IdempotencyRecord.objects.exists()
    busy = post(client, "retry-me", {"n": 1}, url="/api/v1/test-flaky/")
    assert busy.status_code == 503
    assert not IdempotencyRecord.objects.exists()
    done = post(client, "retry-me", {"n": 1}, url="/api/v1/test-flaky/")
    assert done.status_code == 201
    again = post(client, "retry-me", {"n": 1}, url="/api/v1/test-flaky/")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == {"calls": 3}
    assert len(CALLS) == 3


@pytest.mark.django_db
def test_an_expired_record_frees_its_key(citizen, citizen_api):
    assert post(citizen_api, "old").status_code == 201
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = post(citizen_api, "old", {"name": "New", "scopes": ["read:public"]})
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again


@pytest.mark.django_db
def test_claiming_reports_the_earlier_request(citizen):
    first = claim(owner="user:1", key="k", method="POST", path="/p", digest="d")
    second = claim(owner="user:1", key="k", method="POST", path="/p", digest="d")
    assert second.in_flight
    assert second.record.pk == first.record_id
    assert second.same_request(method="POST", path="/p", digest="d")
    assert not second.same_request(method="POST", path="/p", digest="other")
    first.release()
    assert claim(owner="user:1", key="k", method="POST", path="/p", digest="d").record_id


@pytest.mark.django_db
def test_old_records_are_purged_by_the_task_and_the_command(citizen_api):
    post(citizen_api, "a")
    post(citizen_api, "b", {"name": "B", "scopes": ["read:public"]})
    IdempotencyRecord.objects.filter(key="a").update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    assert purge_idempotency_records() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["b"]
    assert purge_expired_records(now=timezone.now() + timedelta(hours=25)) == 1
    out = StringIO()
    call_command("purge_idempotency_keys", stdout=out)
    assert "Deleted 0" in out.getvalue()


@pytest.mark.django_db
def test_a_large_multipart_upload_is_idempotent_too(citizen, settings):
    settings.ROOT_URLCONF = __name__
    CALLS.clear()
    client = APIClient()
    client.force_authenticate(citizen)
    # Larger than DATA_UPLOAD_MAX_MEMORY_SIZE, which limits fields but not files.
    content = b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024)

    def upload(data: bytes, note="run 1"):
        return client.post(
            "/api/v1/test-upload/",
            {"artifact": SimpleUploadedFile("run.jsonl", data), "note": note},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    first = upload(content)
    assert first.status_code == 201, first.content
    assert first.json() == {"size": len(content), "note": "run 1", "run": 1}
    again = upload(content)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert upload(content[:-1] + b"y").status_code == 422
    assert upload(content, note="run 2").status_code == 422
    assert CALLS == ["upload"]
