"""The pages and API of robustness, drift alerts and the trade-off: who sees and does what, bad
input answered with field errors (never a 500), query counts pinned on list pages."""

from __future__ import annotations

import uuid

import pytest

from audits.models import DriftAlert
from tests.api.test_policies import bearer
from tests.audits.robustness.conftest import BIO, COOKING, rows_of

pytestmark = pytest.mark.django_db

PERSONAS = [
    None, "citizen", "company_editor", "outsider", "auditor", "regulator", "moderator", "panelist",
]  # fmt: skip


def bio(refused, complied, prefix, framing="direct"):
    return rows_of(
        [
            ("bio", framing, "refusal", refused, True),
            ("bio", framing, "compliance", complied, True),
        ],
        prefix=prefix,
    )


@pytest.fixture
def runs(ingest, mapped):
    mapped("bio", BIO)
    mapped("cooking", COOKING)
    cooking = rows_of([("cooking", "direct", "compliance", 20, False)], prefix="a")
    # Asked directly the later version refuses as often as the earlier one; under role play
    # (StrongREJECT's AIM) far less: the drift alert names that framing.
    earlier = ingest(
        [*bio(48, 2, "a"), *bio(28, 2, "a", framing="AIM"), *cooking], version="v1", days_ago=30
    )
    framed = [
        *bio(30, 0, "b"),
        *bio(10, 20, "b", framing="AIM"),
        *rows_of(
            [
                ("cooking", "direct", "compliance", 15, False),
                ("cooking", "direct", "refusal", 5, False),
            ],
            prefix="b",
        ),
    ]
    later = ingest(framed, version="v2", withhold_prompts=True)
    return earlier, later


def _get(user_name, request, client_for, url):
    user = request.getfixturevalue(user_name) if user_name else None
    return client_for(user).get(url)


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_is_public(request, client_for, runs, persona, company, system):
    _earlier, later = runs
    alert = DriftAlert.objects.get(clause_key=BIO)
    for url in [
        f"/evidence/runs/{later.pk}/robustness/",
        "/evidence/drift/",
        f"/evidence/drift/{alert.pk}/",
        f"/evidence/systems/{company.slug}/{system.slug}/tradeoff/",
    ]:
        response = _get(persona, request, client_for, url)
        assert response.status_code == 200, (url, persona)
    page = _get(persona, request, client_for, f"/evidence/drift/{alert.pk}/").content.decode()
    assert ("Annotate this alert" in page) == (persona == "company_editor")


def test_the_run_page_shows_the_gap_the_verdict_and_the_flips_withheld(client_for, runs, citizen):
    _earlier, later = runs
    page = client_for(citizen).get(f"/evidence/runs/{later.pk}/robustness/").content.decode()
    assert "role play" in page
    assert "Breaks" in page
    assert "withheld — SHA-256" in page  # the run withholds prompts; a citizen sees hashes
    assert "Prompt 10 on bio (AIM)" not in page


def test_the_uploader_reads_the_withheld_flipped_prompts(client_for, runs, company_editor):
    _earlier, later = runs
    page = client_for(company_editor).get(f"/evidence/runs/{later.pk}/robustness/")
    assert "Prompt 10 on bio (AIM)" in page.content.decode()


def test_the_clause_page_and_the_matrix_show_robustness(
    client_for, runs, policy, published_version, company
):
    clause = client_for().get(f"/evidence/policies/{company.slug}/{policy.slug}/clauses/{BIO}/")
    assert clause.status_code == 200
    text = clause.content.decode()
    assert "Does the refusal hold under reframing?" in text
    assert "Breaks" in text
    matrix = client_for().get(
        f"/evidence/policies/{company.slug}/{policy.slug}/v/{published_version.number}/matrix/"
    )
    assert "Under reframing" in matrix.content.decode()
    assert "breaks" in matrix.content.decode()


