"""`/audits/`: audit reports, their findings and attachments, and companies' scorecards."""

from django.urls import path

from audits import report_views as views

app_name = "reports"

urlpatterns = [
    path("", views.report_list, name="list"),
    path("new/", views.report_create, name="create"),
    path("<int:pk>/", views.report_detail, name="detail"),
    path("<int:pk>/edit/", views.report_edit, name="edit"),
    path("<int:pk>/delete/", views.report_delete, name="delete"),
    path("<int:pk>/findings/", views.finding_create, name="finding-create"),
    path("<int:pk>/attachments/", views.attachment_upload, name="attachment-upload"),
    path("<int:pk>/submit/", views.report_submit, name="submit"),
    path("<int:pk>/embargo/", views.report_embargo, name="embargo"),
    path("<int:pk>/publish/", views.report_publish, name="publish"),
    path("<int:pk>/response/", views.report_respond, name="respond"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
    path("attachments/<int:pk>/delete/", views.attachment_delete, name="attachment-delete"),
    path("findings/<int:pk>/", views.finding_detail, name="finding"),
    path("findings/<int:pk>/delete/", views.finding_delete, name="finding-delete"),
    path(
        "findings/<int:pk>/<str:action>/",
        views.finding_answer,
        name="finding-answer",
    ),
    path("scorecards/", views.scorecard_index, name="scorecards"),
    path("scorecards/<slug:slug>/", views.scorecard, name="scorecard"),
]
