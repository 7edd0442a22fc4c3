"""`/api/v1/`: every resource of every app, on one router."""

from django.urls import path
from rest_framework.routers import DefaultRouter

router = DefaultRouter()
router.include_root_view = True

# Each area registers its viewsets here.

urlpatterns = [
    *router.urls,
]
_ = path