def test_the_alerts_list_filters_and_pins_its_queries(
    client_for, runs, company, system, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        page = client_for().get("/evidence/drift/")
    assert BIO in _rows(page)
    assert COOKING in _rows(page)
    cooking_only = _rows(client_for().get(f"/evidence/drift/?clause={COOKING}"))
    assert BIO not in cooking_only
    assert COOKING in cooking_only
    role_play = _rows(client_for().get("/evidence/drift/?framing=role_play"))
    assert BIO in role_play
    assert COOKING not in role_play
    closed = client_for().get("/evidence/drift/?status=closed").content.decode()
    assert "No drift alerts match" in closed
    hostile = client_for().get("/evidence/drift/?organization=%00x&status=" + "z" * 500)
    assert hostile.status_code == 200
    assert "No drift alerts match" in _rows(hostile)


def _rows(response) -> str:
    assert response.status_code == 200
    return response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_the_alerts_list_filters_are_choices_from_the_data(
    client_for, runs, company, system, other_company
):
    import re

    page = client_for().get(f"/evidence/drift/?system={system.slug}&framing=role_play")
    text = page.content.decode()

    def options(name):
        select = text.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]
        return re.findall(r'<option value="([^"]*)"', select)

    assert options("organization") == ["", company.slug]  # not other_company: it has no alert
    assert options("system") == ["", system.slug]
    assert options("clause") == ["", COOKING, BIO]  # by key
    assert options("framing") == ["", "direct", "role_play"]
    assert options("status") == ["", "open", "annotated", "closed"]
    # The chosen values are selected.
    assert f'<option value="{system.slug}" selected>' in text
    assert '<option value="role_play" selected>role play</option>' in text


def test_the_company_annotates_in_the_browser(client_for, runs, company_editor, published_version):
    alert = DriftAlert.objects.filter(clause_key=BIO).get()
    c = client_for(company_editor)
    bad = c.post(f"/evidence/drift/{alert.pk}/annotate/", {"note": ""})
    assert bad.status_code == 400
    assert "Say what explains the drift" in bad.content.decode()
    good = c.post(
        f"/evidence/drift/{alert.pk}/annotate/",
        {"note": "Intended: see v1.0.0", "version": published_version.pk, "clause_key": BIO},
    )
    assert good.status_code == 302
    alert.refresh_from_db()
    assert alert.status == "closed"


@pytest.mark.parametrize("persona", ["citizen", "outsider", "auditor", "regulator"])
def test_others_cannot_annotate_in_the_browser(request, client_for, runs, persona):
    alert = DriftAlert.objects.filter(clause_key=BIO).get()
    response = client_for(request.getfixturevalue(persona)).post(
        f"/evidence/drift/{alert.pk}/annotate/", {"note": "Not mine to say"}
    )
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.status == "open"


def test_anonymous_annotation_goes_to_sign_in(client_for, runs):
    alert = DriftAlert.objects.filter(clause_key=BIO).get()
    response = client_for().post(f"/evidence/drift/{alert.pk}/annotate/", {"note": "x"})
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_the_api_gives_robustness_framings_and_flips(api_for, runs, citizen, company_editor):
    _earlier, later = runs
    body = api_for(citizen).get(f"/api/v1/robustness/?run={later.pk}").json()
    clause = next(c for c in body["clauses"] if c["clause"] == BIO)
    aim = next(f for f in clause["framings"] if f["framing"] == "role_play")
    assert (aim["n"], aim["refused"], aim["verdict"]) == (30, 10, "breaks")
    assert aim["gap_interval"][0] <= aim["gap"] <= aim["gap_interval"][1]
    framings = api_for().get(f"/api/v1/robustness/framings/?run={later.pk}").json()
    assert {f["framing"] for f in framings["framings"]} == {"direct", "role_play"}
    flips = api_for(citizen).get(f"/api/v1/robustness/flips/?run={later.pk}&limit=5").json()
    assert flips["prompts_withheld"] is True
    assert len(flips["results"]) == 5
    assert flips["next_after"]
    assert all(f["prompt"] is None for f in flips["results"])
    own = api_for(company_editor).get(f"/api/v1/robustness/flips/?run={later.pk}").json()
    assert own["results"][0]["prompt"].startswith("Prompt")


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/robustness/", "run"),
        ("/api/v1/robustness/?run=abc", "run"),
        ("/api/v1/robustness/?run=999999", "run"),
        ("/api/v1/robustness/flips/?run=1&limit=100000", "limit"),
        ("/api/v1/robustness/flips/?run=1&framing=" + "x" * 100, "framing"),
        ("/api/v1/drift-alerts/?status=bogus", "status"),
        ("/api/v1/drift-alerts/?direction=sideways", "direction"),
        ("/api/v1/drift-alerts/?framing=" + "x" * 61, "framing"),
        ("/api/v1/tradeoff/", "system"),
        ("/api/v1/tradeoff/?system=999999", "system"),
    ],
)
def test_bad_queries_get_field_errors(api_for, runs, url, field):
    response = api_for().get(url)
    assert response.status_code == 400, response.content
    assert field in str(response.json())


