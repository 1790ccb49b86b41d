from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "MEHR cases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers system checks)
        from .api import admin as api_admin  # noqa: F401  (registers the API token admin)
