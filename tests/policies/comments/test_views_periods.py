"""Opening and extending a comment period in the browser (company editors only, times in the
reader's zone, inline errors), and where a period shows elsewhere: the version page's box and
per-clause counts, and the home page's list of open periods."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from policies.models import CommentPeriod, CommentPeriodExtension
from policies.selectors.comments import forget_period_stats
from tests.policies.comments.test_views_docket import docket_url, html_of, people

pytestmark = pytest.mark.django_db

LOCAL = "%Y-%m-%dT%H:%M"


def version_url(version, name: str = "version") -> str:
    policy = version.policy
    return reverse(f"policies:{name}", args=[policy.organization.slug, policy.slug, version.number])


def local(value: datetime, zone: str = "UTC") -> str:
    return value.astimezone(zoneinfo.ZoneInfo(zone)).strftime(LOCAL)


# --- Opening -----------------------------------------------------------------------------------


def test_it_shows_the_open_form_to_company_editors_only(
    published_version,
    client_for,
    company_editor,
    company_owner,
    company_member,
    outsider,
    citizen,
    moderator,
):
    url = version_url(published_version, "period-open")
    for user in (company_editor, company_owner):
        response = client_for(user).get(url)
        assert response.status_code == 200
        assert "Open the comment period" in html_of(response)
    for user in (company_member, outsider, citizen, moderator):
        assert client_for(user).get(url).status_code == 403
    assert client_for().get(url).status_code == 302
    assert client_for(company_editor).put(url).status_code == 405


def test_it_opens_a_period_in_the_readers_time_zone(published_version, client_for, company_editor):
    client = client_for(company_editor)
    client.cookies["tz"] = "Asia/Tokyo"
    opens = (timezone.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    closes = opens + timedelta(days=45)
    page = html_of(client.get(version_url(published_version, "period-open")))
    assert "Your time (Asia/Tokyo)" in page
    response = client.post(
        version_url(published_version, "period-open"),
        {"opens_at": local(opens, "Asia/Tokyo"), "closes_at": local(closes, "Asia/Tokyo")},
    )
    period = CommentPeriod.objects.get()
    assert response.status_code == 302
    assert response["Location"] == docket_url(period)
    assert (period.opens_at, period.closes_at) == (opens, closes)
    assert period.opened_by == company_editor


@pytest.mark.parametrize(
    ("opens", "closes", "message"),
    [
        (timedelta(minutes=5), timedelta(days=3), "lasts at least 30 days"),
        (timedelta(minutes=5), timedelta(days=400), "lasts at most 365 days"),
        (timedelta(days=-2), timedelta(days=40), "cannot open in the past"),
    ],
)
def test_it_shows_period_errors_inline(
    published_version, client_for, company_editor, opens, closes, message
):
    now = timezone.now()
    response = client_for(company_editor).post(
        version_url(published_version, "period-open"),
        {"opens_at": local(now + opens), "closes_at": local(now + closes)},
    )
    assert response.status_code == 400
    html = html_of(response)
    assert "There is a problem" in html
    assert message in html
    assert not CommentPeriod.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"opens_at": "tomorrow", "closes_at": "later"},
        {"opens_at": "2026-13-45T99:99", "closes_at": "\x00"},
        {"opens_at": "9" * 5000, "closes_at": ""},
    ],
)
def test_it_refuses_malformed_times_inline(published_version, client_for, company_editor, data):
    response = client_for(company_editor).post(version_url(published_version, "period-open"), data)
    assert response.status_code == 400
    assert "There is a problem" in html_of(response)
    assert not CommentPeriod.objects.exists()


def test_it_refuses_to_open_a_version_that_is_not_published(
    published_version, policy, policy_markdown, publish, client_for, company_editor
):
    publish(policy, "1.1.0", policy_markdown.replace("normally", "as usual"), company_editor)
    url = version_url(published_version, "period-open")  # v1.0.0, now superseded
    page = client_for(company_editor).get(url)
    assert "Only the published version of a policy can be opened for comment" in html_of(page)
    assert "Open the comment period" not in html_of(page)
    now = timezone.now()
    response = client_for(company_editor).post(
        url,
        {
            "opens_at": local(now + timedelta(minutes=5)),
            "closes_at": local(now + timedelta(days=40)),
        },
    )
    assert response.status_code == 409
    assert not CommentPeriod.objects.exists()


def test_it_sends_editors_to_the_existing_period(open_period, client_for, company_editor):
    response = client_for(company_editor).get(version_url(open_period.version, "period-open"))
    assert response.status_code == 302
    assert response["Location"] == docket_url(open_period)


# --- Extending ---------------------------------------------------------------------------------


def test_it_extends_a_period_with_a_public_reason(open_period, client_for, company_editor):
    url = docket_url(open_period, "period-extend")
    assert "Extend the period" in html_of(client_for(company_editor).get(url))
    new_close = (open_period.closes_at + timedelta(days=14)).replace(second=0, microsecond=0)
    response = client_for(company_editor).post(
        url, {"closes_at": local(new_close), "reason": "Many asked for more time."}
    )
    assert response.status_code == 302
    extension = CommentPeriodExtension.objects.get()
    assert (extension.new_closes_at, extension.reason) == (new_close, "Many asked for more time.")
    html = html_of(client_for().get(docket_url(open_period)))
    assert "Extended 1 time" in html
    assert "Reason: Many asked for more time." in html


def test_it_refuses_to_shorten_a_period_inline(open_period, client_for, company_editor):
    earlier = open_period.closes_at - timedelta(days=1)
    response = client_for(company_editor).post(
        docket_url(open_period, "period-extend"), {"closes_at": local(earlier), "reason": "x"}
    )
    assert response.status_code == 400
    assert "never shortened" in html_of(response)
    missing = client_for(company_editor).post(
        docket_url(open_period, "period-extend"),
        {"closes_at": local(open_period.closes_at + timedelta(days=1)), "reason": ""},
    )
    assert missing.status_code == 400
    assert "Public reason" in html_of(missing)
    assert not CommentPeriodExtension.objects.exists()


def test_it_refuses_to_extend_a_closed_period(closed_period, client_for, company_editor):
    url = docket_url(closed_period, "period-extend")
    page = html_of(client_for(company_editor).get(url))
    assert "a closed period cannot be extended" in page
    assert "Extend the period</button>" not in page
    response = client_for(company_editor).post(
        url, {"closes_at": local(timezone.now() + timedelta(days=9)), "reason": "Too late"}
    )
    assert response.status_code == 409
    assert not CommentPeriodExtension.objects.exists()


def test_it_lets_only_company_editors_extend(
    open_period, client_for, outsider, citizen, company_member, moderator
):
    url = docket_url(open_period, "period-extend")
    for user in (outsider, citizen, company_member, moderator):
        assert client_for(user).get(url).status_code == 403
        assert client_for(user).post(url, {"reason": "x"}).status_code == 403
    assert client_for().get(url).status_code == 302


# --- The version page and the home page ---------------------------------------------------------


def test_it_offers_editors_to_open_a_period_on_the_version_page(
    published_version, client_for, company_editor, citizen
):
    link = version_url(published_version, "period-open")
    assert link in html_of(client_for(company_editor).get(version_url(published_version)))
    for reader in (None, citizen):
        assert link not in html_of(client_for(reader).get(version_url(published_version)))


def test_it_shows_the_period_box_and_clause_counts_on_the_version_page(
    open_period, comment, client_for
):
    authors = people(3)
    comment(authors[0], open_period, "On cooking.", clause_key="harmless.cooking")
    comment(authors[1], open_period, "Also on cooking.", clause_key="harmless.cooking")
    comment(authors[2], open_period, "On the whole thing.")
    html = html_of(client_for().get(version_url(open_period.version)))
    assert "Comment period open until" in html
    assert "3 comments" in html
    assert f'<a href="{docket_url(open_period)}">Read and comment</a>' in html
    assert f'{docket_url(open_period)}?clause=harmless.cooking">2 comments on this clause' in html
    assert "Comment on this clause" in html  # the clauses nobody commented on yet


def test_it_keeps_the_version_page_query_count_constant(
    open_period, comment, client_for, citizen, django_assert_max_num_queries
):
    client = client_for(citizen)
    url = version_url(open_period.version)
    client.get(url)
    # 11: one of them is the audit findings under the clauses (audits' clause extra).
    with django_assert_max_num_queries(11) as few:
        client.get(url)
    baseline = len(few.captured_queries)
    for i, author in enumerate(people(20)):
        comment(author, open_period, f"Comment {i}", clause_key="harmless.cooking")
    forget_period_stats(open_period.pk)  # counts are cached briefly; read them afresh
    client.get(url)
    with django_assert_max_num_queries(baseline):
        response = client.get(url)
    assert "20 comments on this clause" in html_of(response)


def test_it_lists_open_periods_on_the_home_page(open_period, client_for, shift_period):
    html = html_of(client_for().get(reverse("home")))
    assert docket_url(open_period) in html
    assert "Acme Assistant Usage Policy v1.0.0" in html
    now = timezone.now()
    shift_period(open_period, opens_at=now - timedelta(days=40), closes_at=now - timedelta(days=1))
    html = html_of(client_for().get(reverse("home")))
    assert docket_url(open_period) not in html
    assert "No policy is open for comment right now" in html
