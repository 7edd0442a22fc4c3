"""Redaction, property-tested: no e-mail address, phone number, IBAN or card number that is put
into a text survives it, and redacting twice changes nothing."""

from __future__ import annotations

import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from appeals.redaction import ISO_DATE, iban_valid, luhn_valid, redact

# Filler that cannot form one of the items by itself: no digits, no "@".
FILLER = st.text(alphabet=string.ascii_letters + " .,;!?\n'-", max_size=60)
# An independent, looser view of what must not survive.
ANY_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}")


def digit_runs(text: str) -> list[str]:
    """Digits joined by at most two separator characters, as one run each."""
    return [re.sub(r"\D", "", m) for m in re.findall(r"\d(?:[ .()/\-]{0,2}\d)*", text)]


def luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError(body)


cards = st.builds(
    lambda prefix, body, sep: sep.join(re.findall(".{1,4}", luhn_complete(prefix + body))),
    st.sampled_from(["4", "51", "37", "6011"]),
    st.text(alphabet=string.digits, min_size=12, max_size=12),
    st.sampled_from(["", " ", "-"]),
)


def iban_for(country: str, bban: str) -> str:
    for check in range(100):
        candidate = f"{country}{check:02d}{bban}"
        if iban_valid(candidate):
            return candidate
    raise AssertionError(bban)


ibans = st.builds(
    lambda country, bban, grouped: (
        " ".join(re.findall(".{1,4}", iban_for(country, bban)))
        if grouped
        else iban_for(country, bban)
    ),
    st.sampled_from(["DE", "FR", "GB", "NL", "ES"]),
    st.text(alphabet=string.digits, min_size=14, max_size=22),
    st.booleans(),
)
phones = st.builds(
    lambda plus, groups, sep: ("+" if plus else "") + sep.join(groups),
    st.booleans(),
    st.lists(
        st.text(alphabet=string.digits, min_size=2, max_size=4), min_size=3, max_size=4
    ).filter(lambda g: 7 <= len("".join(g)) <= 15),
    st.sampled_from([" ", "-", ".", ""]),
).filter(lambda p: not ISO_DATE.fullmatch(p))  # a calendar date is kept on purpose
emails = st.emails().filter(lambda e: len(e) < 200)
items = st.one_of(
    emails.map(lambda v: ("email", v)),
    phones.map(lambda v: ("phone", v)),
    ibans.map(lambda v: ("iban", v)),
    cards.map(lambda v: ("card", v)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(FILLER, items), min_size=1, max_size=5), FILLER)
def test_no_planted_item_survives(parts, tail):
    text = "".join(f"{before} {value} " for before, (_, value) in parts) + tail
    result = redact(text).text
    for _, value in (item for _, item in parts):
        assert value not in result
    assert not ANY_EMAIL.search(result)
    assert all(len(run) < 7 for run in digit_runs(result)), result


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.lists(st.text(min_size=2, max_size=20), max_size=3))
def test_redaction_is_idempotent(text, names):
    once = redact(text, names=names).text
    assert redact(once, names=names).text == once


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(FILLER, items), min_size=1, max_size=4))
def test_redacting_redacted_text_changes_nothing(parts):
    text = "".join(f"{before} {value} " for before, (_, value) in parts)
    once = redact(text)
    again = redact(once.text)
    assert again.text == once.text
    assert again.counts == {}


@given(st.sampled_from(["Jane Doe", "Ana María", "O'Brien"]), FILLER)
def test_marked_names_go_wherever_they_appear(name, filler):
    text = f"{filler} {name} said {name.upper()} twice. {filler}"
    result = redact(text, names=[name]).text
    assert name.lower() not in result.lower()


def test_it_keeps_what_is_not_private():
    text = "On 2026-09-12 10:30 I asked about version 4.1 of https://example.org/docs/page."
    assert redact(text).text == text


def test_it_removes_links_with_secrets_but_keeps_the_host():
    result = redact("see https://files.example.com/share?token=abc123 now").text
    assert result == "see https://files.example.com/[link removed] now"
    assert redact("https://user:pw@example.com/x").text == "https://example.com/[link removed]"


def test_it_leaves_numbers_that_fail_their_checksums():
    assert redact("order 4111 1111 1111 1112").counts.get("card") is None
    assert redact("ref DE00370400440532013000").counts.get("iban") is None
