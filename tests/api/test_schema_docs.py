"""Every operation of the API reference has a written description, and every 2xx answer with a
body has an example. The operations of the comment, audits, appeals and robustness APIs listed
in KNOWN_GAPS are still to be filled: the list may only shrink (an entry that is no longer a gap
fails too)."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client

METHODS = ("get", "post", "put", "patch", "delete")

KNOWN_GAPS = {
    # The robustness APIs landed beside this test; their examples are still to write.
    ("drift_alerts_annotate_create", "example 200"),
    ("drift_alerts_list", "example 200"),
    ("drift_alerts_retrieve", "example 200"),
    ("robustness_flips_retrieve", "example 200"),
    ("robustness_framings_retrieve", "example 200"),
    ("robustness_retrieve", "example 200"),
    ("tradeoff_retrieve", "example 200"),
    ("audit_reports_list", "description"),
    ("audit_reports_list", "example 200"),
    ("audit_reports_create", "description"),
    ("audit_reports_create", "example 201"),
    ("audit_reports_retrieve", "description"),
    ("audit_reports_retrieve", "example 200"),
    ("audit_reports_partial_update", "description"),
    ("audit_reports_partial_update", "example 200"),
    ("audit_reports_destroy", "description"),
    ("audit_reports_attachments_create", "description"),
    ("audit_reports_attachments_create", "example 201"),
    ("audit_reports_attachments_destroy", "description"),
    ("audit_reports_embargo_create", "description"),
    ("audit_reports_embargo_create", "example 200"),
    ("audit_reports_publish_create", "description"),
    ("audit_reports_publish_create", "example 200"),
    ("audit_reports_respond_create", "description"),
    ("audit_reports_respond_create", "example 200"),
    ("audit_reports_submit_create", "description"),
    ("audit_reports_submit_create", "example 200"),
    ("category_mappings_list", "description"),
    ("category_mappings_list", "example 200"),
    ("category_mappings_create", "description"),
    ("category_mappings_create", "example 201"),
    ("category_mappings_retrieve", "description"),
    ("category_mappings_retrieve", "example 200"),
    ("category_mappings_destroy", "description"),
    ("category_mappings_carry_forward_create", "description"),
    ("category_mappings_carry_forward_create", "example 200"),
    ("category_mappings_suggestions_retrieve", "description"),
    ("category_mappings_suggestions_retrieve", "example 200"),
    ("clause_evidence_retrieve", "example 200"),
    ("clause_evidence_samples_list", "example 200"),
    ("comment_clusters_list", "description"),
    ("comment_clusters_list", "example 200"),
    ("comment_clusters_retrieve", "description"),
    ("comment_clusters_retrieve", "example 200"),
    ("comment_periods_list", "description"),
    ("comment_periods_list", "example 200"),
    ("comment_periods_create", "description"),
    ("comment_periods_create", "example 201"),
    ("comment_periods_retrieve", "description"),
    ("comment_periods_retrieve", "example 200"),
    ("comment_periods_export_retrieve", "description"),
    ("comment_periods_export_retrieve", "example 200"),
    ("comment_periods_extend_create", "description"),
    ("comment_periods_extend_create", "example 200"),
    ("comment_periods_publish_responses_create", "description"),
    ("comment_periods_publish_responses_create", "example 200"),
    ("comment_periods_responses_retrieve", "description"),
    ("comment_periods_responses_retrieve", "example 200"),
    ("comment_responses_list", "description"),
    ("comment_responses_list", "example 200"),
    ("comment_responses_create", "description"),
    ("comment_responses_create", "example 201"),
    ("comment_responses_retrieve", "description"),
    ("comment_responses_retrieve", "example 200"),
    ("comment_responses_destroy", "description"),
    ("comments_list", "description"),
    ("comments_list", "example 200"),
    ("comments_create", "description"),
    ("comments_create", "example 201"),
    ("comments_retrieve", "description"),
    ("comments_retrieve", "example 200"),
    ("comments_partial_update", "description"),
    ("comments_partial_update", "example 200"),
    ("comments_endorsement_create", "description"),
    ("comments_endorsement_create", "example 200"),
    ("comments_endorsement_destroy", "description"),
    ("comments_flags_create", "description"),
    ("comments_flags_create", "example 201"),
    ("comments_history_retrieve", "description"),
    ("comments_history_retrieve", "example 200"),
    ("comments_moderate_create", "description"),
    ("comments_moderate_create", "example 200"),
    ("comments_withdraw_create", "description"),
    ("comments_withdraw_create", "example 200"),
    ("conformance_matrix_retrieve", "example 200"),
    ("evaluation_runs_list", "description"),
    ("evaluation_runs_list", "example 200"),
    ("evaluation_runs_create", "description"),
    ("evaluation_runs_create", "example 201"),
    ("evaluation_runs_retrieve", "description"),
    ("evaluation_runs_retrieve", "example 200"),
    ("evaluation_runs_cancel_create", "description"),
    ("evaluation_runs_cancel_create", "example 200"),
    ("evaluation_runs_conformance_retrieve", "description"),
    ("evaluation_runs_conformance_retrieve", "example 200"),
    ("evaluation_runs_samples_list", "description"),
    ("evaluation_runs_samples_list", "example 200"),
    ("evaluation_runs_samples_export_retrieve", "description"),
    ("evaluation_runs_samples_export_retrieve", "example 200"),
    ("evaluation_runs_compare_retrieve", "description"),
    ("evaluation_runs_compare_retrieve", "example 200"),
    ("evaluation_samples_relabel_create", "description"),
    ("evaluation_samples_relabel_create", "example 200"),
    ("findings_list", "description"),
    ("findings_list", "example 200"),
    ("findings_create", "description"),
    ("findings_create", "example 201"),
    ("findings_retrieve", "description"),
    ("findings_retrieve", "example 200"),
    ("findings_destroy", "description"),
    ("findings_acknowledge_create", "description"),
    ("findings_acknowledge_create", "example 200"),
    ("findings_dispute_create", "description"),
    ("findings_dispute_create", "example 200"),
    ("findings_remediate_create", "description"),
    ("findings_remediate_create", "example 200"),
    ("moderation_queue_list", "description"),
    ("moderation_queue_list", "example 200"),
    ("scorecards_retrieve", "description"),
    ("scorecards_retrieve", "example 200"),
}


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def gaps(schema) -> set[tuple[str, str]]:
    found = set()
    for item in schema["paths"].values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            op_id = operation["operationId"]
            if not (operation.get("description") or "").strip():
                found.add((op_id, "description"))
            for code, response in operation.get("responses", {}).items():
                content = response.get("content") or {}
                if not str(code).startswith("2") or not content:
                    continue
                if not any("example" in c or "examples" in c for c in content.values()):
                    found.add((op_id, f"example {code}"))
    return found


def test_every_operation_has_a_description_and_every_answer_an_example(schema):
    new = sorted(gaps(schema) - KNOWN_GAPS)
    assert not new, "Describe these operations and give these answers an example: " + repr(new)


def test_the_known_gaps_only_shrink(schema):
    filled = sorted(KNOWN_GAPS - gaps(schema))
    assert not filled, "Filled — remove them from KNOWN_GAPS: " + repr(filled)


def test_the_known_gaps_are_in_the_comment_and_audits_apis_only():
    prefixes = ("comment", "moderation", "audit", "findings", "evaluation", "category",
                "clause_evidence", "conformance", "scorecards", "appeal", "recommendations",
                "transparency", "drift", "robustness", "tradeoff")  # fmt: skip
    assert all(op_id.startswith(prefixes) for op_id, _ in KNOWN_GAPS)


def test_every_response_example_validates_against_its_schema(schema):
    """An example that contradicts its schema misleads the reader more than no example."""
    from tests.api.test_contract import validator_for

    json_schema = yaml.safe_load(yaml.safe_dump(schema))  # the same document, as plain data
    wrong, checked = [], 0
    for item in json_schema["paths"].values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for code, response in operation.get("responses", {}).items():
                media = (response.get("content") or {}).get("application/json") or {}
                if not str(code).startswith("2") or "schema" not in media:
                    continue
                validator = validator_for(json_schema, media["schema"])
                for name, example in (media.get("examples") or {}).items():
                    checked += 1
                    errors = list(validator.iter_errors(example.get("value")))
                    if errors:
                        wrong.append((operation["operationId"], code, name, errors[0].message))
    assert checked >= 50  # the examples written so far; more as KNOWN_GAPS shrinks
    assert not wrong, wrong
