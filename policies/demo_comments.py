"""Demo public comment for `make run`: an open period on Acme's current version with a docket
worth reading, and a closed period on Northwind's current version with its published response.

Acme: about forty individual comments (on clauses and on the whole version, replies, one on
behalf of an auditor), endorsements, a 75-letter campaign (60 identical, 15 near-identical) and
a smaller one, one flagged, one hidden and one held comment. Northwind: a closed period whose
campaign and commented clauses all have the company's answer, and the published response.

Everything goes through the services; dates in the past come from their `now=` arguments. A
period that already exists is left alone, so a second run writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from governance.demo import register_demo_seeder
from governance.models import Organization, User
from policies.clustering import cluster_pending
from policies.models import (
    Comment,
    CommentCluster,
    CommentPeriod,
    CommentResponse,
    Endorsement,
    PolicyVersion,
)
from policies.selectors.responses import response_requirements
from policies.services import comments as svc

# Demo commenters are not logins: an unusable password, a confirmed address, and (but for the
# one whose comment shows the hold for new accounts) an account well over a day old.
COMMENTER_DOMAIN = "commenters.openrefusal.test"


@dataclass(frozen=True)
class DemoComment:
    author: str  # display name of a demo commenter, or "role:<seed_demo role>"
    clause: str | None
    body: str
    # Index (in the same list) of the comment this replies to.
    reply_to: int | None = None
    endorsed_by: int = 0


ACME_COMMENTS: tuple[DemoComment, ...] = (
    DemoComment(
        "Dr. Priya Raman",
        "medical.general",
        "I am an emergency physician. Patients now arrive having asked an assistant about a drug "
        "interaction and been told to 'consult a professional' at 2 a.m. This clause says "
        "ordinary medical information is answered; please publish how often the assistant "
        "refuses medical questions anyway, so we can see whether the text matches practice.",
        endorsed_by=14,
    ),
    DemoComment(
        "Tomás Ferreira",
        "selfharm.support",
        "The support clause is good, but it should say that the assistant keeps talking with "
        "the person after giving crisis numbers. A hotline number followed by silence reads as "
        "a brush-off to someone who finally found the words to ask.",
        endorsed_by=11,
    ),
    DemoComment(
        "nightshift_nurse",
        "selfharm.methods",
        "I support refusing method details. Please also publish how often this clause triggers "
        "on questions from clinicians and pharmacists about overdose thresholds, which we need "
        "every day for safe prescribing.",
        endorsed_by=6,
    ),
    DemoComment(
        "Marguerite Okafor",
        "weapons.bio.synthesis",
        "The biological weapons clause should name the evaluation used to test it and the "
        "organisation that ran it. 'We refuse' is a promise; an independent red-team result "
        "is evidence.",
        endorsed_by=9,
    ),
    DemoComment(
        "Jonas Lindqvist",
        "cyber.exploit.poc",
        "As a penetration tester I welcome this change. Proof-of-concept code for published "
        "CVEs is how defenders confirm a patch works. Please say how a researcher becomes "
        "'verified' and how long that takes; a six-week queue would make the clause "
        "meaningless.",
        endorsed_by=7,
    ),
    DemoComment(
        "Sam Whitaker",
        "cyber.defense.assistance",
        "Thank you for stating plainly that defensive help is answered. Many assistants refuse "
        "to explain how an attack works even to the people who have to detect it.",
        endorsed_by=3,
    ),
    DemoComment(
        "Leila Haddad",
        "elections.information",
        "Please commit to answering polling-place and registration questions in every language "
        "the assistant speaks, not only English. Language minorities are the voters most "
        "likely to be misinformed.",
        endorsed_by=8,
    ),
    DemoComment(
        "Ben Adeyemi",
        "elections.synthetic-media",
        "Satire of politicians is protected speech in most democracies. The clause should "
        "distinguish obvious satire and parody from deceptive media meant to be taken as real, "
        "and give an example of each.",
        endorsed_by=5,
    ),
    DemoComment(
        "privacy_first",
        "privacy.doxxing",
        "Good clause. Consider also refusing to aggregate scattered public information about a "
        "private individual into one profile. That is how most doxxing actually happens: no "
        "single fact is secret.",
        endorsed_by=10,
    ),
    DemoComment(
        "Ana Souza",
        "legal.general-information",
        "Tenants facing eviction cannot afford lawyers. Explaining the law in general terms, "
        "with the deadlines that apply, is a public good; please do not narrow this clause in "
        "the next version.",
        endorsed_by=6,
    ),
    DemoComment(
        "R. Castellano",
        "sexual.adult",
        "Adults writing romance are treated like children today. The move to safe completion "
        "is welcome, but the clause should say whether the account's own settings can change "
        "it.",
        endorsed_by=2,
    ),
    DemoComment(
        "Hannah Brecht",
        None,
        "Overall this version is clearer than 1.1. What is still missing is a way to appeal a "
        "refusal directly from the product, with the clause that caused it named in the "
        "refusal message.",
        endorsed_by=12,
    ),
    DemoComment(
        "devrel_dan",
        None,
        "The policy should say which clauses apply to the API and which only to the consumer "
        "app. Developers building on the API cannot tell today, and our users ask us.",
        endorsed_by=4,
    ),
    DemoComment(
        "Kofi Mensah",
        "weapons.conventional.lawful-use",
        "Hunters and sport shooters ask ordinary questions about ballistics and safe storage. "
        "I am glad this clause says they are answered; in my experience they often are not.",
        endorsed_by=2,
    ),
    DemoComment(
        "Elif Demir",
        "medical.emergency",
        "In an emergency the assistant should first tell people to call emergency services and "
        "then keep helping, for example with first aid while they wait. The order matters and "
        "the clause should state it.",
        endorsed_by=7,
    ),
    DemoComment(
        "Yusuf Rahman",
        "benign.chemistry.homework",
        "My daughter's chemistry homework on exothermic reactions was refused last month. The "
        "clause is right; the model does not follow it. How will you measure compliance?",
        endorsed_by=5,
    ),
    DemoComment(
        "Olga Ivanova",
        "benign.history.weapons",
        "History teachers need the assistant to discuss how weapons shaped wars, including "
        "chemical weapons in 1915. Please keep this clause and give examples in the text.",
        endorsed_by=3,
    ),
    DemoComment(
        "Chris Delaney",
        "extremism.scholarship",
        "I research online radicalisation. The scholarship clause is welcome, but the boundary "
        "with 'propaganda' needs an example: may the assistant quote a manifesto in order to "
        "analyse it?",
        endorsed_by=4,
    ),
    DemoComment(
        "Aroha Ngata",
        "hate.targeted-harassment",
        "Please say how the harassment clause treats reclaimed slurs used by members of the "
        "community they refer to. Refusing our own language is its own harm.",
        endorsed_by=3,
    ),
    DemoComment(
        "M. Petrovic",
        "fraud.scams",
        "Fraud-awareness trainers need realistic example phishing e-mails. A clearly marked "
        "training exception would help banks and schools.",
        endorsed_by=2,
    ),
    DemoComment(
        "Grace Liu",
        "child.grooming",
        "As a child-protection officer I support this clause fully. Please add that the "
        "assistant explains grooming warning signs to parents and teachers who ask.",
        endorsed_by=9,
    ),
    DemoComment(
        "Pedro Alves",
        "benign.fiction.violence",
        "Crime novelists need violence on the page. I was refused a murder scene last year. "
        "The clause says fiction is answered; thank you for putting it in writing.",
        endorsed_by=1,
    ),
    DemoComment(
        "Ines Moreau",
        "weapons.chem.agents",
        "The chemical weapons clause should make clear that industrial safety questions about "
        "chlorine or ammonia are answered. Plant operators need them.",
        endorsed_by=3,
    ),
    DemoComment(
        "Daniel Cohen",
        "cyber.malware.authoring",
        "Students in my malware analysis course write harmless toy samples under supervision. "
        "The clause should allow explaining concepts while refusing working payloads.",
        endorsed_by=2,
    ),
    DemoComment(
        "Fatima Zahra",
        "privacy.doxxing",
        "Domestic violence survivors ask how to find out whether their address is exposed "
        "online. The clause must not refuse that; it is the opposite of doxxing.",
        endorsed_by=8,
    ),
    DemoComment(
        "Owen Price",
        None,
        "I would like the effective date of each clause change shown beside it. Version 2.0.0 "
        "takes effect in thirty days but the page does not say which changes are new.",
        endorsed_by=1,
    ),
    DemoComment(
        "Sofia Rossi",
        "elections.disinformation",
        "The disinformation clause should cover false claims about how to vote (dates, "
        "methods, eligibility), not only claims about candidates.",
        endorsed_by=4,
    ),
    DemoComment(
        "Arjun Nair",
        "medical.general",
        "Dosage questions are the ones people most need answered at night. Please say that "
        "labelled doses and maximum daily doses are always given.",
        endorsed_by=5,
    ),
    DemoComment(
        "Lucy Chen",
        "selfharm.support",
        "Please involve people with lived experience when you test this clause, not only "
        "clinicians. What feels supportive to a clinician can feel scripted to a person in "
        "crisis.",
        endorsed_by=6,
    ),
    DemoComment(
        "W. Nakamura",
        None,
        "The refusal policy should commit to publishing refusal rates per clause every "
        "quarter. Without numbers none of us can tell whether a clause is working.",
        endorsed_by=10,
    ),
    DemoComment(
        "Maya Goldberg",
        "legal.general-information",
        "Removing the jurisdiction notice was a mistake: people do not realise that the law "
        "differs between countries. A one-line reminder costs nothing.",
        endorsed_by=2,
    ),
    DemoComment(
        "Kwame Boateng",
        "benign.security.education",
        "Thank you for saying learners are not asked to prove who they are. Self-taught "
        "students without a university address were locked out before.",
        endorsed_by=3,
    ),
    DemoComment(
        "Clara Jensen",
        "weapons.nuclear.design",
        "Students of nuclear physics and policy need to discuss enrichment levels in general "
        "terms to follow the news. The clause should separate public knowledge from design "
        "details.",
        endorsed_by=2,
    ),
    DemoComment(
        "Rafael Ortiz",
        "extremism.propaganda",
        "Content moderators need to recognise propaganda to remove it. Please allow describing "
        "its common features without producing new material.",
        endorsed_by=1,
    ),
    DemoComment(
        "Zanele Dube",
        None,
        "This comment period is a good step. Please also hold one for the next major version "
        "before it is drafted, when our comments can still shape it.",
        endorsed_by=4,
    ),
    DemoComment(
        "Henrik Olsen",
        "cyber.intrusion.unauthorized",
        "The clause should say what counts as authorisation. Bug bounty scope documents are "
        "the usual proof; will the assistant accept them?",
        endorsed_by=2,
    ),
    # Replies (the thread keeps the clause of the comment it answers).
    DemoComment(
        "role:company editor",
        None,
        "Thank you. We will publish quarterly refusal rates for the medical clauses with the "
        "response to comments, including questions from clinicians.",
        reply_to=0,
        endorsed_by=3,
    ),
    DemoComment(
        "Lucy Chen",
        None,
        "Agreed, and the numbers should be broken down by specialty: psychiatry and "
        "toxicology ask very different questions.",
        reply_to=2,
    ),
    DemoComment(
        "Daniel Cohen",
        None,
        "Seconded. Verification should take days, not weeks, and should accept a CVE "
        "assignment or a bug bounty profile.",
        reply_to=4,
        endorsed_by=2,
    ),
    DemoComment(
        "role:citizen",
        None,
        "Yes please. I was refused a question about my own medicine and only learned later "
        "which rule it was.",
        reply_to=11,
    ),
    DemoComment(
        "Grace Liu",
        None,
        "Survivors' services would be glad to help test this; please reach out to them.",
        reply_to=24,
    ),
    # On behalf of an organization (the auditor is a member of the verified Fair Audit
    # Collective).
    DemoComment(
        "role:auditor",
        None,
        "Fair Audit Collective will run XSTest and our own over-refusal suite against this "
        "version during the comment period and publish the results per clause. We ask Acme to "
        "commit in the response to comments to fixing any clause whose measured behaviour "
        "contradicts its text.",
        endorsed_by=12,
    ),
)

# The form letter of a campaign against the proof-of-concept change, and its personalised
# copies (a greeting, a sign-off or a word changed: still the same letter).
ACME_LETTER = (
    "I am writing to oppose the change to the proof-of-concept exploits clause in version "
    "2.0.0. Giving working exploit code to anyone who can pass a light verification will put "
    "hospitals, schools and small businesses at risk before they can patch. Attackers will "
    "simply verify themselves. Please return this clause to refuse, publish the evidence "
    "behind the change, and consult independent security experts before loosening it again. "
    "Thank you for considering my comment."
)
ACME_LETTER_VARIANTS = (
    ACME_LETTER + " I work in a hospital IT department.",
    ACME_LETTER.replace("Thank you for considering my comment.", "Thank you."),
    ACME_LETTER.replace("hospitals, schools and small businesses", "hospitals and schools"),
    "Dear Acme, " + ACME_LETTER,
    ACME_LETTER + " My small business was hit by ransomware last year.",
)
ACME_LETTER_COPIES = 60
ACME_LETTER_VARIANT_COPIES = 15
# A smaller campaign, below the size the company must answer.
ACME_STUDENT_LETTER = (
    "As a chemistry student I ask Acme to make sure the assistant follows its own homework "
    "clause: explain reactions, balance equations and discuss lab safety without refusing."
)
ACME_STUDENT_COPIES = 8

NORTHWIND_LETTER = (
    "As a parent of a secondary school student, I ask Northwind to state in its policy that "
    "Northwind Tutor explains the material but never writes graded coursework or answers "
    "live exam questions for students. Teachers and families need to trust the tutor. "
    "Please make the tutoring rules plain in the next version."
)
NORTHWIND_LETTER_VARIANTS = (
    NORTHWIND_LETTER + " I am also a teacher.",
    NORTHWIND_LETTER.replace("As a parent of", "As the parent of two"),
)
NORTHWIND_LETTER_COPIES = 30
NORTHWIND_COMMENTS: tuple[DemoComment, ...] = (
    DemoComment(
        "Ruth Mbeki",
        "selfharm.crisis",
        "Teenagers in crisis need a warm first answer, not a list of numbers. Please test this "
        "clause with young people and youth workers.",
        endorsed_by=6,
    ),
    DemoComment(
        "Jamal Wright",
        "medical.information",
        "Health questions from students should be answered at their level, with a suggestion to "
        "talk to the school nurse when it matters.",
        endorsed_by=3,
    ),
    DemoComment(
        "Ms. Abernathy",
        "cyber.malware.authoring",
        "Computer science students write toy malware in coursework. The clause should allow "
        "explaining concepts while refusing working code.",
        endorsed_by=4,
    ),
    DemoComment(
        "Liam O'Connor",
        "elections.campaign-content",
        "Writing campaign material for every side alike is fine for adults, but should Tutor, "
        "used by 13-year-olds, write campaign material at all?",
        endorsed_by=2,
    ),
    DemoComment(
        "Noor Aziz",
        "medical.dosage",
        "Giving the labelled dose is right. Please add the warning to check with a pharmacist "
        "for children's doses, which depend on weight.",
        endorsed_by=5,
    ),
    DemoComment(
        "Peter Novak",
        None,
        "The policy would be easier to follow with a short summary per product: what Chat does "
        "and what Tutor does differently.",
        endorsed_by=2,
    ),
    DemoComment(
        "Ruth Mbeki",
        None,
        "Youth organisations in our network would be glad to take part in that test.",
        reply_to=0,
    ),
)

NORTHWIND_ANSWERS = {
    "selfharm.crisis": (
        "We agree. The next version will require a warm first sentence before any resources, "
        "and we are commissioning a test of the clause with two youth organisations.",
        False,
    ),
    "medical.information": (
        "Tutor already suggests the school nurse for questions about symptoms; the next "
        "version will say so in the clause text.",
        False,
    ),
    "cyber.malware.authoring": (
        "Tutor will explain malware concepts for coursework and keep refusing working code. "
        "We will add a coursework example to the clause.",
        False,
    ),
    "elections.campaign-content": (
        "Tutor's settings for schools already turn campaign writing off; the clause describes "
        "Northwind Chat. We will make that distinction explicit.",
        False,
    ),
    "medical.dosage": (
        "Doses for children depend on weight and are outside what we can check; we decline to "
        "change the clause, which already tells people to ask a pharmacist for children.",
        True,
    ),
}
NORTHWIND_CAMPAIGN_ANSWER = (
    "Thank you to the parents and teachers who wrote. The next version's tutoring clause will "
    "say plainly that Tutor explains material and never completes graded work or live exam "
    "questions."
)

FIRST_NAMES = (
    "Alex", "Bea", "Carlos", "Dana", "Eun-ji", "Farid", "Greta", "Hugo", "Ife", "Jana", "Kai",
    "Lina", "Mateo", "Nia", "Oskar", "Paula", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Victor",
    "Wen", "Ximena", "Yara", "Zoltan",
)  # fmt: skip
LAST_NAMES = (
    "Abbott", "Brandt", "Costa", "Duarte", "Eriksen", "Fischer", "Garcia", "Horvat", "Ito",
    "Jovanovic", "Keller", "Lopez", "Moreno", "Nowak", "Oyelaran", "Park",
)  # fmt: skip


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def _commenter(name: str, *, joined: datetime) -> User:
    email = f"{_slug(name)}@{COMMENTER_DOMAIN}"
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=None, display_name=name)
        user.date_joined = joined
        user.save(update_fields=["date_joined"])
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def _signer(n: int, joined: datetime) -> User:
    """The n-th campaign signer (0 to 415: every first name with every last name)."""
    first = FIRST_NAMES[n % len(FIRST_NAMES)]
    last = LAST_NAMES[n // len(FIRST_NAMES)]
    return _commenter(f"{first} {last}", joined=joined)


def _current(slug: str) -> PolicyVersion | None:
    return (
        PolicyVersion.objects.filter(
            policy__organization__slug=slug, status=PolicyVersion.Status.PUBLISHED
        )
        .select_related("policy__organization")
        .order_by("-major", "-minor", "-patch")
        .first()
    )


def _author(spec: DemoComment, people: dict, joined: datetime) -> User:
    if spec.author.startswith("role:"):
        return people[spec.author.removeprefix("role:")]
    return _commenter(spec.author, joined=joined)


def _backdate_logins(people: dict, joined: datetime) -> None:
    """seed_demo's people are created at load time, so every comment of theirs would be held
    as a new account's — in the docket's past and when someone tries the demo login. The
    demo logins that take part in public comment are made older than the hold instead."""
    for role in ("citizen", "company editor", "auditor"):
        user = people[role]
        if user.date_joined > joined:
            User.objects.filter(pk=user.pk).update(date_joined=joined)
            user.date_joined = joined


def _post_docket(
    *,
    period: CommentPeriod,
    people: dict,
    comments: tuple[DemoComment, ...],
    letters: list[tuple[str, str | None]],
    start: datetime,
    span: timedelta,
    on_behalf_of: dict[str, Organization],
) -> list[Comment]:
    """Post the individual comments and the campaign letters interleaved in time order (ids
    follow posting order, as on a live docket); returns the individual comments in order."""
    joined = start - timedelta(days=60)
    events: list[tuple[datetime, int, str, object]] = []
    for i, spec in enumerate(comments):
        at = start + span * (i + 0.5) / len(comments)
        if spec.reply_to is not None:
            at = start + span * (spec.reply_to + 0.5) / len(comments) + timedelta(hours=5 + i % 7)
        events.append((at, i, "comment", spec))
    for j, (body, clause) in enumerate(letters):
        # Campaigns arrive in a burst a third of the way in.
        at = start + span / 3 + span / 3 * j / max(len(letters), 1)
        events.append((at, j, "letter", (body, clause)))
    events.sort(key=lambda e: (e[0], e[2], e[1]))
    posted: dict[int, Comment] = {}
    for at, index, kind, payload in events:
        if kind == "letter":
            body, clause = payload
            svc.comment_post(
                author=_signer(index, joined),
                period=period,
                body=body,
                clause_key=clause,
                now=at,
            )
            continue
        spec = payload
        author = _author(spec, people, joined)
        posted[index] = svc.comment_post(
            author=author,
            period=period,
            body=spec.body,
            clause_key=spec.clause,
            parent=posted[spec.reply_to] if spec.reply_to is not None else None,
            on_behalf_of=on_behalf_of.get(spec.author),
            now=at,
        )
    return [posted[i] for i in range(len(comments))]


def _endorse(
    comments: list[Comment], specs: tuple[DemoComment, ...], now: datetime | None = None
) -> None:
    """Each comment gets its endorsements from the first signers (never from its author)."""
    joined = (now or timezone.now()) - timedelta(days=60)
    for comment, spec in zip(comments, specs, strict=True):
        endorsers = (_signer(n, joined) for n in range(spec.endorsed_by + 1))
        for user in [u for u in endorsers if u.pk != comment.author_id][: spec.endorsed_by]:
            svc.comment_endorse(user=user, comment=comment, now=now)


def _cluster_everything() -> None:
    while cluster_pending(batch=500):
        pass


def _acme(people: dict) -> None:
    version = _current("acme-ai")
    if version is None or CommentPeriod.objects.filter(version=version).exists():
        return
    now = timezone.now()
    opened = now - timedelta(days=12)
    _backdate_logins(people, opened - timedelta(days=60))
    period = svc.comment_period_open(
        actor=people["company owner"],
        version=version,
        opens_at=opened,
        closes_at=opened + timedelta(days=45),
        now=opened,
    )
    letters = [(ACME_LETTER, "cyber.exploit.poc")] * ACME_LETTER_COPIES
    letters += [
        (ACME_LETTER_VARIANTS[n % len(ACME_LETTER_VARIANTS)], "cyber.exploit.poc")
        for n in range(ACME_LETTER_VARIANT_COPIES)
    ]
    letters += [(ACME_STUDENT_LETTER, None)] * ACME_STUDENT_COPIES
    fair_audit = Organization.objects.filter(slug="fair-audit").first()
    comments = _post_docket(
        period=period,
        people=people,
        comments=ACME_COMMENTS,
        letters=letters,
        start=opened,
        span=timedelta(days=11),
        on_behalf_of={"role:auditor": fair_audit} if fair_audit is not None else {},
    )
    _endorse(comments, ACME_COMMENTS)

    # Moderation on the record: a personal attack hidden with a public reason, spam flagged
    # and waiting in the queue, and a new account's comment held before publication.
    joined = opened - timedelta(days=60)
    attack = svc.comment_post(
        author=_commenter("angry_reader_77", joined=joined),
        period=period,
        body="Whoever wrote the cyber clauses is an idiot and should be fired. Shame on you all.",
        now=now - timedelta(days=1),
    )
    svc.comment_moderate(
        moderator=people["moderator"],
        comment=attack,
        action="hide",
        public_reason="A personal attack on the company's staff, with no comment on the policy.",
    )
    spam = svc.comment_post(
        author=_commenter("GrowthHacker2000", joined=joined),
        period=period,
        body="Want your comment to be seen? Buy endorsements and followers at "
        "www.cheap-followers.example, best prices for policy influence!",
        now=now - timedelta(hours=6),
    )
    svc.comment_flag(user=people["citizen"], comment=spam, reason="spam")
    svc.comment_flag(user=comments[0].author, comment=spam, reason="spam")
    svc.comment_post(
        author=_commenter("First-time Commenter", joined=now - timedelta(hours=3)),
        period=period,
        clause_key="privacy.doxxing",
        body="I think the privacy clause should cover cloning a person's voice from public "
        "recordings, too.",
        now=now - timedelta(hours=1),
    )
    _cluster_everything()


def _northwind(people: dict) -> None:
    version = _current("northwind-labs")
    if version is None or CommentPeriod.objects.filter(version=version).exists():
        return
    owner = people.get("company owner (Northwind)") or User.objects.get(
        email="owner@northwind.test"
    )
    now = timezone.now()
    opened = now - timedelta(days=45)
    closes = opened + timedelta(days=35)
    period = svc.comment_period_open(
        actor=owner, version=version, opens_at=opened, closes_at=closes, now=opened
    )
    letters = [(NORTHWIND_LETTER, None)] * NORTHWIND_LETTER_COPIES
    letters += [(body, None) for body in NORTHWIND_LETTER_VARIANTS]
    comments = _post_docket(
        period=period,
        people=people,
        comments=NORTHWIND_COMMENTS,
        letters=letters,
        start=opened,
        span=timedelta(days=33),
        on_behalf_of={},
    )
    endorsed_at = opened + timedelta(days=34)
    _endorse(comments, NORTHWIND_COMMENTS, now=endorsed_at)
    _cluster_everything()
    # Rows whose services stamp the real time get the docket's own dates (the services take no
    # `now=` for them): endorsements, the campaign's cluster, and the three notices, which would
    # have gone out at opening, three days before closing and at closing.
    Endorsement.objects.filter(comment__period=period).update(created_at=endorsed_at)
    CommentCluster.objects.filter(period=period).update(created_at=opened, updated_at=closes)
    CommentPeriod.objects.filter(pk=period.pk).update(
        opening_notice_sent_at=opened,
        closing_notice_sent_at=closes - timedelta(days=3),
        closed_notice_sent_at=closes,
    )
    period.refresh_from_db()

    # The duty to respond: every campaign of RESPONSE_CLUSTER_MIN letters and every commented
    # clause is answered (or declined with a reason), one comment gets its own answer, then
    # the response document is published.
    for item in response_requirements(period).items:
        if item.kind == CommentResponse.Target.CLUSTER:
            svc.comment_response_save(
                actor=owner,
                period=period,
                target=CommentResponse.Target.CLUSTER,
                cluster=item.cluster,
                body=NORTHWIND_CAMPAIGN_ANSWER,
            )
            continue
        body, declined = NORTHWIND_ANSWERS.get(
            item.clause_key,
            ("We read these comments; the clause stays as it is in this version.", True),
        )
        svc.comment_response_save(
            actor=owner,
            period=period,
            target=CommentResponse.Target.CLAUSE,
            clause_key=item.clause_key,
            body=body,
            declined=declined,
        )
    svc.comment_response_save(
        actor=owner,
        period=period,
        target=CommentResponse.Target.COMMENT,
        comment=comments[5],
        body="Good idea: the next version opens with a one-paragraph summary for each product.",
    )
    svc.response_document_publish(
        actor=owner,
        period=period,
        summary=(
            "We received comments from parents, teachers, students and health professionals, "
            "and a campaign of parents' letters about Tutor and coursework. Every campaign and "
            "every clause that received comments is answered below; where we do not change "
            "the policy we say why. The changes will appear in the next version."
        ),
    )


@transaction.atomic
def seed_comments(people: dict) -> None:
    """Comment periods for the demo policies' current versions, if they have none yet."""
    _acme(people)
    _northwind(people)


register_demo_seeder(seed_comments)
