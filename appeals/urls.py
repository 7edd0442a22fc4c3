"""Appeal pages under /appeals/."""

from django.urls import path

from appeals import views

app_name = "appeals"

urlpatterns = [
    path("", views.index, name="index"),
    path("file/", views.appeal_file, name="file"),
    path("mine/", views.my_appeals, name="mine"),
    path("review/", views.company_queue, name="review-queue"),
    path("panel/", views.panel_queue, name="panel-queue"),
    path("workflow/", views.workflow_page, name="workflow"),
    path("decisions/", views.decision_list, name="decisions"),
    path("decisions/<int:pk>/", views.decision_detail, name="decision"),
    path("recommendations/", views.recommendation_list, name="recommendations"),
    path("recommendations/<int:pk>/", views.recommendation_detail, name="recommendation"),
    path(
        "recommendations/<int:pk>/answer/",
        views.recommendation_answer,
        name="recommendation-answer",
    ),
    path(
        "recommendations/<int:pk>/cite/",
        views.recommendation_cite,
        name="recommendation-cite",
    ),
    path("transparency/", views.transparency_index, name="transparency-index"),
    path("transparency/<slug:company>/", views.transparency_report, name="transparency"),
    path("clauses/", views.clause_options, name="clause-options"),
    path("<int:pk>/", views.appeal_detail, name="detail"),
    path("<int:pk>/act/<str:action>/", views.appeal_act, name="act"),
    path("<int:pk>/cite/", views.appeal_cite, name="cite"),
]
