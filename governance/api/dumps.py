"""`/api/v1/dumps/`: the nightly bulk dumps of every public dataset, with their files'
download addresses, SHA-256 checksums and row counts (the manifest)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import AllowAny

from governance.api_auth import HasTokenScope
from governance.models import DataDump
from governance.pagination import CursorPagination
from governance.selectors.dumps import dump_stamp, dumps_complete
from governance.services.dumps import MANIFEST

DUMP_EXAMPLE = {
    "id": 12,
    "created_at": "2026-12-03T02:30:00Z",
    "ledger_head": 18234,
    "manifest_url": "https://openrefusal.example/data/20261203T023000Z/manifest.json",
    "files": [
        {
            "name": "policy_versions.jsonl.gz",
            "dataset": "policy_versions",
            "description": "Published, superseded and withdrawn policy versions, with their text.",
            "rows": 17,
            "bytes": 20431,
            "sha256": "5d41402abc4b2a76b9719d911017c592…",
            "url": "https://openrefusal.example/data/20261203T023000Z/policy_versions.jsonl.gz",
        }
    ],
}


class DumpFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    dataset = serializers.CharField()
    description = serializers.CharField()
    rows = serializers.IntegerField(help_text="JSON lines in the file.")
    bytes = serializers.IntegerField(help_text="Size of the compressed file.")
    sha256 = serializers.CharField(help_text="SHA-256 of the file as downloaded (gzip).")
    url = serializers.CharField()


class DumpSerializer(serializers.ModelSerializer):
    created_at = serializers.DateTimeField(source="started_at")
    ledger_head = serializers.SerializerMethodField(
        help_text="The dump is the platform as of this ledger seq: continue with "
        "`/api/v1/changes/?after=<ledger_head>`."
    )
    manifest_url = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()

    class Meta:
        model = DataDump
        fields = ["id", "created_at", "ledger_head", "manifest_url", "files"]

    def _url(self, dump, name: str) -> str:
        path = reverse("data-file", kwargs={"folder": dump_stamp(dump), "name": name})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_ledger_head(self, dump) -> int:
        return dump.manifest.get("ledger_head", 0)

    def get_manifest_url(self, dump) -> str:
        return self._url(dump, MANIFEST)

    @extend_schema_field(DumpFileSerializer(many=True))
    def get_files(self, dump) -> list[dict]:
        return [{**f, "url": self._url(dump, f["name"])} for f in dump.manifest.get("files", [])]


class DumpPagination(CursorPagination):
    ordering = "-started_at"


@extend_schema_view(
    list=extend_schema(
        summary="List the bulk dumps",
        description="Complete nightly dumps, newest first: every public dataset (the ledger, "
        "organizations, AI systems, policies, versions, clauses, comment periods, published "
        "comments, evaluation runs, published audit reports) as gzip-compressed JSON Lines, "
        "each with its SHA-256 and row count. All files of a dump are read from one database "
        "snapshot, as of `ledger_head`.",
        examples=[
            OpenApiExample(
                "Page",
                value=DUMP_EXAMPLE,
                response_only=True,
            )
        ],
        tags=["Bulk dumps"],
    ),
    retrieve=extend_schema(
        summary="Show one bulk dump",
        description="One complete dump: its manifest (each dataset's file, row count, size and "
        "SHA-256) and the ledger head it was cut at. Failed dumps answer 404.",
        examples=[OpenApiExample("Dump", value=DUMP_EXAMPLE, response_only=True)],
        tags=["Bulk dumps"],
    ),
)
class DumpViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DumpSerializer
    permission_classes = [AllowAny, HasTokenScope]
    pagination_class = DumpPagination
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return dumps_complete()
