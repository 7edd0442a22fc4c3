"""Redaction of appeal transcripts before anything is stored for display: e-mail addresses,
phone numbers, links that carry secrets (tokens, keys, signatures, passwords), IBANs (checked
with mod 97), card numbers (checked with Luhn) and the names the filer marks.

`redact` runs the detectors until nothing changes, so its result is a fixed point: redacting
redacted text changes nothing, and no detector matches what it returns.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

PLACEHOLDERS = {
    "email": "[email]",
    "phone": "[phone]",
    "url": "[link removed]",
    "iban": "[iban]",
    "card": "[card]",
    "name": "[name]",
}
MAX_NAMES = 50
MAX_NAME_CHARS = 200
_MAX_PASSES = 8

EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'\]\[]+", re.IGNORECASE)
# Two letters, two check digits, then 11 to 30 letters or digits: compact, or in groups of four.
IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}"
    r"(?:[A-Za-z0-9]{11,30}|(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,4})?)(?![A-Za-z0-9])"
)
# 13 to 19 digits, with single spaces or dashes between them.
CARD = re.compile(r"(?<![\d\w])\d(?:[ -]?\d){12,18}(?![\d\w])")
# A leading + or (, then 7 to 15 digits with one separator at most between two of them (a
# space, dot, dash or slash, or a parenthesis with an optional space: "(555) 123-4567").
PHONE = re.compile(r"(?<![\w+])(?:\+|\()?\d(?:(?:\) ?| ?\(|[ .\-/])?\d){6,16}\)?(?![\w])")
# A calendar date (and the hour of a time after it) is not a phone number.
ISO_DATE = re.compile(
    r"\(?(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[ T]\d{1,2})?\)?"
)
SECRET_KEYS = re.compile(
    r"(token|key|secret|sig|signature|password|passwd|pwd|auth|session|sid|code|credential|"
    r"otp|hash|jwt|bearer)",
    re.IGNORECASE,
)
RANDOM_LOOKING = re.compile(r"[A-Za-z0-9_\-.~%]{20,}")


@dataclass
class Redacted:
    text: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _has_secret(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return True  # unreadable: safer gone
    if parts.username or parts.password:
        return True
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if SECRET_KEYS.search(key) or RANDOM_LOOKING.fullmatch(value or ""):
            return True
    if parts.fragment and (
        SECRET_KEYS.search(parts.fragment) or RANDOM_LOOKING.search(parts.fragment)
    ):
        return True
    # A path segment that looks like a random token (long, with letters and digits mixed).
    for segment in parts.path.split("/"):
        if (
            len(segment) >= 24
            and RANDOM_LOOKING.fullmatch(segment)
            and re.search(r"\d", segment)
            and re.search(r"[A-Za-z]", segment)
        ):
            return True
    return False


def _url(match: re.Match, counts: Counter) -> str:
    url = match.group(0).rstrip(".,;:!?)")
    tail = match.group(0)[len(url) :]
    if not _has_secret(url):
        return match.group(0)
    counts["url"] += 1
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    host = host if re.fullmatch(r"[A-Za-z0-9.-]+", host or "") else ""
    scheme = url.split(":", 1)[0].lower()
    kept = f"{scheme}://{host}/" if host else ""
    return f"{kept}{PLACEHOLDERS['url']}{tail}"


def _iban(match: re.Match, counts: Counter) -> str:
    """The match, or its longest prefix ending at a group boundary, if it checks out: a word
    right after a grouped IBAN ("… 0130 00 Thanks") is not part of it."""
    text = match.group(0)
    cuts = [len(text), *[m.start() for m in re.finditer(" ", text)][::-1]]
    for cut in cuts:
        if iban_valid(text[:cut]):
            counts["iban"] += 1
            return PLACEHOLDERS["iban"] + text[cut:]
    return text


def _card(match: re.Match, counts: Counter) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return match.group(0)
    counts["card"] += 1
    return PLACEHOLDERS["card"]


def _phone(match: re.Match, counts: Counter) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15 or ISO_DATE.fullmatch(text):
        return text
    counts["phone"] += 1
    return PLACEHOLDERS["phone"]


def clean_names(names: Iterable[str]) -> list[str]:
    """The marked names as matched: trimmed, at least two characters, no duplicates."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        name = " ".join(str(name).split())[:MAX_NAME_CHARS]
        if len(name) < 2 or name.lower() in seen:
            continue
        seen.add(name.lower())
        out.append(name)
    return out[:MAX_NAMES]


def _name_pattern(names: list[str]) -> re.Pattern | None:
    """Each marked name, and each of its words of three letters or more, as whole words —
    never inside a placeholder's brackets, so redacting again adds nothing."""
    terms: set[str] = set()
    for name in names:
        terms.add(name)
        terms.update(part for part in re.split(r"\s+", name) if len(part) >= 3)
    if not terms:
        return None
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![\w\[])(?:{alternatives})(?![\w\]])", re.IGNORECASE)


def _pass(text: str, names: re.Pattern | None, counts: Counter) -> str:
    text = URL.sub(lambda m: _url(m, counts), text)

    def email(m: re.Match) -> str:
        counts["email"] += 1
        return PLACEHOLDERS["email"]

    text = EMAIL.sub(email, text)
    text = IBAN.sub(lambda m: _iban(m, counts), text)
    text = CARD.sub(lambda m: _card(m, counts), text)
    text = PHONE.sub(lambda m: _phone(m, counts), text)
    if names is not None:

        def name(m: re.Match) -> str:
            counts["name"] += 1
            return PLACEHOLDERS["name"]

        text = names.sub(name, text)
    return text


def redact(text: str, *, names: Iterable[str] = ()) -> Redacted:
    """The text with every detected item replaced by its placeholder, and how many of each."""
    pattern = _name_pattern(clean_names(names))
    counts: Counter = Counter()
    for _ in range(_MAX_PASSES):
        after = _pass(text, pattern, counts)
        if after == text:
            break
        text = after
    return Redacted(text=text, counts={k: v for k, v in sorted(counts.items()) if v})
