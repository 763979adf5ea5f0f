"""The Django project: settings, URLs, the Celery app. Wiring only, no models."""

from reviewtool.celery import app as celery_app

__all__ = ("celery_app",)
