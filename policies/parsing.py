"""Parse a policy's Markdown body into a title, a preamble and keyed clauses.

The syntax is documented in DESIGN.md and /work/policies-contract.md; errors carry 1-based lines.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MAX_BODY_CHARS = 1_000_000
MAX_CLAUSES = 2_000
MAX_TITLE_CHARS = 300
MAX_CLAUSE_TITLE_CHARS = 300
MAX_KEY_CHARS = 120
MAX_CATEGORY_CHARS = 80
MAX_CATEGORIES = 20
# A document full of broken headings would otherwise produce a wall of errors no one reads.
MAX_ERRORS = 100

BEHAVIORS = ("refuse", "comply", "safe_complete", "escalate")
KEY_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
CATEGORY_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

# CommonMark: up to three spaces of indentation; four or more make an indented code block.
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_H1_RE = re.compile(r"^ {0,3}#(?:[ \t]+(.*))?$")
_H2_RE = re.compile(r"^ {0,3}##(?:[ \t]+(.*))?$")
_CLOSING_HASHES_RE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_KEY_SUFFIX_RE = re.compile(r"^(.*?)[ \t]*\{#([^{}]*)\}$")
_FIELD_RE = re.compile(r"^([A-Za-z_][A-Za-z_ -]*?)[ \t]*:(.*)$")
_FIELD_SPLIT_RE = re.compile(r"[;|]")


@dataclass(frozen=True)
class ParsedClause:
    key: str
    title: str
    text: str
    expected_behavior: str
    categories: tuple[str, ...]
    position: int  # 1-based order of the clause in the document
    line: int  # 1-based line of the clause's heading


@dataclass(frozen=True)
class ParseError:
    line: int
    message: str


@dataclass(frozen=True)
class ParsedPolicy:
    title: str
    preamble: str
    clauses: tuple[ParsedClause, ...]
    errors: tuple[ParseError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def normalize_text(text: str) -> str:
    """Drop a leading BOM and turn CRLF / CR line endings into LF."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def content_sha256(text: str) -> str:
    """SHA-256 hex digest of the normalised text (LF endings, no BOM), encoded as UTF-8."""
    # surrogatepass: a str with lone surrogates must still hash (deterministically) not crash.
    return hashlib.sha256(normalize_text(text).encode("utf-8", "surrogatepass")).hexdigest()


def _heading_text(raw: str | None) -> str:
    """The heading's content without the optional closing `#` sequence (as CommonMark does)."""
    if not raw:
        return ""
    return _CLOSING_HASHES_RE.sub("", raw.strip()).strip()


def _trim_block(lines: list[str]) -> str:
    """Join lines, dropping blank lines at both ends and trailing whitespace.

    Leading spaces of the first line are kept: they can make an indented code block.
    """
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end]).rstrip()


class _Collector:
    def __init__(self) -> None:
        self.errors: list[ParseError] = []
        self.full = False

    def add(self, line: int, message: str) -> None:
        if self.full:
            return
        if len(self.errors) >= MAX_ERRORS:
            self.errors.append(
                ParseError(line, "Too many errors; fix the ones above and check again.")
            )
            self.full = True
            return
        self.errors.append(ParseError(line, message))


