"""Pages for managing one's personal API tokens: list, create (secret shown once), revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from governance.errors import Conflict, Invalid, NotFound
from governance.forms import add_domain_error
from governance.forms.tokens import ApiTokenCreateForm
from governance.idempotency import once_per_form_token
from governance.selectors.tokens import api_token_of, api_tokens_of
from governance.services.tokens import api_token_create, api_token_revoke

# Secrets wait in the session between the POST that creates a token and the page that shows it
# (POST/redirect/GET), and are removed when shown.
SESSION_SECRETS = "api_token_secrets"


def _token_or_404(request, token_id):
    try:
        return api_token_of(user=request.user, token_id=token_id)
    except NotFound:
        raise Http404("There is no such token.") from None


@login_required
@never_cache
def token_list(request):
    tokens = list(api_tokens_of(user=request.user))
    return render(request, "tokens/list.html", {"tokens": tokens, "now": timezone.now()})


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
@once_per_form_token
def token_create(request):
    form = ApiTokenCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = api_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_in_days=form.cleaned_data["expires_in_days"],
            )
        except (Invalid, Conflict) as error:
            add_domain_error(form, error)
        else:
            secrets = request.session.get(SESSION_SECRETS, {})
            secrets[str(token.pk)] = raw
            request.session[SESSION_SECRETS] = secrets
            return redirect("tokens:created", token_id=token.pk)
    return render(request, "tokens/create.html", {"form": form})


@login_required
@never_cache
def token_created(request, token_id):
    token = _token_or_404(request, token_id)
    secrets = request.session.get(SESSION_SECRETS, {})
    raw = secrets.pop(str(token.pk), None)
    if raw is not None:
        request.session[SESSION_SECRETS] = secrets
    return render(request, "tokens/created.html", {"token": token, "raw": raw})


@login_required
@require_http_methods(["GET", "POST"])
def token_revoke(request, token_id):
    token = _token_or_404(request, token_id)
    if request.method == "POST":
        try:
            api_token_revoke(user=request.user, token=token)
        except Conflict as error:
            messages.info(request, error.message)
        else:
            messages.success(request, f"The token “{token.name}” is revoked; it no longer works.")
        return redirect(reverse("tokens:list"))
    return render(request, "tokens/revoke.html", {"token": token})


# Included from governance/urls.py at accounts/tokens/ under the "tokens" namespace.
app_name = "tokens"
urlpatterns = [
    path("", token_list, name="list"),
    path("new/", token_create, name="create"),
    path("<int:token_id>/created/", token_created, name="created"),
    path("<int:token_id>/revoke/", token_revoke, name="revoke"),
]
