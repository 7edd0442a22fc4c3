"""Who may do what in public comment: the role-by-permission table is the documentation.

Each cell is `policies.rules.allowed(user, permission, target)` for a persona of
tests/conftest.py. Targets: Acme's published v1.0.0 (open a period), its open period (extend,
respond, publish the response), Acme AI (comment on its behalf); the rest take none.
"""

from __future__ import annotations

import pytest
import rules
from django.contrib.auth.models import AnonymousUser

from policies import rules as policy_rules
from policies.rules import allowed

pytestmark = pytest.mark.django_db

PERMISSIONS = [
    "open_comment_period",
    "extend_comment_period",
    "post_comment",
    "comment_on_behalf_of",
    "endorse_comment",
    "flag_comment",
    "moderate_comments",
    "respond_to_comments",
    "publish_responses",
]

Y, N = True, False
# fmt: off
MATRIX = {
    #                 open    extend  post    behalf  endorse flag    moderate respond publish
    "company_owner":  [Y,      Y,      Y,      Y,      Y,      Y,      N,       Y,      Y],
    "company_editor": [Y,      Y,      Y,      Y,      Y,      Y,      N,       Y,      Y],
    "company_member": [N,      N,      Y,      Y,      Y,      Y,      N,       N,      N],
    "outsider":       [N,      N,      Y,      N,      Y,      Y,      N,       N,      N],
    "citizen":        [N,      N,      Y,      N,      Y,      Y,      N,       N,      N],
    "auditor":        [N,      N,      Y,      N,      Y,      Y,      N,       N,      N],
    "regulator":      [N,      N,      Y,      N,      Y,      Y,      N,       N,      N],
    "panelist":       [N,      N,      Y,      N,      Y,      Y,      N,       N,      N],
    "moderator":      [N,      N,      Y,      N,      Y,      Y,      Y,       N,      N],
    "staff":          [N,      N,      Y,      N,      Y,      Y,      Y,       N,      N],
    "anonymous":      [N,      N,      N,      N,      N,      N,      N,       N,      N],
}
# fmt: on

CELLS = [
    pytest.param(persona, permission, expected, id=f"{persona}-{permission}")
    for persona, row in MATRIX.items()
    for permission, expected in zip(PERMISSIONS, row, strict=True)
]


def test_it_covers_every_comment_permission():
    assert {f"policies.{p}" for p in PERMISSIONS} == set(policy_rules.COMMENT_PERMISSIONS)
    for permission in policy_rules.COMMENT_PERMISSIONS:
        assert rules.perm_exists(permission)


@pytest.mark.parametrize(("persona", "permission", "expected"), CELLS)
def test_the_matrix(request, persona, permission, expected, company, open_period):
    user = AnonymousUser() if persona == "anonymous" else request.getfixturevalue(persona)
    target = {
        "open_comment_period": open_period.version,
        "extend_comment_period": open_period,
        "comment_on_behalf_of": company,
        "respond_to_comments": open_period,
        "publish_responses": open_period,
    }.get(permission)
    assert allowed(user, f"policies.{permission}", target) is expected


def test_an_unverified_account_may_only_read(open_period):
    from tests.factories import UserFactory

    unverified = UserFactory(verified=False)
    for permission in ("post_comment", "endorse_comment", "flag_comment"):
        assert not allowed(unverified, f"policies.{permission}")
