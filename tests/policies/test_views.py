"""The policy pages in the browser: directory, policy timeline, versions, clause histories, diffs,
following, and authoring (systems, policies, drafts with preview, publish, withdraw), per role."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance.models import AISystem, LedgerEntry
from governance.selectors.ledger import ledger_subject_labels
from policies import services
from policies.models import Policy, PolicyFollow, PolicyVersion
from policies.templatetags import policies_tags
from tests.factories import UserFactory
from tests.policies.conftest import POLICY_MARKDOWN, body_with

pytestmark = pytest.mark.django_db

ORG, SLUG = "acme-ai", "acme-assistant-usage-policy"


def url(name: str, **kwargs) -> str:
    if name in ("policy-new", "system-new"):
        return reverse(f"policies:{name}", kwargs={"org_slug": ORG, **kwargs})
    return reverse(f"policies:{name}", kwargs={"org_slug": ORG, "policy_slug": SLUG, **kwargs})


V2 = POLICY_MARKDOWN.replace(
    "behavior: refuse; categories: weapons, cbrn", "behavior: comply; categories: weapons, cbrn"
).replace("answers with care", "answers with great care")


@pytest.fixture
def two_versions(policy, published_version, publish, company_editor):
    """v1.0.0 (superseded) and v2.0.0 (published), where the bio clause goes refuse → comply."""
    assert policy.slug == SLUG
    v2 = publish(policy, "2.0.0", V2, company_editor, summary_of_changes="Loosens bio.")
    published_version.refresh_from_db()
    return published_version, v2


def html(response) -> str:
    return response.content.decode()


# --- Directory ----------------------------------------------------------------------------------


def test_it_shows_an_empty_directory(client):
    response = client.get(reverse("policies:list"))
    assert response.status_code == 200
    assert "No published policies yet" in html(response)
    assert html(response).count("<h1") == 1


def test_it_lists_published_policies_with_latest_version_and_behaviour_changes(
    client, two_versions, system
):
    response = client.get(reverse("policies:list"))
    page = html(response)
    assert "Acme Assistant Usage Policy" in page
    assert "v2.0.0" in page
    assert "Acme Assistant" in page
    assert '>1<span class="visually-hidden"> behaviour change since v1.0.0' in page
    assert 'type="application/atom+xml"' in page


def test_it_hides_policies_without_a_public_version_from_the_directory(client, policy):
    assert "Acme Assistant Usage Policy" not in html(client.get(reverse("policies:list")))


def test_it_filters_the_directory_by_organization_and_system(
    client, two_versions, other_company, outsider, publish
):
    other = services.policy_create(actor=outsider, organization=other_company, title="Other Rules")
    publish(other, "1.0.0", POLICY_MARKDOWN, outsider)
    everything = html(client.get(reverse("policies:list")))
    assert "Other Rules" in everything
    assert "Acme Assistant Usage Policy" in everything
    only_acme = html(client.get(reverse("policies:list"), {"organization": ORG}))
    assert "Other Rules" not in only_acme
    assert "Acme Assistant Usage Policy" in only_acme
    by_system = html(client.get(reverse("policies:list"), {"system": f"{ORG}/acme-assistant"}))
    assert "Other Rules" not in by_system
    assert "Acme Assistant Usage Policy" in by_system


def test_it_rejects_an_unknown_directory_filter_inline(client, two_versions):
    response = client.get(reverse("policies:list"), {"organization": "<script>"})
    assert response.status_code == 400
    assert "Select a valid choice" in html(response)
    assert "<script>" not in html(response)


def test_it_answers_htmx_filters_with_the_results_only(client, two_versions):
    response = client.get(reverse("policies:list"), {"organization": ORG}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert html(response).lstrip().startswith('<section id="policy-results"')
    assert "<h1" not in html(response)


def test_it_lists_many_policies_in_a_constant_number_of_queries(
    client, company, company_editor, policy_markdown, publish, django_assert_max_num_queries
):
    for n in range(12):
        p = services.policy_create(actor=company_editor, organization=company, title=f"P{n}")
        publish(p, "1.0.0", policy_markdown, company_editor)
        publish(p, "1.1.0", V2, company_editor)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("policies:list"))
    assert html(response).count('>1<span class="visually-hidden"> behaviour change') == 12


# --- Policy page --------------------------------------------------------------------------------


def test_it_shows_the_timeline_to_anonymous_readers(client, two_versions):
    response = client.get(url("detail"))
    page = html(response)
    assert response.status_code == 200
    assert page.count("<h1") == 1
    assert "Version 2.0.0" in page
    assert "Version 1.0.0" in page
    assert "Superseded" in page
    assert "Loosens bio." in page
    assert "weapons.bio.synthesis" in page
    assert url("diff", old="1.0.0", new="2.0.0") in page
    assert (
        'type="application/atom+xml" title="Acme Assistant Usage Policy: new versions (Atom)" '
        f'href="{url("policy-feed")}"' in page
    )
    assert "Sign in to follow this policy" in page
    assert "1.1.0" not in page


@pytest.mark.parametrize("persona", ["citizen", "outsider"])
def test_it_hides_drafts_on_the_timeline_from_non_members(
    client_for, draft_version, persona, request
):
    page = html(client_for(request.getfixturevalue(persona)).get(url("detail")))
    assert "1.1.0" not in page
    assert "Continue draft" not in page


def test_it_shows_the_draft_to_members_and_the_edit_link_to_editors(
    client_for, draft_version, company_member, company_editor
):
    member_page = html(client_for(company_member).get(url("detail")))
    assert "Version 1.1.0" in member_page
    assert "Continue draft" not in member_page
    editor_page = html(client_for(company_editor).get(url("detail")))
    assert "Continue draft v1.1.0" in editor_page


def test_it_shows_the_reason_of_a_withdrawn_version_publicly(client, two_versions, company_editor):
    services.version_withdraw(actor=company_editor, version=two_versions[1], reason="Wrong file.")
    page = html(client.get(url("detail")))
    assert "Withdrawn" in page
    assert "Wrong file." in page


def test_it_answers_404_for_unknown_policies_and_unpublished_ones(client, policy):
    assert client.get(url("detail")).status_code == 404
    bad = reverse("policies:detail", kwargs={"org_slug": ORG, "policy_slug": "nope"})
    assert client.get(bad).status_code == 404


def _count_queries(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_it_lists_versions_in_a_constant_number_of_queries(client, policy, company_editor, publish):
    bodies = [
        body_with(("a.b", "A", "refuse", f"Text {n}"), ("c.d", "C", "comply", "Same"))
        for n in range(30)
    ]
    for n in range(3):
        publish(policy, f"{n + 1}.0.0", bodies[n], company_editor)
    few = _count_queries(client, url("detail"))
    for n in range(3, 30):
        publish(policy, f"{n + 1}.0.0", bodies[n], company_editor)
    from django.core.cache import cache

    cache.clear()
    many = _count_queries(client, url("detail"))
    assert many == few
    assert many <= 8


# --- Following ----------------------------------------------------------------------------------


def test_it_sends_anonymous_followers_to_sign_in(client, two_versions):
    response = client.post(url("follow"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    assert not PolicyFollow.objects.exists()


def test_it_follows_and_unfollows_without_javascript(client_for, citizen, two_versions):
    c = client_for(citizen)
    assert c.post(url("follow")).status_code == 302
    assert PolicyFollow.objects.filter(user=citizen).count() == 1
    assert "Following" in html(c.get(url("detail")))
    c.post(url("follow"))
    assert not PolicyFollow.objects.filter(user=citizen).exists()


def test_it_swaps_the_follow_button_with_htmx(client_for, citizen, two_versions):
    response = client_for(citizen).post(url("follow"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert html(response).lstrip().startswith('<div id="follow-button"')
    assert 'aria-pressed="true"' in html(response)


def test_it_refuses_following_by_an_unverified_account(client_for, two_versions):
    user = UserFactory(verified=False)
    response = client_for(user).post(url("follow"), follow=True)
    assert not PolicyFollow.objects.exists()
    assert response.status_code == 200


def test_it_refuses_get_on_follow(client_for, citizen, two_versions):
    assert client_for(citizen).get(url("follow")).status_code == 405


# --- Version page -------------------------------------------------------------------------------


def test_it_renders_a_published_version(client, two_versions):
    _, v2 = two_versions
    response = client.get(url("version", number="2.0.0"))
    page = html(response)
    assert response.status_code == 200
    assert page.count("<h1") == 1
    assert 'id="weapons.bio.synthesis"' in page
    assert f"{url('version', number='2.0.0')}#weapons.bio.synthesis" in page
    assert url("clause-history", key="weapons.bio.synthesis") in page
    assert 'href="#harmless.cooking"' in page
    assert "behavior--comply" in page
    assert "Comply" in page
    assert v2.content_sha256 in page
    assert v2.previous_sha256 in page
    assert "js/policies.js" in page


def test_it_marks_a_superseded_version_and_links_to_the_current_one(client, two_versions):
    page = html(client.get(url("version", number="1.0.0")))
    assert "Superseded" in page
    assert url("version", number="2.0.0") in page


def test_it_shows_a_withdrawn_version_with_its_reason(client, two_versions, company_editor):
    services.version_withdraw(actor=company_editor, version=two_versions[1], reason="A mistake.")
    response = client.get(url("version", number="2.0.0"))
    assert response.status_code == 200
    assert "Withdrawn" in html(response)
    assert "A mistake." in html(response)


@pytest.mark.parametrize("persona", [None, "citizen", "outsider"])
def test_it_hides_drafts_from_everyone_outside_the_organization(
    client_for, draft_version, persona, request
):
    user = request.getfixturevalue(persona) if persona else None
    assert client_for(user).get(url("version", number="1.1.0")).status_code == 404


def test_it_shows_a_draft_with_its_parse_errors_to_members(
    client_for, policy, company_editor, company_member
):
    services.version_draft_create(
        actor=company_editor,
        policy=policy,
        number="1.0.0",
        body_markdown="## No key here\nbehavior: refuse\n\nText.\n",
    )
    response = client_for(company_member).get(url("version", number="1.0.0"))
    assert response.status_code == 200
    assert "This draft does not parse" in html(response)
    assert "Line 1:" in html(response)


def test_it_answers_404_for_a_missing_version(client, two_versions):
    assert client.get(url("version", number="9.9.9")).status_code == 404
    assert client.get(f"{url('detail')}v/1.0/").status_code == 404


def test_it_renders_hostile_markdown_safely(client, policy, company_editor, publish):
    hostile = body_with(
        (
            "x.y",
            "Hostile",
            "refuse",
            "<script>alert(1)</script> [click](javascript:alert(2)) "
            '<img src=x onerror="alert(3)"> ![i](data:image/png;base64,AAAA) '
            '<a href="https://example.org" onclick="alert(4)">raw</a>',
        )
    )
    publish(policy, "1.0.0", hostile, company_editor)
    page = html(client.get(url("version", number="1.0.0")))
    assert "<script>alert" not in page
    assert 'href="javascript' not in page
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+=", page), "no event handler attributes"
    assert 'src="data:' not in page
    assert "&lt;script&gt;" in page


def test_it_renders_registered_clause_extras_and_nothing_without_them(
    client, two_versions, settings, tmp_path
):
    assert "clause-extra-probe" not in html(client.get(url("version", number="2.0.0")))
    template_dir = tmp_path / "templates"
    (template_dir / "probe").mkdir(parents=True)
    (template_dir / "probe" / "extra.html").write_text(
        '<span class="clause-extra-probe">{{ clause.key }}:{{ extra }}</span>'
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], template_dir]}
    ]
    calls = []

    def prepare(clauses):
        calls.append(len(clauses))
        return {c.pk: "n=7" for c in clauses}

    policies_tags.register_clause_extra("probe/extra.html", prepare=prepare)
    try:
        page = html(client.get(url("version", number="2.0.0")))
    finally:
        policies_tags.unregister_clause_extra("probe/extra.html")
    assert '<span class="clause-extra-probe">weapons.bio.synthesis:n=7</span>' in page
    assert calls == [3], "prepare runs once per page with all its clauses"


# --- Clause history -----------------------------------------------------------------------------


def test_it_shows_one_clause_across_versions(client, two_versions, publish, company_editor):
    without_bio = body_with(("harmless.cooking", "Cooking", "comply", "Recipes."))
    publish(two_versions[1].policy, "3.0.0", without_bio, company_editor)
    response = client.get(url("clause-history", key="weapons.bio.synthesis"))
    page = html(response)
    assert response.status_code == 200
    assert page.count("<h1") == 1
    assert "First appears" in page
    assert "Behaviour refuse → comply" in page
    assert "Not in this version" in page
    assert "Absent" in page


def test_it_answers_404_for_unknown_or_malformed_clause_keys(client, two_versions):
    assert client.get(url("clause-history", key="no.such.key")).status_code == 404
    assert client.get(url("clause-history", key="BAD..KEY")).status_code == 404


# --- Diffs --------------------------------------------------------------------------------------


def test_it_puts_behaviour_changes_first_in_a_diff(client, two_versions):
    response = client.get(url("diff", old="1.0.0", new="2.0.0"))
    page = html(response)
    assert response.status_code == 200
    assert page.count("<h1") == 1
    assert "weapons.bio.synthesis" in page
    assert "refuse → comply" in page
    assert page.index("Behaviour changes") < page.index("Clause by clause")
    assert "<ins>great </ins>" in page or "<ins>great" in page


def test_it_shows_a_side_by_side_diff(client, two_versions):
    page = html(client.get(url("diff", old="1.0.0", new="2.0.0") + "?view=side-by-side"))
    assert 'class="table diff-table"' in page
    assert "<ins>" in page
    assert "diff-text" in page


def test_it_says_there_is_no_difference_between_a_version_and_itself(client, two_versions):
    page = html(client.get(url("diff", old="2.0.0", new="2.0.0")))
    assert "No differences" in page


def test_it_sends_the_version_picker_to_the_diff_address(client, two_versions):
    response = client.get(url("diff-pick"), {"old": "1.0.0", "new": "2.0.0", "view": "unified"})
    assert response.status_code == 302
    assert response["Location"] == url("diff", old="1.0.0", new="2.0.0")


def test_it_rejects_a_bad_version_pick_inline(client, two_versions):
    response = client.get(url("diff-pick"), {"old": "7.0.0", "new": "<b>"})
    assert response.status_code == 400
    assert "Select a valid choice" in html(response)


def test_it_hides_diffs_with_drafts_from_outsiders(
    client_for, draft_version, outsider, company_member
):
    path = url("diff", old="1.0.0", new="1.1.0")
    assert client_for(outsider).get(path).status_code == 404
    response = client_for(company_member).get(path)
    assert response.status_code == 200
    assert "crisis" in html(response)


def test_it_diffs_in_a_constant_number_of_queries(
    client, two_versions, django_assert_max_num_queries
):
    client.get(url("diff", old="1.0.0", new="2.0.0"))
    with django_assert_max_num_queries(8):
        client.get(url("diff", old="1.0.0", new="2.0.0"))


# --- Authoring: systems and policies ------------------------------------------------------------


def test_it_lets_an_editor_register_a_system(client_for, company_editor, company):
    response = client_for(company_editor).post(
        url("system-new"), {"name": "Acme Coder", "description": "Code model."}
    )
    assert response.status_code == 302
    system = AISystem.objects.get(name="Acme Coder")
    assert LedgerEntry.objects.filter(subject=f"aisystem:{system.pk}").exists()


def test_it_rejects_a_system_without_a_name_inline(client_for, company_editor, company):
    response = client_for(company_editor).post(url("system-new"), {"name": "  "})
    assert response.status_code == 400
    assert "There is a problem" in html(response)
    assert not AISystem.objects.exists()


@pytest.mark.parametrize("persona", ["company_member", "outsider", "citizen"])
def test_it_refuses_system_and_policy_creation_to_non_editors(
    client_for, company, persona, request
):
    c = client_for(request.getfixturevalue(persona))
    assert c.get(url("system-new")).status_code == 403
    assert c.post(url("system-new"), {"name": "X"}).status_code == 403
    assert c.get(url("policy-new")).status_code == 403
    assert c.post(url("policy-new"), {"title": "X"}).status_code == 403
    assert not AISystem.objects.exists()
    assert not Policy.objects.exists()


def test_it_sends_anonymous_authors_to_sign_in(client, company):
    for path in (url("system-new"), url("policy-new")):
        response = client.get(path)
        assert response.status_code == 302
        assert reverse("account_login") in response["Location"]


def test_it_lets_an_editor_create_a_policy_and_go_write_it(client_for, company_editor, system):
    response = client_for(company_editor).post(
        url("policy-new"), {"title": "Acme Assistant Usage Policy", "systems": [system.pk]}
    )
    assert response.status_code == 302
    assert response["Location"] == url("draft-new")
    assert list(Policy.objects.get().systems.all()) == [system]


def test_it_refuses_another_organizations_system_on_a_policy(
    client_for, company_editor, company, outsider, other_company
):
    theirs = services.ai_system_create(actor=outsider, organization=other_company, name="Theirs")
    response = client_for(company_editor).post(
        url("policy-new"), {"title": "T", "systems": [theirs.pk]}
    )
    assert response.status_code == 400
    assert not Policy.objects.exists()


def test_it_lets_an_editor_change_a_policy(client_for, company_editor, policy):
    response = client_for(company_editor).post(
        url("policy-edit"), {"title": "Renamed", "summary": ""}
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.title == "Renamed"


def test_it_refuses_policy_edits_to_outsiders(client_for, outsider, policy):
    assert client_for(outsider).post(url("policy-edit"), {"title": "X"}).status_code == 403


# --- Authoring: drafts --------------------------------------------------------------------------


def _draft_data(**overrides):
    data = {
        "number": "1.0.0",
        "summary_of_changes": "First.",
        "body_markdown": POLICY_MARKDOWN,
        "save": "1",
    }
    data.update(overrides)
    return data


def test_it_saves_a_new_draft_and_keeps_text_with_parse_errors(client_for, company_editor, policy):
    broken = "## Missing behaviour {#a.b}\n\nText.\n"
    response = client_for(company_editor).post(url("draft-new"), _draft_data(body_markdown=broken))
    assert response.status_code == 302
    draft = PolicyVersion.objects.get(policy=policy)
    assert draft.is_draft
    assert draft.body_markdown == broken
    page = html(client_for(company_editor).get(url("draft-edit")))
    assert 'class="parse-errors__line">Line 3:' in page


def test_it_previews_without_saving_when_javascript_is_off(client_for, company_editor, policy):
    response = client_for(company_editor).post(
        url("draft-new"), {**_draft_data(), "preview": "1", "save": ""}
    )
    assert response.status_code == 200
    assert "Biological weapons synthesis" in html(response)
    assert "3 clauses" in html(response)
    assert not PolicyVersion.objects.exists()


def test_it_answers_the_live_preview_with_a_partial(client_for, company_editor, policy):
    response = client_for(company_editor).post(
        url("draft-preview"),
        {"body_markdown": "## Bad {#BAD}\nbehavior: refuse\n\nx\n"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert html(response).lstrip().startswith('<section id="draft-preview"')
    assert "Line 1:" in html(response)


@pytest.mark.parametrize("persona", ["company_member", "outsider", "citizen"])
def test_it_refuses_drafting_to_non_editors(client_for, policy, persona, request):
    c = client_for(request.getfixturevalue(persona))
    assert c.get(url("draft-new")).status_code == 403
    assert c.post(url("draft-new"), _draft_data()).status_code == 403
    assert c.post(url("draft-preview"), {"body_markdown": "x"}).status_code == 403
    assert not PolicyVersion.objects.exists()


def test_it_sends_anonymous_drafters_to_sign_in(client, policy):
    assert client.post(url("draft-preview"), {"body_markdown": "x"}).status_code == 302
    assert client.get(url("draft-edit")).status_code == 302


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("p.md", "é".encode("latin-1")), "not UTF-8"),
        (SimpleUploadedFile("p.md", b"a" * 1_000_001), "the limit is 1,000,000 bytes"),
        (SimpleUploadedFile("p.pdf", b"%PDF-1.4"), "ends in .md"),
        (SimpleUploadedFile("p.md", b"## A {#a}\x00"), "NUL"),
    ],
)
def test_it_rejects_bad_uploads_inline(client_for, company_editor, policy, upload, message):
    response = client_for(company_editor).post(
        url("draft-new"), {**_draft_data(body_markdown=""), "upload": upload}
    )
    assert response.status_code == 400
    assert message in html(response)
    assert not PolicyVersion.objects.exists()


def test_it_takes_the_text_from_an_uploaded_file(client_for, company_editor, policy):
    upload = SimpleUploadedFile("policy.md", POLICY_MARKDOWN.encode(), content_type="text/markdown")
    response = client_for(company_editor).post(
        url("draft-new"), {**_draft_data(body_markdown=""), "upload": upload}
    )
    assert response.status_code == 302
    assert PolicyVersion.objects.get().body_markdown.startswith("# Acme Assistant")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"number": "1.0"}, "major.minor.patch"),
        ({"number": "01.0.0"}, "major.minor.patch"),
        ({"body_markdown": "   "}, "Write the policy text"),
        ({"summary_of_changes": "x" * 5001}, "at most 5000"),
    ],
)
def test_it_rejects_bad_draft_input_inline(client_for, company_editor, policy, overrides, message):
    response = client_for(company_editor).post(url("draft-new"), _draft_data(**overrides))
    assert response.status_code == 400
    assert message in html(response)
    assert not PolicyVersion.objects.exists()


def test_it_refuses_a_version_number_that_goes_backwards(
    client_for, company_editor, published_version
):
    response = client_for(company_editor).post(url("draft-new"), _draft_data(number="0.9.0"))
    assert response.status_code == 400
    assert PolicyVersion.objects.filter(status="draft").count() == 0


def test_it_updates_the_draft(client_for, company_editor, draft_version):
    response = client_for(company_editor).post(
        url("draft-edit"), _draft_data(number="1.2.0", summary_of_changes="Changed.")
    )
    assert response.status_code == 302
    draft_version.refresh_from_db()
    assert draft_version.number == "1.2.0"
    assert draft_version.summary_of_changes == "Changed."


def test_it_sends_draft_new_to_the_existing_draft(client_for, company_editor, draft_version):
    response = client_for(company_editor).get(url("draft-new"))
    assert response.status_code == 302
    assert response["Location"] == url("draft-edit")


def test_it_deletes_a_draft(client_for, company_editor, draft_version):
    assert client_for(company_editor).get(url("draft-delete")).status_code == 200
    assert client_for(company_editor).post(url("draft-delete")).status_code == 302
    assert not PolicyVersion.objects.filter(status="draft").exists()


# --- Publish and withdraw -----------------------------------------------------------------------


def test_it_shows_what_will_be_published_then_publishes(
    client_for, company_editor, published_version, policy
):
    services.version_draft_create(
        actor=company_editor, policy=policy, number="2.0.0", body_markdown=V2,
        summary_of_changes="Loosens bio.",
    )  # fmt: skip
    c = client_for(company_editor)
    page = html(c.get(url("publish")))
    assert "Publish version 2.0.0" in page
    assert "refuse → comply" in page
    response = c.post(url("publish"), {"form_token": "6f1c1e9e-5a43-4f8e-9d1c-0e1a2b3c4d5e"})
    assert response.status_code == 302
    assert response["Location"] == url("version", number="2.0.0")
    assert PolicyVersion.objects.get(major=2).status == "published"
    # The same form sent again (double click) publishes nothing more and lands on the result.
    again = c.post(url("publish"), {"form_token": "6f1c1e9e-5a43-4f8e-9d1c-0e1a2b3c4d5e"})
    assert again.status_code == 302
    assert LedgerEntry.objects.filter(action="policy_version.published").count() == 2


def test_it_refuses_to_publish_a_draft_that_does_not_parse(client_for, company_editor, policy):
    services.version_draft_create(
        actor=company_editor, policy=policy, number="1.0.0",
        body_markdown="## T {#a}\n\nno behaviour\n", summary_of_changes="x",
    )  # fmt: skip
    c = client_for(company_editor)
    assert "does not parse" in html(c.get(url("publish")))
    response = c.post(url("publish"))
    assert response.status_code == 400
    assert "There is a problem" in html(response)
    assert PolicyVersion.objects.get().status == "draft"


@pytest.mark.parametrize("persona", ["company_member", "outsider", "citizen"])
def test_it_refuses_publishing_and_withdrawing_to_non_editors(
    client_for, draft_version, persona, request
):
    c = client_for(request.getfixturevalue(persona))
    assert c.post(url("publish")).status_code == 403
    assert c.post(url("withdraw", number="1.0.0"), {"reason": "x"}).status_code in (403, 404)
    assert PolicyVersion.objects.get(pk=draft_version.pk).status == "draft"
    assert not PolicyVersion.objects.filter(status="withdrawn").exists()


def test_it_withdraws_with_a_reason(client_for, company_editor, published_version):
    c = client_for(company_editor)
    missing = c.post(url("withdraw", number="1.0.0"), {"reason": "   "})
    assert missing.status_code == 400
    assert "Say why" in html(missing) or "required" in html(missing)
    published_version.refresh_from_db()
    assert published_version.status == "published"
    response = c.post(url("withdraw", number="1.0.0"), {"reason": "Published by mistake."})
    assert response.status_code == 302
    published_version.refresh_from_db()
    assert published_version.status == "withdrawn"
    assert published_version.withdrawn_reason == "Published by mistake."
    again = c.post(url("withdraw", number="1.0.0"), {"reason": "Again."})
    assert again.status_code == 409
    assert "already withdrawn" in html(again)


def test_it_has_no_withdraw_page_for_a_draft(client_for, company_editor, draft_version):
    assert client_for(company_editor).get(url("withdraw", number="1.1.0")).status_code == 404


# --- Organization page and ledger names ---------------------------------------------------------


def test_it_lists_systems_and_policies_on_the_organization_page(
    client, client_for, two_versions, company_editor
):
    path = reverse("organizations:detail", kwargs={"slug": ORG})
    page = html(client.get(path))
    assert "AI systems and policies" in page
    assert "Acme Assistant Usage Policy" in page
    assert "v2.0.0" in page
    assert "New policy" not in page
    assert "New policy" in html(client_for(company_editor).get(path))


def test_it_names_policy_subjects_on_the_ledger(two_versions, system, policy):
    _v1, v2 = two_versions
    labels = ledger_subject_labels(
        [f"policy:{policy.pk}", f"policyversion:{v2.pk}", f"aisystem:{system.pk}"]
    )
    assert labels[f"policy:{policy.pk}"] == "Acme Assistant Usage Policy"
    assert labels[f"policyversion:{v2.pk}"] == "Acme Assistant Usage Policy v2.0.0"
    assert labels[f"aisystem:{system.pk}"] == "Acme Assistant"
