"""Who may call what: every operation of the live OpenAPI schema, for every role, on the demo
data, with real ids — in one table.

Each cell is an outcome class: ALLOWED (the permission layer let the request through: any
answer but 401, 403 or 404 — a write sent an empty body may well answer 400 or 409), DENIED
(401 or 403) or HIDDEN (404: the object exists, but not for this role). Public reads are
ALLOWED for everyone; the exceptions are listed per operation id below, and the table must name
exactly the schema's operations, so a new endpoint without a row fails here.

Roles are the demo's people, signed in with a session, except the regulator, who calls with a
personal token (read:public, read:embargoed and write:webhooks). Every call runs in a savepoint
rolled back afterwards, so a write that goes through changes nothing for the next cell.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client

from audits.models import EvaluationSample, ReportAttachment
from governance.management.commands.seed_demo import seed
from governance.models import (
    ApiToken,
    Invitation,
    Membership,
    Organization,
    User,
    WebhookSubscription,
)
from governance.services.organizations import invitation_create
from governance.services.tokens import api_token_create
from tests.api.test_contract import PARAM, QUERIES, collect_samples, fill

pytestmark = pytest.mark.django_db

ALLOWED, DENIED, HIDDEN = "allowed", "401/403", "404"
ROLES = {
    "anonymous": None,
    "citizen": "citizen@example.test",
    "company editor": "editor@acme-ai.test",
    "auditor": "auditor@fair-audit.test",
    "moderator": "moderator@openrefusal.test",
    "regulator": "analyst@regulator.test",
    "panelist": "panelist@appeals-panel.test",
    "staff": "admin@openrefusal.test",
}
SIGNED_IN = [role for role in ROLES if role != "anonymous"]
SESSIONS = [role for role in SIGNED_IN if role != "regulator"]
EVERYONE = list(ROLES)
REGULATOR_SCOPES = ["read:public", "read:embargoed", "write:webhooks"]
WRITES = ("post", "put", "patch", "delete")
COMPANY = "acme-ai"


def only(*roles: str, otherwise: str = DENIED, **overrides: str) -> dict[str, str]:
    """ALLOWED for `roles`, `otherwise` for the rest, then `overrides` by role (spaces as _)."""
    row = {role: ALLOWED if role in roles else otherwise for role in ROLES}
    row.update({role.replace("_", " "): outcome for role, outcome in overrides.items()})
    return row


# The exceptions to "everyone may read it"; every write must be listed. SESSIONS are the roles
# signed in with a session: the regulator's token holds no write scope but write:webhooks, so it
# is refused (403 insufficient_scope) everywhere else, before anything is looked up. Rows say
# who may really act; VALIDATES_FIRST (below) names the writes that may refuse with a 400/409.
EXPECTED: dict[str, dict[str, str]] = {
    "appeals_actions_create": only("company editor", auditor=HIDDEN, moderator=HIDDEN),
    "appeals_cite_create": only(
        "citizen", "company editor", "panelist", "staff", auditor=HIDDEN, moderator=HIDDEN
    ),
    "appeals_create": only(*SESSIONS),
    "appeals_redaction_preview_create": only(*SESSIONS),
    # An appeal is seen by its filer (the citizen), the company, the seated panel, regulators
    # and staff; it does not exist for anyone else.
    "appeals_retrieve": only(
        "citizen", "company editor", "regulator", "panelist", "staff", otherwise=HIDDEN
    ),
    "audit_reports_attachments_create": only(*SESSIONS),
    "audit_reports_attachments_destroy": only("auditor"),
    "audit_reports_create": only("auditor"),
    "audit_reports_destroy": only("auditor"),
    "audit_reports_embargo_create": only("auditor"),
    "audit_reports_partial_update": only("auditor"),
    "audit_reports_publish_create": only("auditor"),
    "audit_reports_respond_create": only("company editor"),
    "audit_reports_submit_create": only("auditor"),
    "category_mappings_carry_forward_create": only("company editor", "auditor", "staff"),
    "category_mappings_create": only("company editor", "auditor", "staff"),
    "category_mappings_destroy": only("company editor", "auditor", "staff"),
    "comment_periods_create": only("company editor"),
    # The period is Northwind's (the public list's first): nobody here writes for Northwind.
    "comment_periods_extend_create": only(),
    "comment_periods_publish_responses_create": only(),
    "comment_responses_create": only(),
    # Northwind's response (the public list's first): nobody here writes for Northwind.
    "comment_responses_destroy": only(),
    "comments_create": only(*SESSIONS),
    "comments_endorsement_create": only(*SESSIONS),
    "comments_endorsement_destroy": only(*SESSIONS),
    "comments_flags_create": only(*SESSIONS),
    "comments_moderate_create": only("moderator", "staff"),
    # Only the author edits, and the demo comment is nobody's here.
    "comments_partial_update": only(),
    # Only the author withdraws, and the demo comment is nobody's here.
    "comments_withdraw_create": only(),
    "drift_alerts_annotate_create": only("company editor"),
    "evaluation_runs_cancel_create": only("company editor", "staff"),
    "evaluation_runs_create": only(*SESSIONS),
    "evaluation_samples_relabel_create": only("auditor", "staff"),
    "findings_acknowledge_create": only("company editor"),
    "findings_create": only(*SESSIONS),
    "findings_destroy": only("auditor"),
    "findings_dispute_create": only("company editor"),
    "findings_remediate_create": only("company editor"),
    # The example's token is unknown: 404 for every session (the token lacks write:account).
    "invitations_accept_create": only(otherwise=HIDDEN, anonymous=DENIED, regulator=DENIED),
    "me_destroy": only(*SESSIONS),
    "me_export": only(*SESSIONS),
    "me_partial_update": only(*SESSIONS),
    "me_retrieve": only(*SIGNED_IN),
    "me_tokens_create": only(*SESSIONS),
    # The regulator's token: someone else's tokens do not exist for you; managing tokens needs
    # write:account, which the regulator's does not hold.
    "me_tokens_destroy": only(otherwise=HIDDEN, anonymous=DENIED, regulator=DENIED),
    "me_tokens_list": only(*SESSIONS),
    "me_tokens_retrieve": only(otherwise=HIDDEN, anonymous=DENIED, regulator=DENIED),
    "me_tokens_revoke_create": only(otherwise=HIDDEN, anonymous=DENIED, regulator=DENIED),
    "moderation_queue_list": only("moderator", "staff"),
    "organizations_accredit_create": only("staff"),
    "organizations_create": only(*SESSIONS),
    # Acme's owner is not among the roles: its editor may neither invite nor change the
    # organization or its members' roles; staff may.
    "organizations_invitations_create": only("staff"),
    "organizations_invitations_list": only("staff"),
    "organizations_invitations_retrieve": only("staff"),
    "organizations_invitations_revoke_create": only("staff"),
    # The editor's own membership: any member may leave.
    "organizations_memberships_destroy": only("company editor", "staff"),
    "organizations_memberships_partial_update": only("staff"),
    "organizations_partial_update": only("staff"),
    "organizations_unverify_create": only("staff"),
    "organizations_verify_create": only("staff"),
    "policies_create": only("company editor"),
    "policies_follow_create": only(*SESSIONS),
    "policies_follow_destroy": only(*SESSIONS),
    "policies_partial_update": only("company editor"),
    "policy_versions_create": only(*SESSIONS),
    "policy_versions_destroy": only("company editor"),
    "policy_versions_partial_update": only("company editor"),
    "policy_versions_publish_create": only("company editor"),
    "policy_versions_withdraw_create": only("company editor"),
    "recommendations_answer_create": only(*SESSIONS),
    "recommendations_cite_create": only(*SESSIONS),
    "systems_create": only("company editor"),
    "systems_partial_update": only("company editor"),
    "webhooks_create": only(*SIGNED_IN),
    # The regulator's own subscription: it does not exist for anyone else.
    "webhooks_deliveries_list": only("regulator", otherwise=HIDDEN, anonymous=DENIED),
    "webhooks_destroy": only("regulator", otherwise=HIDDEN, anonymous=DENIED),
    "webhooks_list": only(*SIGNED_IN),
    "webhooks_ping_create": only("regulator", otherwise=HIDDEN, anonymous=DENIED),
    "webhooks_retrieve": only("regulator", otherwise=HIDDEN, anonymous=DENIED),
}


# These validate the body before they check the role, so a refused role may see 400 or 409
# instead of 403 — whether the schema's example passes validation depends on the demo's ids.
# Refused either way: what must never happen is a 2xx, or a 401/403 for an ALLOWED role.
VALIDATES_FIRST = {
    "audit_reports_create",
    "audit_reports_embargo_create",
    "audit_reports_respond_create",
    "audit_reports_submit_create",
    "category_mappings_carry_forward_create",
    "category_mappings_create",
    "comment_periods_create",
    "comment_periods_extend_create",
    "comment_periods_publish_responses_create",
    "comment_responses_create",
    "comments_partial_update",
    "drift_alerts_annotate_create",
    "evaluation_samples_relabel_create",
    "findings_dispute_create",
    "findings_remediate_create",
    "policies_create",
}


def expected_for(operation_id: str, method: str) -> dict[str, str] | None:
    if operation_id in EXPECTED:
        return EXPECTED[operation_id]
    if method == "get":
        return only(*EVERYONE)
    return None


@pytest.fixture
def demo(unthrottled):
    Group.objects.get_or_create(name="moderators")
    seed()


@pytest.fixture
def schema(demo):
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def clients(demo) -> dict[str, Client]:
    made = {}
    for role, email in ROLES.items():
        if role == "regulator":
            _, raw = api_token_create(
                user=User.objects.get(email=email), name="matrix", scopes=REGULATOR_SCOPES
            )
            made[role] = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
            continue
        made[role] = Client()
        if email:
            made[role].force_login(User.objects.get(email=email))
    return made


def _walk(schema: dict, client: Client, samples: dict) -> None:
    """Collect ids from every list `client` may read, lists before the details they fill."""
    for path in sorted(schema["paths"], key=lambda p: (p.count("{"), p)):
        operation = schema["paths"][path].get("get")
        url = fill(path, samples) if "{" in path else path
        if operation is None or url is None:
            continue
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        query = {name: COMPANY for name in ("organization", "company") if name in names}
        query |= QUERIES[path](samples) if path in QUERIES else {}
        response = client.get(url, query, HTTP_ACCEPT="application/json")
        if response.status_code == 200 and response["Content-Type"].startswith("application/json"):
            found: dict = {}
            collect_samples(path, response.json(), found)
            for key, value in found.items():
                samples.setdefault(key, value)


def real_ids(schema: dict, staff: Client) -> dict[tuple[str, str], object]:
    """Ids for the path parameters: what the public lists show (Acme's where a list filters by
    organization); what only some people see (appeals, tokens, webhooks…), from staff's lists
    and the demo's objects themselves."""
    acme = Organization.objects.get(slug=COMPANY)
    owner = Membership.objects.get(organization=acme, role=Membership.Role.OWNER).user
    invitation = Invitation.objects.filter(organization=acme).first()
    if invitation is None:
        invitation, _ = invitation_create(
            actor=owner, organization=acme, email="new@acme-ai.test", role="member"
        )
    regulator = User.objects.get(email=ROLES["regulator"])
    samples: dict = {
        ("", "slug"): COMPANY,
        ("", "organization_slug"): COMPANY,
        ("", "company"): COMPANY,
        ("/api/v1/organizations/", "slug"): COMPANY,
        ("/api/v1/organizations/{organization_slug}/invitations/", "id"): invitation.pk,
        ("/api/v1/webhooks/", "id"): WebhookSubscription.objects.get(owner=regulator).pk,
        ("/api/v1/me/tokens/", "id"): ApiToken.objects.filter(user=regulator).first().pk,
        ("/api/v1/evaluation-samples/", "id"): EvaluationSample.objects.order_by("pk")[0].pk,
        ("/api/v1/audit-reports/{id}/attachments/", "attachment_id"): (
            ReportAttachment.objects.order_by("pk")[0].pk
        ),
    }
    _walk(schema, Client(), samples)
    _walk(schema, staff, samples)
    return samples