def _parse_metadata(
    line_no: int, line: str, key: str, errors: _Collector
) -> tuple[str, tuple[str, ...]] | None:
    """Parse `behavior: refuse; categories: a, b`. Returns None (after adding errors) if bad."""
    behavior: str | None = None
    categories: list[str] = []
    seen: set[str] = set()
    ok = True
    parts = [part.strip() for part in _FIELD_SPLIT_RE.split(line)]
    if not any(parts) or not any(_FIELD_RE.match(part) for part in parts if part):
        errors.add(
            line_no,
            f"Clause {{#{key}}} needs a metadata line right after its heading, such as "
            "'behavior: refuse; categories: weapons'.",
        )
        return None
    for part in parts:
        if not part:
            continue
        match = _FIELD_RE.match(part)
        if not match:
            errors.add(
                line_no,
                f"Could not read '{_clip(part)}' on the metadata line; write fields as "
                "'name: value' separated by ';'.",
            )
            ok = False
            continue
        name, value = match.group(1).strip().lower(), match.group(2).strip()
        if name in seen:
            errors.add(line_no, f"The field '{name}' appears twice on the metadata line.")
            ok = False
            continue
        seen.add(name)
        if name == "behavior":
            value = value.lower()
            if value not in BEHAVIORS:
                problem = f"Unknown behavior '{_clip(value)}'" if value else "The behavior is empty"
                errors.add(
                    line_no,
                    f"{problem}; use one of refuse, comply, safe_complete, escalate.",
                )
                ok = False
            else:
                behavior = value
        elif name == "categories":
            for raw in value.split(","):
                category = raw.strip()
                if not category:
                    continue
                if len(category) > MAX_CATEGORY_CHARS:
                    errors.add(
                        line_no,
                        f"The category '{_clip(category)}' is longer than "
                        f"{MAX_CATEGORY_CHARS} characters.",
                    )
                    ok = False
                elif not CATEGORY_RE.match(category):
                    errors.add(
                        line_no,
                        f"'{_clip(category)}' is not a valid category; use lowercase letters, "
                        "digits, '.', '_' and '-', starting with a letter or digit.",
                    )
                    ok = False
                elif category not in categories:
                    categories.append(category)
            if len(categories) > MAX_CATEGORIES:
                errors.add(
                    line_no,
                    f"A clause can have at most {MAX_CATEGORIES} categories; this one has "
                    f"{len(categories)}.",
                )
                ok = False
        else:
            hint = " (did you mean 'behavior'?)" if name == "behaviour" else ""
            errors.add(
                line_no,
                f"Unknown field '{_clip(name)}' on the metadata line{hint}; the fields are "
                "'behavior' and 'categories'.",
            )
            ok = False
    if "behavior" not in seen:
        errors.add(
            line_no,
            f"Clause {{#{key}}} has no behavior; add 'behavior: refuse' (or comply, "
            "safe_complete, escalate) to its metadata line.",
        )
        ok = False
    if not ok or behavior is None:
        return None
    return behavior, tuple(categories)


