"""Policy pages: the directory, a policy's timeline, versions, clause histories and diffs, and the
authoring pages (systems, policies, drafts with live preview, publish, withdraw)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache, partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import engines
from django.template.loader import render_to_string
from django.urls import path, register_converter, reverse
from django.utils.html import escape, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from governance.errors import DomainError
from governance.forms import add_domain_error
from governance.idempotency import once_per_form_token
from governance.markdown import render_markdown
from governance.models import Organization
from policies import selectors, services
from policies.diff import PolicyDiff, diff_clauses
from policies.feeds import AllVersionsFeed, PolicyVersionsFeed
from policies.forms import (
    BODY_MAX_CHARS,
    DiffPickForm,
    DirectoryFilterForm,
    DraftForm,
    PolicyForm,
    PreviewForm,
    PublishForm,
    SystemForm,
    WithdrawForm,
)
from policies.models import Policy, PolicyFollow, PolicyVersion
from policies.parsing import KEY_RE, MAX_KEY_CHARS, ParsedPolicy, parse_policy_markdown
from policies.rules import allowed
from policies.templatetags import policies_tags

app_name = "policies"
PAGE_SIZE = 25
# Rendered Markdown of a published version, by content hash: its text can never change.
RENDER_CACHE_VERSION = "1"
RENDER_CACHE_SECONDS = 24 * 3600
# The rendered clause list of a published version and the rendered changes of a diff of two
# published versions, cached whole: the heavy part of those pages, the same for every reader.
# Bump when the `document` partial of version.html or the `changes` partial of diff.html change.
FRAGMENT_CACHE_VERSION = "1"
# Each clause's `{% clause_extras %}` for this request, in the order of `clauses`, each followed
# by `marker`: one render, so every registered `prepare` runs once for the page.
CLAUSE_EXTRAS_TEMPLATE = (
    "{% load policies_tags %}{% for clause in clauses %}{% clause_extras clause %}{{ marker }}"
    "{% endfor %}"
)


class SemverConverter:
    regex = r"(?:0|[1-9]\d{0,5})\.(?:0|[1-9]\d{0,5})\.(?:0|[1-9]\d{0,5})"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SemverConverter, "semver")


# --- Access helpers -----------------------------------------------------------------------------


def _policy(org_slug: str, policy_slug: str) -> Policy:
    policy = selectors.policy_get(organization_slug=org_slug, policy_slug=policy_slug)
    if policy is None:
        raise Http404("There is no such policy.")
    return policy


def _require(request: HttpRequest, permission: str, target) -> None:
    if not allowed(request.user, permission, target):
        raise PermissionDenied


def _visible_version(request: HttpRequest, policy: Policy, number: str) -> PolicyVersion:
    """A version by number; a draft exists only for the organization's members."""
    version = selectors.version_get(policy=policy, number=number)
    if version is None or (
        version.is_draft and not allowed(request.user, "policies.view_draft", policy)
    ):
        raise Http404("There is no such version.")
    return version


def _posted(request: HttpRequest):
    """The POST data, or None for a GET: an empty POST still binds (and validates) the form."""
    return request.POST if request.method == "POST" else None


def _status(form) -> int:
    return 400 if form.errors else 200


def _policy_url(policy: Policy, name: str, **kwargs) -> str:
    return reverse(
        f"policies:{name}",
        kwargs={"org_slug": policy.organization.slug, "policy_slug": policy.slug, **kwargs},
    )


# --- Rendering helpers --------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedClause:
    clause: object  # a Clause row or a ParsedClause
    html: SafeString


@dataclass(frozen=True)
class RenderedBody:
    title: str
    preamble: SafeString
    clauses: list[RenderedClause]


def _render_parsed(parsed: ParsedPolicy, clauses=None) -> RenderedBody:
    source = clauses if clauses is not None else parsed.clauses
    texts = {c.key: c.text for c in parsed.clauses}
    return RenderedBody(
        title=parsed.title,
        preamble=render_markdown(parsed.preamble) if parsed.preamble.strip() else mark_safe(""),
        clauses=[RenderedClause(c, render_markdown(texts.get(c.key, c.text))) for c in source],
    )


