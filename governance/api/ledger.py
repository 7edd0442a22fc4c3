"""`/api/v1/ledger/`: the public ledger — entries by cursor, one entry, and the JSONL export
(the same stream as the `/ledger/export.jsonl` download)."""

from __future__ import annotations

import json

from django import forms
from django.urls import reverse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, renderers, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny

from governance.api_auth import HasTokenScope
from governance.models import LedgerEntry
from governance.pagination import CursorPagination
from governance.selectors.ledger import entry_document, ledger_actor_names
from governance.views.ledger import EXPORT_CONTENT_TYPE, MAX_SEQ, ExportForm, export_response

HASH_EXAMPLE = "9f2b5c0e4d1a7b3c8e6f0a2d4c6b8e0f1a3c5e7d9b1f3a5c7e9d1b3f5a7c9e1d"
ENTRY_EXAMPLE = {
    "seq": 42,
    "at": "2026-03-01T09:30:00.123456Z",
    "actor": "user:7",
    "actor_name": "Acme Owner",
    "action": "organization.member_added",
    "subject": "organization:3",
    "payload": {"user": "user:12", "role": "editor"},
    "prev_hash": "4e1c2b7d9a0f3e5c7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e",
    "hash": HASH_EXAMPLE,
    "url": "/api/v1/ledger/42/",
}
TAGS = ["Public ledger"]


class LedgerEntrySerializer(serializers.Serializer):
    """The export's document (what is hashed, plus `hash`) with two conveniences that are
    not hashed: `actor_name` and `url`."""

    seq = serializers.IntegerField(help_text="Position in the chain, from 1, without gaps.")
    at = serializers.CharField(
        help_text="UTC time, exactly as hashed: `YYYY-MM-DDTHH:MM:SS.ffffffZ`."
    )
    actor = serializers.CharField(help_text='`"user:<id>"` or `"system"`.')
    actor_name = serializers.CharField(
        help_text="The actor's public name (not hashed): a display name, "
        '"OpenRefusal (system)" or "Former member".'
    )
    action = serializers.CharField(help_text="What happened, e.g. `organization.verified`.")
    subject = serializers.CharField(help_text='What it happened to: `"<model>:<id>"`.')
    payload = serializers.JSONField(help_text="Details; strings, integers, booleans, null.")
    prev_hash = serializers.CharField(help_text="`hash` of the entry before (64 zeros for #1).")
    hash = serializers.CharField(
        help_text="SHA-256 of the canonical JSON of seq, at, actor, action, subject, payload "
        "and prev_hash (keys sorted, no spaces, UTF-8)."
    )
    url = serializers.CharField(help_text="This entry in the API (not hashed).")

    def to_representation(self, entry: LedgerEntry) -> dict:
        names = self.context.get("actor_names") or ledger_actor_names([entry.actor])
        document = entry_document(entry)
        document["actor_name"] = names[entry.actor]
        document["url"] = reverse("ledger-detail", kwargs={"seq": entry.seq})
        return document


