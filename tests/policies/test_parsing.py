"""The clause parser: valid documents, every error with its line, odd encodings, and properties."""

from __future__ import annotations

import hashlib
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.parsing import (
    MAX_BODY_CHARS,
    ParsedClause,
    ParsedPolicy,
    ParseError,
    content_sha256,
    parse_policy_markdown,
)

VALID = """# Acme Assistant Usage Policy

This policy says what the assistant refuses.

## Biological weapons synthesis {#weapons.bio.synthesis}
behavior: refuse; categories: weapons, cbrn

The assistant refuses to give synthesis routes for biological agents.

### Examples

- culturing a pathogen

```markdown
## fake {#x}
# not a title either
```

## Homework help {#education.homework}

BEHAVIOR: Comply | Categories: education

Help with homework, including chemistry.

## Medication doses {#medical.dosage}
categories: medical ; behavior: safe_complete
Give general information and point to a professional.
"""


def _errors(text: str) -> list[tuple[int, str]]:
    return [(error.line, error.message) for error in parse_policy_markdown(text).errors]


def _clause(key: str = "a", behavior: str = "refuse", text: str = "Some text.") -> str:
    return f"## Title {key} {{#{key}}}\nbehavior: {behavior}\n\n{text}\n"


def test_it_parses_a_valid_document():
    parsed = parse_policy_markdown(VALID)

    assert parsed.ok
    assert parsed.errors == ()
    assert parsed.title == "Acme Assistant Usage Policy"
    assert parsed.preamble == "This policy says what the assistant refuses."
    assert [c.key for c in parsed.clauses] == [
        "weapons.bio.synthesis",
        "education.homework",
        "medical.dosage",
    ]
    first, second, third = parsed.clauses
    assert first == ParsedClause(
        key="weapons.bio.synthesis",
        title="Biological weapons synthesis",
        text=(
            "The assistant refuses to give synthesis routes for biological agents.\n\n"
            "### Examples\n\n- culturing a pathogen\n\n"
            "```markdown\n## fake {#x}\n# not a title either\n```"
        ),
        expected_behavior="refuse",
        categories=("weapons", "cbrn"),
        position=1,
        line=5,
    )
    assert (second.expected_behavior, second.categories, second.line) == (
        "comply",
        ("education",),
        19,
    )
    assert second.text == "Help with homework, including chemistry."
    assert (third.expected_behavior, third.categories, third.position) == (
        "safe_complete",
        ("medical",),
        3,
    )
    assert third.text == "Give general information and point to a professional."


def test_it_needs_no_title_or_preamble_or_categories():
    parsed = parse_policy_markdown(_clause("only"))

    assert parsed.ok
    assert (parsed.title, parsed.preamble) == ("", "")
    assert parsed.clauses[0].categories == ()


def test_it_accepts_tilde_fences_and_longer_closing_fences():
    text = _clause("a", text="~~~\n## hidden {#b}\n~~~~\n\n````\n## also hidden {#c}\n```\n````")

    parsed = parse_policy_markdown(text)

    assert parsed.ok
    assert [c.key for c in parsed.clauses] == ["a"]


def test_it_treats_an_unclosed_fence_as_running_to_the_end():
    parsed = parse_policy_markdown(_clause("a", text="```\ncode") + "## B {#b}\nbehavior: refuse\n")

    assert parsed.ok
    assert [c.key for c in parsed.clauses] == ["a"]


def test_it_ignores_indented_code_and_closing_hashes():
    text = "## Title {#a} ##\nbehavior: refuse\n\n    ## not a heading {#b}\n"

    parsed = parse_policy_markdown(text)

    assert parsed.ok
    assert parsed.clauses[0].title == "Title"
    assert parsed.clauses[0].text == "    ## not a heading {#b}"


def test_it_deduplicates_categories_and_allows_a_trailing_separator():
    parsed = parse_policy_markdown("## T {#a}\nbehavior: refuse; categories: x, y, x,;\ntext\n")

    assert parsed.ok
    assert parsed.clauses[0].categories == ("x", "y")


