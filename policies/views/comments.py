"""Public comment pages: a version's docket (read, search, comment, endorse), threads, flags,
campaigns, the moderators' queue, opening and extending a period, the company's response to
comments, the Atom feed and the docket's CSV/JSONL download. Thin: the services decide, the
selectors read; a service's error is shown inline with its status code."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from governance.errors import DomainError, Invalid, NotAllowed, NotFound, RateLimited
from governance.forms import add_domain_error
from governance.idempotency import once_per_form_token
from governance.models import Organization
from governance.selectors.organizations import user_memberships
from policies import export
from policies.comment_forms import (
    CommentForm,
    EditForm,
    FlagForm,
    ModerateForm,
    PeriodExtendForm,
    PeriodOpenForm,
    PublishResponsesForm,
    ReplyForm,
    ResponseForm,
    local_input,
)
from policies.feeds import CommentPeriodFeed
from policies.models import (
    Comment,
    CommentCluster,
    CommentPeriod,
    CommentResponse,
    Flag,
    PolicyVersion,
)
from policies.rules import allowed
from policies.selectors import comments as reads
from policies.selectors.responses import link_next_version, response_requirements
from policies.services import comments as services
from policies.views import _policy, _visible_version

_version_path = "<slug:org_slug>/<slug:policy_slug>/v/<semver:number>/comments/"
QUEUE_SIZE = 50
ACTION_DONE = {
    "approve": "approved",
    "hide": "hidden",
    "restore": "restored",
    "hold": "held for review",
    "dismiss": "flags dismissed",
}


def _setting(name: str):
    return settings.OPENREFUSAL[name]


# --- Helpers --------------------------------------------------------------------------------


def _period(request: HttpRequest, org_slug: str, policy_slug: str, number: str) -> CommentPeriod:
    policy = _policy(org_slug, policy_slug)
    version = _visible_version(request, policy, number)
    period = reads.period_for_version(version)
    if period is None:
        raise Http404("This version has no comment period.")
    period.version = version
    return period


def _period_url(period: CommentPeriod, name: str = "comments", **kwargs) -> str:
    policy = period.version.policy
    return reverse(
        f"policies:{name}",
        kwargs={
            "org_slug": policy.organization.slug,
            "policy_slug": policy.slug,
            "number": period.version.number,
            **kwargs,
        },
    )


def _page_context(period: CommentPeriod) -> dict:
    version = period.version
    return {
        "period": period,
        "version": version,
        "policy": version.policy,
        "organization": version.policy.organization,
    }


def _comment(request: HttpRequest, pk: int) -> Comment:
    try:
        return reads.comment_for_reader(pk, request.user)
    except NotFound as error:
        raise Http404(error.message) from None


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _member_organizations(user) -> list[Organization]:
    """The verified organizations the person may speak for."""
    if not user.is_authenticated:
        return []
    return [m.organization for m in user_memberships(user=user) if m.organization.is_verified]


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _fail(response: HttpResponse, error: DomainError | None) -> HttpResponse:
    """A form shown again after a service refused: the service's status, and for a rate limit
    the time to wait."""
    if error is None:
        response.status_code = 400
        return response
    response.status_code = error.status
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after)
    return response


def _filters(request: HttpRequest) -> reads.CommentFilters:
    sort = request.GET.get("sort", "newest")
    cluster = request.GET.get("cluster", "")
    return reads.CommentFilters(
        sort=sort if sort in reads.SORTS else "newest",
        clause_key=request.GET.get("clause", ""),
        cluster_id=int(cluster) if cluster.isdigit() and len(cluster) < 19 else None,
        organizations_only=request.GET.get("org") == "1",
        q=request.GET.get("q", ""),
        cursor=request.GET.get("cursor", "")[:500],
    )


def _read_page(period: CommentPeriod, filters: reads.CommentFilters, viewer):
    """The page the cursor names; a broken cursor (edited by hand, cut short) shows the first
    page and says so rather than failing."""
    try:
        return reads.comment_page(period, filters, viewer=viewer), False
    except Invalid:
        filters.cursor = ""
        return reads.comment_page(period, filters, viewer=viewer), True


PAGE_LABELS = {
    "newest": ("Newer", "Older"),
    "oldest": ("Older", "Newer"),
    "endorsed": ("More endorsed", "Less endorsed"),
}


def _page_links(request: HttpRequest, page, sort: str, base: str) -> dict:
    """Links to the pages around this one, at `base` (the page's own address, also when it is
    shown again after a POST elsewhere) with the reader's filters."""

    def url(cursor):
        if not cursor:
            return None
        query = request.GET.copy()
        query["cursor"] = cursor
        return f"{base}?{query.urlencode()}"

    previous_label, next_label = PAGE_LABELS[sort]
    return {
        "next_url": url(page.next_cursor),
        "previous_url": url(page.previous_cursor),
        "next_label": next_label,
        "previous_label": previous_label,
    }


