from django.apps import AppConfig


class RetriesConfig(AppConfig):
    name = "retries"
    verbose_name = "MEHR retries"
    default_auto_field = "django.db.models.BigAutoField"
