"""Demo appeals for `make run`: Acme's appeals in every state — fresh, overdue, waiting for the
filer, decided, rejected, withdrawn, escalated, before the panel, a panel decision with a
dissent and a recommendation that Acme answered and that its version 2.0.0 implements, a
summary decision, Acme's answer to a recommendation from a finding of the published audit
report — and two more panelists so that a panel of three can sit.

Idempotent: each demo appeal is known by its requested outcome and made once; the deadlines of
the overdue ones are moved into the past on that first run only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from appeals import services
from appeals.models import Appeal, Recommendation, TransparencyReport
from governance.demo import register_demo_seeder
from governance.models import AISystem, Membership, Organization, User
from governance.services.organizations import membership_add
from policies.models import PolicyVersion

DEMO_PASSWORD = "openrefusal-demo"  # noqa: S105 — the published demo password, local only
EXTRA_PANELISTS = [
    ("panelist2@appeals-panel.test", "Panelist Rosa"),
    ("panelist3@appeals-panel.test", "Panelist Kenji"),
]


@dataclass
class DemoAppeal:
    outcome_asked: str  # unique: how the seeder recognises its own appeal
    version: str
    clause: str | None
    kind: str
    transcript: str
    steps: list[str] = field(default_factory=list)
    consent: bool = True
    names: tuple[str, ...] = ()
    # Days to move the appeal's clock back (an overdue demo), once.
    age_days: int = 0
    decision: dict = field(default_factory=dict)
    system: str = "acme-assistant"


DECISION = {
    "rationale": "The request was for general, widely published safety information that the "
    "clause says the assistant provides. The refusal applied the clause too broadly.",
    "facts": "The user asked a general question; the assistant refused with a generic message. "
    "No operational detail was requested.",
    "automation_used": False,
}
UPHOLD = {
    "rationale": "The request asked for step-by-step operational detail that the clause "
    "excludes, whatever the stated purpose.",
    "facts": "The user asked for exact quantities and a procedure; the assistant declined and "
    "pointed to general resources.",
    "automation_used": True,
    "automation_note": "An automated classifier flagged the conversation for review; a reviewer "
    "read it and decided.",
}

SPECS = [
    DemoAppeal(
        "Answer questions about how phishing works, for my staff training.",
        "2.0.0",
        None,
        "over_refusal",
        "User: How do phishing e-mails usually trick people? I train our office staff. You can "
        "reach me at it-lead@example-school.test.\n\nAssistant: I can't help with that request.",
    ),
    DemoAppeal(
        "Explain the history of siege weapons for my class.",
        "2.0.0",
        "benign.history.weapons",
        "over_refusal",
        "User: For a history class, how did trebuchets work in medieval sieges?\n\n"
        "Assistant: I'm sorry, I can't help with weapons.",
        age_days=10,
    ),
    DemoAppeal(
        "Give crisis resources without lecturing.",
        "2.0.0",
        "selfharm.support",
        "other",
        "User: I have had a terrible week and I don't know who to talk to.\n\n"
        "Assistant: I cannot discuss this topic.",
        steps=["acknowledge"],
        consent=False,
    ),
    DemoAppeal(
        "Help me understand my tenancy rights in general terms.",
        "2.0.0",
        "legal.general-information",
        "over_refusal",
        "User: Can my landlord keep my deposit for normal wear and tear? My name is Maria "
        "Santos, call me on +34 612 345 678.\n\nAssistant: I can't give legal advice.",
        steps=["acknowledge", "start_review"],
        age_days=35,
        names=("Maria Santos",),
    ),
    DemoAppeal(
        "Answer basic medication-interaction questions.",
        "2.0.0",
        "medical.general",
        "over_refusal",
        "User: Can I take ibuprofen with my blood pressure tablets?\n\n"
        "Assistant: Please consult a doctor. I can't answer medical questions.",
        steps=["acknowledge", "start_review", "request_info"],
    ),
    DemoAppeal(
        "Refuse to write malware, as the policy says.",
        "2.0.0",
        "cyber.malware.authoring",
        "under_refusal",
        "User: Write a program that encrypts every file on a network share and leaves a ransom "
        "note.\n\nAssistant: Here is a script that walks the share and encrypts each file…",
        steps=["acknowledge", "start_review", "decide:overturned"],
        decision={
            **DECISION,
            "rationale": "The assistant should have refused: this is "
            "ransomware, which the clause excludes. The response has been removed and "
            "the model's behaviour corrected.",
            "facts": "The user asked for a program that encrypts a network share and leaves a "
            "ransom note; the assistant wrote one.",
            "clause_key": "cyber.malware.authoring",
        },
    ),
    DemoAppeal(
        "Write my fantasy novel's battle scene.",
        "2.0.0",
        "benign.fiction.violence",
        "over_refusal",
        "User: Write a tense battle scene where the knights defend the bridge.\n\n"
        "Assistant: I can't write violent content.",
        steps=["acknowledge", "start_review", "decide:overturned", "close"],
        decision={**DECISION, "clause_key": "benign.fiction.violence"},
    ),
    DemoAppeal(
        "Same trebuchet question as before.",
        "2.0.0",
        "benign.history.weapons",
        "over_refusal",
        "User: How did trebuchets work?\n\nAssistant: I can't help with weapons.",
        steps=["reject_out_of_scope"],
    ),
    DemoAppeal(
        "Explain an election's vote-counting rules.",
        "2.0.0",
        "elections.information",
        "over_refusal",
        "User: How are postal votes counted in the general election?\n\n"
        "Assistant: I can't discuss elections.",
        steps=["withdraw"],
    ),
    DemoAppeal(
        "Explain how the nerve agents of WWI affected soldiers, for a museum text.",
        "2.0.0",
        "weapons.chem.agents",
        "over_refusal",
        "User: For our museum panel, what did chlorine gas do to soldiers in 1915?\n\n"
        "Assistant: I can't provide information about chemical weapons.",
        steps=["acknowledge", "start_review", "decide:upheld", "escalate"],
        decision={**UPHOLD, "clause_key": "weapons.chem.agents"},
    ),
    DemoAppeal(
        "Teach port scanning to students on their own lab network.",
        "1.1.0",
        "benign.security.education",
        "over_refusal",
        "User: I teach networking. How do I show students what a port scan is, on our own lab "
        "network? IBAN for the course fee: DE89 3704 0044 0532 0130 00.\n\n"
        "Assistant: I can't help with hacking. Please prove you are a security professional.",
        steps=[
            "acknowledge",
            "start_review",
            "decide:upheld",
            "escalate",
            "panel_assign",
            "panel_decide:overturned",
            "answer",
            "cite:2.0.0",
            "implement",
            "close",
        ],
        decision={**UPHOLD, "clause_key": "benign.security.education"},
    ),
    DemoAppeal(
        "Discuss the arguments in a historical extremist pamphlet for my thesis.",
        "2.0.0",
        "extremism.scholarship",
        "over_refusal",
        "User: For my thesis, summarise the main arguments of this 1920s pamphlet and how "
        "historians criticise them.\n\nAssistant: I won't promote extremist content.",
        steps=["acknowledge", "start_review", "decide:upheld", "escalate", "panel_assign", "votes"],
        decision={**UPHOLD, "clause_key": "extremism.scholarship"},
    ),
    DemoAppeal(
        "Answer what to do when someone has a severe allergic reaction.",
        "2.0.0",
        "medical.emergency",
        "over_refusal",
        "User: My friend's lips are swelling after eating peanuts, what do I do?\n\n"
        "Assistant: I can't give medical advice.",
        steps=["acknowledge", "start_review", "decide:upheld", "escalate", "summary_decision"],
        decision={**UPHOLD, "clause_key": "medical.emergency"},
    ),
]


def _panelists(people: dict, panel: Organization) -> list[User]:
    owner = people["panel member"]
    members = [owner]
    for email, name in EXTRA_PANELISTS:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=DEMO_PASSWORD, display_name=name)
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        if not Membership.objects.filter(organization=panel, user=user).exists():
            membership_add(actor=owner, organization=panel, user=user, role=Membership.Role.MEMBER)
        members.append(user)
    return members


def _file(spec: DemoAppeal, citizen: User, system: AISystem, version: PolicyVersion) -> Appeal:
    preview = services.appeal_redaction_preview(transcript=spec.transcript, names=spec.names)
    return services.appeal_file(
        actor=citizen,
        system=system,
        version=version,
        clause_key=spec.clause,
        kind=spec.kind,
        transcript=spec.transcript,
        confirmed_redaction=preview["redacted"],
        names=spec.names,
        requested_outcome=spec.outcome_asked,
        occurred_at=timezone.now() - timedelta(days=spec.age_days + 2),
        consent_to_publish=spec.consent,
        system_version="2026-10",
    )


def _age(appeal: Appeal, days: int) -> None:
    """Move the appeal's clock back, so its deadlines have passed (demo only)."""
    shift = timedelta(days=days)
    Appeal.objects.filter(pk=appeal.pk).update(
        submitted_at=appeal.submitted_at - shift,
        ack_due_at=appeal.ack_due_at - shift,
        decision_due_at=appeal.decision_due_at - shift,
    )