def _comment_form(request: HttpRequest, period: CommentPeriod, clauses, data=None) -> CommentForm:
    user = request.user
    return CommentForm(
        data,
        initial={"clause": request.GET.get("clause", "")},
        clauses=clauses,
        organizations=_member_organizations(user),
        person_name=user.public_name,
    )


def _reply_form(request: HttpRequest, parent: Comment, data=None) -> ReplyForm:
    return ReplyForm(
        data,
        initial={"parent": parent.pk},
        organizations=_member_organizations(request.user),
        person_name=request.user.public_name,
    )


def _edit_deadline(comment: Comment):
    return comment.created_at + timedelta(minutes=_setting("COMMENT_EDIT_MINUTES"))


# --- The docket -----------------------------------------------------------------------------


def _docket_context(request: HttpRequest, period: CommentPeriod, form=None) -> dict:
    version = period.version
    user = request.user
    filters = _filters(request)
    page, bad_cursor = _read_page(period, filters, user)
    clauses = list(version.clauses.order_by("position"))
    state = period.state
    can_post = state == CommentPeriod.State.OPEN and allowed(user, "policies.post_comment")
    if form is None and can_post:
        form = _comment_form(request, period, clauses)
    # The company's duty to answer starts at the close; before it there is nothing to count.
    requirements = response_requirements(period) if state == CommentPeriod.State.CLOSED else None
    docket_url = _period_url(period)
    query = request.GET.urlencode() if request.method == "GET" else ""
    return {
        **_page_context(period),
        "state": state,
        "page": page,
        "bad_cursor": bad_cursor,
        "filters": filters,
        "filtered": bool(filters.q or filters.clause_key or filters.organizations_only),
        "sorts": reads.SORTS,
        "clauses": clauses,
        "stats": reads.period_stats(period),
        "form": form,
        "held": reads.own_held_comments(period, user),
        "extensions": list(period.extensions.order_by("created_at")),
        "can_extend": state != CommentPeriod.State.CLOSED
        and allowed(user, "policies.extend_comment_period", period),
        "can_moderate": allowed(user, "policies.moderate_comments"),
        "requirements": requirements,
        "docket_url": docket_url,
        # Where a form on this page (endorse) sends the reader back to.
        "here": f"{docket_url}?{query}" if query else docket_url,
        **_page_links(request, page, filters.sort, docket_url),
    }


@require_safe
def docket(request: HttpRequest, org_slug: str, policy_slug: str, number: str) -> HttpResponse:
    period = _period(request, org_slug, policy_slug, number)
    context = _docket_context(request, period)
    if request.htmx and request.htmx.target == "comment-list":
        return render(request, "policies/comments/docket.html#comment-list", context)
    return render(request, "policies/comments/docket.html", context)


@login_required
@require_POST
@once_per_form_token
def comment_post(request: HttpRequest, org_slug: str, policy_slug: str, number: str):
    """A new comment (from the docket) or a reply (from a thread page, with `parent`)."""
    period = _period(request, org_slug, policy_slug, number)
    if "parent" in request.POST:
        return _reply_post(request, period)
    clauses = list(period.version.clauses.order_by("position"))
    form = _comment_form(request, period, clauses, request.POST)
    error = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            comment = services.comment_post(
                author=request.user,
                period=period,
                body=data["body"],
                clause_key=data["clause"] or None,
                on_behalf_of=_organization(request.user, data["on_behalf_of"]),
                ip=_client_ip(request),
            )
        except DomainError as exc:
            error = exc
            add_domain_error(form, exc)
        else:
            _posted_message(request, comment)
            return redirect(f"{_period_url(period)}#comment-{comment.pk}")
    response = render(
        request, "policies/comments/docket.html", _docket_context(request, period, form)
    )
    return _fail(response, error)