class SeqFilter(filters.NumberFilter):
    """A whole seq (NumberFilter would take decimals), 0 up to the largest bigint."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_SEQ)
        super().__init__(*args, **kwargs)


def _max(name: str) -> int | None:
    return LedgerEntry._meta.get_field(name).max_length


class LedgerFilterSet(filters.FilterSet):
    subject = filters.CharFilter(
        max_length=_max("subject"), help_text="Exactly, e.g. `organization:3`."
    )
    subject_type = filters.CharFilter(
        method="filter_subject_type",
        max_length=_max("subject"),
        help_text="The kind of subject, before the colon, e.g. `organization`.",
    )
    action = filters.CharFilter(max_length=_max("action"), help_text="Exactly.")
    actor = filters.CharFilter(max_length=_max("actor"), help_text="e.g. `user:7` or `system`.")
    after = SeqFilter(field_name="seq", lookup_expr="gt", help_text="Only entries with seq > N.")
    before = SeqFilter(field_name="seq", lookup_expr="lt", help_text="Only entries with seq < N.")
    since = filters.IsoDateTimeFilter(
        field_name="at", lookup_expr="gte", help_text="Recorded at or after (ISO 8601)."
    )
    until = filters.IsoDateTimeFilter(
        field_name="at", lookup_expr="lte", help_text="Recorded at or before (ISO 8601)."
    )

    class Meta:
        model = LedgerEntry
        fields: list[str] = []

    def filter_subject_type(self, queryset, name, value):
        return queryset.filter(subject__startswith=f"{value}:")


class JSONLinesRenderer(renderers.BaseRenderer):
    """Lets clients ask for the export with `Accept: application/x-ndjson`; the stream itself
    bypasses rendering, and errors still go out as JSON."""

    media_type = EXPORT_CONTENT_TYPE
    format = "jsonl"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data, ensure_ascii=False).encode() + b"\n"


class LedgerCursorPagination(CursorPagination):
    ordering = "-seq"


@extend_schema_view(
    list=extend_schema(
        summary="List ledger entries",
        description="Entries of the public ledger, newest first, 50 per page (`page_size` up "
        "to 500), with cursor pagination: follow `next` and `previous`. Each entry is the "
        "export's document, so its hash can be recomputed, plus `actor_name` and `url`. "
        "Filters combine; bad values answer 400 with the offending field named.",
        examples=[
            OpenApiExample(
                "One page",
                value=ENTRY_EXAMPLE,
                response_only=True,
            )
        ],
        tags=TAGS,
    ),
    retrieve=extend_schema(
        summary="Show one ledger entry",
        description="One entry by its seq; 404 if there is none.",
        examples=[OpenApiExample("Entry", value=ENTRY_EXAMPLE, response_only=True)],
        tags=TAGS,
    ),
)
class LedgerEntryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = LedgerEntrySerializer
    permission_classes = [AllowAny, HasTokenScope]
    pagination_class = LedgerCursorPagination
    filterset_class = LedgerFilterSet
    lookup_field = "seq"
    lookup_value_regex = r"[0-9]{1,19}"

    def get_queryset(self):
        return LedgerEntry.objects.all()

    def get_object(self):
        seq = int(self.kwargs["seq"])
        entry = LedgerEntry.objects.filter(seq=seq).first() if seq <= MAX_SEQ else None
        if entry is None:
            raise exceptions.NotFound("There is no ledger entry with this seq.")
        self.check_object_permissions(self.request, entry)
        return entry

    def get_serializer(self, *args, **kwargs):
        # A page resolves every actor's public name in one query.
        if args and isinstance(args[0], list):
            context = self.get_serializer_context()
            context["actor_names"] = ledger_actor_names(entry.actor for entry in args[0])
            kwargs["context"] = context
        return super().get_serializer(*args, **kwargs)

    @extend_schema(
        summary="Export the ledger as JSON Lines",
        description="Every entry in seq order, streamed, one canonical JSON object per line "
        "(keys sorted, no spaces, UTF-8) including `hash`: exactly what `/ledger/export.jsonl` "
        "serves and what `docs/verify_ledger.py` checks. `after` resumes after the last seq "
        "you have.",
        parameters=[
            OpenApiParameter(
                "after",
                OpenApiTypes.INT,
                description="Only entries with seq > N (default 0: everything).",
            )
        ],
        filters=False,
        responses={
            (200, EXPORT_CONTENT_TYPE): OpenApiResponse(
                response=OpenApiTypes.STR,
                description="One JSON document per line.",
                examples=[
                    OpenApiExample(
                        "Two lines",
                        value='{"action":"organization.verified","actor":"user:1",'
                        '"at":"2026-03-01T09:30:00.123456Z","hash":"…","payload":{},'
                        '"prev_hash":"000…000","seq":1,"subject":"organization:3"}\n…\n',
                    )
                ],
            )
        },
        tags=TAGS,
    )
    @action(
        detail=False,
        methods=["get"],
        pagination_class=None,
        filterset_class=None,
        renderer_classes=[renderers.JSONRenderer, JSONLinesRenderer],
    )
    def export(self, request):
        form = ExportForm(request.query_params)
        if not form.is_valid():
            raise exceptions.ValidationError(form.errors)
        return export_response(after=form.cleaned_data["after"] or 0)