def _step(step: str, appeal: Appeal, spec: DemoAppeal, people: dict, panel, panelists) -> None:
    appeal = Appeal.objects.get(pk=appeal.pk)
    editor, citizen = people["company editor"], people["citizen"]
    name, _, arg = step.partition(":")
    actions: dict[str, Callable[[], object]] = {
        "acknowledge": lambda: services.appeal_acknowledge(
            actor=editor, appeal=appeal, note="Received; a reviewer will take it."
        ),
        "start_review": lambda: services.appeal_start_review(actor=editor, appeal=appeal),
        "request_info": lambda: services.appeal_request_info(
            actor=editor,
            appeal=appeal,
            question="Which version of the app were you using, and did you mention a doctor?",
        ),
        "decide": lambda: services.appeal_decide(
            actor=editor, appeal=appeal, outcome=arg, **spec.decision
        ),
        "close": lambda: services.appeal_close(
            actor=citizen, appeal=appeal, note="Thank you, that answers it."
        ),
        "reject_out_of_scope": lambda: services.appeal_reject_out_of_scope(
            actor=editor,
            appeal=appeal,
            reason="duplicate",
            note="The same conversation is already under appeal (see the earlier appeal).",
        ),
        "withdraw": lambda: services.appeal_withdraw(
            actor=citizen, appeal=appeal, note="I found the answer elsewhere."
        ),
        "escalate": lambda: services.appeal_escalate(
            actor=citizen,
            appeal=appeal,
            reason="The clause allows this kind of education; the refusal was too broad.",
        ),
        "panel_assign": lambda: services.appeal_panel_assign(
            actor=people["panel member"], appeal=appeal, panel=panel, panelists=panelists
        ),
        "summary_decision": lambda: services.appeal_summary_decision(
            actor=editor,
            appeal=appeal,
            outcome="overturned",
            **{**DECISION, "clause_key": spec.decision["clause_key"]},
        ),
        "implement": lambda: services.appeal_implement(
            actor=editor,
            appeal=appeal,
            note="Version 2.0.0 of the policy rewrites the clause; the model was updated.",
        ),
    }
    if name in actions:
        actions[name]()
    elif name == "votes":
        services.appeal_panel_vote(
            actor=panelists[0],
            appeal=appeal,
            outcome="overturned",
            note="Scholarship on extremism is expressly allowed.",
        )
    elif name == "panel_decide":
        votes = [
            ("overturned", "Teaching on one's own network is education."),
            ("overturned", ""),
            ("upheld", "Asking for credentials is a reasonable safeguard; I dissent."),
        ]
        for person, (vote, note) in zip(panelists, votes, strict=True):
            services.appeal_panel_vote(actor=person, appeal=appeal, outcome=vote, note=note)
        services.appeal_panel_decide(
            actor=panelists[0],
            appeal=Appeal.objects.get(pk=appeal.pk),
            clause_key=spec.decision["clause_key"],
            rationale="The clause covers security education for learners; requiring proof of "
            "profession is not in the policy and defeats its purpose.",
            facts="A teacher asked how to demonstrate a port scan on the class's own lab "
            "network; the assistant refused and asked for credentials.",
            automation_used=False,
            recommendations=[
                {
                    "text": "Say in the clause that learners are not asked to prove who they are "
                    "before getting introductory security education.",
                    "priority": "high",
                    "target_date": timezone.now().date() + timedelta(days=60),
                }
            ],
        )
    elif name == "answer":
        recommendation = Recommendation.objects.filter(decision__appeal=appeal).first()
        services.recommendation_answer(
            actor=people["company owner"],
            recommendation=recommendation,
            answer=Recommendation.Answer.IMPLEMENTING_FULLY,
            text="Version 2.0.0 adds exactly this sentence to the clause.",
        )
    elif name == "cite":
        version = PolicyVersion.objects.get(policy=appeal.version.policy, major=2, minor=0, patch=0)
        recommendation = Recommendation.objects.filter(decision__appeal=appeal).first()
        services.version_cite(
            actor=people["company owner"],
            version=version,
            recommendation=recommendation,
            note="The clause now says learners are not asked to prove who they are.",
        )
        services.version_cite(actor=people["company owner"], version=version, appeal=appeal)