def concrete(path: str, operation: dict, samples: dict) -> str:
    enums = {
        p["name"]: p["schema"]["enum"][0]
        for p in operation.get("parameters", [])
        if p.get("in") == "path" and "enum" in p.get("schema", {})
    }
    values = {}
    for name in PARAM.findall(path):
        prefix = path.split("{" + name + "}")[0]
        value = enums.get(name, samples.get((prefix, name), samples.get(("", name))))
        assert value is not None, f"no real value for {name} in {path}"
        values[name] = value
    return PARAM.sub(lambda m: str(values[m[1]]), path)


def outcome(status: int) -> str:
    if status in (401, 403):
        return DENIED
    if status == 404:
        return HIDDEN
    return ALLOWED


def bodies_for(operation: dict) -> list[str]:
    """An empty object, and the request example the schema shows, if any (so a write whose
    validation comes first gets past it to the permission checks that follow)."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    examples = [e["value"] for e in content.get("examples", {}).values() if "value" in e]
    return ["{}", *(json.dumps(e) for e in examples[:1])]


def call(client: Client, method: str, url: str, body: str = "{}"):
    with transaction.atomic():
        if method in WRITES:
            response = getattr(client, method)(url, body, content_type="application/json")
        else:
            response = client.get(url, HTTP_ACCEPT="application/json")
        transaction.set_rollback(True)
    return response


def test_the_table_names_exactly_the_schemas_operations():
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    ids = {
        op["operationId"]
        for item in schema["paths"].values()
        for method, op in item.items()
        if method in ("get", *WRITES)
    }
    assert set(EXPECTED) - ids == set(), "rows for operations the schema no longer has"
    writes = {
        op["operationId"]
        for item in schema["paths"].values()
        for method, op in item.items()
        if method in WRITES
    }
    assert writes - set(EXPECTED) == set(), "write operations without a row"


def test_every_role_gets_what_the_table_says(schema, clients):
    samples = real_ids(schema, clients["staff"])
    wrong, seen = [], 0
    for path, item in sorted(schema["paths"].items()):
        for method, operation in item.items():
            if method not in ("get", *WRITES):
                continue
            expected = expected_for(operation["operationId"], method)
            if expected is None:
                continue  # reported by the test above
            url = concrete(path, operation, samples)
            for role, client in clients.items():
                # A refusal for either body is the role's outcome: the other was turned away
                # by validation before the permission checks were reached.
                bodies = bodies_for(operation) if method in WRITES else ["{}"]
                responses = [call(client, method, url, body) for body in bodies]
                for response in responses:
                    assert response.status_code < 500, (role, method, url, response.content[:300])
                seen += 1
                outcomes = [outcome(r.status_code) for r in responses]
                got = next((o for o in outcomes if o != ALLOWED), ALLOWED)
                response = responses[outcomes.index(got)]
                refused = all(r.status_code in (400, 409) for r in responses)
                if expected[role] == DENIED and operation["operationId"] in VALIDATES_FIRST:
                    got = DENIED if refused or got == DENIED else got
                if got != expected[role]:
                    wrong.append(
                        f"{operation['operationId']:<45} {role:<15} expected {expected[role]:<8}"
                        f" got {response.status_code} ({method.upper()} {url})"
                    )
    assert seen >= 8 * 130
    assert not wrong, "\n".join(wrong)
