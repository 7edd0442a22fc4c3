"""Pages for managing webhooks: list, subscribe (secret shown once), deliveries, test ping,
delete. Private to the people who manage each subscription."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from governance.errors import Conflict, Invalid, NotAllowed, NotFound
from governance.forms import add_domain_error
from governance.forms.webhooks import WebhookCreateForm
from governance.idempotency import once_per_form_token
from governance.selectors.webhooks import (
    DELIVERIES_SHOWN,
    webhook_deliveries,
    webhook_of,
    webhooks_of,
)
from governance.services.webhooks import (
    SIGNATURE_HEADER,
    webhook_ping,
    webhook_subscription_create,
    webhook_subscription_delete,
)

# The secret waits in the session between the POST that creates a webhook and the page that
# shows it once (POST/redirect/GET).
SESSION_SECRETS = "webhook_secrets"


def _webhook_or_404(request, webhook_id):
    try:
        return webhook_of(user=request.user, subscription_id=webhook_id)
    except NotFound:
        raise Http404("There is no such webhook.") from None


@login_required
@never_cache
def webhook_list(request):
    return render(request, "webhooks/list.html", {"webhooks": list(webhooks_of(user=request.user))})


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
@once_per_form_token
def webhook_create(request):
    form = WebhookCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            subscription, secret = webhook_subscription_create(
                actor=request.user,
                target_url=data["target_url"],
                description=data["description"],
                event_types=data["event_types"],
                filter_policy=data["filter_policy"],
                filter_organization=data["filter_organization"],
                organization=data["organization"],
            )
        except (Invalid, Conflict, NotAllowed) as error:
            add_domain_error(form, error)
        else:
            secrets = request.session.get(SESSION_SECRETS, {})
            secrets[str(subscription.pk)] = secret
            request.session[SESSION_SECRETS] = secrets
            return redirect("webhooks:detail", webhook_id=subscription.pk)
    return render(request, "webhooks/create.html", {"form": form})


@login_required
@never_cache
def webhook_detail(request, webhook_id):
    subscription = _webhook_or_404(request, webhook_id)
    secrets = request.session.get(SESSION_SECRETS, {})
    secret = secrets.pop(str(subscription.pk), None)
    if secret is not None:
        request.session[SESSION_SECRETS] = secrets
    deliveries = list(webhook_deliveries(subscription=subscription)[:DELIVERIES_SHOWN])
    return render(
        request,
        "webhooks/detail.html",
        {
            "webhook": subscription,
            "secret": secret,
            "deliveries": deliveries,
            "signature_header": SIGNATURE_HEADER,
        },
    )


@login_required
@require_POST
def webhook_ping_view(request, webhook_id):
    subscription = _webhook_or_404(request, webhook_id)
    try:
        webhook_ping(actor=request.user, subscription=subscription)
    except NotAllowed as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "A test ping is on its way; reload to see the attempt.")
    return redirect("webhooks:detail", webhook_id=subscription.pk)


@login_required
@require_http_methods(["GET", "POST"])
def webhook_delete(request, webhook_id):
    subscription = _webhook_or_404(request, webhook_id)
    if request.method == "POST":
        try:
            webhook_subscription_delete(actor=request.user, subscription=subscription)
        except NotAllowed as error:
            messages.error(request, error.message)
            return redirect("webhooks:detail", webhook_id=subscription.pk)
        messages.success(request, "The webhook is deleted; nothing more will be sent to it.")
        return redirect("webhooks:list")
    return render(request, "webhooks/delete.html", {"webhook": subscription})


# Included from governance/urls.py at webhooks/ under the "webhooks" namespace.
app_name = "webhooks"
urlpatterns = [
    path("", webhook_list, name="list"),
    path("new/", webhook_create, name="create"),
    path("<int:webhook_id>/", webhook_detail, name="detail"),
    path("<int:webhook_id>/ping/", webhook_ping_view, name="ping"),
    path("<int:webhook_id>/delete/", webhook_delete, name="delete"),
]
