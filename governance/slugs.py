"""Address names (slugs) for anything with a page: one validation and one generator for every app.

Each caller passes the queryset whose slugs must stay unique (all organizations; one
organization's systems or policies) and the words its URLs reserve.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from django.db.models import QuerySet
from django.utils.text import slugify

from governance.errors import Invalid

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")


def clean_slug(slug: object, *, taken: QuerySet, reserved: Collection[str], max_length: int) -> str:
    """A slug someone chose: well-formed, not reserved, not already used in `taken`."""
    slug = str(slug).strip().lower()
    if not SLUG_PATTERN.fullmatch(slug):
        raise Invalid(
            "The address name is not valid.",
            fields={"slug": ["Use lower-case letters, digits and single hyphens only."]},
        )
    if len(slug) > max_length:
        raise Invalid(
            "The address name is too long.",
            fields={"slug": [f"Use at most {max_length} characters."]},
        )
    if slug in reserved:
        raise Invalid(
            "This address name is reserved.",
            fields={"slug": [f"“{slug}” is reserved; choose another."]},
        )
    if taken.filter(slug=slug).exists():
        raise Invalid(
            "This address name is taken.",
            fields={"slug": ["Something else here already uses this address."]},
        )
    return slug


def unique_slug(
    text: str,
    *,
    taken: QuerySet,
    reserved: Collection[str],
    max_length: int,
    fallback: str,
    reserved_suffix: str | None = None,
) -> str:
    """From a name or title (`fallback` when nothing is left of it); `-2`, `-3`… on collision;
    a reserved word gets `-<reserved_suffix>` (default: the fallback) so it is never used."""
    base = slugify(text)[: max_length - 8].strip("-") or fallback
    if base in reserved:
        base = f"{base}-{reserved_suffix or fallback}"
    used = set(taken.filter(slug__startswith=base).values_list("slug", flat=True))
    if base not in used:
        return base
    n = 2
    while f"{base}-{n}" in used:
        n += 1
    return f"{base}-{n}"
