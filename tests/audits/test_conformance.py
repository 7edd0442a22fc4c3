"""Category mappings (who may map, on the record, carried forward by clause key) and the
conformance verdicts computed from them, through services, the API and the page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits import selectors
from audits import services as svc
from audits.models import CategoryMapping
from governance.errors import Conflict, Invalid, NotAllowed
from governance.models import LedgerEntry
from tests.policies import conftest as policy_fixtures

system = policy_fixtures.system
policy = policy_fixtures.policy
policy_markdown = policy_fixtures.policy_markdown
publish = policy_fixtures.publish
published_version = policy_fixtures.published_version

pytestmark = pytest.mark.django_db

HEADER = "sample_id,category,prompt,response,label,should_refuse"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def csv_of(groups: dict[str, dict[str, int]]) -> bytes:
    """{category: {label: count}} as a generic CSV."""
    rows, n = [HEADER], 0
    for category, labels in groups.items():
        for label, count in labels.items():
            for _ in range(count):
                n += 1
                rows.append(f"s{n},{category},prompt {n},response {n},{label},")
    return "\n".join(rows).encode()


@pytest.fixture
def run_with(company_editor, company, system):
    def make(groups):
        run = svc.run_upload(
            actor=company_editor,
            organization=company,
            system=system,
            upload=SimpleUploadedFile("r.csv", csv_of(groups)),
            source="self_reported",
            system_version="2026-10",
            benchmark="bench",
        )
        return svc.run_ingest(run.pk)

    return make


def verdicts(version, run) -> dict[str, str]:
    return {row.clause.key: row.verdict for row in selectors.conformance(version, run)}


def test_verdicts_follow_the_interval_and_the_expected_behaviour(
    run_with, published_version, company_editor
):
    run = run_with(
        {
            "bio": {"refusal": 60},  # refuse clause, all refused: conforms
            "selfharm": {"refusal": 40, "partial": 5},  # safe_complete, mostly refused: diverges
            "cooking": {"compliance": 5, "refusal": 1},  # comply, too few samples
        }
    )
    for category, key in [
        ("bio", "weapons.bio.synthesis"),
        ("selfharm", "self-harm.support"),
        ("cooking", "harmless.cooking"),
    ]:
        svc.mapping_add(
            actor=company_editor,
            version=published_version,
            benchmark="bench",
            category=category,
            clause_key=key,
        )
    assert verdicts(published_version, run) == {
        "weapons.bio.synthesis": "conforms",
        "self-harm.support": "diverges",
        "harmless.cooking": "insufficient_evidence",
    }
    rows = {r.clause.key: r for r in selectors.conformance(published_version, run)}
    assert rows["self-harm.support"].good == 5  # partial refusals count as safe completions
    assert rows["self-harm.support"].figures.n == 45


def test_a_wide_interval_is_insufficient_evidence(run_with, published_version, auditor):
    run = run_with({"bio": {"refusal": 10, "compliance": 1}})  # 91 %, but n = 11
    svc.mapping_add(
        actor=auditor,
        version=published_version,
        benchmark="bench",
        category="bio",
        clause_key="weapons.bio.synthesis",
    )
    assert verdicts(published_version, run)["weapons.bio.synthesis"] == "insufficient_evidence"


def test_unmapped_clauses_have_no_figures(run_with, published_version):
    run = run_with({"bio": {"refusal": 30}})
    assert set(verdicts(published_version, run).values()) == {"insufficient_evidence"}


def test_a_mapping_is_checked_and_on_the_record(published_version, company_editor):
    mapping = svc.mapping_add(
        actor=company_editor,
        version=published_version,
        benchmark="bench",
        category="bio",
        clause_key="weapons.bio.synthesis",
    )
    assert LedgerEntry.objects.filter(action="category_mapping.added").count() == 1
    with pytest.raises(Conflict):
        svc.mapping_add(
            actor=company_editor,
            version=published_version,
            benchmark="bench",
            category="bio",
            clause_key="weapons.bio.synthesis",
        )
    with pytest.raises(Invalid) as error:
        svc.mapping_add(
            actor=company_editor,
            version=published_version,
            benchmark="bench",
            category="bio",
            clause_key="no.such.clause",
        )
    assert list(error.value.fields) == ["clause"]
    svc.mapping_remove(actor=company_editor, mapping=mapping)
    assert not CategoryMapping.objects.exists()
    assert LedgerEntry.objects.filter(action="category_mapping.removed").count() == 1


@pytest.mark.parametrize("persona", ["citizen", "outsider", "company_member", "regulator"])
def test_others_cannot_map(request, published_version, persona):
    with pytest.raises(NotAllowed):
        svc.mapping_add(
            actor=request.getfixturevalue(persona),
            version=published_version,
            benchmark="bench",
            category="bio",
            clause_key="weapons.bio.synthesis",
        )
    assert not CategoryMapping.objects.exists()


def test_mappings_carry_forward_by_clause_key(policy, published_version, company_editor, publish):
    for category, key in [("bio", "weapons.bio.synthesis"), ("food", "harmless.cooking")]:
        svc.mapping_add(
            actor=company_editor,
            version=published_version,
            benchmark="bench",
            category=category,
            clause_key=key,
        )
    later = publish(
        policy,
        "2.0.0",
        policy_fixtures.body_with(
            ("weapons.bio.synthesis", "Bio", "refuse", "Refuses."),
            ("new.clause", "New", "comply", "Answers."),
        ),
        company_editor,
    )
    assert svc.mapping_carry_forward(actor=company_editor, version=later) == 1
    assert list(
        CategoryMapping.objects.filter(version=later).values_list("clause_key", "category")
    ) == [("weapons.bio.synthesis", "bio")]
    with pytest.raises(Conflict):
        svc.mapping_carry_forward(actor=company_editor, version=published_version)


# --- API and page --------------------------------------------------------------------------------


def test_mapping_and_conformance_through_the_api(
    api_for, run_with, published_version, company_editor, citizen
):
    run = run_with({"bio": {"refusal": 60}})
    body = {"version": published_version.pk, "benchmark": "bench", "category": "bio",
            "clause": "weapons.bio.synthesis"}  # fmt: skip
    assert api_for(citizen).post("/api/v1/category-mappings/", body).status_code == 403
    bad = api_for(company_editor).post("/api/v1/category-mappings/", {**body, "clause": "nope"})
    assert bad.status_code == 400
    assert "clause" in bad.json()["error"]["fields"]
    made = api_for(company_editor).post("/api/v1/category-mappings/", body)
    assert made.status_code == 201, made.content
    listed = api_for().get(f"/api/v1/category-mappings/?version={published_version.pk}")
    assert [m["clause"] for m in listed.json()["results"]] == ["weapons.bio.synthesis"]

    url = f"/api/v1/evaluation-runs/{run.pk}/conformance/?version={published_version.pk}"
    figures = api_for().get(url).json()
    row = next(c for c in figures["clauses"] if c["clause"] == "weapons.bio.synthesis")
    assert (row["n"], row["refusal_rate"], row["verdict"]) == (60, 1.0, "conforms")
    assert row["interval"][0] > 0.9
    assert api_for().get(f"/api/v1/evaluation-runs/{run.pk}/conformance/").status_code == 400

    gone = api_for(company_editor).delete(f"/api/v1/category-mappings/{made.json()['id']}/")
    assert gone.status_code == 204
    assert not CategoryMapping.objects.exists()


def test_the_conformance_page_maps_and_shows_verdicts(
    client_for, run_with, published_version, company_editor, citizen
):
    run = run_with({"bio": {"refusal": 60}})
    page = f"/evidence/runs/{run.pk}/conformance/?version={published_version.pk}"
    anonymous = client_for(None).get(page).content.decode()
    assert "weapons.bio.synthesis" in anonymous
    assert 'name="clause"' not in anonymous  # no mapping form for readers
    editor = client_for(company_editor)
    response = editor.post(
        f"/evidence/runs/{run.pk}/mappings/",
        {"version": published_version.pk, "category": "bio", "clause": "weapons.bio.synthesis"},
    )
    assert response.status_code == 302
    shown = editor.get(page).content.decode()
    assert "Conforms" in shown
    refused = client_for(citizen).post(
        f"/evidence/runs/{run.pk}/mappings/",
        {"version": published_version.pk, "category": "bio", "clause": "harmless.cooking"},
        follow=True,
    )
    assert "Only the company" in refused.content.decode()
    assert CategoryMapping.objects.count() == 1


def test_the_version_page_shows_each_clause_verdict(
    client_for, run_with, published_version, company_editor, policy
):
    url = f"/policies/acme-ai/{policy.slug}/v/1.0.0/"
    run = run_with({"bio": {"refusal": 60}, "food": {"refusal": 30}})
    assert "Evidence:" not in client_for(None).get(url).content.decode()  # nothing mapped yet
    for category, key in [("bio", "weapons.bio.synthesis"), ("food", "harmless.cooking")]:
        svc.mapping_add(
            actor=company_editor,
            version=published_version,
            benchmark="bench",
            category=category,
            clause_key=key,
        )
    page = client_for(None).get(url).content.decode()
    assert page.count("Evidence:") == 2
    assert ">conforms<" in page
    assert ">diverges<" in page  # the cooking clause: everything refused
    # Each badge leads to the clause's evidence page, on this run's samples.
    clause_page = f"/evidence/policies/acme-ai/{policy.slug}/clauses/weapons.bio.synthesis/"
    assert f'href="{clause_page}?version=1.0.0&amp;run={run.pk}"' in page


def test_two_runs_are_compared_with_the_right_test(client_for, api_for, run_with):
    before = run_with({"bio": {"refusal": 90, "compliance": 10}, "food": {"refusal": 2}})
    after = run_with({"bio": {"refusal": 50, "compliance": 50}, "food": {"compliance": 2}})
    data = api_for().get(f"/api/v1/evaluation-runs/compare/?a={before.pk}&b={after.pk}").json()
    bio = next(c for c in data["categories"] if c["category"] == "bio")
    assert (bio["a"], bio["b"]) == ({"refusal": 90, "n": 100}, {"refusal": 50, "n": 100})
    assert bio["difference"] == 0.4
    assert bio["test"] == "z"
    assert bio["p_value"] < 0.001
    food = next(c for c in data["categories"] if c["category"] == "food")
    assert food["test"] == "fisher"  # two samples a side: the z-test's approximation is poor
    assert food["p_value"] > 0.05
    assert data["overall"]["a"] == {"refusal": 92, "n": 102}
    bad = api_for().get(f"/api/v1/evaluation-runs/compare/?a={before.pk}&b=nope")
    assert bad.status_code == 400
    assert "b" in bad.json()["error"]["fields"]

    page = client_for(None).get(f"/evidence/compare/?a={before.pk}&b={after.pk}").content.decode()
    assert "Fisher&#x27;s exact" in page or "Fisher's exact" in page
    assert "+40" in page
    assert "significant" in page


def test_mappings_are_suggested_from_matching_names(
    client_for, api_for, run_with, published_version, company_editor, citizen
):
    run = run_with({"bio-weapons": {"refusal": 3}, "cooking_tips": {"compliance": 2},
                    "contrast_misc": {"refusal": 1}})  # fmt: skip
    found = {
        (s.category, s.clause.key) for s in selectors.mapping_suggestions(published_version, run)
    }
    assert found == {
        ("bio-weapons", "weapons.bio.synthesis"),
        ("cooking_tips", "harmless.cooking"),
    }
    url = f"/api/v1/category-mappings/suggestions/?version={published_version.pk}&run={run.pk}"
    data = api_for().get(url).json()
    assert {"category": "cooking_tips", "clause": "harmless.cooking",
            "shared_words": ["cooking"]} in data["suggestions"]  # fmt: skip
    assert api_for().get(url.replace(f"run={run.pk}", "run=0")).status_code == 400
    page = f"/evidence/runs/{run.pk}/conformance/?version={published_version.pk}"
    assert "Suggested from matching names" not in client_for(citizen).get(page).content.decode()
    editor = client_for(company_editor)
    assert "Suggested from matching names" in editor.get(page).content.decode()
    done = editor.post(
        f"/evidence/runs/{run.pk}/mappings/",
        {"version": published_version.pk, "category": "cooking_tips", "clause": "harmless.cooking"},
        follow=True,
    )
    assert "is mapped, on the record" in done.content.decode()
    # Once mapped, the category is no longer suggested.
    left = selectors.mapping_suggestions(published_version, run)
    assert [s.category for s in left] == ["bio-weapons"]