def _rendered_version(version: PolicyVersion, clauses) -> RenderedBody:
    """The version's preamble and clause texts as HTML. Published text never changes, so its
    rendering is cached by content hash (the clause rows are always the ones passed in)."""
    if version.is_draft or not version.content_sha256:
        return _render_parsed(parse_policy_markdown(version.body_markdown))
    key = f"policies:render:v{RENDER_CACHE_VERSION}:{version.content_sha256}"
    cached = cache.get(key)
    if cached is None:
        parsed = parse_policy_markdown(version.body_markdown)
        cached = {
            "title": parsed.title,
            "preamble": str(render_markdown(parsed.preamble)) if parsed.preamble.strip() else "",
            "clauses": {c.key: str(render_markdown(c.text)) for c in parsed.clauses},
        }
        cache.set(key, cached, RENDER_CACHE_SECONDS)
    return RenderedBody(
        title=cached["title"],
        preamble=mark_safe(cached["preamble"]),
        clauses=[RenderedClause(c, mark_safe(cached["clauses"].get(c.key, ""))) for c in clauses],
    )


def _fragment_key(kind: str, *parts: object) -> str:
    """A cache key for a rendered fragment from everything it depends on."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()
    return f"policies:{kind}:v{FRAGMENT_CACHE_VERSION}:{digest}"


def _marker() -> SafeString:
    # Unguessable, so no clause text can fake a split point.
    return mark_safe(f"<!--{secrets.token_hex(16)}-->")


def _document_parts(context: dict) -> list[str]:
    """The version's clause list (table of contents and clauses) as HTML, cut where each
    clause's extras go: one more part than there are clauses."""
    marker = _marker()
    html = render_to_string("policies/version.html#document", {**context, "extras_marker": marker})
    parts = html.split(marker)
    if len(parts) != len(context["body"].clauses) + 1:
        raise RuntimeError("The version.html `document` partial must mark each clause once.")
    return parts


def _with_clause_extras(request: HttpRequest, parts: list[str], clauses) -> SafeString:
    """The clause list with the registered `{% clause_extras %}` of this request (for this
    reader) in place. `clauses` is the page's clauses, or a callable that loads them: they are
    read only when something is registered."""
    if len(parts) == 1 or not policies_tags.CLAUSE_EXTRAS:
        return mark_safe("".join(parts))
    if callable(clauses):
        clauses = clauses()
    marker = _marker()
    template = engines["django"].from_string(CLAUSE_EXTRAS_TEMPLATE)
    extras = template.render({"clauses": clauses, "marker": marker}, request).split(marker)
    joined = [parts[0]]
    for extra, part in zip(extras, parts[1:], strict=False):
        joined += [extra, part]
    return mark_safe("".join(joined))


def ops_html(ops, *, side: str = "both") -> SafeString:
    """A word-level diff as HTML: `<del>` and `<ins>` around what went and came. `side` "old"
    keeps only the deletions, "new" only the insertions (the side-by-side columns)."""
    parts = []
    for op in ops:
        if op.op == "equal":
            parts.append(escape(op.text))
        elif op.op == "delete" and side in ("both", "old"):
            parts.append(f"<del>{escape(op.text)}</del>")
        elif op.op == "insert" and side in ("both", "new"):
            parts.append(f"<ins>{escape(op.text)}</ins>")
    return mark_safe("".join(parts))


@dataclass(frozen=True)
class ChangeView:
    change: object
    unified: SafeString
    old_html: SafeString
    new_html: SafeString


