"""`Last-Modified` on API reads whose resource has a natural modification time, honoured as
`If-Modified-Since` by ApiConditionalGetMiddleware (next to the ETag, which stays the exact
validator: a request with `If-None-Match` is judged on that alone).

HTTP dates count whole seconds, so a time is only sent once its second is safely over: a
change in the same second (or one whose transaction is still committing) would otherwise
carry the same date as what a client already holds, and be answered 304. A resource changed
in the last SETTLE_SECONDS gets no `Last-Modified` (its ETag still works)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone
from django.utils.http import http_date
from rest_framework.response import Response

HEADER = "Last-Modified"
SETTLE_SECONDS = 2


def _now() -> datetime:
    return timezone.now()


def latest(*moments: datetime | Iterable[datetime | None] | None) -> datetime | None:
    """The newest of the times given (None ones left out), or None."""
    found: list[datetime] = []
    for moment in moments:
        if isinstance(moment, datetime):
            found.append(moment)
        elif moment is not None:
            found.extend(m for m in moment if m is not None)
    return max(found) if found else None


def set_last_modified(response: Response, moment: datetime | None) -> Response:
    """Send `moment` as Last-Modified, unless it is unknown, too recent, or in the future."""
    if moment is None:
        return response
    seconds = math.floor(moment.timestamp())
    if seconds + SETTLE_SECONDS > math.floor(_now().timestamp()):
        return response
    response[HEADER] = http_date(seconds)
    return response


# For a viewset: `retrieve` answers with `last_modified(obj)` as Last-Modified. A viewset
# overrides it to cover everything the representation shows (the time of every change that
# alters it, and of every deadline whose passing does); unknown (None) sends no header. No
# docstring on purpose: drf-spectacular would take it (inspect.getdoc walks the bases) as the
# description of every endpoint using it.
class LastModifiedMixin:
    def last_modified(self, obj) -> datetime | None:
        return None

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        response = Response(self.get_serializer(instance).data)
        return set_last_modified(response, self.last_modified(instance))