def test_it_normalises_crlf_cr_and_bom():
    crlf = "\ufeff" + VALID.replace("\n", "\r\n")
    cr = VALID.replace("\n", "\r")

    assert parse_policy_markdown(crlf) == parse_policy_markdown(VALID)
    assert parse_policy_markdown(cr) == parse_policy_markdown(VALID)
    assert content_sha256(crlf) == content_sha256(VALID) == content_sha256(cr)
    assert content_sha256(VALID) == hashlib.sha256(VALID.encode()).hexdigest()


def test_it_keeps_non_ascii_text():
    text = (
        "# Politique d\u2019usage — ééé\n\n"
        "## Armes chimiques 化学兵器 {#armes.chimiques}\n"
        "behavior: refuse\n\nL\u2019assistant refuse. 🚫 Ω≈ç√\n"
    )

    parsed = parse_policy_markdown(text)

    assert parsed.ok
    assert parsed.title == "Politique d\u2019usage — ééé"
    assert parsed.clauses[0].title == "Armes chimiques 化学兵器"
    assert parsed.clauses[0].text == "L\u2019assistant refuse. 🚫 Ω≈ç√"


def test_it_reports_a_heading_without_key():
    assert _errors("## Weapons\nbehavior: refuse\ntext\n")[0][0] == 1
    assert "{#" in _errors("## Weapons\nbehavior: refuse\ntext\n")[0][1]


def test_it_reports_a_bad_key():
    errors = _errors("\n" + _clause("Weapons.Bio"))
    assert errors == [(2, errors[0][1])]
    assert "'Weapons.Bio' is not a valid clause key" in errors[0][1]

    for key in ("a..b", ".a", "a.", "a b", "a/b", "x" * 121, ""):
        errors = _errors(f"## Title {{#{key}}}\nbehavior: refuse\ntext\n")
        assert [line for line, _ in errors] == [1], key


def test_it_accepts_a_key_of_120_characters():
    assert parse_policy_markdown(_clause("k" * 120)).ok


def test_it_names_both_lines_of_a_duplicate_key():
    text = _clause("weapons") + "\n" + _clause("weapons")

    errors = _errors(text)

    assert errors == [(6, "The key 'weapons' is used twice: on line 1 and line 6.")]


def test_it_reports_a_missing_metadata_line():
    # Directly followed by text.
    errors = _errors("## Title {#a}\n\nThe assistant refuses.\n")
    assert [line for line, _ in errors] == [3]
    assert "metadata line" in errors[0][1]
    # Directly followed by the next clause, and at the end of the document.
    errors = _errors("## Title {#a}\n\n## Next {#b}\n")
    assert [line for line, _ in errors] == [1, 3]
    assert all("metadata line" in message for _, message in errors)


def test_it_reports_a_missing_behavior():
    errors = _errors("## Title {#a}\ncategories: weapons\ntext\n")
    assert errors == [(2, errors[0][1])]
    assert "has no behavior" in errors[0][1]


def test_it_reports_an_unknown_behavior():
    errors = _errors("\n\n## Title {#a}\nbehavior: refuse_sometimes\ntext\n")
    assert errors == [(4, errors[0][1])]
    assert "Unknown behavior 'refuse_sometimes'" in errors[0][1]
    assert _errors("## T {#a}\nbehavior:\nx\n")[0][1].startswith("The behavior is empty;")


def test_it_reports_an_unknown_field():
    errors = _errors("## Title {#a}\nbehavior: refuse; severity: high\ntext\n")
    assert errors == [(2, errors[0][1])]
    assert "Unknown field 'severity'" in errors[0][1]
    hint = _errors("## Title {#a}\nbehaviour: refuse\ntext\n")[0][1]
    assert "did you mean 'behavior'" in hint


def test_it_reports_a_repeated_field():
    errors = _errors("## Title {#a}\nbehavior: refuse; behavior: comply\ntext\n")
    assert [line for line, _ in errors] == [2]
    assert "appears twice" in errors[0][1]


def test_it_reports_a_bad_category():
    for bad in ("Weapons", "-cyber", "self harm", "x" * 81, "a/b"):
        errors = _errors(f"## T {{#a}}\nbehavior: refuse; categories: ok, {bad}\ntext\n")
        assert [line for line, _ in errors] == [2], bad
    assert parse_policy_markdown(f"## T {{#a}}\nbehavior: refuse; categories: {'x' * 80}\nt\n").ok


