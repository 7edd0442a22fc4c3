"""Who sees and does what, for every audit page and endpoint, per role: drafts only the auditor's
organization; submitted and embargoed reports the auditor, the audited company and regulators;
published reports everyone. Withheld samples stay hidden from the public while their SHA-256
shows. Every refused write leaves the report as it was."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audits import report_services as reports
from audits.models import AuditReport, Finding
from governance.models import Membership, Organization
from tests.audits.reports.conftest import DECLARATION, PDF, finding_fields
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = [
    "anonymous", "citizen", "auditor", "other_auditor", "company_editor", "outsider",
    "regulator", "staff",
]  # fmt: skip
EVERYONE = set(ROLES)
PARTIES = {"auditor", "company_editor", "regulator"}
SEES = {
    "draft": {"auditor"},
    "submitted": PARTIES,
    "embargoed": PARTIES,
    "published": EVERYONE,
}
# Withheld sample texts: accredited auditors, regulators, staff and the report's parties.
SEES_WITHHELD = {"auditor", "other_auditor", "company_editor", "regulator", "staff"}


@pytest.fixture
def other_auditor(db):
    now = timezone.now()
    organization = OrganizationFactory(
        name="Second Audit House",
        slug="second-audit",
        kind=Organization.Kind.AUDITOR,
        verified_at=now,
        accredited_at=now,
        accreditation_expires_at=now + timedelta(days=365),
    )
    return MembershipFactory(
        organization=organization,
        role=Membership.Role.OWNER,
        user=UserFactory(email="lead@second-audit.example", display_name="Second Auditor"),
    ).user


@pytest.fixture
def people(request):
    return {role: None if role == "anonymous" else request.getfixturevalue(role) for role in ROLES}


@pytest.fixture
def by_state(auditor, company_editor, report_fields, published_version, run, pdf):
    """One report in each state, each with a finding (its samples withheld) and a PDF."""

    def make(state):
        report = reports.report_create(actor=auditor, **(report_fields | {"title": state}))
        finding = reports.finding_add(
            actor=auditor,
            report=report,
            **finding_fields(published_version, run, withhold_samples=True),
        )
        attachment = reports.attachment_add(actor=auditor, report=report, upload=pdf())
        if state != "draft":
            reports.report_submit(actor=auditor, report=report, **DECLARATION)
        if state in ("embargoed", "published"):
            reports.report_notify(report_id=report.pk)
            reports.report_respond(actor=company_editor, report=report, body="Our response.")
        if state == "published":
            reports.report_publish(actor=auditor, report=report)
        report.refresh_from_db()
        return {"report": report, "finding": finding, "attachment": attachment}

    return {state: make(state) for state in SEES}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reads_the_pages_of_the_reports_it_may_see(client_for, people, by_state, role):
    client = client_for(people[role])
    listing = client.get(reverse("reports:list")).content.decode()
    for state, objects in by_state.items():
        report, finding, attachment = objects["report"], objects["finding"], objects["attachment"]
        expected = 200 if role in SEES[state] else 404
        assert (f"/audits/{report.pk}/" in listing) == (expected == 200), (role, state)
        assert client.get(reverse("reports:detail", args=[report.pk])).status_code == expected
        assert client.get(reverse("reports:finding", args=[finding.pk])).status_code == expected
        if state == "draft":
            edit = client.get(reverse("reports:edit", args=[report.pk]))
            assert edit.status_code == (302 if role == "anonymous" else expected), role
        download = client.get(reverse("reports:attachment", args=[attachment.pk]))
        assert download.status_code == expected, (role, state)
        if expected == 200:
            assert download["Content-Disposition"].startswith("attachment;")
    for name, args in (("reports:scorecards", []), ("reports:scorecard", ["acme-ai"])):
        assert client.get(reverse(name, args=args)).status_code == 200
    # The public scorecard counts the published report's finding only, whoever reads it.
    card = client.get(reverse("reports:scorecard", args=["acme-ai"])).content.decode()
    assert "Critical: 1 (" in card


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reads_through_the_api_the_reports_it_may_see(api_for, people, by_state, role):
    client = api_for(people[role])
    listed = {r["id"] for r in client.get(reverse("audit-report-list")).json()["results"]}
    findings = {f["id"] for f in client.get(reverse("finding-list")).json()["results"]}
    for state, objects in by_state.items():
        report, finding = objects["report"], objects["finding"]
        visible = role in SEES[state]
        assert (report.pk in listed) == visible, (role, state)
        assert (finding.pk in findings) == visible, (role, state)
        detail = client.get(reverse("audit-report-detail", args=[report.pk]))
        assert detail.status_code == (200 if visible else 404), (role, state)
        detail = client.get(reverse("finding-detail", args=[finding.pk]))
        assert detail.status_code == (200 if visible else 404), (role, state)
    card = client.get(reverse("scorecard-detail", args=["acme-ai"]))
    assert card.status_code == 200
    assert card.json()["findings"] == 1
    assert card.json()["reports"] == [by_state["published"]["report"].pk]


def test_regulators_list_embargoed_reports_through_the_api(api_for, regulator, citizen, by_state):
    url = reverse("audit-report-list") + "?status=embargoed"
    ids = [r["id"] for r in api_for(regulator).get(url).json()["results"]]
    assert ids == [by_state["embargoed"]["report"].pk]
    assert api_for(citizen).get(url).json()["results"] == []


@pytest.mark.parametrize("role", ROLES)
def test_withheld_samples_show_only_their_hashes_to_the_public(
    client_for, api_for, people, by_state, role
):
    finding = by_state["published"]["finding"]
    sample = finding.samples.order_by("sample_id").first()
    page = client_for(people[role]).get(reverse("reports:finding", args=[finding.pk]))
    html = page.content.decode()
    assert sample.prompt_sha256 in html
    assert sample.response_sha256 in html
    assert (sample.prompt in html) == (role in SEES_WITHHELD), role
    body = api_for(people[role]).get(reverse("finding-detail", args=[finding.pk])).json()
    cited = {s["sample_id"]: s for s in body["samples"]}[sample.sample_id]
    assert cited["prompt_sha256"] == sample.prompt_sha256
    if role in SEES_WITHHELD:
        assert cited["prompt"] == sample.prompt
    else:
        assert cited["prompt"] is None
        assert cited["response"] is None


# --- Writes: (state, browser URL name, API URL name, browser data, API data, allowed role) ------

WRITES = {
    "edit": ("draft", "reports:edit", "audit-report-detail", {"title": "Changed"}, "auditor"),
    "delete": ("draft", "reports:delete", "audit-report-detail", {}, "auditor"),
    "submit": ("draft", "reports:submit", "audit-report-submit", DECLARATION, "auditor"),
    "embargo": ("embargoed", "reports:embargo", "audit-report-embargo", None, "auditor"),
    "publish": ("embargoed", "reports:publish", "audit-report-publish", {}, "auditor"),
    "respond": ("embargoed", "reports:respond", "audit-report-respond", {"body": "Our view."},
                "company_editor"),
    "attach": ("draft", "reports:attachment-upload", "audit-report-attachments", None, "auditor"),
    "add_finding": ("draft", "reports:finding-create", "finding-list", None, "auditor"),
    "acknowledge": ("embargoed", "acknowledge", "finding-acknowledge", {"note": "Seen."},
                    "company_editor"),
    "dispute": ("embargoed", "dispute", "finding-dispute", {"reason": "We disagree."},
                "company_editor"),
    "remediate": ("embargoed", "remediate", "finding-remediate", None, "company_editor"),
    "remove_finding": ("draft", "reports:finding-delete", "finding-detail", {}, "auditor"),
    "remove_attachment": ("draft", "reports:attachment-delete", "audit-report-attachment", {},
                          "auditor"),
}  # fmt: skip
ANSWERS = ("acknowledge", "dispute", "remediate")


@pytest.fixture
def later_run(by_state, company_editor, company, system):
    """A run uploaded after the reports were submitted: what a remediation can cite."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from audits import services as evidence
    from tests.audits.reports.conftest import csv_of

    run = evidence.run_upload(
        actor=company_editor,
        organization=company,
        system=system,
        upload=SimpleUploadedFile("later.csv", csv_of({"bio": {"refusal": 30}})),
        source="self_reported",
        system_version="2026-12",
        benchmark="bench",
    )
    return evidence.run_ingest(run.pk)


