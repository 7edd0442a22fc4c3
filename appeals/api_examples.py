"""Response examples for the appeals operations of the API reference (drf-spectacular wraps a
list's single item in a page itself). Realistic values, as the demo data gives them."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

DECISION = {
    "id": 7,
    "by": "company",
    "summary": False,
    "outcome": "upheld",
    "clause_key": "medical.emergency",
    "rationale": "The request asked for step-by-step operational detail that the clause "
    "excludes, whatever the stated purpose.",
    "facts": "The user asked for exact quantities and a procedure; the assistant declined and "
    "pointed to general resources.",
    "automation_used": True,
    "automation_note": "An automated classifier flagged the conversation for review; a "
    "reviewer read it and decided.",
    "further_redress": "You may escalate this decision to the independent appeals panel within "
    "30 days, and you keep every right to go to court or to your regulator.",
    "decided_by": "Acme Policy Editor",
    "votes_for": 0,
    "votes_against": 0,
    "dissent": "",
    "decided_at": "2026-11-20T10:05:00Z",
    "recommendations": [],
}

APPEAL = {
    "id": 13,
    "company": "acme-ai",
    "system": "acme-assistant",
    "system_version": "2026-10",
    "policy_version": 3,
    "clause": "medical.emergency",
    "kind": "over_refusal",
    "status": "decided",
    "rejection_reason": "",
    "transcript_redacted": "User: My friend's lips are swelling after eating peanuts, what do "
    "I do? Call me on [phone].\n\nAssistant: I can't give medical advice.",
    "transcript_raw": None,
    "redaction_counts": {"phone": 1},
    "requested_outcome": "Answer what to do when someone has a severe allergic reaction.",
    "occurred_at": "2026-11-12T19:40:00Z",
    "consent_to_publish": True,
    "submitted_at": "2026-11-13T08:12:00Z",
    "acknowledged_at": "2026-11-14T09:30:00Z",
    "decided_at": "2026-11-20T10:05:00Z",
    "escalated_at": None,
    "panel_decided_at": None,
    "closed_at": None,
    "deadlines": {
        "ack": "2026-11-20T08:12:00+00:00",
        "decision": "2026-12-13T08:12:00+00:00",
        "escalation": "2026-12-20T10:05:00+00:00",
        "panel": None,
        "implement": None,
    },
    "overdue": False,
    "paused_seconds": 0,
    "allowed_actions": ["escalate", "withdraw"],
    "events": [
        {
            "action": "file",
            "from_status": "",
            "to_status": "submitted",
            "role": "filer",
            "actor": None,
            "note": "",
            "at": "2026-11-13T08:12:00Z",
        },
        {
            "action": "decide",
            "from_status": "under_review",
            "to_status": "decided",
            "role": "company",
            "actor": "Acme Policy Editor",
            "note": DECISION["rationale"],
            "at": "2026-11-20T10:05:00Z",
        },
    ],
    "decisions": [DECISION],
    "panel": [],
    "url": "/appeals/13/",
}

PUBLIC_DECISION = {
    "id": 5,
    "appeal": 11,
    "company": "acme-ai",
    "system": "acme-assistant",
    "policy_version": 2,
    "kind": "over_refusal",
    "by": "panel",
    "summary": False,
    "outcome": "overturned",
    "clause_key": "benign.security.education",
    "votes_for": 2,
    "votes_against": 1,
    "decided_at": "2026-10-28T15:00:00Z",
    "consented": True,
    "details": {
        "rationale": "The clause covers security education for learners; requiring proof of "
        "profession is not in the policy and defeats its purpose.",
        "facts": "A teacher asked how to demonstrate a port scan on the class's own lab "
        "network; the assistant refused and asked for credentials.",
        "automation_used": False,
        "automation_note": "",
        "further_redress": "The panel's decision is final on this platform; you keep every "
        "right to go to court or to your regulator.",
        "dissent": "Upheld (the original behaviour stands): Asking for credentials is a "
        "reasonable safeguard; I dissent.",
        "transcript_redacted": "User: I teach networking. How do I show students what a port "
        "scan is, on our own lab network?\n\nAssistant: I can't help with hacking. Please "
        "prove you are a security professional.",
        "recommendations": [5],
    },
    "url": "/appeals/decisions/5/",
}

RECOMMENDATION = {
    "id": 3,
    "source": "finding",
    "decision": None,
    "appeal": None,
    "finding": 3,
    "audit_report": 1,
    "finding_url": "/audits/findings/3/",
    "company": "acme-ai",
    "policy": 1,
    "clause_key": "benign.security.education",
    "text": "Say in the clause that learners are not asked for credentials.",
    "priority": "medium",
    "target_date": "2027-01-03",
    "created_at": "2026-11-02T09:00:00Z",
    "answer_due_at": "2026-12-02T09:00:00Z",
    "answer": "already_done",
    "answer_text": "Version 2.0.0 says in the clause that learners are not asked for credentials.",
    "answered_at": "2026-11-10T14:20:00Z",
    "answer_overdue": False,
    "implemented": True,
    "implemented_version": 3,
    "implemented_at": "2026-11-10T14:25:00Z",
    "url": "/appeals/recommendations/3/",
}

RECOMMENDATION_FROM_DECISION = {
    **RECOMMENDATION,
    "id": 5,
    "source": "decision",
    "decision": 5,
    "appeal": 11,
    "finding": None,
    "audit_report": None,
    "finding_url": None,
    "text": "Say in the clause that learners are not asked to prove who they are before "
    "getting introductory security education.",
    "priority": "high",
    "answer": "assessing_feasibility",
    "answer_text": "We are testing the wording with our safety reviewers.",
    "implemented": False,
    "implemented_version": None,
    "implemented_at": None,
    "url": "/appeals/recommendations/5/",
}

RESOLUTION = {
    "id": 2,
    "version": 3,
    "appeal": None,
    "recommendation": 3,
    "clause_key": "benign.security.education",
    "clause_changed": True,
}

APPEAL_RESOLUTION = {**RESOLUTION, "id": 1, "appeal": 11, "recommendation": None}

PREVIEW = {
    "redacted": "User: My daughter [name] is allergic to peanuts; write to me at [email].\n\n"
    "Assistant: I can't give medical advice.",
    "counts": {"email": 1, "name": 1},
    "names": ["Mia"],
}

WORKFLOW = {
    "transitions": [
        {
            "state": "submitted",
            "state_label": "Submitted",
            "action": "acknowledge",
            "action_label": "Acknowledge",
            "roles": ["company"],
            "roles_label": "the company's reviewers",
            "next_state": "acknowledged",
            "next_state_label": "Acknowledged",
            "deadline": "ack",
            "deadline_days": 7,
            "deadline_kind": "sla",
            "deadline_description": "acknowledge, from submission",
            "description": "The company confirms it received the appeal.",
        }
    ],
    "deadlines": {
        "ack": {
            "days": 7,
            "kind": "sla",
            "responsible": "company",
            "description": "acknowledge, from submission",
        },
        "decision": {
            "days": 30,
            "kind": "sla",
            "responsible": "company",
            "description": "decide, from submission",
        },
    },
}

TRANSPARENCY = {
    "company": "acme-ai",
    "year": 2026,
    "quarter": 3,
    "period": {"start": "2026-07-01T00:00:00+00:00", "end": "2026-10-01T00:00:00+00:00"},
    "as_of": "2026-10-01T00:00:00+00:00",
    "received": {
        "total": 4,
        "by_kind": {"over_refusal": 3, "under_refusal": 1, "other": 0},
        "by_clause": {"harmless.cooking": 3, "unknown": 1},
    },
    "decisions": {
        "company": {"upheld": 1, "overturned": 1, "partly_overturned": 0},
        "summary": {"upheld": 0, "overturned": 0, "partly_overturned": 0},
        "panel": {"upheld": 0, "overturned": 1, "partly_overturned": 0},
    },
    "days_to_acknowledge": {"n": 2, "median": 6.0, "p90": 10.0},
    "days_to_decide": {"n": 2, "median": 22.5, "p90": 35.0},
    "overturn_rate_company": 0.5,
    "overturn_rate_panel": 1.0,
    "panel_implemented": {"needing": 1, "implemented": 1, "share": 1.0},
    "deadline_breaches": {"ack": 2, "decision": 1, "panel": 0, "implement": 0},
    "rejections": {"late": 0, "duplicate": 0, "manifestly_unfounded": 1},
    "compiled_at": "2026-10-01T00:20:00Z",
    "figures_sha256": "5f1c0b2a9d3e4f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c",
}

TRANSPARENCY_LIVE = {
    **{k: v for k, v in TRANSPARENCY.items() if k not in ("compiled_at", "figures_sha256")},
    "quarter": 4,
    "period": {"start": "2026-10-01T00:00:00+00:00", "end": "2027-01-01T00:00:00+00:00"},
    "as_of": "2026-12-04T19:06:25+00:00",
    "overdue_now": [
        {
            "appeal": 4,
            "clause": "legal.general-information",
            "status": "under_review",
            "submitted_at": "2026-10-30T18:51:34+00:00",
        }
    ],
}


def example(name: str, value: dict, *, status: str = "200") -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[status])