def _clip(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


class _OpenClause:
    __slots__ = ("body", "heading_line", "key", "meta", "meta_line", "title", "valid")

    def __init__(self, heading_line: int, key: str, title: str, valid: bool) -> None:
        self.heading_line = heading_line
        self.key = key
        self.title = title
        self.valid = valid
        self.meta_line: int | None = None  # line of the metadata line once seen
        self.meta: tuple[str, tuple[str, ...]] | None = None
        self.body: list[str] = []


def parse_policy_markdown(text: str) -> ParsedPolicy:
    """Parse a policy body. Never raises on any str; problems are returned as `errors`."""
    text = normalize_text(text)
    if len(text) > MAX_BODY_CHARS:
        return ParsedPolicy(
            title="",
            preamble="",
            clauses=(),
            errors=(
                ParseError(
                    1,
                    f"The policy is {len(text):,} characters long; the limit is "
                    f"{MAX_BODY_CHARS:,}.",
                ),
            ),
        )

    errors = _Collector()
    lines = text.split("\n")
    nul_line = text.count("\n", 0, text.find("\x00")) + 1 if "\x00" in text else 0
    if nul_line:
        errors.add(nul_line, "The text contains a NUL character, which cannot be stored.")

    title = ""
    title_line = 0
    preamble: list[str] = []
    clauses: list[ParsedClause] = []
    key_lines: dict[str, int] = {}
    current: _OpenClause | None = None
    after_h1_error = False  # text after a misplaced level-1 heading belongs to no clause
    clause_count = 0
    fence: str | None = None  # the opening fence marker while inside a fenced code block

    def close(clause: _OpenClause | None) -> None:
        if clause is None or not clause.valid:
            return
        if clause.meta_line is None:
            errors.add(
                clause.heading_line,
                f"Clause {{#{clause.key}}} needs a metadata line right after its heading, "
                "such as 'behavior: refuse; categories: weapons'.",
            )
            return
        if clause.meta is None:
            return
        body = _trim_block(clause.body)
        if not body.strip():
            errors.add(clause.heading_line, f"Clause {{#{clause.key}}} has no text.")
            return
        behavior, categories = clause.meta
        clauses.append(
            ParsedClause(
                key=clause.key,
                title=clause.title,
                text=body,
                expected_behavior=behavior,
                categories=categories,
                position=len(clauses) + 1,
                line=clause.heading_line,
            )
        )

    for index, line in enumerate(lines):
        line_no = index + 1
        if fence is not None:
            stripped = line.strip()
            if (
                stripped.startswith(fence)
                and set(stripped) == {fence[0]}
                and len(line) - len(line.lstrip(" ")) <= 3
            ):
                fence = None
            _append(current, preamble, after_h1_error, line, line_no)
            continue

        h2 = _H2_RE.match(line)
        if h2:
            close(current)
            after_h1_error = False
            clause_count += 1
            heading = _heading_text(h2.group(1))
            current = _open_clause(line_no, heading, key_lines, errors)
            if clause_count == MAX_CLAUSES + 1:
                errors.add(line_no, f"A policy can have at most {MAX_CLAUSES:,} clauses.")
            if clause_count > MAX_CLAUSES:
                current.valid = False
            continue

        h1 = _H1_RE.match(line)
        if h1:
            if clause_count:
                close(current)
                current = None
                after_h1_error = True
                errors.add(
                    line_no,
                    "A level-1 heading ('# ') is only allowed as the title, before the first "
                    "clause; use '## Title {#key}' for a clause or '### ' for a sub-heading.",
                )
            elif title_line:
                errors.add(
                    line_no,
                    f"The policy already has a title (line {title_line}); use '### ' for "
                    "headings in the preamble.",
                )
            else:
                title = _heading_text(h1.group(1))
                title_line = line_no
                if len(title) > MAX_TITLE_CHARS:
                    errors.add(
                        line_no,
                        f"The title is {len(title):,} characters long; the limit is "
                        f"{MAX_TITLE_CHARS}.",
                    )
            continue

        opens_fence = _opens_fence(line)
        if current is not None and current.meta_line is None and current.valid:
            if not line.strip():
                continue
            current.meta_line = line_no
            current.meta = _parse_metadata(line_no, line, current.key, errors)
            if opens_fence:
                # Reported above as a missing metadata line; still track the fence so a
                # `## ` inside it is not taken for a clause.
                fence = opens_fence
            continue
        if opens_fence:
            fence = opens_fence
        _append(current, preamble, after_h1_error, line, line_no)

    close(current)
    if clause_count == 0:
        errors.add(
            1,
            "The policy has no clauses; start each clause with a heading such as "
            "'## Biological weapons synthesis {#weapons.bio.synthesis}'.",
        )
    return ParsedPolicy(
        title=title,
        preamble=_trim_block(preamble),
        clauses=tuple(clauses),
        # Stable sort: errors of one line keep the order in which they were found.
        errors=tuple(sorted(errors.errors, key=lambda error: error.line)),
    )


def _opens_fence(line: str) -> str | None:
    """The fence marker if `line` opens a fenced code block, else None."""
    match = _FENCE_RE.match(line)
    if not match:
        return None
    marker, info = match.group(1), match.group(2)
    # CommonMark: a backtick fence's info string may not contain backticks.
    if marker[0] == "`" and "`" in info:
        return None
    return marker


def _append(
    current: _OpenClause | None, preamble: list[str], orphan: bool, line: str, line_no: int
) -> None:
    if orphan:
        return
    if current is None:
        preamble.append(line)
    else:
        current.body.append(line)


def _open_clause(
    line_no: int, heading: str, key_lines: dict[str, int], errors: _Collector
) -> _OpenClause:
    match = _KEY_SUFFIX_RE.match(heading)
    if not match:
        errors.add(
            line_no,
            "A clause heading must end with its key in braces, e.g. "
            "'## Biological weapons synthesis {#weapons.bio.synthesis}'.",
        )
        return _OpenClause(line_no, "", heading, valid=False)
    title, key = match.group(1).strip(), match.group(2).strip()
    valid = True
    if not key:
        errors.add(line_no, "The clause key is empty; write it as {#some.key}.")
        valid = False
    elif len(key) > MAX_KEY_CHARS:
        errors.add(
            line_no, f"The clause key is {len(key)} characters long; the limit is {MAX_KEY_CHARS}."
        )
        valid = False
    elif not KEY_RE.match(key):
        errors.add(
            line_no,
            f"'{_clip(key)}' is not a valid clause key; use lowercase letters and digits, "
            "separated by single '.', '_' or '-' (e.g. weapons.bio.synthesis).",
        )
        valid = False
    elif key in key_lines:
        errors.add(
            line_no,
            f"The key '{key}' is used twice: on line {key_lines[key]} and line {line_no}.",
        )
        valid = False
    else:
        key_lines[key] = line_no
    if not title:
        errors.add(line_no, "The clause heading needs a title before its {#key}.")
        valid = False
    elif len(title) > MAX_CLAUSE_TITLE_CHARS:
        errors.add(
            line_no,
            f"The clause title is {len(title):,} characters long; the limit is "
            f"{MAX_CLAUSE_TITLE_CHARS}.",
        )
        valid = False
    return _OpenClause(line_no, key, title, valid)
