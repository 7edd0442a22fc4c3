"""Every operation of the API reference has a written description, every 2xx answer with a
body has an example, and every example validates against the schema it illustrates."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client

METHODS = ("get", "post", "put", "patch", "delete")


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
    missing = sorted(gaps(schema))
    assert not missing, "Describe these operations and give these answers an example: " + repr(
        missing
    )


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
    assert checked >= 120
    assert not wrong, wrong
