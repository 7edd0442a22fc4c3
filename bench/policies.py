"""Policies at the issue's size: one policy with 300 clauses and 50 published versions, each
published through `version_publish`; then the version page, the diff of the two furthest versions
(page and API) and the policy's timeline, each against the hello-world view (target p95 < 100 ms).
"""

from __future__ import annotations

import random
import statistics
import time

from allauth.account.models import EmailAddress

from bench.core import Context, Figure, http_load, latency_figures
from governance.models import Organization, User
from governance.services.organizations import organization_create, organization_verify
from policies.models import Policy, PolicyVersion
from policies.services import policy_create, version_draft_create, version_publish

AREA = "policies"
CLAUSES = 300
TARGET_P95_MS = 100.0
ORGANIZATION_SLUG = "bench-policies"
POLICY_SLUG = "large-policy"

AREAS = (
    "weapons.bio",
    "weapons.chem",
    "weapons.conventional",
    "cyber.malware",
    "cyber.defense",
    "selfharm",
    "medical",
    "legal",
    "elections",
    "privacy",
    "sexual",
    "extremism",
    "hate",
    "fraud",
    "benign",
)
BEHAVIORS = ("refuse", "comply", "safe_complete", "escalate")
VOCABULARY = (
    "the assistant declines requests that would give meaningful uplift towards serious harm "
    "while it helps with the legitimate part of the question explains its reasons briefly and "
    "points to safer resources including professional help public information and official "
    "guidance when a request is ambiguous it assumes the most plausible benign reading unless "
    "the conversation shows otherwise and it never lectures the person"
)
WORDS = tuple(VOCABULARY.split())


def _text(rng: random.Random) -> str:
    """About 80 words in three short paragraphs, so the word-level diff has real work to do."""
    paragraphs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 35))) for _ in "abc"]
    return "\n\n".join(p[0].upper() + p[1:] + "." for p in paragraphs)


class _Document:
    """The policy's clauses as they evolve from version to version, rendered as Markdown."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.serial = 0
        self.clauses: list[dict] = [self._new_clause() for _ in range(CLAUSES)]

    def _new_clause(self) -> dict:
        self.serial += 1
        area = AREAS[self.serial % len(AREAS)]
        return {
            "key": f"{area}.item-{self.serial}",
            "title": f"Rule {self.serial} on {area.replace('.', ' ')}",
            "behavior": BEHAVIORS[self.serial % len(BEHAVIORS)],
            "categories": [area.split(".")[0], "bench"],
            "text": _text(self.rng),
        }

    def evolve(self, version: int) -> str:
        """What a busy policy team changes in one release: five clauses reworded, one
        behaviour flipped, one clause re-keyed, one removed and one added, one moved."""
        rng = self.rng
        for clause in rng.sample(self.clauses, 5):
            words = clause["text"].split(" ")
            at = rng.randrange(len(words))
            words[at : at + 3] = [f"(revised in {version}.0.0)", rng.choice(WORDS)]
            clause["text"] = " ".join(words)
        flipped = rng.choice(self.clauses)
        flipped["behavior"] = rng.choice([b for b in BEHAVIORS if b != flipped["behavior"]])
        rekeyed = rng.choice(self.clauses)
        rekeyed["key"] = f"{rekeyed['key']}-v{version}"
        self.clauses.pop(rng.randrange(len(self.clauses)))
        self.clauses.insert(rng.randrange(len(self.clauses) + 1), self._new_clause())
        moved = self.clauses.pop(rng.randrange(len(self.clauses)))
        self.clauses.insert(rng.randrange(len(self.clauses) + 1), moved)
        return self.markdown()

    def markdown(self) -> str:
        parts = [
            "# Large Bench Policy",
            "",
            "A synthetic policy at the size the issue's speed target names.",
            "",
        ]
        for c in self.clauses:
            parts += [
                f"## {c['title']} {{#{c['key']}}}",
                f"behavior: {c['behavior']}; categories: {', '.join(c['categories'])}",
                "",
                c["text"],
                "",
            ]
        return "\n".join(parts)


def _people() -> tuple[User, User]:
    def person(email: str, staff: bool) -> User:
        user = User.objects.filter(email=email).first() or User.objects.create_user(
            email=email,
            password=None,
            display_name=email.split("@")[0],
            is_staff=staff,
            is_superuser=staff,
        )
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        return user

    return person("policy-bench@bench.test", False), person("staff-bench@bench.test", True)


def _large_policy(versions: int) -> tuple[Policy, list[float]]:
    """The policy with `versions` published versions; the seconds each publication took."""
    editor, staff = _people()
    organization = Organization.objects.filter(slug=ORGANIZATION_SLUG).first()
    if organization is None:
        organization = organization_create(
            actor=editor,
            name="Bench Policies Inc",
            kind=Organization.Kind.DEVELOPER,
            slug=ORGANIZATION_SLUG,
        )
        organization_verify(actor=staff, organization=organization)
    policy = policy_create(
        actor=editor, organization=organization, title="Large Bench Policy", slug=POLICY_SLUG
    )
    document = _Document()
    publish_seconds = []
    for n in range(1, versions + 1):
        body = document.markdown() if n == 1 else document.evolve(n)
        started = time.perf_counter()
        draft = version_draft_create(
            actor=editor,
            policy=policy,
            number=f"{n}.0.0",
            body_markdown=body,
            summary_of_changes=f"Release {n}: reworded, re-keyed, added and removed clauses.",
        )
        version_publish(actor=editor, version=draft)
        publish_seconds.append(time.perf_counter() - started)
    return policy, publish_seconds


def run(ctx: Context) -> list[Figure]:
    versions = ctx.scaled(50, 10)
    policy, publish_seconds = _large_policy(versions)
    first, last = (
        PolicyVersion.objects.filter(policy=policy, major__in=(1, versions))
        .order_by("major")
        .values_list("pk", flat=True)
    )
    clauses = PolicyVersion.objects.get(pk=last).clauses.count()
    shape = f"{clauses} clauses, {versions} versions"
    figures = [
        Figure(
            AREA,
            f"draft + publish of one {CLAUSES}-clause version",
            statistics.fmean(publish_seconds) * 1000,
            "ms",
            note=(
                f"{versions} versions through version_draft_create + version_publish; "
                f"max {max(publish_seconds) * 1000:.0f} ms"
            ),
        )
    ]

    base = f"/policies/{ORGANIZATION_SLUG}/{POLICY_SLUG}"
    newest = f"{versions}.0.0"
    pages = [
        (f"version page ({shape})", f"{base}/v/{newest}/", True),
        (f"diff page 1.0.0…{newest}", f"{base}/diff/1.0.0...{newest}/", True),
        (
            f"diff page 1.0.0…{newest}, side by side",
            f"{base}/diff/1.0.0...{newest}/?view=side-by-side",
            True,
        ),
        (f"API diff 1.0.0…{newest}", f"/api/v1/policy-versions/{last}/diff/?against={first}", True),
        (f"policy timeline ({versions} versions)", f"{base}/", False),
    ]
    requests = ctx.scaled(300, 60)
    for label, path, targeted in pages:
        result = http_load(ctx.base_url, path, requests=requests, concurrency=4)
        figures.extend(
            latency_figures(
                AREA,
                label,
                result,
                ctx,
                target_p95_ms=TARGET_P95_MS if targeted else None,
            )
        )
    return figures
