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
    tasks module that imports it. The task runs through its own ``apply_async``, which honours
    eager mode in unit tests; an unknown name is a KeyError and a broker that is down raises.
    """
    if task_name not in app.tasks:
        # Tasks modules are discovered lazily; a web process may not have imported them yet.
        app.loader.import_default_modules()
    app.tasks[task_name].apply_async(args=args)