def _organization(user, slug: str) -> Organization | None:
    if not slug:
        return None
    return next((o for o in _member_organizations(user) if o.slug == slug), None)


def _posted_message(request: HttpRequest, comment: Comment) -> None:
    if comment.status == Comment.Status.HELD:
        messages.info(
            request,
            "Thank you. Your comment is held for a moderator before it is published; you can "
            "follow its status on this page.",
        )
    else:
        messages.success(request, "Your comment is published.")


def _reply_post(request: HttpRequest, period: CommentPeriod) -> HttpResponse:
    parent_id = request.POST.get("parent", "")
    if not parent_id.isdigit() or len(parent_id) > 18:
        raise Http404("There is no such comment to reply to.")
    parent = _comment(request, parent_id)
    if parent.period_id != period.pk:
        raise Http404("There is no such comment to reply to in this comment period.")
    form = _reply_form(request, parent, request.POST)
    error = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            reply = services.comment_post(
                author=request.user,
                period=period,
                body=data["body"],
                parent=parent,
                on_behalf_of=_organization(request.user, data["on_behalf_of"]),
                ip=_client_ip(request),
            )
        except DomainError as exc:
            error = exc
            add_domain_error(form, exc)
        else:
            _posted_message(request, reply)
            url = reverse("policies:comment", args=[parent.root_id or parent.pk])
            return redirect(f"{url}#comment-{reply.pk}")
    return _fail(_thread_response(request, parent, reply_form=form), error)


# --- One comment ----------------------------------------------------------------------------


def _thread_response(
    request: HttpRequest,
    comment: Comment,
    *,
    reply_form=None,
    edit_form=None,
    moderate_form=None,
    response_form=None,
) -> HttpResponse:
    user = request.user
    period = comment.period
    thread = reads.comment_thread(comment, viewer=user)
    root = thread[0] if thread and thread[0].pk == (comment.root_id or comment.pk) else comment
    is_open = period.is_open
    deadline = _edit_deadline(comment)
    editable = (
        comment.viewer_is_author
        and comment.status in (Comment.Status.PUBLISHED, Comment.Status.HELD)
        and is_open
        and timezone.now() < deadline
    )
    # The form replies to the comment on show (a reply to a reply stays in the thread).
    reply_to = comment if comment.status == Comment.Status.PUBLISHED else root
    can_reply = (
        is_open
        and reply_to.status == Comment.Status.PUBLISHED
        and allowed(user, "policies.post_comment")
    )
    can_respond = (
        comment.status == Comment.Status.PUBLISHED
        and not period.responses_published_at
        and allowed(user, "policies.respond_to_comments", period)
    )
    responses = list(comment.responses.all())
    context = {
        **_page_context(period),
        "comment": comment,
        "here": reverse("policies:comment", args=[comment.pk]),
        "root": root,
        "thread": thread,
        "history": reads.comment_history(comment),
        "moderation": reads.comment_moderation(comment),
        "editable": editable,
        "edit_deadline": deadline,
        "edit_form": edit_form or (EditForm(initial={"body": comment.body}) if editable else None),
        "can_withdraw": comment.viewer_is_author
        and comment.status != Comment.Status.WITHDRAWN
        and is_open,
        "reply_to": reply_to,
        "reply_form": reply_form or (_reply_form(request, reply_to) if can_reply else None),
        "can_moderate": allowed(user, "policies.moderate_comments"),
        "moderate_form": moderate_form,
        "responses": responses,
        "can_respond": can_respond,
        "response_form": response_form,
        "existing_response": responses[0] if responses else None,
    }
    return render(request, "policies/comments/comment.html", context)


@require_safe
def comment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _thread_response(request, _comment(request, pk))


