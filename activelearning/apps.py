from django.apps import AppConfig


class ActivelearningConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "activelearning"
    verbose_name = "Active learning"

    def ready(self) -> None:
        # Connect the receivers of labeling's signals (the import registers them).
        from activelearning import receivers  # noqa: F401