def test_it_reports_too_many_categories():
    twenty = ", ".join(f"c{i}" for i in range(20))
    assert parse_policy_markdown(f"## T {{#a}}\nbehavior: refuse; categories: {twenty}\nt\n").ok

    errors = _errors(f"## T {{#a}}\nbehavior: refuse; categories: {twenty}, c20\nt\n")

    assert errors == [(2, "A clause can have at most 20 categories; this one has 21.")]


def test_it_reports_an_empty_clause_text():
    errors = _errors("# Policy\n\n## Title {#a}\nbehavior: refuse\n\n   \n" + _clause("b"))
    assert errors == [(3, "Clause {#a} has no text.")]


def test_it_reports_a_level_one_heading_after_a_clause():
    errors = _errors(_clause("a") + "# Appendix\n\nMore text.\n" + _clause("b"))

    assert [line for line, _ in errors] == [5]
    assert "level-1 heading" in errors[0][1]
    # The clauses around it still parse; the stray text belongs to neither.
    parsed = parse_policy_markdown(_clause("a") + "# Appendix\n\nMore text.\n" + _clause("b"))
    assert [c.text for c in parsed.clauses] == ["Some text.", "Some text."]


def test_it_reports_a_second_title():
    errors = _errors("# One\n\n# Two\n\n" + _clause("a"))
    assert errors == [
        (3, "The policy already has a title (line 1); use '### ' for headings in the preamble.")
    ]


def test_it_reports_no_clauses():
    for text in ("", "# Title\n\nOnly a preamble.\n", "```\n## In code {#a}\n```\n"):
        errors = _errors(text)
        assert [line for line, _ in errors] == [1], text
        assert "no clauses" in errors[0][1]


def test_it_reports_an_over_long_body():
    text = _clause("a", text="x" * MAX_BODY_CHARS)

    parsed = parse_policy_markdown(text)

    assert parsed.clauses == ()
    assert [(e.line, "1,000,000" in e.message) for e in parsed.errors] == [(1, True)]


def test_it_accepts_a_body_at_the_limit():
    head = _clause("a", text="")[:-1]
    text = head + "x" * (MAX_BODY_CHARS - len(head))
    assert len(text) == MAX_BODY_CHARS
    assert parse_policy_markdown(text).ok


def test_it_reports_an_over_long_title():
    assert parse_policy_markdown("# " + "t" * 300 + "\n" + _clause("a")).ok

    errors = _errors("# " + "t" * 301 + "\n" + _clause("a"))

    assert errors == [(1, "The title is 301 characters long; the limit is 300.")]


def test_it_reports_an_over_long_or_empty_clause_title():
    assert [e[0] for e in _errors("\n## " + "t" * 301 + " {#a}\nbehavior: refuse\nx\n")] == [2]
    assert [e[0] for e in _errors("## {#a}\nbehavior: refuse\nx\n")] == [1]


def test_it_reports_too_many_clauses():
    text = "".join(_clause(f"c{i}") for i in range(2001))

    parsed = parse_policy_markdown(text)

    assert len(parsed.clauses) == 2000
    assert [(e.line, e.message) for e in parsed.errors] == [
        (2000 * 4 + 1, "A policy can have at most 2,000 clauses.")
    ]


def test_it_reports_a_nul_character():
    errors = _errors(_clause("a", text="bad\x00byte"))
    assert errors == [(4, "The text contains a NUL character, which cannot be stored.")]


def test_it_reports_several_errors_in_line_order_and_caps_them():
    text = "## A {#a}\nbehavior: nope\nx\n## B\nbehavior: refuse\nx\n"
    assert [line for line, _ in _errors(text)] == [2, 4]

    errors = _errors("".join(f"## No key {i}\n" for i in range(500)))
    assert len(errors) == 101
    assert errors[-1][1] == "Too many errors; fix the ones above and check again."


def test_it_returns_frozen_results():
    parsed = parse_policy_markdown(VALID)
    assert isinstance(parsed, ParsedPolicy)
    assert isinstance(ParseError(1, "x"), ParseError)
    assert hash(parsed.clauses[0])  # frozen dataclasses of tuples are hashable


