"""The API tokens pages: list, create (secret shown once, a double click creates one token),
revoke with a confirmation; only ever one's own tokens."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest
from django.urls import reverse

from governance.models import ApiToken, IdempotencyRecord
from governance.services.tokens import api_token_create, api_token_revoke

LIST = reverse("tokens:list")
CREATE = reverse("tokens:create")


def form_data(**overrides):
    data = {
        "name": "Monthly export",
        "scopes": ["read:public"],
        "expires_in_days": "90",
        "form_token": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def raw_from(html: str) -> str:
    match = re.search(r'value="(orf_[^"]+)"', html)
    assert match, "the token is not on the page"
    return match.group(1)


@pytest.fixture
def token(citizen):
    token, _raw = api_token_create(user=citizen, name="Nightly sync", scopes=["read:public"])
    return token


# --- Anonymous and wrong methods ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["tokens:list", "tokens:create"])
def test_it_sends_anonymous_visitors_to_sign_in(client_for, name):
    response = client_for(None).get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_anonymous_visitors_cannot_create_or_revoke(client_for, token):
    client = client_for(None)
    assert client.post(CREATE, form_data()).status_code == 302
    assert client.post(reverse("tokens:revoke", args=[token.pk])).status_code == 302
    assert ApiToken.objects.count() == 1
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_it_refuses_wrong_methods(client_for, citizen, token):
    client = client_for(citizen)
    assert client.put(CREATE).status_code == 405
    assert client.delete(reverse("tokens:revoke", args=[token.pk])).status_code == 405


# --- Listing -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_an_empty_state(client_for, citizen):
    response = client_for(citizen).get(LIST)
    assert response.status_code == 200
    assert b"No tokens yet" in response.content
    assert reverse("tokens:create").encode() in response.content


@pytest.mark.django_db
def test_it_lists_my_tokens_with_their_status_but_never_a_secret(
    client_for, citizen, outsider, django_assert_max_num_queries
):
    _active, raw = api_token_create(user=citizen, name="Active one", scopes=["read:public"])
    revoked, _ = api_token_create(user=citizen, name="Old one", scopes=["write:account"])
    api_token_revoke(user=citizen, token=revoked)
    api_token_create(user=outsider, name="Not mine", scopes=["read:public"])
    for n in range(10):
        api_token_create(user=citizen, name=f"extra {n}", scopes=["read:public"])
    client = client_for(citizen)
    with django_assert_max_num_queries(8):
        response = client.get(LIST)
    html = response.content.decode()
    assert "Active one" in html
    assert "Old one" in html
    assert "Not mine" not in html
    assert "Revoked" in html
    assert "Active" in html
    assert raw not in html
    assert _active.prefix in html
    assert response["Cache-Control"].startswith("max-age=0")


# --- Creating ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_creates_a_token_and_shows_it_exactly_once(client_for, citizen):
    client = client_for(citizen)
    page = client.get(CREATE)
    assert page.status_code == 200
    assert b'name="form_token"' in page.content
    response = client.post(CREATE, form_data())
    token = ApiToken.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tokens:created", args=[token.pk])

    shown = client.get(response["Location"])
    html = shown.content.decode()
    raw = raw_from(html)
    assert "won't see it again" in html
    assert "readonly" in html
    assert shown["Cache-Control"].startswith("max-age=0")
    assert token.key_sha256 == hashlib.sha256(raw.encode()).hexdigest()
    assert token.user == citizen
    assert token.scopes == ["read:public"]
    assert token.expires_at is not None

    again = client.get(response["Location"]).content.decode()
    assert raw not in again
    assert "already shown" in again
    assert raw not in str(dict(client.session))


@pytest.mark.django_db
def test_a_double_click_creates_one_token(client_for, citizen):
    client = client_for(citizen)
    data = form_data()
    first = client.post(CREATE, data)
    second = client.post(CREATE, data, follow=True)
    assert ApiToken.objects.count() == 1
    token = ApiToken.objects.get()
    # The repeat lands where the first went, and can still show the secret once.
    assert second.redirect_chain[-1][0] == first["Location"]
    html = second.content.decode()
    assert "already sent" in html
    assert hashlib.sha256(raw_from(html).encode()).hexdigest() == token.key_sha256
    assert IdempotencyRecord.objects.filter(key=f"form:{data['form_token']}").exists()


@pytest.mark.django_db
def test_a_repeat_while_the_first_is_still_saving_does_not_post_twice(client_for, citizen):
    data = form_data()
    IdempotencyRecord.objects.create(
        owner=f"user:{citizen.pk}",
        key=f"form:{data['form_token']}",
        method="POST",
        path=CREATE,
        request_sha256="",
    )
    response = client_for(citizen).post(CREATE, data, follow=True)
    assert not ApiToken.objects.exists()
    assert b"still being saved" in response.content


@pytest.mark.django_db
def test_form_tokens_are_private_to_each_person(client_for, citizen, outsider):
    data = form_data()
    client_for(citizen).post(CREATE, data)
    client_for(outsider).post(CREATE, data)
    assert ApiToken.objects.filter(user=outsider).count() == 1


@pytest.mark.django_db
def test_a_new_rendering_of_the_form_creates_another_token(client_for, citizen):
    client = client_for(citizen)
    client.post(CREATE, form_data(name="one"))
    client.post(CREATE, form_data(name="two"))
    assert ApiToken.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "x" * 101}, "at most 100 characters"),
        ({"scopes": []}, "Choose at least one scope."),
        ({"scopes": ["admin:all"]}, "not one of the available choices"),
        ({"expires_in_days": "0"}, "greater than or equal to 1"),
        ({"expires_in_days": "-1"}, "greater than or equal to 1"),
        ({"expires_in_days": "99999"}, "less than or equal to 365"),
        ({"expires_in_days": "abc"}, "Enter a whole number."),
    ],
)
def test_it_shows_bad_input_inline(client_for, citizen, overrides, message):
    data = form_data(**overrides)
    response = client_for(citizen).post(CREATE, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ApiToken.objects.exists()
    # The form token is freed, so fixing the input and sending again works.
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_a_duplicate_name_is_shown_inline_and_the_form_can_be_sent_again(client_for, citizen):
    api_token_create(user=citizen, name="Export", scopes=["read:public"])
    client = client_for(citizen)
    data = form_data(name="export")
    response = client.post(CREATE, data)
    assert response.status_code == 200
    assert "already have an active token with this name" in response.content.decode()
    data["name"] = "Export 2"
    assert client.post(CREATE, data).status_code == 302
    assert ApiToken.objects.count() == 2


@pytest.mark.django_db
def test_no_expiry_is_allowed(client_for, citizen):
    client_for(citizen).post(CREATE, form_data(expires_in_days=""))
    assert ApiToken.objects.get().expires_at is None


@pytest.mark.django_db
def test_a_hostile_name_is_escaped(client_for, citizen):
    client = client_for(citizen)
    client.post(CREATE, form_data(name="<script>alert(1)</script>"))
    html = client.get(LIST).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.django_db
def test_it_does_not_show_another_persons_new_token(client_for, outsider, token):
    response = client_for(outsider).get(reverse("tokens:created", args=[token.pk]))
    assert response.status_code == 404


# --- Revoking ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_asks_before_revoking_and_then_revokes(client_for, citizen, token):
    client = client_for(citizen)
    url = reverse("tokens:revoke", args=[token.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert b"Revoke token" in confirm.content
    assert b'method="post"' in confirm.content
    token.refresh_from_db()
    assert token.revoked_at is None

    response = client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert "no longer works" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.django_db
def test_revoking_twice_says_so(client_for, citizen, token):
    client = client_for(citizen)
    url = reverse("tokens:revoke", args=[token.pk])
    client.post(url)
    assert b"already revoked" in client.get(url).content
    response = client.post(url, follow=True)
    assert b"already revoked" in response.content


@pytest.mark.django_db
def test_others_cannot_revoke_my_token(client_for, outsider, token):
    client = client_for(outsider)
    url = reverse("tokens:revoke", args=[token.pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_an_unknown_token_is_a_404(client_for, citizen):
    assert client_for(citizen).get(reverse("tokens:revoke", args=[987654])).status_code == 404
