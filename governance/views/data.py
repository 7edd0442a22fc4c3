"""Public pages for machine readers: the bulk dumps (/data/) with their downloads, and the
guide for regulators (/regulators/)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from governance.errors import NotFound
from governance.public_data import DUMP_DATASETS, EVENT_TYPES
from governance.selectors.changes import FEED_MAX_LIMIT
from governance.selectors.dumps import dump_file_path, dump_stamp, dumps_complete
from governance.services.webhooks import SIGNATURE_HEADER
from governance.throttling import documented_limits

DUMPS_SHOWN = 7
DOCS = Path(settings.BASE_DIR) / "docs"
SCRIPTS = {"mirror_client.py": DOCS / "mirror_client.py", "webhooks.md": DOCS / "webhooks.md"}


@require_safe
def data_dumps(request):
    dumps = list(dumps_complete()[:DUMPS_SHOWN])
    for dump in dumps:
        dump.stamp = dump_stamp(dump)
    return render(
        request,
        "data/dumps.html",
        {
            "dumps": dumps,
            "latest": dumps[0] if dumps else None,
            "datasets": sorted(DUMP_DATASETS.values(), key=lambda d: d.name),
        },
    )


@require_safe
def data_dump_file(request, folder, name):
    try:
        path = dump_file_path(stamp=folder, name=name)
    except NotFound:
        raise Http404("There is no such dump file.") from None
    if not default_storage.exists(path):
        raise Http404("This dump file is no longer stored.")
    content_type = "application/json" if name.endswith(".json") else "application/gzip"
    response = FileResponse(
        default_storage.open(path, "rb"),
        as_attachment=not name.endswith(".json"),
        filename=name,
        content_type=content_type,
    )
    # Dumps never change once written: cache them for a day.
    response["Cache-Control"] = "public, max-age=86400, immutable"
    return response


@require_safe
def regulators_guide(request):
    return render(
        request,
        "regulators/guide.html",
        {
            "site": settings.SITE_URL.rstrip("/") or request.build_absolute_uri("/").rstrip("/"),
            "event_types": sorted(EVENT_TYPES.items()),
            "datasets": sorted(DUMP_DATASETS.values(), key=lambda d: d.name),
            "feed_max_limit": FEED_MAX_LIMIT,
            "signature_header": SIGNATURE_HEADER,
            "limits": documented_limits(),
            "max_attempts": settings.OPENREFUSAL["WEBHOOK_MAX_ATTEMPTS"],
            "retry_base": settings.OPENREFUSAL["WEBHOOK_RETRY_BASE_SECONDS"],
        },
    )


@cache
def _script(name: str) -> bytes:
    return SCRIPTS[name].read_bytes()


@require_safe
def regulators_script(request, name):
    """docs/mirror_client.py and docs/webhooks.md as plain text, to read before running."""
    if name not in SCRIPTS:
        raise Http404("There is no such file.")
    response = HttpResponse(_script(name), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response