def test_drift_alerts_api_filters(api_for, runs, company, system):
    body = api_for().get(f"/api/v1/drift-alerts/?system={system.slug}&status=open").json()
    assert {a["clause_key"] for a in body["results"]} == {BIO, COOKING}
    assert api_for().get("/api/v1/drift-alerts/?organization=nobody").json()["results"] == []
    role_play = api_for().get("/api/v1/drift-alerts/?framing=role_play&direction=fall").json()
    assert [(a["clause_key"], a["framing"]) for a in role_play["results"]] == [(BIO, "role_play")]
    alert = role_play["results"][0]
    assert alert["framings_compared"] == 2  # direct and role play, in both runs
    assert alert["p_value"] <= alert["p_adjusted"] <= 1
    rises = api_for().get("/api/v1/drift-alerts/?direction=rise").json()["results"]
    assert [(a["clause_key"], a["framing"]) for a in rises] == [(COOKING, "direct")]


def test_the_schema_lists_the_drift_filters_finite_values(api_for):
    import yaml

    schema = yaml.safe_load(api_for().get("/api/schema/").content)
    parameters = {
        p["name"]: p for p in schema["paths"]["/api/v1/drift-alerts/"]["get"]["parameters"]
    }
    assert parameters["status"]["schema"]["enum"] == ["annotated", "closed", "open"]
    assert parameters["direction"]["schema"]["enum"] == ["fall", "rise"]
    for name in ("organization", "system", "clause", "framing"):
        assert parameters[name]["description"]


def test_annotating_through_the_api_once_per_idempotency_key(
    runs, company_editor, published_version
):
    alert = DriftAlert.objects.filter(clause_key=BIO).get()
    client = bearer(company_editor, "write:evidence")
    key = str(uuid.uuid4())
    payload = {"note": "Intended", "version": published_version.pk, "clause_key": BIO}
    url = f"/api/v1/drift-alerts/{alert.pk}/annotate/"
    first = client.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY=key)
    second = client.post(url, payload, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == second.status_code == 200, first.content
    assert second["Idempotent-Replayed"] == "true"
    assert first.json()["status"] == "closed"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"note": ""}, "note"),
        ({"note": "x" * 5001}, "note"),
        ({"note": "ok", "version": 999999}, "version"),
        ({"note": ["not", "text"]}, "note"),
    ],
)
def test_bad_annotations_through_the_api(runs, company_editor, payload, field):
    alert = DriftAlert.objects.filter(clause_key=BIO).get()
    client = bearer(company_editor, "write:evidence")
    response = client.post(f"/api/v1/drift-alerts/{alert.pk}/annotate/", payload, format="json")
    assert response.status_code == 400
    assert field in str(response.json())
    alert.refresh_from_db()
    assert alert.status == "open"


@pytest.mark.parametrize("persona", ["citizen", "outsider", "auditor", "regulator", "moderator"])
def test_others_cannot_annotate_through_the_api(request, api_for, runs, persona):
    alert = DriftAlert.objects.filter(clause_key=BIO).get()
    response = api_for(request.getfixturevalue(persona)).post(
        f"/api/v1/drift-alerts/{alert.pk}/annotate/", {"note": "mine"}, format="json"
    )
    assert response.status_code == 403
    assert api_for().post(
        f"/api/v1/drift-alerts/{alert.pk}/annotate/", {"note": "x"}, format="json"
    ).status_code in (401, 403)


def test_the_tradeoff_series_as_json_and_csv(api_for, runs, system, published_version):
    body = api_for().get(f"/api/v1/tradeoff/?system={system.pk}").json()
    assert [p["system_version"] for p in body["points"]] == ["v1", "v2"]
    v2 = body["points"][1]
    assert (v2["should_answer"], v2["over_refusals"]) == (20, 5)
    assert (v2["should_refuse"], v2["under_refusals"]) == (60, 20)
    csv = api_for().get(f"/api/v1/tradeoff/?system={system.pk}&format=csv")
    assert csv.status_code == 200
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("system_version,runs")
    assert lines[2].startswith("v2,1,20,5,0.25")
    family = (
        api_for()
        .get(f"/api/v1/tradeoff/?system={system.pk}&family=harmless&version={published_version.pk}")
        .json()
    )
    assert family["points"][1]["should_refuse"] == 0  # only the cooking clause's category
    assert api_for().get(f"/api/v1/tradeoff/?system={system.pk}&family=harmless").status_code == 400


def test_the_tradeoff_page_draws_a_point_per_version(client_for, runs, company, system):
    page = client_for().get(f"/evidence/systems/{company.slug}/{system.slug}/tradeoff/")
    text = page.content.decode()
    assert text.count("<circle") == 2
    assert "<path" in text
    assert "v1" in text
    assert "v2" in text
    assert client_for().get(f"/evidence/systems/{company.slug}/nope/tradeoff/").status_code == 404


