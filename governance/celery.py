"""The Celery application; configuration comes from Django settings prefixed with CELERY_."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

app = Celery("openrefusal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
