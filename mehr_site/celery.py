"""The Celery application. Configuration comes from Django settings under the CELERY_ namespace."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mehr_site.settings")

app = Celery("mehr_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Finds <app>.tasks in INSTALLED_APPS; mehr_site.tasks (not an app) comes in via CELERY_IMPORTS.
app.autodiscover_tasks()
