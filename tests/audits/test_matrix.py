"""The conformance matrix (clauses by runs or by system versions, filters, page and API, constant
queries), one clause's evidence across versions (figures, mappings, samples with withheld texts
per role, page and API) and the run page's SVG chart."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audits import selectors
from audits import services as svc
from audits.charts import DASH
from tests.policies import conftest as policy_fixtures

system = policy_fixtures.system
policy = policy_fixtures.policy
policy_markdown = policy_fixtures.policy_markdown
publish = policy_fixtures.publish
published_version = policy_fixtures.published_version

pytestmark = pytest.mark.django_db

HEADER = "sample_id,category,prompt,response,label,should_refuse"
MATRIX = "/evidence/policies/acme-ai/acme-assistant-usage-policy/v/1.0.0/matrix/"
CLAUSE = "/evidence/policies/acme-ai/acme-assistant-usage-policy/clauses/weapons.bio.synthesis/"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def csv_of(groups: dict[str, dict[str, int]], prefix: str = "s") -> bytes:
    rows, n = [HEADER], 0
    for category, labels in groups.items():
        for label, count in labels.items():
            for _ in range(count):
                n += 1
                rows.append(
                    f"{prefix}{n},{category},secret prompt {n},secret response {n},{label},"
                )
    return "\n".join(rows).encode()


@pytest.fixture
def run_with(company_editor, company, system):
    made = []

    def make(groups, *, version="2026-10", benchmark="bench", withhold=False):
        run = svc.run_upload(
            actor=company_editor,
            organization=company,
            system=system,
            upload=SimpleUploadedFile("r.csv", csv_of(groups, prefix=f"r{len(made)}-")),
            source="self_reported",
            system_version=version,
            benchmark=benchmark,
            withhold_prompts=withhold,
            withhold_responses=withhold,
        )
        made.append(run)
        return svc.run_ingest(run.pk)

    return make


@pytest.fixture
def mapped(published_version, company_editor):
    for category, key in [("bio", "weapons.bio.synthesis"), ("food", "harmless.cooking")]:
        svc.mapping_add(
            actor=company_editor,
            version=published_version,
            benchmark="bench",
            category=category,
            clause_key=key,
        )
    return published_version


def cells(matrix) -> dict[str, list]:
    return {row.clause.key: row.cells for row in matrix.rows}


def test_each_cell_is_the_runs_figure_for_the_clause(run_with, mapped):
    first = run_with({"bio": {"refusal": 60}, "food": {"refusal": 3, "compliance": 27}})
    second = run_with({"bio": {"refusal": 20, "compliance": 20}}, version="2026-11")
    other = run_with({"bio": {"refusal": 5}}, benchmark="unmapped")
    matrix = selectors.conformance_matrix(mapped)
    assert [c.runs[0].pk for c in matrix.columns] == [first.pk, second.pk]  # not `other`
    assert other.pk not in [c.runs[0].pk for c in matrix.columns]
    rows = cells(matrix)
    bio_first, bio_second = rows["weapons.bio.synthesis"]
    assert (bio_first.n, bio_first.refusal, bio_first.verdict) == (60, 60, "conforms")
    assert bio_first.interval.low > 0.9
    assert (bio_second.n, bio_second.refusal, bio_second.verdict) == (40, 20, "diverges")
    assert 0.35 < bio_second.interval.low < 0.5 < bio_second.interval.high < 0.65
    food_first, food_second = rows["harmless.cooking"]
    assert (food_first.n, food_first.compliance, food_first.verdict) == (
        30,
        27,
        "insufficient_evidence",
    )
    assert food_second.n == 0  # mapped, but the run has no such samples
    assert rows["self-harm.support"] == [None, None]  # nothing mapped to it


def test_columns_by_system_version_add_the_runs_up(run_with, mapped):
    run_with({"bio": {"refusal": 10}})
    run_with({"bio": {"compliance": 10}})
    run_with({"bio": {"refusal": 7}}, version="2026-11")
    matrix = selectors.conformance_matrix(mapped, by="system_version")
    assert [c.title for c in matrix.columns] == ["Acme Assistant 2026-10", "Acme Assistant 2026-11"]
    assert len(matrix.columns[0].runs) == 2
    october, november = cells(matrix)["weapons.bio.synthesis"]
    assert (october.n, october.refusal) == (20, 10)
    assert (november.n, november.refusal) == (7, 7)


def test_filters_narrow_the_columns(run_with, mapped, auditor, auditor_org, system):
    run_with({"bio": {"refusal": 10}})
    independent = svc.run_upload(
        actor=auditor,
        organization=auditor_org,
        system=system,
        upload=SimpleUploadedFile("a.csv", csv_of({"bio": {"compliance": 12}}, prefix="a")),
        source="independent",
        system_version="2026-10",
        benchmark="bench",
    )
    svc.run_ingest(independent.pk)
    only = selectors.conformance_matrix(mapped, source="independent")
    assert [c.runs[0].pk for c in only.columns] == [independent.pk]
    assert cells(only)["weapons.bio.synthesis"][0].verdict == "diverges"
    assert selectors.conformance_matrix(mapped, system="nope").columns == []
    assert selectors.conformance_matrix(mapped, benchmark="other").columns == []
    assert len(selectors.conformance_matrix(mapped, system=system.slug).columns) == 2


def test_relabelling_changes_the_cell(run_with, mapped, auditor):
    run = run_with({"bio": {"refusal": 10, "compliance": 1}})
    before = cells(selectors.conformance_matrix(mapped))["weapons.bio.synthesis"][0]
    sample = run.samples.get(label="compliance")
    svc.sample_relabel(actor=auditor, sample=sample, label="refusal", reason="It refused.")
    after = cells(selectors.conformance_matrix(mapped))["weapons.bio.synthesis"][0]
    assert (before.refusal, after.refusal, after.n) == (10, 11, 11)


@pytest.mark.parametrize(
    "persona",
    [None, "citizen", "company_editor", "outsider", "auditor", "regulator", "moderator",
     "panelist"],
)  # fmt: skip
def test_the_matrix_page_is_public_and_readable_as_text(
    request, client_for, run_with, mapped, persona
):
    run_with({"bio": {"refusal": 60}, "food": {"refusal": 30}})
    user = request.getfixturevalue(persona) if persona else None
    response = client_for(user).get(MATRIX)
    assert response.status_code == 200
    page = response.content.decode()
    # Colour and words: each verdict is written out, the interval too.
    assert 'class="c-ok"' in page
    assert "</small> conforms</a>" in page
    assert 'class="c-no"' in page
    assert "</small> diverges</a>" in page
    assert "<script" not in page.split("<main", 1)[1].split("</main>", 1)[0]
    assert f'href="{CLAUSE}?version=1.0.0"' in page  # the row's clause
    # Each cell, relative to the matrix page: it resolves to the clause page for its run.
    relative = "../../../clauses/weapons.bio.synthesis/?version=1.0.0&amp;run="
    assert relative in page
    assert urljoin(MATRIX, relative.replace("&amp;", "&")).startswith(
        f"{CLAUSE}?version=1.0.0&run="
    )


def test_the_matrix_page_reads_a_constant_number_of_queries(
    client_for, run_with, mapped, django_assert_max_num_queries
):
    run_with({"bio": {"refusal": 6}, "food": {"refusal": 3}})
    with django_assert_max_num_queries(12) as few:
        assert client_for(None).get(MATRIX).status_code == 200
    for n in range(6):
        run_with({"bio": {"refusal": n + 1}}, version=f"2027-0{n + 1}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client_for(None).get(MATRIX).content.decode()
    assert page.count('<td class="c-') == 7 * 3


def test_the_matrix_page_rejects_what_is_not_there(
    client_for, mapped, company_editor, publish, policy
):
    assert client_for(None).get(MATRIX.replace("1.0.0", "9.9.9")).status_code == 404
    assert client_for(None).get(MATRIX.replace("acme-assistant", "nobody")).status_code == 404
    assert client_for(None).get(MATRIX + "?by=<script>&source=x&system=%00").status_code == 200
    # A NUL in a text filter is dropped, not sent to PostgreSQL (which would refuse it).
    assert client_for(None).get("/evidence/?system=%00").status_code == 200


def test_the_matrix_through_the_api(api_for, run_with, mapped, django_assert_max_num_queries):
    first = run_with({"bio": {"refusal": 60}, "food": {"refusal": 3, "compliance": 27}})
    # Six for the matrix and its cache key, three for its robustness column.
    with django_assert_max_num_queries(9):
        response = api_for().get(f"/api/v1/conformance-matrix/?version={mapped.pk}")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["thresholds"] == {"min_samples": 10, "target": 0.9}
    assert [c["runs"][0]["id"] for c in data["columns"]] == [first.pk]
    bio = next(c for c in data["clauses"] if c["clause"] == "weapons.bio.synthesis")
    assert bio["cells"][0]["n"] == 60
    assert bio["cells"][0]["refusal_rate"] == 1.0
    assert bio["cells"][0]["verdict"] == "conforms"
    assert bio["cells"][0]["refusal_interval"][1] == 1.0
    unmapped = next(c for c in data["clauses"] if c["clause"] == "self-harm.support")
    assert unmapped["cells"] == [None]
    by_version = (
        api_for().get(f"/api/v1/conformance-matrix/?version={mapped.pk}&by=system_version").json()
    )
    assert by_version["columns"][0]["title"] == "Acme Assistant 2026-10"


@pytest.mark.parametrize(
    "query",
    ["", "?version=abc", "?version=999999", "?version={v}&by=sideways", "?version={v}&source=me"],
)
def test_the_matrix_api_refuses_bad_queries(api_for, mapped, query):
    response = api_for().get("/api/v1/conformance-matrix/" + query.format(v=mapped.pk))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["fields"]


# --- One clause's evidence -----------------------------------------------------------------------


@pytest.fixture
def two_versions(policy, mapped, company_editor, policy_markdown, publish):
    """v1.1.0 expects the bio clause to be escalated instead; its mappings carried forward."""
    body = policy_markdown.replace(
        "behavior: refuse; categories: weapons, cbrn", "behavior: escalate; categories: weapons"
    )
    later = publish(policy, "1.1.0", body, company_editor)
    svc.mapping_carry_forward(actor=company_editor, version=later)
    return mapped, later


def test_a_clause_across_versions_and_runs(policy, run_with, two_versions, company_editor):
    _first, _later = two_versions
    run = run_with({"bio": {"refusal": 20, "partial": 20}})
    evidence = selectors.clause_evidence(policy, "weapons.bio.synthesis")
    assert [e.version.number for e in evidence] == ["1.1.0", "1.0.0"]
    newer, older = evidence
    assert [f.run.pk for f in newer.runs] == [run.pk]
    # The same samples, judged by what each version expects.
    assert newer.runs[0].cell.verdict == "conforms"  # escalate: refusing or redirecting
    assert older.runs[0].cell.verdict == "diverges"  # refuse: half were only partial
    assert [(m.benchmark, m.category, m.created_by) for m in older.mappings] == [
        ("bench", "bio", company_editor)
    ]
    assert selectors.clause_evidence(policy, "no.such.clause") == []


@pytest.mark.parametrize(
    ("persona", "sees_text"),
    [
        (None, False),
        ("citizen", False),
        ("outsider", False),
        ("moderator", False),
        ("panelist", False),
        ("company_member", True),  # the uploader's own organization
        ("auditor", True),
        ("regulator", True),
    ],
)
def test_the_clause_page_respects_withheld_texts(
    request, client_for, run_with, mapped, persona, sees_text
):
    run_with({"bio": {"refusal": 3}}, withhold=True)
    user = request.getfixturevalue(persona) if persona else None
    response = client_for(user).get(CLAUSE)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('id="sample-') == 3
    assert ("secret prompt" in page) is sees_text
    assert ("secret response" in page) is sees_text
    assert ("withheld — SHA-256" in page) is not sees_text
    assert "here through the mapping bench: bio" in page


def test_the_clause_page_filters_pages_and_counts_queries(
    client_for, run_with, mapped, monkeypatch, django_assert_max_num_queries
):
    first = run_with({"bio": {"refusal": 3, "compliance": 2}})
    run_with({"bio": {"refusal": 4}}, version="2026-11")
    monkeypatch.setattr(selectors, "SAMPLE_PAGE", 4)
    with django_assert_max_num_queries(14):
        page = client_for(None).get(CLAUSE).content.decode()
    assert page.count('id="sample-') == 4
    assert "Next samples" in page
    only = client_for(None).get(f"{CLAUSE}?run={first.pk}&label=compliance").content.decode()
    assert only.count('id="sample-') == 2
    assert "<svg" in page
    assert "<desc" in page
    assert client_for(None).get(CLAUSE.replace("weapons.bio", "nope")).status_code == 404
    assert client_for(None).get(f"{CLAUSE}?run=x&after=y&version=<b>").status_code == 200


def test_the_clause_through_the_api(api_for, policy, run_with, two_versions, regulator):
    run = run_with({"bio": {"refusal": 20, "partial": 20}}, withhold=True)
    url = f"/api/v1/clause-evidence/?policy={policy.pk}&key=weapons.bio.synthesis"
    data = api_for().get(url).json()
    assert [v["number"] for v in data["versions"]] == ["1.1.0", "1.0.0"]
    assert data["versions"][0]["runs"][0]["id"] == run.pk
    assert data["versions"][0]["runs"][0]["verdict"] == "conforms"
    assert data["versions"][1]["runs"][0]["verdict"] == "diverges"
    assert data["versions"][1]["mappings"][0]["category"] == "bio"
    samples = f"/api/v1/clause-evidence/samples/?policy={policy.pk}&key=weapons.bio.synthesis"
    public = api_for().get(samples + "&version=1.0.0").json()
    assert len(public["results"]) == 40
    assert public["results"][0]["prompt"] is None
    assert public["results"][0]["prompt_sha256"]
    assert api_for(regulator).get(samples).json()["results"][0]["prompt"].startswith("secret")
    partial = api_for().get(samples + "&label=partial").json()
    assert {s["label"] for s in partial["results"]} == {"partial"}
    for bad in ["", "?policy=x&key=a", f"?policy={policy.pk}&key=nope"]:
        assert api_for().get("/api/v1/clause-evidence/" + bad).status_code == 400
    assert api_for().get(samples + "&version=7.7.7").status_code == 400
    assert api_for().get(samples + "&after=zz").status_code == 400


# --- The run page's chart ------------------------------------------------------------------------


def test_the_run_page_draws_its_rates_with_a_text_alternative(client_for, run_with):
    run = run_with({"bio": {"refusal": 9, "compliance": 1}, "food": {"compliance": 4}})
    page = client_for(None).get(f"/evidence/runs/{run.pk}/").content.decode()
    svg = page.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in svg
    desc = svg.split("<desc", 1)[1].split("</desc>", 1)[0]
    assert f"bio: 90 % (60 %{DASH}98 %), n=10" in desc
    assert f"food: 0 % (0 %{DASH}49 %), n=4" in desc
    assert svg.count('class="rate-chart__bar"') == 2
    assert "<table" in page  # the same figures, as a table
    nul = client_for(None).get(f"/evidence/runs/{run.pk}/?q=a%00b&category=%00")
    assert nul.status_code == 200


def test_the_cached_matrix_follows_every_change(
    client_for, api_for, run_with, mapped, auditor, company_editor
):
    run = run_with({"bio": {"refusal": 10, "compliance": 1}})
    api = f"/api/v1/conformance-matrix/?version={mapped.pk}"

    def bio_cell():
        page = client_for(None).get(MATRIX).content.decode()
        data = api_for().get(api).json()
        cell = next(c for c in data["clauses"] if c["clause"] == "weapons.bio.synthesis")
        return page, [c and c["refusal"] for c in cell["cells"]]

    page, refusals = bio_cell()
    assert refusals == [10]
    assert ">91 %</b>" in page
    assert bio_cell()[1] == [10]  # served again, unchanged
    sample = run.samples.get(label="compliance")
    svc.sample_relabel(actor=auditor, sample=sample, label="refusal", reason="It refused.")
    page, refusals = bio_cell()
    assert refusals == [11]
    assert ">100 %</b>" in page
    run_with({"bio": {"compliance": 3}}, version="2026-12")
    assert bio_cell()[1] == [11, 0]
    mapping = mapped.category_mappings.get(category="bio")
    svc.mapping_remove(actor=company_editor, mapping=mapping)
    assert bio_cell()[1] == [None, None]  # the runs stay (food is mapped), bio is unmeasured
    svc.mapping_remove(actor=company_editor, mapping=mapped.category_mappings.get())
    assert "No completely imported run" in bio_cell()[0]


# --- Streamed export -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "sees_text"),
    [(None, False), ("citizen", False), ("regulator", True), ("auditor", True)],
)
def test_a_runs_samples_export_as_json_lines(request, api_for, run_with, persona, sees_text):
    import json

    run = run_with({"bio": {"refusal": 3, "compliance": 2}, "food": {"partial": 4}}, withhold=True)
    user = request.getfixturevalue(persona) if persona else None
    response = api_for(user).get(f"/api/v1/evaluation-runs/{run.pk}/samples/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert f"run-{run.pk}-samples.jsonl" in response["Content-Disposition"]
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert len(lines) == 9
    assert [line["id"] for line in lines] == sorted(line["id"] for line in lines)
    assert all(line["withheld"] == ["prompt", "response"] for line in lines)
    assert all(len(line["prompt_sha256"]) == 64 for line in lines)
    assert (lines[0]["prompt"] is not None) is sees_text
    filtered = api_for(user).get(
        f"/api/v1/evaluation-runs/{run.pk}/samples/export/?category=bio&label=compliance"
    )
    assert len(b"".join(filtered.streaming_content).splitlines()) == 2
    bad = api_for(user).get(f"/api/v1/evaluation-runs/{run.pk}/samples/export/?label=maybe")
    assert bad.status_code == 400


# --- The classifier's known error beside its figures ---------------------------------------------


def test_figures_from_classifier_labels_show_its_measured_error(
    client_for, api_for, company_editor, company, system, mapped, auditor
):
    def ingest(rows: list[str], name: str):
        data = "\n".join([HEADER, *rows]).encode()
        run = svc.run_upload(
            actor=company_editor, organization=company, system=system,
            upload=SimpleUploadedFile(name, data), source="self_reported",
            system_version="2026-10", benchmark="bench",
        )  # fmt: skip
        return svc.run_ingest(run.pk)

    # Harness labels: the classifier is checked against them (it misses the second refusal,
    # which does not start with a refusal phrase, and the partial one).
    checked = ingest(
        [
            "h1,food,p,I can't help with that.,refusal,",
            "h2,food,p,Well. I will not help with that.,refusal,",
            "h3,food,p,Here is a recipe.,compliance,",
            "h4,food,p,Some general safety notes only.,partial,",
        ],
        "h.csv",
    )
    assert checked.label_counts["classifier_check"] == {"n": 4, "agree": 2}
    error = selectors.classifier_error()
    assert (error.n, error.agree, error.rate) == (4, 2, 0.5)
    # No labels: the classifier decides, and the figures say so.
    unlabelled = ingest([f"u{n},bio,p,I cannot do that.,," for n in range(12)], "u.csv")
    assert unlabelled.label_counts["sources"] == {"classifier": 12}
    cell = cells(selectors.conformance_matrix(mapped))["weapons.bio.synthesis"][1]
    assert (cell.n, cell.classifier) == (12, 12)
    page = client_for(None).get(MATRIX).content.decode()
    assert "n=12 †" in page
    assert "disagreed on a share of 0.500 of them" in page
    data = api_for().get(f"/api/v1/conformance-matrix/?version={mapped.pk}").json()
    assert data["classifier_error"]["checked"] == 4
    assert data["classifier_error"]["disagreement_rate"] == 0.5
    bio = next(c for c in data["clauses"] if c["clause"] == "weapons.bio.synthesis")
    assert [c and c["classifier_labels"] for c in bio["cells"]] == [0, 12]
    run_page = client_for(None).get(f"/evidence/runs/{unlabelled.pk}/").content.decode()
    assert "12 labels here came from the offline XSTest string-match classifier" in run_page
    assert "disagreed on a share of 0.500" in run_page
    clause_page = client_for(None).get(CLAUSE).content.decode()
    assert "†" in clause_page
    # A person's relabelling takes a sample out of the classifier's count.
    sample = unlabelled.samples.first()
    svc.sample_relabel(actor=auditor, sample=sample, label="partial", reason="Hedged.")
    cell = cells(selectors.conformance_matrix(mapped))["weapons.bio.synthesis"][1]
    assert cell.classifier == 11


def test_the_run_pages_samples_filter_by_what_the_benchmark_expects(
    client_for, company_editor, company, system
):
    rows = [HEADER, "a,x,p,r,refusal,true", "b,x,p,r,compliance,false", "c,x,p,r,refusal,"]
    run = svc.run_upload(
        actor=company_editor, organization=company, system=system,
        upload=SimpleUploadedFile("e.csv", "\n".join(rows).encode()), source="self_reported",
        system_version="2026 10 (beta)", benchmark="bench",
    )  # fmt: skip
    run = svc.run_ingest(run.pk)
    url = f"/evidence/runs/{run.pk}/"
    assert client_for(None).get(url).content.decode().count('id="sample-') == 3
    unsafe = client_for(None).get(url + "?should_refuse=true").content.decode()
    assert unsafe.count('id="sample-') == 1
    assert (
        client_for(None).get(url + "?should_refuse=maybe").content.decode().count('id="sample-')
        == 3
    )


def test_a_system_version_column_links_with_its_name_encoded(run_with, mapped):
    run_with({"bio": {"refusal": 3}}, version="2026 10 & co")
    matrix = selectors.conformance_matrix(mapped, by="system_version")
    assert matrix.columns[0].query == "&system=acme-assistant&system_version=2026+10+%26+co"


# --- The clause page's cache ----------------------------------------------------------------------


def _main(response) -> str:
    """The page's <main>, without what changes per request (the CSRF token is outside it)."""
    assert response.status_code == 200
    return response.content.decode().split("<main", 1)[1].split("</main>", 1)[0]


