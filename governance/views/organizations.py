"""Pages for the organization directory, an organization's record, its members and invitations."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from governance.errors import DomainError, NotAllowed, NotFound
from governance.forms import add_domain_error
from governance.forms.organizations import (
    DirectoryFilterForm,
    InvitationForm,
    OrganizationEditForm,
    OrganizationForm,
    RoleForm,
)
from governance.idempotency import once_per_form_token
from governance.models import Invitation, Membership, Organization
from governance.selectors import organizations as selectors
from governance.services import organizations as services

PAGE_SIZE = 25


def _organization(slug: str) -> Organization:
    return get_object_or_404(Organization, slug=slug)


def _require_perm(request: HttpRequest, permission: str, organization: Organization) -> None:
    if not request.user.has_perm(permission, organization):
        raise PermissionDenied


# --- Directory and record ---------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
def organization_list(request: HttpRequest) -> HttpResponse:
    form = DirectoryFilterForm(request.GET or None)
    filters: dict = {}
    if form.is_bound and form.is_valid():
        verified = form.cleaned_data["verified"]
        filters = {
            "kind": form.cleaned_data["kind"] or None,
            "verified": {"yes": True, "no": False}.get(verified),
            "query": form.cleaned_data["q"] or None,
        }
    page = Paginator(selectors.organization_list(**filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "filtered": any(v is not None for v in filters.values()),
        "query_string": query.urlencode(),
        "can_create": request.user.is_authenticated,
        "current_time": timezone.now(),
    }
    template = "organizations/list.html"
    if request.htmx:
        template += "#results"
    return render(request, template, context, status=400 if form.errors else 200)


@require_http_methods(["GET", "HEAD"])
def organization_detail(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    user = request.user
    own_membership = None
    if user.is_authenticated:
        own_membership = Membership.objects.filter(organization=organization, user=user).first()
    include_private = user.is_authenticated and user.has_perm(
        "governance.view_private_members", organization
    )
    context = {
        "organization": organization,
        "members": selectors.organization_members(
            organization=organization, include_private=include_private
        ),
        "showing_private_members": include_private,
        "own_membership": own_membership,
        "can_edit": user.is_authenticated
        and user.has_perm("governance.change_organization", organization),
        "can_manage": user.is_authenticated
        and user.has_perm("governance.manage_members", organization),
        "accredited": selectors.organization_is_accredited(organization),
        "ledger_entries": selectors.organization_ledger(organization=organization),
    }
    return render(request, "organizations/detail.html", context)


# --- Create and edit --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def organization_create(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("governance.create_organization"):
        return render(request, "organizations/verify_email_first.html", status=403)
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization = services.organization_create(actor=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request,
                f"{organization.name} is registered and you are its owner. Staff will verify "
                "it; until then it is shown as not verified.",
            )
            return redirect("organizations:detail", slug=organization.slug)
    status = 400 if form.errors else 200
    return render(request, "organizations/create.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def organization_edit(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    _require_perm(request, "governance.change_organization", organization)
    initial = {
        "name": organization.name,
        "description": organization.description,
        "website": organization.website,
    }
    form = OrganizationEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_update(
                actor=request.user, organization=organization, **form.cleaned_data
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "Your changes are saved and recorded on the ledger.")
            return redirect("organizations:detail", slug=organization.slug)
    organization.refresh_from_db()
    status = 400 if form.errors else 200
    return render(
        request,
        "organizations/edit.html",
        {"organization": organization, "form": form},
        status=status,
    )


# --- Members and invitations ------------------------------------------------------------------


def _members_page(
    request: HttpRequest,
    organization: Organization,
    *,
    invite_form: InvitationForm | None = None,
    row_errors: dict[int, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    members = selectors.organization_members(organization=organization, include_private=True)
    context = {
        "organization": organization,
        "members": members,
        "role_choices": Membership.Role.choices,
        "row_errors": row_errors or {},
        "invite_form": invite_form or InvitationForm(),
        "invitations": selectors.organization_invitations(
            organization=organization, pending_only=True
        ),
        "invitation_days": settings.OPENREFUSAL["INVITATION_DAYS"],
    }
    return render(request, "organizations/members.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD"])
def organization_members(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    _require_perm(request, "governance.manage_members", organization)
    return _members_page(request, organization)


@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def organization_invite(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    _require_perm(request, "governance.invite_member", organization)
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(
                actor=request.user,
                organization=organization,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("organizations:members", slug=organization.slug)
    status = 400 if form.errors else 200
    return render(
        request,
        "organizations/invite.html",
        {"organization": organization, "form": form},
        status=status,
    )


@login_required
@require_POST
@once_per_form_token
def membership_role(request: HttpRequest, slug: str, membership_id: int) -> HttpResponse:
    organization = _organization(slug)
    _require_perm(request, "governance.manage_members", organization)
    membership = get_object_or_404(
        Membership.objects.select_related("user", "organization"),
        pk=membership_id,
        organization=organization,
    )
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _members_page(
            request,
            organization,
            row_errors={membership.pk: "Choose owner, editor or member."},
            status=400,
        )
    try:
        services.membership_set_role(
            actor=request.user, membership=membership, role=form.cleaned_data["role"]
        )
    except DomainError as error:
        return _members_page(
            request, organization, row_errors={membership.pk: error.message}, status=error.status
        )
    messages.success(
        request,
        f"{membership.user.public_name} is now {form.cleaned_data['role']}.",
    )
    return redirect("organizations:members", slug=organization.slug)


@login_required
@require_POST
@once_per_form_token
def membership_remove(request: HttpRequest, slug: str, membership_id: int) -> HttpResponse:
    organization = _organization(slug)
    membership = get_object_or_404(
        Membership.objects.select_related("user", "organization"),
        pk=membership_id,
        organization=organization,
    )
    leaving = membership.user_id == request.user.pk
    if not leaving:
        _require_perm(request, "governance.manage_members", organization)
    try:
        services.membership_remove(actor=request.user, membership=membership)
    except NotAllowed:
        raise PermissionDenied from None
    except DomainError as error:
        if leaving and not request.user.has_perm("governance.manage_members", organization):
            messages.error(request, error.message)
            return redirect("organizations:detail", slug=organization.slug)
        return _members_page(
            request, organization, row_errors={membership.pk: error.message}, status=error.status
        )
    if leaving:
        messages.success(request, f"You left {organization.name}.")
        return redirect("organizations:detail", slug=organization.slug)
    messages.success(request, f"{membership.user.public_name} was removed.")
    return redirect("organizations:members", slug=organization.slug)


@login_required
@require_POST
@once_per_form_token
def organization_leave(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    membership = get_object_or_404(Membership, organization=organization, user=request.user)
    try:
        services.membership_remove(actor=request.user, membership=membership)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"You left {organization.name}.")
    return redirect("organizations:detail", slug=organization.slug)


@login_required
@require_POST
@once_per_form_token
def invitation_revoke(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    organization = _organization(slug)
    _require_perm(request, "governance.invite_member", organization)
    invitation = get_object_or_404(Invitation, pk=invitation_id, organization=organization)
    try:
        services.invitation_revoke(actor=request.user, invitation=invitation)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The invitation was withdrawn; its link no longer works.")
    return redirect("organizations:members", slug=organization.slug)


@require_http_methods(["GET", "POST"])
@once_per_form_token
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        invitation = services.invitation_find(token)
    except NotFound as error:
        return render(
            request, "organizations/invitation_invalid.html", {"error": error}, status=404
        )
    error = None
    if request.method == "POST":
        try:
            services.invitation_accept(user=request.user, raw_token=token)
        except DomainError as exc:
            error = exc
        else:
            messages.success(
                request,
                f"Welcome to {invitation.organization.name}. "
                f"You joined as {invitation.get_role_display().lower()}.",
            )
            return redirect("organizations:detail", slug=invitation.organization.slug)
    context = {
        "invitation": invitation,
        "organization": invitation.organization,
        "status": services.invitation_status(invitation),
        "address_matches": selectors.user_has_verified_email(
            user=request.user, email=invitation.email
        ),
        "error": error,
        "token": token,
    }
    return render(
        request,
        "organizations/invitation_accept.html",
        context,
        status=error.status if error else 200,
    )


app_name = "organizations"
urlpatterns = [
    path("", organization_list, name="list"),
    path("new/", organization_create, name="create"),
    path("invitations/<str:token>/", invitation_accept, name="invitation-accept"),
    path("<slug:slug>/", organization_detail, name="detail"),
    path("<slug:slug>/edit/", organization_edit, name="edit"),
    path("<slug:slug>/leave/", organization_leave, name="leave"),
    path("<slug:slug>/members/", organization_members, name="members"),
    path("<slug:slug>/members/invite/", organization_invite, name="invite"),
    path("<slug:slug>/members/<int:membership_id>/role/", membership_role, name="member-role"),
    path(
        "<slug:slug>/members/<int:membership_id>/remove/",
        membership_remove,
        name="member-remove",
    ),
    path(
        "<slug:slug>/invitations/<int:invitation_id>/revoke/",
        invitation_revoke,
        name="invitation-revoke",
    ),
]
