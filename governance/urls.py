"""The site's URLs: the only module that wires the apps together."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from governance.views.data import (
    data_dump_file,
    data_dumps,
    regulators_guide,
    regulators_script,
)
from governance.views.health import health
from governance.views.home import home

handler400 = "governance.views.errors.bad_request"
handler403 = "governance.views.errors.permission_denied"
handler404 = "governance.views.errors.page_not_found"
handler500 = "governance.views.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # --- API ---
    path("api/v1/", include("governance.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's init script as a file, so the strict CSP holds. ReDoc
    # is not offered: it needs inline styles and remote fonts.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    # --- Core pages (each area adds its own line here) ---
    # profile/, export/, delete/, deleted/: beside allauth's pages, no path shared with them.
    path("accounts/", include("governance.views.account", namespace="account")),
    path("accounts/tokens/", include("governance.views.tokens", namespace="tokens")),
    path("ledger/", include("governance.views.ledger", namespace="ledger")),
    path("webhooks/", include("governance.views.webhooks", namespace="webhooks")),
    path("data/", data_dumps, name="data"),
    path("data/<str:folder>/<str:name>", data_dump_file, name="data-file"),
    path("regulators/", regulators_guide, name="regulators"),
    path("regulators/<str:name>", regulators_script, name="regulators-script"),
    path(
        "organizations/",
        include("governance.views.organizations", namespace="organizations"),
    ),
    path("policies/", include("policies.urls", namespace="policies")),
    path("evidence/", include("audits.urls", namespace="audits")),
    path("audits/", include("audits.report_urls", namespace="reports")),
    path("appeals/", include("appeals.urls", namespace="appeals")),
    path("", home, name="home"),
    path("healthz", health, name="healthz"),
]