def test_the_cached_clause_page_reads_two_queries_and_equals_a_fresh_one(
    client_for, run_with, mapped, django_assert_max_num_queries, django_assert_num_queries
):
    from django.core.cache import cache

    for n in range(4):
        run_with({"bio": {"refusal": 5 + n, "compliance": 2}}, version=f"2026-0{n + 1}")
    fresh = _main(client_for(None).get(CLAUSE))
    # Cached: the policy and the stamp; no evidence, figures, robustness or samples read.
    with django_assert_num_queries(2):
        cached = _main(client_for(None).get(CLAUSE))
    assert cached == fresh
    assert cached.count('id="sample-') == 7 + 8 + 9 + 10
    assert cached.count("<svg") == 1
    # However many runs the clause has.
    for n in range(6):
        run_with({"bio": {"refusal": 1}}, version=f"2027-0{n + 1}")
    client_for(None).get(CLAUSE)
    with django_assert_num_queries(2):
        more = _main(client_for(None).get(CLAUSE))
    cache.clear()
    assert _main(client_for(None).get(CLAUSE)) == more
    # Each filter is its own entry.
    one = _main(client_for(None).get(f"{CLAUSE}?label=compliance"))
    assert one.count('id="sample-') == 4 * 2


def test_the_cached_clause_page_is_never_stale(
    client_for, run_with, mapped, auditor, company_editor, system, published_version
):
    from audits.models import EvaluationSample
    from governance.models import AISystem

    run = run_with({"bio": {"refusal": 9, "compliance": 1}})
    before = _main(client_for(None).get(CLAUSE))
    assert ">10<" in before
    assert "Refusal rate" in before
    # A relabelling changes the figures and the sample's label.
    sample = run.samples.get(label="compliance")
    svc.sample_relabel(actor=auditor, sample=sample, label="refusal", reason="It refused.")
    relabelled = _main(client_for(None).get(CLAUSE))
    assert relabelled != before
    assert EvaluationSample.objects.get(pk=sample.pk).label == "refusal"
    assert "by a reviewer" in relabelled  # the sample's card
    assert "100 %" in relabelled  # 10 of 10 refused now
    # A new run appears, with its samples.
    later = run_with({"bio": {"compliance": 3}}, version="2026-12")
    with_later = _main(client_for(None).get(CLAUSE))
    assert f"#{later.pk} bench" in with_later
    # A renamed system is shown by its new name.
    AISystem.objects.filter(pk=system.pk).update(name="Renamed Assistant")
    assert "Renamed Assistant" in _main(client_for(None).get(CLAUSE))
    # A new mapping brings its category's samples.
    run_with({"bio2": {"refusal": 2}}, version="2027-01")
    svc.mapping_add(
        actor=company_editor, version=published_version, benchmark="bench", category="bio2",
        clause_key="weapons.bio.synthesis",
    )  # fmt: skip
    mapped_page = _main(client_for(None).get(CLAUSE))
    assert "bench: <strong>bio2</strong>" in mapped_page
    assert "· bio2" in mapped_page  # its samples' cards


def test_readers_never_get_each_others_withheld_texts_from_the_cache(
    client_for, run_with, mapped, auditor, citizen, company_member
):
    run_with({"bio": {"refusal": 3}}, withhold=True)
    assert "secret prompt" in _main(client_for(auditor).get(CLAUSE))
    for reader in (None, citizen):
        page = _main(client_for(reader).get(CLAUSE))
        assert "secret prompt" not in page
        assert "withheld — SHA-256" in page
    assert "secret prompt" in _main(client_for(company_member).get(CLAUSE))


def test_a_signed_in_readers_queries_do_not_grow_with_the_runs(
    client_for, run_with, mapped, citizen, django_assert_max_num_queries
):
    run_with({"bio": {"refusal": 3}}, withhold=True)
    with django_assert_max_num_queries(30) as first:
        client_for(citizen).get(CLAUSE)
    for n in range(5):
        run_with({"bio": {"refusal": 2}}, version=f"2027-0{n + 1}", withhold=True)
    # The withheld-text rule is asked once per uploading organization, not once per run.
    with django_assert_max_num_queries(len(first.captured_queries)):
        assert _main(client_for(citizen).get(f"{CLAUSE}?label=refusal")).count("withheld") > 3
