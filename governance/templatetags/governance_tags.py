"""Template helpers every page uses: times in the reader's zone, as machine-readable `<time>`."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.timesince import timesince, timeuntil

register = template.Library()

# "22 Nov 2026, 14:45 JST": day first and a 24-hour clock read unambiguously worldwide, and the
# zone's abbreviation says which clock the reader is looking at.
DATETIME_FORMAT = "j M Y, H:i T"
DATE_FORMAT = "j M Y"


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aware(value: datetime) -> datetime:
    # Naive datetimes only come from code that forgot USE_TZ; storage is UTC, so say so.
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value


@register.simple_tag
def local_time(value: datetime | date | None, fmt: str = DATETIME_FORMAT, empty: str = "—"):
    """`<time datetime="2026-11-22T05:45:00Z">22 Nov 2026, 14:45 JST</time>`, in the active
    (reader's) time zone, which `ReaderTimezoneMiddleware` sets per request."""
    if value is None or value == "":
        return empty
    if isinstance(value, datetime):
        value = _aware(value)
        local = timezone.localtime(value)
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            _iso_utc(value),
            date_format(value.astimezone(UTC), "j M Y, H:i") + " UTC",
            date_format(local, fmt),
        )
    if isinstance(value, date):
        return format_html(
            '<time datetime="{}">{}</time>', value.isoformat(), date_format(value, DATE_FORMAT)
        )
    return empty


@register.simple_tag
def relative_time(value: datetime | None, empty: str = "—"):
    """ "3 hours ago" / "in 2 days", with the exact local time in `title` and `datetime`."""
    if value is None or value == "":
        return empty
    value = _aware(value)
    now = timezone.now()
    if value <= now:
        text = f"{timesince(value, now, depth=1)} ago"
    else:
        text = f"in {timeuntil(value, now, depth=1)}"
    # Under a minute, timesince says "0 minutes" (with a non-breaking space), which reads oddly.
    if text in ("0\xa0minutes ago", "in 0\xa0minutes"):
        text = "just now"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        _iso_utc(value),
        date_format(timezone.localtime(value), DATETIME_FORMAT),
        text,
    )


@register.filter
def get_item(mapping, key):
    """`{{ counts|get_item:key }}`: a dict's value by a variable key (None when absent)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None