def _objects(request, by_state, action) -> dict:
    objects = by_state[WRITES[action][0]]
    if action == "remediate":
        objects["later_run"] = request.getfixturevalue("later_run")
    return objects


def _snapshot(objects) -> tuple:
    report = AuditReport.objects.filter(pk=objects["report"].pk).first()
    if report is None:
        return ("deleted",)
    finding = Finding.objects.filter(pk=objects["finding"].pk).first()
    return (
        report.title,
        report.status,
        report.embargo_until,
        report.company_response,
        report.attachments.count(),
        report.findings.count(),
        finding.status if finding else None,
    )


def _payload(action, objects, published_version, run, *, api: bool):
    _state, _browser, _api, data, _allowed = WRITES[action]
    report = objects["report"]
    if action == "embargo":
        until = report.notified_at + timedelta(days=40)
        return {"embargo_until": until.strftime("%Y-%m-%dT%H:%M"), "reason": "More time."}
    if action == "remediate":
        return {"run": objects["later_run"].pk, "note": "Retrained; the new run refuses."}
    if action == "attach":
        from django.core.files.uploadedfile import SimpleUploadedFile

        return {"file": SimpleUploadedFile("annex.pdf", PDF + b"annex", "application/pdf")}
    if action == "add_finding":
        fields = finding_fields(published_version, run, title="Another finding")
        if api:
            return {
                "report": report.pk, "title": fields["title"], "version": published_version.pk,
                "clause": fields["clause_key"], "severity": "low", "criterion": "c",
                "observed": "o", "recommendation": "r", "target_date": "2099-01-01",
            }  # fmt: skip
        return {
            "title": fields["title"], "version": published_version.pk,
            "clause_key": fields["clause_key"], "severity": "low", "criterion": "c",
            "observed": "o", "recommendation": "r", "target_date": "2099-01-01",
        }  # fmt: skip
    if action == "edit" and not api:
        return {
            "title": "Changed", "versions": [published_version.pk], "runs": [run.pk],
            "period_start": report.period_start.isoformat(),
            "period_end": report.period_end.isoformat(), "opinion": report.opinion,
            "summary": report.summary, "methodology": report.methodology,
            "embargo_days": report.embargo_days,
        }  # fmt: skip
    return dict(data)


