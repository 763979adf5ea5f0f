"""The Celery app, set up as Celery's "First steps with Django" guide shows."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewtool.settings")

app = Celery("reviewtool")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