@login_required
@require_POST
@once_per_form_token
def comment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    comment = _comment(request, pk)
    if comment.author_id != request.user.pk:
        raise PermissionDenied
    form = EditForm(request.POST)
    error = None
    if form.is_valid():
        try:
            services.comment_edit(
                actor=request.user, comment=comment, body=form.cleaned_data["body"]
            )
        except DomainError as exc:
            error = exc
            add_domain_error(form, exc)
        else:
            messages.success(request, "Your comment is updated; its earlier text is kept.")
            return redirect(reverse("policies:comment", args=[comment.pk]))
    return _fail(_thread_response(request, comment, edit_form=form), error)


@login_required
@require_POST
def comment_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    comment = _comment(request, pk)
    if comment.author_id != request.user.pk:
        raise PermissionDenied
    try:
        services.comment_withdraw(actor=request.user, comment=comment)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Your comment is withdrawn. A note stays in its place.")
    return redirect(reverse("policies:comment", args=[comment.pk]))


@require_POST
def comment_endorse(request: HttpRequest, pk: int) -> HttpResponse:
    """Toggle the reader's endorsement. htmx swaps the button in place (errors included, in
    the same place); without JavaScript it is POST/redirect/GET back to where it was."""
    if not request.user.is_authenticated:
        if request.htmx:
            response = HttpResponse(status=204)
            login = resolve_url(settings.LOGIN_URL)
            response["HX-Redirect"] = f"{login}?{urlencode({'next': request.path})}"
            return response
        return redirect_to_login(reverse("policies:comment", args=[pk]))
    comment = _comment(request, pk)
    error = None
    try:
        comment.viewer_endorsed, comment.endorsement_count = services.comment_endorsement_toggle(
            user=request.user, comment=comment
        )
    except DomainError as exc:
        error = exc
    if request.htmx:
        # htmx swaps 2xx answers only: the refusal is shown in the button's place.
        context = {
            "comment": comment,
            "endorse_error": error.message if error else "",
            "next_url": _safe_next(request, ""),
        }
        return render(request, "policies/comments/docket.html#endorse", context)
    if error:
        messages.error(request, error.message)
    default = reverse("policies:comment", args=[comment.pk])
    return redirect(_safe_next(request, default))


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def comment_flag(request: HttpRequest, pk: int) -> HttpResponse:
    comment = _comment(request, pk)
    form = FlagForm(request.POST if request.method == "POST" else None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            services.comment_flag(
                user=request.user,
                comment=comment,
                reason=form.cleaned_data["reason"],
                details=form.cleaned_data["details"],
            )
        except DomainError as exc:
            error = exc
            add_domain_error(form, exc)
        else:
            if form.cleaned_data["reason"] == Flag.Reason.NOT_ME:
                messages.success(
                    request,
                    "Thank you. Moderators will review this report; if the comment is under "
                    "your name it is held from public view until they do.",
                )
            else:
                messages.success(request, "Thank you. A moderator will review this comment.")
            return redirect(reverse("policies:comment", args=[comment.pk]))
    response = render(
        request,
        "policies/comments/flag.html",
        {**_page_context(comment.period), "comment": comment, "form": form},
    )
    return _fail(response, error) if form.errors else response


# --- Moderation -----------------------------------------------------------------------------


def _require_moderator(request: HttpRequest) -> None:
    if not allowed(request.user, "policies.moderate_comments"):
        raise PermissionDenied


def _queue_response(request: HttpRequest, *, failed: int | None = None, form=None):
    cursor = request.GET.get("cursor", "") or request.GET.get("after", "")
    reason = request.GET.get("reason", "")
    reason = reason if reason in Flag.Reason.values else ""
    try:
        queue = reads.moderation_queue(cursor=cursor or None, size=QUEUE_SIZE, reason=reason)
    except Invalid:
        queue = reads.moderation_queue(size=QUEUE_SIZE, reason=reason)
    base = reverse("policies:moderation-queue")
    reports = reads.open_report_counts()
    context = {
        "queue": queue,
        "failed": failed,
        "failed_form": form,
        "failed_elsewhere": failed is not None and all(c.pk != failed for c in queue),
        "next_cursor": queue[-1].pk if len(queue) == QUEUE_SIZE else None,
        "reason": reason,
        "reason_label": Flag.Reason(reason).label if reason else "",
        "not_me_open": reports.get(Flag.Reason.NOT_ME, 0),
        "all_url": base,
        # Where a moderator's action returns to: the same (filtered) queue.
        "queue_url": f"{base}?{urlencode({'reason': reason})}" if reason else base,
    }
    return render(request, "policies/comments/moderation.html", context)


@login_required
@require_safe
def moderation_queue(request: HttpRequest) -> HttpResponse:
    _require_moderator(request)
    return _queue_response(request)


@login_required
@require_POST
@once_per_form_token
def comment_moderate(request: HttpRequest, pk: int) -> HttpResponse:
    """Hide, restore, approve, hold or dismiss flags, with a public reason. A refusal is shown
    at the form the moderator used: the queue's card or the comment's page."""
    _require_moderator(request)
    comment = _comment(request, pk)
    form = ModerateForm(request.POST)
    error = None
    if form.is_valid():
        action = form.cleaned_data["action"]
        try:
            services.comment_moderate(
                moderator=request.user,
                comment=comment,
                action=action,
                public_reason=form.cleaned_data["public_reason"],
            )
        except DomainError as exc:
            error = exc
            add_domain_error(form, exc)
        else:
            reads.forget_period_stats(comment.period_id)
            messages.success(
                request, f"Comment #{comment.pk}: {ACTION_DONE[action]}. It is on the ledger."
            )
            return redirect(_safe_next(request, reverse("policies:moderation-queue")))
    if request.POST.get("from") == "thread":
        response = _thread_response(request, comment, moderate_form=form)
    else:
        response = _queue_response(request, failed=comment.pk, form=form)
    return _fail(response, error)


# --- Campaigns ------------------------------------------------------------------------------


@require_safe
def cluster_detail(
    request: HttpRequest, org_slug: str, policy_slug: str, number: str, cluster_id: int
) -> HttpResponse:
    period = _period(request, org_slug, policy_slug, number)
    try:
        cluster = reads.cluster_for_period(period, cluster_id)
    except NotFound as error:
        raise Http404(error.message) from None
    filters = _filters(request)
    filters.cluster_id = cluster.pk
    filters.q, filters.clause_key, filters.organizations_only = "", "", False
    if filters.sort == "endorsed":
        filters.sort = "newest"
    page, bad_cursor = _read_page(period, filters, request.user)
    context = {
        **_page_context(period),
        "cluster": cluster,
        "variants": reads.cluster_variants(cluster),
        "jaccard_percent": round(_setting("CLUSTER_JACCARD") * 100),
        "page": page,
        "bad_cursor": bad_cursor,
        "filters": filters,
        "responses": list(cluster.responses.all()),
        "here": request.get_full_path(),
        **_page_links(request, page, filters.sort, request.path),
    }
    return render(request, "policies/comments/cluster.html", context)


# --- Periods --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def period_open(request, org_slug: str, policy_slug: str, number: str) -> HttpResponse:
    policy = _policy(org_slug, policy_slug)
    version = _visible_version(request, policy, number)
    if not allowed(request.user, "policies.open_comment_period", version):
        raise PermissionDenied
    existing = reads.period_for_version(version)
    if existing is not None:
        existing.version = version
        return redirect(_period_url(existing))
    days = _setting("COMMENT_PERIOD_MIN_DAYS")
    now = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    form = PeriodOpenForm(
        request.POST if request.method == "POST" else None,
        initial={
            "opens_at": local_input(now),
            "closes_at": local_input(now + timedelta(days=days)),
        },
    )
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            period = services.comment_period_open(
                actor=request.user,
                version=version,
                opens_at=form.cleaned_data["opens_at"],
                closes_at=form.cleaned_data["closes_at"],
            )
        except DomainError as exc:
            error = exc
            add_domain_error(form, exc)
        else:
            period.version = version
            messages.success(request, "The comment period is set. It is on the public ledger.")
            return redirect(_period_url(period))
    context = {
        "policy": policy,
        "version": version,
        "organization": policy.organization,
        "form": form,
        "days": days,
        "max_days": _setting("COMMENT_PERIOD_MAX_DAYS"),
        "mode": "open",
        "publishable": version.status == PolicyVersion.Status.PUBLISHED,
    }
    response = render(request, "policies/comments/period_form.html", context)
    return _fail(response, error) if form.errors else response


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def period_extend(request, org_slug: str, policy_slug: str, number: str) -> HttpResponse:
    period = _period(request, org_slug, policy_slug, number)
    if not allowed(request.user, "policies.extend_comment_period", period):
        raise PermissionDenied
    form = PeriodExtendForm(
        request.POST if request.method == "POST" else None,
        initial={"closes_at": local_input(period.closes_at + timedelta(days=7))},
    )
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            services.comment_period_extend(
                actor=request.user,
                period=period,
                closes_at=form.cleaned_data["closes_at"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            error = exc
            add_domain_error(form, exc)
        else:
            reads.forget_period_stats(period.pk)
            messages.success(request, "The comment period is extended. It is on the ledger.")
            return redirect(_period_url(period))
    context = {
        **_page_context(period),
        "form": form,
        "mode": "extend",
        "extensions": list(period.extensions.order_by("created_at")),
    }
    response = render(request, "policies/comments/period_form.html", context)
    return _fail(response, error) if form.errors else response


# --- The response to comments ---------------------------------------------------------------


def _item_key(kind: str, value) -> str:
    return f"{kind}:{value}"


def _responses_context(request, period, *, publish_form=None, failed_form=None) -> dict:
    requirements = response_requirements(period)
    for item in requirements.items:
        # Which item's form a refused save belongs to, to show its errors there.
        value = item.cluster.pk if item.kind == "cluster" else item.clause_key
        item.form_key = _item_key(item.kind, value)
    can_respond = not period.responses_published_at and allowed(
        request.user, "policies.respond_to_comments", period
    )
    failed_key = None
    if failed_form is not None:
        data = failed_form.data
        kind = data.get("target", "")
        failed_key = _item_key(kind, data.get("cluster" if kind == "cluster" else "clause", ""))
    return {
        **_page_context(period),
        "requirements": requirements,
        "next_version": link_next_version(period, requirements),
        "can_respond": can_respond,
        "can_publish": can_respond and allowed(request.user, "policies.publish_responses", period),
        "cluster_min": _setting("RESPONSE_CLUSTER_MIN"),
        "publish_form": publish_form or PublishResponsesForm(),
        "failed_form": failed_form,
        "failed_key": failed_key,
        "failed_elsewhere": failed_form is not None
        and all(item.form_key != failed_key for item in requirements.items),
        "comment_responses": list(
            CommentResponse.objects.filter(period=period, target=CommentResponse.Target.COMMENT)
            .select_related("comment__author")
            .order_by("created_at")
        ),
    }


@require_safe
def responses(request, org_slug: str, policy_slug: str, number: str) -> HttpResponse:
    period = _period(request, org_slug, policy_slug, number)
    return render(request, "policies/comments/responses.html", _responses_context(request, period))


@login_required
@require_POST
@once_per_form_token
def response_save(request, org_slug: str, policy_slug: str, number: str) -> HttpResponse:
    """Save one answer: to a campaign or a clause (from the responses page) or to one comment
    (from its page)."""
    period = _period(request, org_slug, policy_slug, number)
    if not allowed(request.user, "policies.respond_to_comments", period):
        raise PermissionDenied
    form = ResponseForm(request.POST)
    error = None
    target_comment = None
    comment_id = request.POST.get("comment", "")
    if request.POST.get("target") == "comment" and comment_id.isdigit() and len(comment_id) < 19:
        target_comment = Comment.objects.filter(pk=comment_id, period=period).first()
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.comment_response_save(
                actor=request.user,
                period=period,
                target=data["target"],
                comment=target_comment,
                cluster=CommentCluster.objects.filter(pk=data["cluster"], period=period).first()
                if data["cluster"]
                else None,
                clause_key=data["clause"],
                body=data["body"],
                declined=data["declined"],
            )
        except NotAllowed:
            raise PermissionDenied from None
        except DomainError as exc:
            error = exc
            add_domain_error(form, exc)
        else:
            messages.success(request, "Response saved. It is public.")
            return redirect(_safe_next(request, _period_url(period, "responses")))
    shown = None
    if request.POST.get("target") == "comment" and target_comment is not None:
        try:
            shown = reads.comment_for_reader(target_comment.pk, request.user)
        except NotFound:
            shown = None  # held: not the reader's to see; the responses page says why
    if shown is not None:
        response = _thread_response(request, shown, response_form=form)
    else:
        context = _responses_context(request, period, failed_form=form)
        response = render(request, "policies/comments/responses.html", context)
    return _fail(response, error)


@login_required
@require_POST
@once_per_form_token
def responses_publish(request, org_slug: str, policy_slug: str, number: str) -> HttpResponse:
    period = _period(request, org_slug, policy_slug, number)
    if not allowed(request.user, "policies.respond_to_comments", period):
        raise PermissionDenied
    form = PublishResponsesForm(request.POST)
    error = None
    if form.is_valid():
        try:
            services.response_document_publish(
                actor=request.user, period=period, summary=form.cleaned_data["summary"]
            )
        except DomainError as exc:
            error = exc
            add_domain_error(form, exc)
        else:
            messages.success(request, "The response to comments is published.")
            return redirect(_period_url(period, "responses"))
    context = _responses_context(request, period, publish_form=form)
    return _fail(render(request, "policies/comments/responses.html", context), error)


# --- Feed and downloads ---------------------------------------------------------------------


@require_safe
def docket_export(request, org_slug: str, policy_slug: str, number: str, fmt: str):
    """The whole docket, streamed from a server-side cursor (constant memory)."""
    if fmt not in ("csv", "jsonl"):
        raise Http404("The docket downloads as .csv or .jsonl.")
    period = _period(request, org_slug, policy_slug, number)
    name = f"{period.version.policy.slug}-v{period.version.number}-comments.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(
            export.docket_csv_lines(period), content_type="text/csv; charset=utf-8"
        )
    else:
        response = StreamingHttpResponse(
            export.docket_jsonl_lines(period), content_type="application/x-ndjson; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_safe
def feed(request, org_slug: str, policy_slug: str, number: str):
    period = _period(request, org_slug, policy_slug, number)
    return CommentPeriodFeed()(request, period_id=period.pk)


urlpatterns = [
    path("comments/moderation/", moderation_queue, name="moderation-queue"),
    path("comments/<int:pk>/", comment_detail, name="comment"),
    path("comments/<int:pk>/edit/", comment_edit, name="comment-edit"),
    path("comments/<int:pk>/withdraw/", comment_withdraw, name="comment-withdraw"),
    path("comments/<int:pk>/endorse/", comment_endorse, name="comment-endorse"),
    path("comments/<int:pk>/flag/", comment_flag, name="comment-flag"),
    path("comments/<int:pk>/moderate/", comment_moderate, name="comment-moderate"),
    path(_version_path, docket, name="comments"),
    path(_version_path + "new/", comment_post, name="comment-post"),
    path(_version_path + "feed.atom", feed, name="comments-feed"),
    path(_version_path + "export.<str:fmt>", docket_export, name="comments-export"),
    path(_version_path + "open/", period_open, name="period-open"),
    path(_version_path + "extend/", period_extend, name="period-extend"),
    path(_version_path + "clusters/<int:cluster_id>/", cluster_detail, name="cluster"),
    path(_version_path + "responses/", responses, name="responses"),
    path(_version_path + "responses/save/", response_save, name="response-save"),
    path(_version_path + "responses/publish/", responses_publish, name="responses-publish"),
]


# --- The moderators' link in the site header ------------------------------------------------

MODERATOR_SESSION_KEY = "can_moderate_comments"


def remember_moderator(sender, request, user, **kwargs) -> None:
    """On sign-in, note in the session whether the person moderates, so the header can show
    the queue's link on every page without a query (the queue itself checks again)."""
    if request is not None and hasattr(request, "session"):
        request.session[MODERATOR_SESSION_KEY] = allowed(user, "policies.moderate_comments")