def test_it_parses_300_clauses_quickly():
    text = "# Big\n\n" + "".join(
        f"## Clause {i} {{#c{i}}}\nbehavior: refuse; categories: a, b\n\n"
        + ("The assistant declines requests of this kind. " * 30 + "\n\n") * 2
        for i in range(300)
    )
    parse_policy_markdown(text)  # warm up

    started = time.perf_counter()
    parsed = parse_policy_markdown(text)
    elapsed = time.perf_counter() - started

    assert parsed.ok
    assert len(parsed.clauses) == 300
    # Typically ~5 ms; the margin absorbs slow CI machines.
    assert elapsed < 0.25


# --- Properties -----------------------------------------------------------------------------

_keys = st.from_regex(r"\A[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,8}){0,3}\Z")
_categories = st.lists(st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,12}\Z"), max_size=5, unique=True)
# Titles and texts from printable text without characters that would form Markdown structure
# the parser cares about; then, lines that start with '#' or fences are not generated.
_safe_chars = st.characters(
    codec="utf-8",
    categories=("L", "N", "P", "S", "Zs"),
    exclude_characters="#`~{}\x00\u2028\u2029\x85",
)
_title = st.text(_safe_chars, min_size=1, max_size=40).map(str.strip).filter(bool)
_line = st.text(_safe_chars, max_size=60).map(str.rstrip)
_text = (
    st.lists(_line, min_size=1, max_size=6)
    .map(lambda lines: "\n".join(lines).strip())
    .filter(lambda text: bool(text) and ":" not in text.split("\n", 1)[0])
)


@st.composite
def _clause_lists(draw):
    keys = draw(st.lists(_keys, min_size=1, max_size=8, unique=True))
    return [
        {
            "key": key,
            "title": draw(_title),
            "behavior": draw(st.sampled_from(["refuse", "comply", "safe_complete", "escalate"])),
            "categories": tuple(draw(_categories)),
            "text": draw(_text),
        }
        for key in keys
    ]


def _render(title: str, clauses: list[dict]) -> str:
    parts = [f"# {title}\n\nPreamble.\n"] if title else []
    for clause in clauses:
        meta = f"behavior: {clause['behavior']}"
        if clause["categories"]:
            meta += "; categories: " + ", ".join(clause["categories"])
        parts.append(f"## {clause['title']} {{#{clause['key']}}}\n{meta}\n\n{clause['text']}\n")
    return "\n".join(parts)


@settings(max_examples=150, deadline=None)
@given(title=st.one_of(st.just(""), _title), clauses=_clause_lists())
def test_it_round_trips_generated_clauses(title, clauses):
    parsed = parse_policy_markdown(_render(title, clauses))

    assert parsed.errors == ()
    assert parsed.title == title
    assert [
        (c.key, c.title, c.expected_behavior, c.categories, c.text) for c in parsed.clauses
    ] == [(c["key"], c["title"], c["behavior"], c["categories"], c["text"]) for c in clauses]
    assert [c.position for c in parsed.clauses] == list(range(1, len(clauses) + 1))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.lists(
            st.one_of(
                st.text(max_size=30),
                st.sampled_from(
                    [
                        "## T {#a}",
                        "## T {#a}",
                        "# Title",
                        "#",
                        "##",
                        "```",
                        "~~~",
                        "behavior: refuse",
                        "behavior: x; categories: A",
                        "categories:",
                        "\r\n",
                        "\ufeff",
                        "|;:",
                    ]
                ),
            ),
            max_size=30,
        ).map("\n".join),
    )
)
def test_it_never_raises_on_arbitrary_text(text):
    parsed = parse_policy_markdown(text)

    assert isinstance(parsed, ParsedPolicy)
    assert parsed.ok == (not parsed.errors)
    for error in parsed.errors:
        assert error.line >= 1
        assert error.message
    keys = [c.key for c in parsed.clauses]
    assert len(keys) == len(set(keys))
    for clause in parsed.clauses:
        assert clause.text.strip()
    assert len(content_sha256(text)) == 64
