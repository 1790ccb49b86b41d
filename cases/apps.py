from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "MEHR cases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            admin_notifications,  # noqa: F401  (admin for SLA, outbox, reports)
            checks,  # noqa: F401  (registers system checks)
            health,  # noqa: F401  (registers the dashboard rollup /healthz check)
            sla_receivers,  # noqa: F401  (SLA clocks and notification outbox)
        )
        from .api import admin as api_admin  # noqa: F401  (registers the API token admin)