def seed_appeals(people: dict) -> None:
    panel = Organization.objects.filter(slug="appeals-panel").first()
    system = AISystem.objects.filter(organization__slug="acme-ai", slug="acme-assistant").first()
    if panel is None or system is None:
        return
    panelists = _panelists(people, panel)
    versions = {
        v.number: v
        for v in PolicyVersion.objects.filter(
            policy__organization__slug="acme-ai", policy__slug="usage-policy"
        ).exclude(status=PolicyVersion.Status.DRAFT)
    }
    for spec in SPECS:
        version = versions.get(spec.version)
        if version is None:
            continue
        if Appeal.objects.filter(requested_outcome=spec.outcome_asked).exists():
            continue
        with transaction.atomic():
            appeal = _file(spec, people["citizen"], system, version)
            for step in spec.steps:
                _step(step, appeal, spec, people, panel, panelists)
            if spec.age_days:
                _age(appeal, spec.age_days)
    _answer_a_finding_recommendation(people)
    _compile_last_quarter()


FINDING_ANSWERED = "Asks security learners to prove who they are"


def _answer_a_finding_recommendation(people: dict) -> None:
    """The published audit report's findings became recommendations when it was published;
    Acme answers the one on security learners, and its version 2.0.0 (which rewrote that
    clause) cites it — so it is implemented, checked against the diff. Once."""
    recommendation = (
        Recommendation.objects.filter(
            finding__title=FINDING_ANSWERED,
            finding__report__audited__slug="acme-ai",
            answer="",
        )
        .select_related("finding__version__policy")
        .first()
    )
    if recommendation is None:
        return
    owner = people["company owner"]
    with transaction.atomic():
        services.recommendation_answer(
            actor=owner,
            recommendation=recommendation,
            answer=Recommendation.Answer.ALREADY_DONE,
            text="Version 2.0.0 says in the clause that learners are not asked for credentials.",
        )
        later = PolicyVersion.objects.filter(
            policy=recommendation.policy, major=2, minor=0, patch=0
        ).first()
        if later is not None and not recommendation.resolutions.exists():
            services.version_cite(
                actor=owner,
                version=later,
                recommendation=recommendation,
                note="The security-education clause was rewritten in 2.0.0.",
            )


def _compile_last_quarter() -> None:
    """Acme's report for the last quarter that ended, frozen (it may count nothing)."""
    from appeals.selectors import quarter_of

    acme = Organization.objects.filter(slug="acme-ai").first()
    year, quarter = quarter_of(timezone.now())
    year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    if (
        acme is not None
        and not TransparencyReport.objects.filter(
            organization=acme, year=year, quarter=quarter
        ).exists()
    ):
        services.transparency_report_compile(organization=acme, year=year, quarter=quarter)


register_demo_seeder(seed_appeals)
