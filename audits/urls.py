from django.urls import path

import policies.views  # noqa: F401 — registers the `semver` path converter
from audits import views

app_name = "audits"

urlpatterns = [
    path("", views.run_list, name="runs"),
    path("upload/", views.run_upload, name="upload"),
    path("compare/", views.run_compare, name="compare"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="cancel"),
    path("runs/<int:pk>/conformance/", views.run_conformance, name="conformance"),
    path("runs/<int:pk>/mappings/", views.mapping_change, name="mappings"),
    path("samples/<int:pk>/relabel/", views.sample_relabel, name="relabel"),
    path(
        "policies/<slug:org_slug>/<slug:policy_slug>/v/<semver:number>/matrix/",
        views.conformance_matrix,
        name="matrix",
    ),
    path(
        "policies/<slug:org_slug>/<slug:policy_slug>/clauses/<str:key>/",
        views.clause_evidence,
        name="clause",
    ),
]

# Robustness, drift alerts and the trade-off (issue 9).
from audits import robustness_views  # noqa: E402

urlpatterns += robustness_views.urlpatterns
