"""The home page, its activity selector, and the `local_time` / `relative_time` template tags."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import transaction
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from governance.models import User
from governance.selectors.activity import recent_activity
from governance.selectors.ledger import SYSTEM_NAME
from governance.services.ledger import ledger_append
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def url():
    return reverse("home")


def append(actor, action="organization.verified", subject="organization:1", payload=None):
    with transaction.atomic():
        return ledger_append(actor=actor, action=action, subject=subject, payload=payload)


# --- The page ---------------------------------------------------------------------------------


def test_it_is_the_site_root(url):
    assert url == "/"


def test_it_explains_the_platform_to_an_anonymous_visitor(client, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1" in html
    assert "The public record of what AI systems refuse" in html
    for pillar in ("Published policies", "Public comment", "Evidence and audits", "Appeals"):
        assert pillar in html
    assert reverse("account_signup") in html
    assert 'class="skip-link" href="#main"' in html
    assert '<main id="main"' in html


def test_it_shows_written_empty_states_when_nothing_has_happened(client, url):
    html = client.get(url).content.decode()
    assert "Open comment periods" in html
    assert "No policy is open for comment right now" in html
    assert "Nothing has been recorded yet" in html
    assert "Recent activity on the public ledger" in html


def test_it_lists_recent_ledger_activity_with_public_names_only(client, url, citizen, company):
    append(citizen, subject=f"organization:{company.pk}")
    append("system", action="invitation.expired", subject="invitation:9")
    html = client.get(url).content.decode()
    assert "Citizen Ada" in html
    assert citizen.email not in html
    assert SYSTEM_NAME in html
    assert "Organization verified" in html
    assert "Invitation expired" in html
    assert f"?subject=organization%3A{company.pk}" in html
    assert "Nothing has been recorded yet" not in html


def test_it_shows_the_latest_ten_entries_newest_first(client, url, citizen):
    for n in range(12):
        append(citizen, action=f"thing.step_{n:02d}", subject=f"thing:{n}")
    items = recent_activity(limit=10)
    assert [item.seq for item in items] == list(range(12, 2, -1))
    html = client.get(url).content.decode()
    assert "Thing step 11" in html
    assert "Thing step 02" in html
    assert "Thing step 01" not in html
    assert html.index("Thing step 11") < html.index("Thing step 02")


def test_it_counts_verified_organizations_and_ledger_entries(client, url, citizen):
    OrganizationFactory(verified_at=timezone.now())
    OrganizationFactory(verified_at=timezone.now())
    OrganizationFactory(verified_at=None)
    for n in range(3):
        append(citizen, subject=f"organization:{n}")
    response = client.get(url)
    assert response.context["counts"].verified_organizations == 2
    assert response.context["counts"].ledger_entries == 3
    html = response.content.decode()
    assert "organizations verified by our staff" in html
    assert "entries on the public ledger" in html


def test_it_resolves_every_actor_in_one_query(client, url, django_assert_max_num_queries):
    # Twelve different people: an N+1 on actor names would need 12+ queries.
    for n in range(12):
        append(UserFactory(display_name=f"Actor {n}"), subject=f"thing:{n}")
    # ledger page of entries, their actors, verified organizations, last ledger seq, and the
    # comment periods open now.
    with django_assert_max_num_queries(5):
        response = client.get(url)
    assert response.status_code == 200
    assert "Actor 11" in response.content.decode()


def test_it_keeps_a_fixed_query_count_when_signed_in(
    client_for, url, citizen, django_assert_max_num_queries
):
    for n in range(12):
        append(UserFactory(display_name=f"Actor {n}"), subject=f"thing:{n}")
    c = client_for(citizen)
    c.get(url)  # warm the session
    # + the signed-in user and allauth's e-mail lookup for the header, nothing per entry.
    with django_assert_max_num_queries(6):
        response = c.get(url)
    assert response.status_code == 200


def test_it_names_the_signed_in_person_by_public_name_never_email(client_for, url, citizen):
    html = client_for(citizen).get(url).content.decode()
    assert "Citizen Ada" in html
    assert citizen.email not in html
    assert "Sign out" in html
    assert reverse("account_signup") not in html


@pytest.mark.parametrize("persona", ["company_owner", "outsider", "auditor", "regulator", "staff"])
def test_it_renders_for_every_role(request, client_for, url, persona):
    user = request.getfixturevalue(persona)
    response = client_for(user).get(url)
    assert response.status_code == 200
    assert user.public_name in response.content.decode()


def test_it_shows_a_deleted_account_as_a_former_member(client, url, citizen):
    append(citizen)
    User.objects.filter(pk=citizen.pk).update(deleted_at=timezone.now())
    html = client.get(url).content.decode()
    assert "Former member" in html
    assert "Citizen Ada" not in html


def test_it_escapes_hostile_ledger_text(client, url, citizen):
    append(citizen, action="<script>alert(1)</script>", subject="x:<img src=x onerror=alert(1)>")
    html = client.get(url).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_it_rejects_writes(client, url):
    assert client.post(url).status_code == 405
    assert client.put(url).status_code == 405
    assert client.delete(url).status_code == 405


def test_it_answers_head(client, url):
    assert client.head(url).status_code == 200


def test_it_ignores_query_strings_it_does_not_use(client, url):
    assert client.get(url, {"page": "-1", "subject": "'; DROP TABLE x; --"}).status_code == 200


# --- Time in the reader's zone ----------------------------------------------------------------


def test_it_shows_times_in_the_zone_from_the_tz_cookie(client, url, citizen):
    entry = append(citizen)
    client.cookies["tz"] = "Asia/Tokyo"
    html = client.get(url).content.decode()
    tokyo = entry.at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert f"{tokyo:%H:%M} JST" in html
    assert f'datetime="{entry.at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"' in html


def test_it_falls_back_to_utc_for_a_bogus_tz_cookie(client, url, citizen):
    entry = append(citizen)
    client.cookies["tz"] = "../../etc/passwd"
    response = client.get(url)
    assert response.status_code == 200
    assert f"{entry.at.astimezone(UTC):%H:%M} UTC" in response.content.decode()


def test_it_prefers_the_profile_time_zone_over_the_cookie(client_for, url, citizen):
    citizen.timezone = "America/New_York"
    citizen.save(update_fields=["timezone"])
    entry = append(citizen)
    c = client_for(citizen)
    c.cookies["tz"] = "Asia/Tokyo"
    html = c.get(url).content.decode()
    local = entry.at.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    assert f"{local:%H:%M} {local.tzname()}" in html


def render(source: str, **context) -> str:
    return Template("{% load governance_tags %}" + source).render(Context(context))


def test_local_time_renders_a_time_element_in_the_active_zone():
    value = datetime(2026, 11, 22, 5, 45, tzinfo=UTC)
    with timezone.override(zoneinfo.ZoneInfo("Asia/Tokyo")):
        html = render("{% local_time value %}", value=value)
    assert html == (
        '<time datetime="2026-11-22T05:45:00Z" title="22 Nov 2026, 05:45 UTC">'
        "22 Nov 2026, 14:45 JST</time>"
    )


def test_local_time_accepts_a_format_and_dates_and_nothing():
    value = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    with timezone.override(UTC):
        assert ">2 Jan 2026<" in render('{% local_time value "j M Y" %}', value=value)
    assert render("{% local_time value %}", value=date(2026, 3, 1)) == (
        '<time datetime="2026-03-01">1 Mar 2026</time>'
    )
    assert render("{% local_time value %}", value=None) == "—"
    assert render('{% local_time value empty="never" %}', value=None) == "never"


def test_local_time_treats_naive_datetimes_as_utc():
    with timezone.override(zoneinfo.ZoneInfo("Europe/Paris")):
        html = render("{% local_time value %}", value=datetime(2026, 7, 1, 12, 0))
    assert 'datetime="2026-07-01T12:00:00Z"' in html
    assert "14:00 CEST" in html


def test_relative_time_reads_naturally():
    now = timezone.now()
    # timesince joins number and unit with a non-breaking space, so they never wrap apart.
    past = render("{% relative_time v %}", v=now - timedelta(hours=3, minutes=5))
    assert ">3\xa0hours ago<" in past
    future = render("{% relative_time v %}", v=now + timedelta(days=2, hours=1))
    assert ">in 2\xa0days<" in future
    assert ">just now<" in render("{% relative_time v %}", v=now)
    assert render("{% relative_time v %}", v=None) == "—"


# --- The selector -----------------------------------------------------------------------------


def test_activity_names_actors_and_subjects_in_a_fixed_number_of_queries(
    citizen, company, django_assert_num_queries
):
    for user in [UserFactory() for _ in range(5)]:
        append(user, action="organization.updated", subject=f"organization:{company.pk}")
    append(citizen, action="user.display_name_changed", subject=f"user:{citizen.pk}")
    with django_assert_num_queries(4):  # entries, people, organizations, users as subjects
        items = recent_activity()
    assert items[0].actor_name == "Citizen Ada"
    assert items[0].subject_label == "Citizen Ada"
    assert {item.subject_label for item in items[1:]} == {"Acme AI"}


def test_activity_labels_are_readable(citizen):
    append(citizen, action="membership.role_changed", subject="membership:7")
    append(None, action="organization.verified", subject="organization:999999")
    gone, unknown = recent_activity()
    assert unknown.action_label == "Membership role changed"
    # Types no app names, and subjects whose rows are gone, keep their reference.
    assert unknown.subject_label == "membership:7"
    assert gone.subject_label == "organization:999999"
    assert gone.actor_name == SYSTEM_NAME
