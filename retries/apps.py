from django.apps import AppConfig


class RetriesConfig(AppConfig):
    name = "retries"
    verbose_name = "MEHR retries"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, health, receivers  # noqa: F401  (system checks, /healthz check, signal receivers)