def _change_views(diff: PolicyDiff) -> list[ChangeView]:
    views = []
    for change in diff.changes:
        if change.kind == "unchanged":
            continue
        old_text = (change.old or {}).get("text", "")
        new_text = (change.new or {}).get("text", "")
        if change.text_ops:
            unified = ops_html(change.text_ops)
            old_html = ops_html(change.text_ops, side="old")
            new_html = ops_html(change.text_ops, side="new")
        elif change.kind == "added":
            unified = format_html_join("", "<ins>{}</ins>", [(new_text,)])
            old_html, new_html = mark_safe(""), unified
        elif change.kind == "removed":
            unified = format_html_join("", "<del>{}</del>", [(old_text,)])
            old_html, new_html = unified, mark_safe("")
        else:
            unified = old_html = mark_safe(escape(old_text))
            new_html = mark_safe(escape(new_text))
        views.append(ChangeView(change, unified, old_html, new_html))
    return views


# --- Directory ----------------------------------------------------------------------------------


@require_safe
def policy_list(request: HttpRequest) -> HttpResponse:
    organizations, systems = selectors.directory_filter_choices()
    form = DirectoryFilterForm(request.GET or None, organizations=organizations, systems=systems)
    filters: dict = {}
    if form.is_bound and form.is_valid():
        filters = {
            "organization": form.cleaned_data["organization"] or None,
            "system": form.cleaned_data["system"] or None,
        }
    page = Paginator(selectors.policy_directory(**filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": selectors.directory_rows(list(page.object_list)),
        "filtered": any(filters.values()),
        "query_string": query.urlencode(),
    }
    template = "policies/list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context, status=_status(form))


# --- One policy ---------------------------------------------------------------------------------


def _follow_context(request: HttpRequest, policy: Policy) -> dict:
    user = request.user
    following = (
        user.is_authenticated and PolicyFollow.objects.filter(user=user, policy=policy).exists()
    )
    return {
        "policy": policy,
        "following": following,
        "can_follow": allowed(user, "policies.follow_policy", policy),
        "follow_url": _policy_url(policy, "follow"),
    }


@require_safe
def policy_detail(request: HttpRequest, org_slug: str, policy_slug: str) -> HttpResponse:
    policy = _policy(org_slug, policy_slug)
    user = request.user
    can_view_drafts = allowed(user, "policies.view_draft", policy)
    timeline = selectors.policy_timeline(policy=policy, include_draft=can_view_drafts)
    if not can_view_drafts and not timeline:
        raise Http404("This policy has no published version yet.")
    context = {
        **_follow_context(request, policy),
        "organization": policy.organization,
        "systems": selectors.policy_systems(policy),
        "timeline": timeline,
        "can_view_drafts": can_view_drafts,
        "can_edit_draft": allowed(user, "policies.edit_draft", policy),
        "can_change": allowed(user, "policies.change_policy", policy),
        "can_withdraw": allowed(user, "policies.withdraw_version", policy),
        "draft": next((e.version for e in timeline if e.version.is_draft), None),
        "diff_form": _diff_form_html(
            tuple(e.version.number for e in timeline),
            timeline[1].version.number if len(timeline) > 1 else None,
            timeline[0].version.number if timeline else None,
            None,
        ),
    }
    return render(request, "policies/detail.html", context)


@login_required
@require_POST
def policy_follow_toggle(request: HttpRequest, org_slug: str, policy_slug: str) -> HttpResponse:
    policy = _policy(org_slug, policy_slug)
    following = PolicyFollow.objects.filter(user=request.user, policy=policy).exists()
    try:
        if following:
            services.policy_unfollow(user=request.user, policy=policy)
        else:
            services.policy_follow(user=request.user, policy=policy)
    except DomainError as error:
        if request.htmx:
            context = {**_follow_context(request, policy), "follow_error": error.message}
            return render(request, "policies/detail.html#follow-button", context, status=403)
        messages.error(request, error.message)
        return redirect(_policy_url(policy, "detail"))
    if request.htmx:
        return render(
            request, "policies/detail.html#follow-button", _follow_context(request, policy)
        )
    messages.success(
        request,
        f"You no longer follow {policy.title}."
        if following
        else f"You follow {policy.title}: we e-mail you when a new version is published.",
    )
    return redirect(_policy_url(policy, "detail"))


# --- Versions -----------------------------------------------------------------------------------


@require_safe
def version_detail(
    request: HttpRequest, org_slug: str, policy_slug: str, number: str
) -> HttpResponse:
    policy = _policy(org_slug, policy_slug)
    version = _visible_version(request, policy, number)
    user = request.user
    version_url = _policy_url(policy, "version", number=version.number)
    history_url = _policy_url(policy, "clause-history", key="KEY").removesuffix("KEY/")
    fragment = {
        "policy": policy,
        "version": version,
        "version_url": version_url,
        "history_url": history_url,
    }
    parse_errors = ()
    if version.is_draft:
        # A draft changes: parsed and rendered afresh each time, never cached.
        parsed = parse_policy_markdown(version.body_markdown)
        parse_errors = parsed.errors
        body = _render_parsed(parsed)
        clauses = [rc.clause for rc in body.clauses]
        parts = _document_parts({**fragment, "body": body, "parse_errors": parse_errors})
    else:
        # A published version's clauses never change; its clause list is rendered once.
        key = _fragment_key(
            "version", version.pk, version.content_sha256, policy.title, version_url, history_url
        )
        parts = cache.get(key)
        if parts is None:
            clauses = selectors.version_clauses(version)
            body = _rendered_version(version, clauses)
            parts = _document_parts({**fragment, "body": body, "parse_errors": ()})
            cache.set(key, parts, RENDER_CACHE_SECONDS)
        else:
            clauses = partial(selectors.version_clauses, version)

    previous = selectors.previous_public_version(version)
    current = selectors.current_version(policy) if version.status != "published" else None
    context = {
        "policy": policy,
        "organization": policy.organization,
        "version": version,
        "document": _with_clause_extras(request, parts, clauses),
        "clause_count": len(parts) - 1,
        "parse_errors": parse_errors,
        "previous": previous,
        "current": current,
        "can_edit_draft": version.is_draft and allowed(user, "policies.edit_draft", policy),
        "can_withdraw": version.status in ("published", "superseded")
        and allowed(user, "policies.withdraw_version", policy),
    }
    return render(request, "policies/version.html", context)


@require_safe
def clause_history(request: HttpRequest, org_slug: str, policy_slug: str, key: str) -> HttpResponse:
    policy = _policy(org_slug, policy_slug)
    if len(key) > MAX_KEY_CHARS or not KEY_RE.fullmatch(key):
        raise Http404("That is not a clause key.")
    rows = selectors.clause_history(policy=policy, key=key)
    if not any(row.clause for row in rows) and not any(
        row.rekeyed_from or row.rekeyed_to for row in rows
    ):
        raise Http404("No published version of this policy has a clause with that key.")
    latest = next((row.clause for row in reversed(rows) if row.clause), None)
    context = {
        "policy": policy,
        "organization": policy.organization,
        "key": key,
        "rows": rows,
        "latest": latest,
    }
    return render(request, "policies/clause_history.html", context)


def _diff_numbers(request: HttpRequest, policy: Policy) -> list[str]:
    include_draft = allowed(request.user, "policies.view_draft", policy)
    return [v.number for v in selectors.policy_versions(policy=policy, include_draft=include_draft)]


@require_safe
def diff_pick(request: HttpRequest, org_slug: str, policy_slug: str) -> HttpResponse:
    """The version picker's target (a GET form): sends to the diff's own address."""
    policy = _policy(org_slug, policy_slug)
    numbers = _diff_numbers(request, policy)
    form = DiffPickForm(request.GET or None, numbers=numbers)
    if form.is_bound and form.is_valid():
        url = _policy_url(
            policy, "diff", old=form.cleaned_data["old"], new=form.cleaned_data["new"]
        )
        if form.cleaned_data.get("view") == "side-by-side":
            url += "?view=side-by-side"
        return redirect(url)
    context = {"policy": policy, "organization": policy.organization, "form": form}
    return render(request, "policies/diff_pick.html", context, status=_status(form))


@require_safe
def version_diff(
    request: HttpRequest, org_slug: str, policy_slug: str, old: str, new: str
) -> HttpResponse:
    policy = _policy(org_slug, policy_slug)
    old_version = _visible_version(request, policy, old)
    new_version = _visible_version(request, policy, new)
    view = "side-by-side" if request.GET.get("view") == "side-by-side" else "unified"
    unified_url = _policy_url(policy, "diff", old=old, new=new)
    same = old_version.pk == new_version.pk
    drafted = old_version.is_draft or new_version.is_draft
    # Two published versions never change: their rendered changes are cached whole.
    key = None
    if not drafted and old_version.content_sha256 and new_version.content_sha256:
        key = _fragment_key(
            "diff",
            old_version.pk,
            old_version.content_sha256,
            new_version.pk,
            new_version.content_sha256,
            view,
            unified_url,
        )
    changes_html = cache.get(key) if key else None
    if changes_html is None:
        changes_html = _render_changes(
            old_version, new_version, view=view, same=same, unified_url=unified_url
        )
        if key:
            cache.set(key, changes_html, RENDER_CACHE_SECONDS)
    numbers = _diff_numbers(request, policy)
    context = {
        "policy": policy,
        "organization": policy.organization,
        "old": old_version,
        "new": new_version,
        "changes_html": mark_safe(changes_html),
        "form": _diff_form_html(tuple(numbers), old_version.number, new_version.number, view),
    }
    return render(request, "policies/diff.html", context)


@lru_cache(maxsize=512)
def _diff_form_html(
    numbers: tuple[str, ...], old: str | None, new: str | None, view: str | None
) -> SafeString:
    """The unbound version picker, a pure function of its choices and initial values: rendering
    two selects of every version through the form templates costs more than the rest of the
    page, so each worker keeps the last few hundred it rendered."""
    form = DiffPickForm(initial={"old": old, "new": new, "view": view}, numbers=numbers)
    return mark_safe(str(form.render()))


def _render_changes(
    old: PolicyVersion, new: PolicyVersion, *, view: str, same: bool, unified_url: str
) -> str:
    """The diff page's changes (headline, counts, clause by clause) as HTML."""
    if old.is_draft or new.is_draft:
        # A draft's clause rows are empty while it does not parse: diff its text as parsed.
        diff = diff_clauses(_diff_side(old), _diff_side(new))
    else:
        diff = selectors.version_diff(old=old, new=new)
    counts = diff.counts()
    context = {
        "old": old,
        "new": new,
        "diff": diff,
        "headline": diff.headline(),
        "counts": selectors.count_items(counts),
        "unchanged": counts.get("unchanged", 0),
        "changes": _change_views(diff),
        "view": view,
        "same": same,
        "unified_url": unified_url,
    }
    return render_to_string("policies/diff.html#changes", context)


def _diff_side(version: PolicyVersion):
    if version.is_draft:
        return parse_policy_markdown(version.body_markdown).clauses
    return selectors.version_clauses(version)


# --- Authoring: systems and policies ------------------------------------------------------------


def _organization(slug: str) -> Organization:
    return get_object_or_404(Organization, slug=slug)


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def system_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = _organization(org_slug)
    _require(request, "policies.add_system", organization)
    form = SystemForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            system = services.ai_system_create(
                actor=request.user, organization=organization, **form.cleaned_data
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"{system.name} is registered and recorded on the ledger.")
            return redirect("organizations:detail", slug=organization.slug)
    context = {"organization": organization, "form": form}
    return render(request, "policies/system_form.html", context, status=_status(form))


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def policy_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = _organization(org_slug)
    _require(request, "policies.add_policy", organization)
    form = PolicyForm(_posted(request), organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            policy = services.policy_create(
                actor=request.user, organization=organization, **form.cleaned_data
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"{policy.title} is created. Write its first version.")
            return redirect(_policy_url(policy, "draft-new"))
    context = {"organization": organization, "form": form, "policy": None}
    return render(request, "policies/policy_form.html", context, status=_status(form))


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def policy_edit(request: HttpRequest, org_slug: str, policy_slug: str) -> HttpResponse:
    policy = _policy(org_slug, policy_slug)
    _require(request, "policies.change_policy", policy)
    initial = {
        "title": policy.title,
        "summary": policy.summary,
        "systems": list(policy.systems.values_list("pk", flat=True)),
    }
    form = PolicyForm(
        request.POST or None, organization=policy.organization, initial=initial, with_slug=False
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.policy_update(actor=request.user, policy=policy, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "Your changes are saved and recorded on the ledger.")
            return redirect(_policy_url(policy, "detail"))
    policy.refresh_from_db()
    context = {"organization": policy.organization, "form": form, "policy": policy}
    return render(request, "policies/policy_form.html", context, status=_status(form))


# --- Authoring: drafts --------------------------------------------------------------------------


def _preview_context(policy: Policy, body: str) -> dict:
    """What the preview shows: the text parsed and rendered, its errors with line numbers,
    and (when it parses) its behaviour changes against the current public version."""
    parsed = parse_policy_markdown(body)
    context = {"preview": _render_parsed(parsed), "preview_errors": parsed.errors, "parsed": parsed}
    previous = (
        selectors.policy_versions(policy=policy, include_draft=False)[:1] if policy.pk else []
    )
    if previous and parsed.ok:
        diff = diff_clauses(selectors.version_clauses(previous[0]), parsed.clauses)
        context["preview_previous"] = previous[0]
        context["preview_headline"] = diff.headline()
        context["preview_counts"] = selectors.count_items(diff.counts())
    return context


def _draft_page(
    request: HttpRequest,
    policy: Policy,
    form: DraftForm,
    *,
    draft: PolicyVersion | None,
    preview_body: str | None = None,
    status: int = 200,
) -> HttpResponse:
    preview_url = _policy_url(policy, "draft-preview")
    # Live preview: htmx posts the form (only the text is read) as the editor types.
    form.fields["body_markdown"].widget.attrs.update(
        {
            "hx-post": preview_url,
            "hx-trigger": "keyup changed delay:500ms, change",
            "hx-target": "#draft-preview",
            "hx-swap": "outerHTML",
            "hx-sync": "this:replace",
        }
    )
    context = {
        "policy": policy,
        "organization": policy.organization,
        "form": form,
        "draft": draft,
        "previous": (selectors.policy_versions(policy=policy, include_draft=False) or [None])[0],
        "preview_url": preview_url,
        "can_publish": draft is not None
        and allowed(request.user, "policies.publish_version", policy),
    }
    if preview_body is not None:
        context.update(_preview_context(policy, preview_body))
    elif draft is not None:
        context.update(_preview_context(policy, draft.body_markdown))
    return render(request, "policies/draft_form.html", context, status=status)


def _suggest_number(policy: Policy) -> str:
    versions = selectors.policy_versions(policy=policy, include_draft=False)
    if not versions:
        return "1.0.0"
    latest = versions[0]
    return f"{latest.major}.{latest.minor + 1}.0"


def _draft_fields(form: DraftForm) -> dict:
    data = form.cleaned_data
    return {
        "number": data["number"],
        "body_markdown": data["body_markdown"],
        "summary_of_changes": data.get("summary_of_changes", ""),
        "effective_at": data.get("effective_at"),
    }


def _draft_saved_message(request: HttpRequest, draft: PolicyVersion) -> None:
    errors = parse_policy_markdown(draft.body_markdown).errors
    if errors:
        messages.warning(
            request,
            f"Draft v{draft.number} is saved, with {len(errors)} problem"
            f"{'s' if len(errors) != 1 else ''} to fix before it can be published.",
        )
    else:
        messages.success(
            request, f"Draft v{draft.number} is saved. Only your organization sees it."
        )


def _draft_post(request: HttpRequest, policy, *, draft: PolicyVersion | None) -> HttpResponse:
    """A posted draft form: preview it, or save it (a new draft when `draft` is None)."""
    form = DraftForm(request.POST, request.FILES)
    previewing = "preview" in request.POST
    if not form.is_valid():
        # A preview still shows the text as typed, beside the form's errors.
        body = request.POST.get("body_markdown", "")[:BODY_MAX_CHARS] if previewing else None
        return _draft_page(request, policy, form, draft=draft, preview_body=body, status=400)
    if previewing:
        return _draft_page(
            request, policy, form, draft=draft, preview_body=form.cleaned_data["body_markdown"]
        )
    try:
        if draft is None:
            draft = services.version_draft_create(
                actor=request.user, policy=policy, **_draft_fields(form)
            )
        else:
            draft = services.version_draft_update(
                actor=request.user, version=draft, **_draft_fields(form)
            )
    except DomainError as error:
        add_domain_error(form, error)
        return _draft_page(request, policy, form, draft=draft, status=400)
    _draft_saved_message(request, draft)
    return redirect(_policy_url(policy, "draft-edit"))


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def draft_create(request: HttpRequest, org_slug: str, policy_slug: str) -> HttpResponse:
    policy = _policy(org_slug, policy_slug)
    _require(request, "policies.edit_draft", policy)
    if selectors.draft_of(policy) is not None:
        messages.info(request, "This policy already has a draft: continue it here.")
        return redirect(_policy_url(policy, "draft-edit"))
    if request.method == "GET":
        current = selectors.policy_versions(policy=policy, include_draft=False)
        body = ""
        if current:
            body = PolicyVersion.objects.only("body_markdown").get(pk=current[0].pk).body_markdown
        form = DraftForm(initial={"number": _suggest_number(policy), "body_markdown": body})
        return _draft_page(request, policy, form, draft=None, preview_body=body or None)
    return _draft_post(request, policy, draft=None)


@login_required
@require_http_methods(["GET", "POST"])
def draft_edit(request: HttpRequest, org_slug: str, policy_slug: str) -> HttpResponse:
    policy = _policy(org_slug, policy_slug)
    _require(request, "policies.edit_draft", policy)
    draft = selectors.draft_of(policy)
    if draft is None:
        return redirect(_policy_url(policy, "draft-new"))
    if request.method == "GET":
        form = DraftForm(
            initial={
                "number": draft.number,
                "summary_of_changes": draft.summary_of_changes,
                "effective_at": draft.effective_at,
                "body_markdown": draft.body_markdown,
            }
        )
        return _draft_page(request, policy, form, draft=draft)
    return _draft_post(request, policy, draft=draft)


@login_required
@require_POST
def draft_preview(request: HttpRequest, org_slug: str, policy_slug: str) -> HttpResponse:
    """The live preview (htmx): the text as it would be published, and what does not parse."""
    policy = _policy(org_slug, policy_slug)
    _require(request, "policies.edit_draft", policy)
    form = PreviewForm(request.POST)
    if not form.is_valid():
        context = {"policy": policy, "preview_too_long": True}
        return render(request, "policies/draft_form.html#preview", context, status=400)
    context = {"policy": policy, **_preview_context(policy, form.cleaned_data["body_markdown"])}
    return render(request, "policies/draft_form.html#preview", context)


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def draft_delete(request: HttpRequest, org_slug: str, policy_slug: str) -> HttpResponse:
    policy = _policy(org_slug, policy_slug)
    _require(request, "policies.edit_draft", policy)
    draft = selectors.draft_of(policy)
    if draft is None:
        raise Http404("This policy has no draft.")
    form = PublishForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.version_draft_delete(actor=request.user, version=draft)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Draft v{draft.number} is deleted.")
            return redirect(_policy_url(policy, "detail"))
    context = {"policy": policy, "organization": policy.organization, "draft": draft, "form": form}
    return render(request, "policies/draft_delete.html", context, status=_status(form))


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def version_publish(request: HttpRequest, org_slug: str, policy_slug: str) -> HttpResponse:
    policy = _policy(org_slug, policy_slug)
    _require(request, "policies.publish_version", policy)
    draft = selectors.draft_of(policy)
    if draft is None:
        messages.info(request, "There is no draft to publish: write one first.")
        return redirect(_policy_url(policy, "draft-new"))
    form = PublishForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            version = services.version_publish(actor=request.user, version=draft)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request, f"Version {version.number} is published and recorded on the ledger."
            )
            return redirect(_policy_url(policy, "version", number=version.number))
    parsed = parse_policy_markdown(draft.body_markdown)
    previous = (selectors.policy_versions(policy=policy, include_draft=False) or [None])[0]
    diff = None
    if previous is not None and parsed.ok:
        diff = diff_clauses(selectors.version_clauses(previous), parsed.clauses)
    context = {
        "policy": policy,
        "organization": policy.organization,
        "draft": draft,
        "form": form,
        "parse_errors": parsed.errors,
        "clause_count": len(parsed.clauses),
        "previous": previous,
        "headline": diff.headline() if diff else [],
        "counts": selectors.count_items(diff.counts()) if diff else [],
        "ready": parsed.ok and bool(draft.summary_of_changes.strip()),
    }
    return render(request, "policies/publish.html", context, status=_status(form))


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def version_withdraw(
    request: HttpRequest, org_slug: str, policy_slug: str, number: str
) -> HttpResponse:
    policy = _policy(org_slug, policy_slug)
    version = _visible_version(request, policy, number)
    _require(request, "policies.withdraw_version", policy)
    if version.is_draft:
        raise Http404("A draft is deleted, not withdrawn.")
    form = WithdrawForm(_posted(request))
    withdrawable = version.status != PolicyVersion.Status.WITHDRAWN
    if request.method == "POST" and withdrawable and form.is_valid():
        try:
            services.version_withdraw(
                actor=request.user, version=version, reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Version {version.number} is withdrawn.")
            return redirect(_policy_url(policy, "version", number=version.number))
    status = _status(form)
    if version.status == PolicyVersion.Status.WITHDRAWN:
        status = 409 if request.method == "POST" else 200
    context = {
        "policy": policy,
        "organization": policy.organization,
        "version": version,
        "form": form,
    }
    return render(request, "policies/withdraw.html", context, status=status)


# --- URLs ---------------------------------------------------------------------------------------

_policy_path = "<slug:org_slug>/<slug:policy_slug>/"

urlpatterns = [
    path("", policy_list, name="list"),
    path("feed.atom", AllVersionsFeed(), name="feed"),
    path("<slug:org_slug>/new/", policy_create, name="policy-new"),
    path("<slug:org_slug>/systems/new/", system_create, name="system-new"),
    path(_policy_path, policy_detail, name="detail"),
    path(_policy_path + "edit/", policy_edit, name="policy-edit"),
    path(_policy_path + "feed.atom", PolicyVersionsFeed(), name="policy-feed"),
    path(_policy_path + "follow/", policy_follow_toggle, name="follow"),
    path(_policy_path + "v/<semver:number>/", version_detail, name="version"),
    path(_policy_path + "v/<semver:number>/withdraw/", version_withdraw, name="withdraw"),
    path(_policy_path + "clauses/<str:key>/", clause_history, name="clause-history"),
    path(_policy_path + "diff/", diff_pick, name="diff-pick"),
    path(_policy_path + "diff/<semver:old>...<semver:new>/", version_diff, name="diff"),
    path(_policy_path + "draft/", draft_edit, name="draft-edit"),
    path(_policy_path + "draft/new/", draft_create, name="draft-new"),
    path(_policy_path + "draft/preview/", draft_preview, name="draft-preview"),
    path(_policy_path + "draft/publish/", version_publish, name="publish"),
    path(_policy_path + "draft/delete/", draft_delete, name="draft-delete"),
]
