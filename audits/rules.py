"""Who may upload evidence, correct its labels and read the texts an uploader withheld.

- A company reports its own results: editors and owners of the verified developer that owns the
  AI system (`audits.upload_self_reported`, target: the system).
- Independent evidence comes from an accredited auditor: any member of a verified auditor whose
  accreditation has not expired (`audits.upload_independent`, target: the auditor).
- Reviewers who relabel samples: accredited auditors and staff (`audits.relabel_sample`).
- Withheld prompts and responses: accredited auditors, regulators, staff and the uploading
  organization's members (`audits.view_withheld`, target: the run).
"""

from __future__ import annotations

from typing import Any

import rules
from django.utils import timezone

from governance.models import Organization
from governance.rules import (
    is_accredited_auditor,
    is_org_editor_or_owner,
    is_org_member,
    is_regulator,
    is_staff,
)


def _organization(target: Any) -> Organization | None:
    if isinstance(target, Organization):
        return target
    return getattr(target, "organization", None)


@rules.predicate
def edits_verified_developer(user, target) -> bool:
    organization = _organization(target)
    return (
        organization is not None
        and organization.kind == Organization.Kind.DEVELOPER
        and organization.is_verified
        and is_org_editor_or_owner(user, organization)
    )


@rules.predicate
def member_of_accredited_auditor(user, target) -> bool:
    organization = _organization(target)
    return (
        organization is not None
        and organization.kind == Organization.Kind.AUDITOR
        and organization.is_verified
        and organization.accreditation_expires_at is not None
        and organization.accreditation_expires_at > timezone.now()
        and is_org_member(user, organization)
    )


@rules.predicate
def member_of_uploader(user, run) -> bool:
    return is_org_member(user, _organization(run))


rules.add_perm("audits.upload_self_reported", edits_verified_developer)
rules.add_perm("audits.upload_independent", member_of_accredited_auditor)
rules.add_perm("audits.relabel_sample", is_staff | is_accredited_auditor)
rules.add_perm(
    "audits.view_withheld", is_staff | is_accredited_auditor | is_regulator | member_of_uploader
)


@rules.predicate
def edits_policy_of(user, version) -> bool:
    from policies.rules import organization_of

    return is_org_editor_or_owner(user, organization_of(version))


# Mapping benchmark categories onto clauses decides what the conformance figures measure: the
# company's policy editors, accredited auditors and staff may do it, each change on the ledger.
rules.add_perm("audits.map_categories", is_staff | is_accredited_auditor | edits_policy_of)
