from django.urls import path

from audits import views

app_name = "audits"

urlpatterns = [
    path("", views.run_list, name="runs"),
    path("upload/", views.run_upload, name="upload"),
    path("compare/", views.run_compare, name="compare"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/conformance/", views.run_conformance, name="conformance"),
    path("runs/<int:pk>/mappings/", views.mapping_change, name="mappings"),
    path("samples/<int:pk>/relabel/", views.sample_relabel, name="relabel"),
]