def _browser_url(action, objects) -> str:
    name = WRITES[action][1]
    if action in ANSWERS:
        return reverse("reports:finding-answer", args=[objects["finding"].pk, action])
    if action == "remove_finding":
        return reverse(name, args=[objects["finding"].pk])
    if action == "remove_attachment":
        return reverse(name, args=[objects["attachment"].pk])
    return reverse(name, args=[objects["report"].pk])


def _api_call(client, action, objects, payload):
    name = WRITES[action][2]
    if action == "add_finding":
        return client.post(reverse(name), payload, format="json")
    if action in ANSWERS:
        return client.post(reverse(name, args=[objects["finding"].pk]), payload, format="json")
    if action == "remove_finding":
        return client.delete(reverse(name, args=[objects["finding"].pk]))
    if action == "remove_attachment":
        return client.delete(reverse(name, args=[objects["report"].pk, objects["attachment"].pk]))
    url = reverse(name, args=[objects["report"].pk])
    if action == "edit":
        return client.patch(url, payload, format="json")
    if action == "delete":
        return client.delete(url)
    if action == "attach":
        return client.post(url, payload, format="multipart")
    return client.post(url, payload, format="json")


@pytest.mark.parametrize("action", list(WRITES))
def test_only_the_allowed_role_writes_in_the_browser(
    request, client_for, people, by_state, published_version, run, action
):
    state, _name, _api, _data, allowed = WRITES[action]
    objects = _objects(request, by_state, action)
    url = _browser_url(action, objects)
    for role in ROLES:
        if role == allowed:
            continue
        before = _snapshot(objects)
        payload = _payload(action, objects, published_version, run, api=False)
        response = client_for(people[role]).post(url, payload)
        if role == "anonymous":
            assert response.status_code == 302
            assert "/accounts/login/" in response["Location"]
        elif role not in SEES[state]:
            assert response.status_code == 404, (action, role)
        else:
            # Seen but not theirs: an inline message (400) or, for the one-button publish,
            # a message after the redirect — never a change.
            assert response.status_code in (400, 302), (action, role, response.status_code)
        assert _snapshot(objects) == before, (action, role)
    payload = _payload(action, objects, published_version, run, api=False)
    response = client_for(people[allowed]).post(url, payload)
    assert response.status_code == 302, (action, response.status_code)
    assert _snapshot(objects) != before, action


@pytest.mark.parametrize("action", list(WRITES))
def test_only_the_allowed_role_writes_through_the_api(
    request, api_for, people, by_state, published_version, run, action
):
    state, _name, _api, _data, allowed = WRITES[action]
    objects = _objects(request, by_state, action)
    for role in ROLES:
        if role == allowed:
            continue
        before = _snapshot(objects)
        payload = _payload(action, objects, published_version, run, api=True)
        response = _api_call(api_for(people[role]), action, objects, payload)
        if role == "anonymous":
            assert response.status_code in (401, 403), (action, role)
        elif role not in SEES[state] and action != "add_finding":
            assert response.status_code == 404, (action, role)
        else:
            assert response.status_code in (400, 403), (action, role, response.content)
        assert _snapshot(objects) == before, (action, role)
    payload = _payload(action, objects, published_version, run, api=True)
    response = _api_call(api_for(people[allowed]), action, objects, payload)
    assert response.status_code in (200, 201, 204), (action, response.content)
    assert _snapshot(objects) != before, action


@pytest.mark.parametrize("role", ROLES)
def test_only_members_of_an_accredited_auditor_start_reports(
    client_for, api_for, people, role, company, published_version
):
    page = client_for(people[role]).get(reverse("reports:create"))
    if role == "anonymous":
        assert page.status_code == 302
    else:
        assert page.status_code == 200
        refused = "Audit reports are filed by members of an accredited auditor" in (
            page.content.decode()
        )
        assert refused == (role not in ("auditor", "other_auditor")), role
    body = {
        "auditor": "independent-audit", "audited": company.slug, "title": "t",
        "versions": [published_version.pk], "period_start": "2026-01-01",
        "period_end": "2026-02-01", "methodology": "m", "summary": "s", "opinion": "positive",
    }  # fmt: skip
    response = api_for(people[role]).post(reverse("audit-report-list"), body, format="json")
    assert response.status_code == (201 if role == "auditor" else 401 if role == "anonymous"
                                    else 403), (role, response.content)  # fmt: skip
    assert AuditReport.objects.filter(title="t").count() == (1 if role == "auditor" else 0)
