"""Account pages beside allauth's: the public profile, the data export and account deletion.

Included by `governance/urls.py` under `accounts/` in the `account` namespace; the paths are
chosen not to collide with allauth's own pages under the same prefix."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from governance.errors import Conflict, Invalid
from governance.forms import add_domain_error
from governance.forms.accounts import DeleteAccountForm, ProfileForm
from governance.idempotency import once_per_form_token
from governance.selectors.accounts import user_security_summary, user_sole_owned_organizations
from governance.services.accounts import (
    export_filename,
    user_delete,
    user_export,
    user_profile_update,
)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                user_profile_update(
                    user=user,
                    display_name=form.cleaned_data["display_name"],
                    timezone=form.cleaned_data["timezone"],
                )
            except Invalid as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Saved. You are shown as “{user.public_name}”.")
                return redirect("account:profile")
        # Show what is stored, not what was rejected, in "what the public sees".
        user.refresh_from_db(fields=["display_name", "timezone"])
    else:
        form = ProfileForm(initial={"display_name": user.display_name, "timezone": user.timezone})
    return render(
        request,
        "account/profile.html",
        {"form": form, "security": user_security_summary(user)},
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def export(request: HttpRequest) -> HttpResponse:
    document = user_export(user=request.user)
    response = HttpResponse(
        json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename()}"'
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@once_per_form_token
def delete(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        form = DeleteAccountForm(request.POST, user=user)
        if form.is_valid():
            try:
                user_delete(user=user)
            except (Conflict, Invalid) as exc:
                add_domain_error(form, exc)
            else:
                logout(request)
                return redirect("account:deleted")
    else:
        form = DeleteAccountForm(user=user)
    return render(
        request,
        "account/delete.html",
        {"form": form, "sole_owned": list(user_sole_owned_organizations(user))},
    )


@require_GET
def deleted(request: HttpRequest) -> HttpResponse:
    return render(request, "account/deleted.html")


app_name = "account"
urlpatterns = [
    path("profile/", profile, name="profile"),
    path("export/", export, name="export"),
    path("delete/", delete, name="delete"),
    path("deleted/", deleted, name="deleted"),
]
