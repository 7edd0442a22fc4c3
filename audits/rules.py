"""Who may upload evidence, correct its labels and read the texts an uploader withheld.

- A company reports its own results: editors and owners of the verified developer that owns the
  AI system (`audits.upload_self_reported`, target: the system).
- Independent evidence comes from an accredited auditor: any member of a verified auditor whose
  accreditation has not expired (`audits.upload_independent`, target: the auditor).
- Reviewers who relabel samples: accredited auditors and staff (`audits.relabel_sample`).
- Cancelling an import in progress: the uploader, editors and owners of the uploading
  organization, and staff (`audits.cancel_run`, target: the run).
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


@rules.predicate
def uploaded(user, run) -> bool:
    return run is not None and run.uploaded_by_id is not None and run.uploaded_by_id == user.pk


@rules.predicate
def edits_for_uploader(user, run) -> bool:
    return is_org_editor_or_owner(user, _organization(run))


# Cancelling an import in progress: who uploaded it, the uploading organization's editors and
# owners, staff. (Not the audited company: it must not stop an auditor's evidence.)
rules.add_perm("audits.cancel_run", is_staff | uploaded | edits_for_uploader)
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


# --- Audit reports ------------------------------------------------------------------------------
# Drafts: only the auditor's organization. Submitted and embargoed reports: the auditor, the
# audited company and regulators. Published reports: everyone. The auditor writes the report
# while it is a draft (its accreditation current); the audited company's editors and owners
# respond to it and move its findings; regulators only read.


@rules.predicate
def member_of_report_auditor(user, report) -> bool:
    return is_org_member(user, report.auditor)


@rules.predicate
def member_of_audited(user, report) -> bool:
    return is_org_member(user, report.audited)


@rules.predicate
def edits_for_audited(user, report) -> bool:
    return (
        report.audited.kind == Organization.Kind.DEVELOPER
        and report.audited.is_verified
        and is_org_editor_or_owner(user, report.audited)
    )


@rules.predicate
def report_is_published(user, report) -> bool:
    return report.status == "published"


@rules.predicate
def report_is_draft(user, report) -> bool:
    return report.status == "draft"


@rules.predicate
def writes_for_report_auditor(user, report) -> bool:
    return member_of_accredited_auditor(user, report.auditor)


rules.add_perm("audits.create_report", member_of_accredited_auditor)
rules.add_perm(
    "audits.view_report",
    report_is_published
    | member_of_report_auditor
    | (~report_is_draft & (member_of_audited | is_regulator)),
)
rules.add_perm("audits.edit_report", report_is_draft & writes_for_report_auditor)
# Embargo changes and early publication after the company's response, by the auditor.
rules.add_perm("audits.manage_disclosure", ~report_is_draft & member_of_report_auditor)
rules.add_perm("audits.respond_to_report", ~report_is_draft & edits_for_audited)
# Reading a finding's withheld sample texts: as for withheld evidence (accredited auditors,
# regulators, staff) plus the report's own parties.
rules.add_perm(
    "audits.view_withheld_findings",
    is_staff | is_accredited_auditor | is_regulator | member_of_report_auditor | member_of_audited,
)


# Drift alerts (audits.drift_services): the company owning the AI system answers them.
rules.add_perm("audits.annotate_drift", edits_verified_developer)
