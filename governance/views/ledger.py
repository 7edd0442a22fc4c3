"""The public ledger in the browser: the list with filters, one entry, the JSONL export and
the standalone verification script."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from django import forms
from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from governance.models import LedgerEntry
from governance.selectors.ledger import (
    LedgerFilters,
    entry_canonical_line,
    entry_document,
    entry_hash_matches,
    ledger_actions,
    ledger_actor_names,
    ledger_export_lines,
    ledger_page,
    ledger_subject_labels,
    payload_summary,
)

# seq is a PostgreSQL bigint; larger numbers can name no entry and are refused as input.
MAX_SEQ = 2**63 - 1
EXPORT_CONTENT_TYPE = "application/x-ndjson"
VERIFY_SCRIPT = Path(settings.BASE_DIR) / "docs" / "verify_ledger.py"


def _max_length(name: str) -> int | None:
    return LedgerEntry._meta.get_field(name).max_length


class SeqField(forms.IntegerField):
    """A seq used as a cursor: a whole number from 0 to the largest bigint."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_SEQ)
        super().__init__(**kwargs)


class LedgerFilterForm(forms.Form):
    subject = forms.CharField(
        required=False,
        max_length=_max_length("subject"),
        help_text="Exactly as recorded, for example organization:3",
        widget=forms.TextInput(attrs={"placeholder": "organization:3", "spellcheck": "false"}),
    )
    action = forms.CharField(
        required=False,
        max_length=_max_length("action"),
        help_text="Pick one of the actions recorded so far, or type one.",
        widget=forms.TextInput(attrs={"list": "ledger-actions", "spellcheck": "false"}),
    )
    # Set by the actor links in the table; kept when the other filters change.
    actor = forms.CharField(
        required=False, max_length=_max_length("actor"), widget=forms.HiddenInput
    )


class LedgerCursorForm(forms.Form):
    """The paging links' `?before=` / `?after=`; not part of the filter form, so changing a
    filter always starts again from the newest entry."""

    before = SeqField(label="Older than entry")
    after = SeqField(label="Newer than entry")

    def clean(self):
        data = super().clean()
        if data.get("before") is not None and data.get("after") is not None:
            raise forms.ValidationError(
                "A page link gives either before or after, not both.", code="both_cursors"
            )
        return data


def _query(**params) -> str:
    """A query string for the list, with the empty values left out."""
    kept = {k: v for k, v in params.items() if v not in ("", None)}
    return f"?{urlencode(kept)}" if kept else "?"


def _problems(form: forms.Form) -> list[str]:
    return [
        message if name == "__all__" else f"{form.fields[name].label or name.title()}: {message}"
        for name, messages in form.errors.items()
        for message in messages
    ]


@require_safe
def ledger_list(request):
    form = LedgerFilterForm(request.GET)
    cursor = LedgerCursorForm(request.GET)
    form_ok, cursor_ok = form.is_valid(), cursor.is_valid()
    rows: list[dict] = []
    newer_url = older_url = ""
    filters = LedgerFilters()
    actor_name = ""
    if form_ok and cursor_ok:
        filters = LedgerFilters(
            subject=form.cleaned_data["subject"].strip(),
            action=form.cleaned_data["action"].strip(),
            actor=form.cleaned_data["actor"].strip(),
        )
        page = ledger_page(
            filters=filters,
            before=cursor.cleaned_data["before"],
            after=cursor.cleaned_data["after"],
        )
        # One query resolves every actor on the page (and the one filtered by, if any).
        names = ledger_actor_names([e.actor for e in page.entries] + [filters.actor])
        actor_name = names.get(filters.actor, "") if filters.actor else ""
        labels = ledger_subject_labels(e.subject for e in page.entries)
        rows = [
            {
                "entry": e,
                "actor_name": names[e.actor],
                "subject_label": labels[e.subject],
                "summary": payload_summary(e.payload),
            }
            for e in page.entries
        ]
        keep = {"subject": filters.subject, "action": filters.action, "actor": filters.actor}
        if page.newer_after is not None:
            newer_url = _query(**keep, after=page.newer_after)
        if page.older_before is not None:
            older_url = _query(**keep, before=page.older_before)
    # The full page shows the filter form's own error summary; the swapped region (htmx)
    # and bad paging links need the problems stated inside the results.
    problems = _problems(cursor) + (_problems(form) if request.htmx else [])
    export_url = reverse("ledger:export")
    context = {
        "form": form,
        "valid": form_ok and cursor_ok,
        "problems": problems,
        "rows": rows,
        "filters": filters,
        "actor_name": actor_name,
        "filtered": bool(filters.subject or filters.action or filters.actor),
        "newer_url": newer_url,
        "older_url": older_url,
        "newest_url": _query(subject=filters.subject, action=filters.action, actor=filters.actor),
        "actions": ledger_actions(),
        "export_url": export_url,
        "export_absolute_url": request.build_absolute_uri(export_url),
        "script_url": reverse("ledger:verify-script"),
    }
    template = "ledger/list.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#ledger-rows"
    return render(request, template, context)


@require_safe
def ledger_detail(request, seq: int):
    if seq > MAX_SEQ:
        raise Http404("There is no such ledger entry.")
    entry = LedgerEntry.objects.filter(seq=seq).first()
    if entry is None:
        raise Http404("There is no such ledger entry.")
    document = entry_document(entry)
    context = {
        "entry": entry,
        "actor_name": ledger_actor_names([entry.actor])[entry.actor],
        "canonical": entry_canonical_line(entry).decode(),
        "pretty": json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False),
        "hash_ok": entry_hash_matches(entry),
        "has_next": LedgerEntry.objects.filter(seq=seq + 1).exists(),
        "subject_url": _query(subject=entry.subject),
        "actor_url": _query(actor=entry.actor),
        "action_url": _query(action=entry.action),
    }
    return render(request, "ledger/detail.html", context)


class ExportForm(forms.Form):
    after = SeqField(help_text="The seq of the last entry you already have.")


def export_response(*, after: int) -> StreamingHttpResponse:
    """The JSONL download, shared by this page and `/api/v1/ledger/export/`: every entry
    with seq > `after`, streamed from a server-side cursor."""
    response = StreamingHttpResponse(
        ledger_export_lines(after=after), content_type=EXPORT_CONTENT_TYPE
    )
    name = f"openrefusal-ledger-after-{after}.jsonl" if after else "openrefusal-ledger.jsonl"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    # Always fresh: the ledger grows with every change on the platform.
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def ledger_export(request):
    form = ExportForm(request.GET)
    if not form.is_valid():
        messages = " ".join(m for ms in form.errors.values() for m in ms)
        return HttpResponseBadRequest(
            f"The export could not start. after: {messages} "
            "Give the seq of the last entry you already have, for example ?after=120.\n",
            content_type="text/plain; charset=utf-8",
        )
    return export_response(after=form.cleaned_data["after"] or 0)


@cache
def _verify_script() -> bytes:
    return VERIFY_SCRIPT.read_bytes()


@require_safe
def ledger_verify_script(request) -> HttpResponse:
    # Plain text shown in the browser, so people can read what they are about to run; the
    # page's link carries `download` for saving it.
    response = HttpResponse(_verify_script(), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="verify_ledger.py"'
    return response


# Included by governance/urls.py under the `ledger` namespace.
app_name = "ledger"
urlpatterns = [
    path("", ledger_list, name="list"),
    path("<int:seq>/", ledger_detail, name="detail"),
    path("export.jsonl", ledger_export, name="export"),
    path("verify_ledger.py", ledger_verify_script, name="verify-script"),
]