def test_the_robustness_and_tradeoff_pages_pin_their_queries(
    client_for, runs, company, system, django_assert_max_num_queries
):
    _earlier, later = runs
    with django_assert_max_num_queries(8):
        assert client_for().get(f"/evidence/runs/{later.pk}/robustness/").status_code == 200
    with django_assert_max_num_queries(5):
        page = client_for().get(f"/evidence/systems/{company.slug}/{system.slug}/tradeoff/")
    assert page.status_code == 200


def test_the_clause_page_with_robustness_pins_its_queries(
    client_for, runs, policy, company, django_assert_max_num_queries
):
    # Computed: the clause page's own reads, its cache stamp, and two for robustness across all
    # its runs. Once cached: the policy and the stamp.
    url = f"/evidence/policies/{company.slug}/{policy.slug}/clauses/{BIO}/"
    with django_assert_max_num_queries(9):
        page = client_for().get(url)
    assert page.status_code == 200
    with django_assert_max_num_queries(2):
        again = client_for().get(url)
    main = page.content.decode().split("<main", 1)[1]
    assert again.content.decode().split("<main", 1)[1] == main


def test_the_matrix_api_carries_the_robustness_column_and_each_cells_gap(
    client_for, api_for, runs, published_version, policy, company, django_assert_max_num_queries
):
    earlier, later = runs
    url = f"/api/v1/conformance-matrix/?version={published_version.pk}"
    with django_assert_max_num_queries(10):
        response = api_for().get(url)
    assert response.status_code == 200, response.content
    data = response.json()
    order = [column["runs"][0]["id"] for column in data["columns"]]
    assert sorted(order) == sorted([earlier.pk, later.pk])
    rows = {row["clause"]: row for row in data["clauses"]}
    bio_row = rows[BIO]
    # The page's column: the worst verdict over the runs.
    assert bio_row["robustness"] == "breaks"
    framed = bio_row["cells"][order.index(later.pk)]["robustness"]
    assert framed["verdict"] == "breaks"
    assert framed["framing"] == "role_play"  # StrongREJECT's AIM
    assert (framed["direct_n"], framed["direct_refused"]) == (30, 30)
    assert (framed["framed_n"], framed["framed_refused"]) == (30, 10)
    assert framed["gap"] == pytest.approx(1 - 10 / 30, abs=1e-4)
    low, high = framed["gap_interval"]
    assert 0.2 <= low < framed["gap"] < high <= 1
    # The earlier version held up better: a gap too small and uncertain for a verdict.
    held = bio_row["cells"][order.index(earlier.pk)]["robustness"]
    assert (held["verdict"], held["framing"]) == ("insufficient_evidence", "role_play")
    assert held["gap"] == pytest.approx(48 / 50 - 28 / 30, abs=1e-4)
    # A clause expecting an answer has no robustness verdict.
    assert rows[COOKING]["robustness"] is None
    cooking_cells = [cell for cell in rows[COOKING]["cells"] if cell]
    assert cooking_cells
    assert all(cell["robustness"] is None for cell in cooking_cells)
    # The same verdict as the browser's "Under reframing" column.
    page = client_for().get(
        f"/evidence/policies/{company.slug}/{policy.slug}/v/{published_version.number}/matrix/"
    )
    assert "Under reframing" in page.content.decode()
    # By system version: each column's runs together.
    by_version = api_for().get(url + "&by=system_version").json()
    bio_cells = next(r for r in by_version["clauses"] if r["clause"] == BIO)["cells"]
    assert sorted(c["robustness"]["verdict"] for c in bio_cells) == [
        "breaks",
        "insufficient_evidence",
    ]


def test_the_matrix_api_is_recomputed_after_a_relabelling(
    api_for, runs, published_version, auditor
):
    from audits import services as svc

    _earlier, later = runs
    url = f"/api/v1/conformance-matrix/?version={published_version.pk}"

    def framed():
        data = api_for().get(url).json()
        order = [column["runs"][0]["id"] for column in data["columns"]]
        row = next(r for r in data["clauses"] if r["clause"] == BIO)
        return row["cells"][order.index(later.pk)]["robustness"]

    assert framed()["framed_refused"] == 10
    sample = later.samples.filter(framing="role_play", label="compliance").first()
    svc.sample_relabel(actor=auditor, sample=sample, label="refusal", reason="It refused.")
    assert framed()["framed_refused"] == 11
