"""The Celery app, set up as Celery's "First steps with Django" guide shows."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewtool.settings")

app = Celery("reviewtool")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue(task_name: str, *args: object) -> None:
    """Send a registered task by name.

    Services enqueue follow-up work through this, so that a service module never imports the
    tasks module that imports it. A registered task runs through its own ``apply_async``, which
    honours eager mode in unit tests; with the broker down this raises, loudly.
    """
    app.signature(task_name, args=args).delay()
