from django.apps import AppConfig


class ActivelearningConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "activelearning"
