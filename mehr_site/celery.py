"""The Celery application. Configuration comes from Django settings under the CELERY_ namespace."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mehr_site.settings")

app = Celery("mehr_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Finds <app>.tasks in INSTALLED_APPS; mehr_site.tasks (not an app) comes in via CELERY_IMPORTS.
app.autodiscover_tasks()

# Database connections in workers. Celery's Django fix-up closes every Django connection before and
# after every task unless CELERY_DB_REUSE_MAX is set (celery/fixups/django.py), so each task paid
# for a new PostgreSQL connection (a backend fork, authentication and session set-up). Instead the
# fix-up is told to leave them (it still closes inherited ones in each new prefork child), and
# Django's own request-boundary rule runs around every task: close_old_connections() drops a
# connection that is older than CONN_MAX_AGE or broke, and CONN_HEALTH_CHECKS re-checks it before
# its first use in the task (a backend terminated meanwhile is replaced, not used). Connections are
# per thread, so this is also right for `-P threads` (each pool thread keeps its own connection).
app.conf.CELERY_DB_REUSE_MAX = 2**62


def _close_old_connections(**kwargs) -> None:  # type: ignore[no-untyped-def]
    from django.db import close_old_connections

    task = kwargs.get("task") or kwargs.get("sender")
    if not getattr(getattr(task, "request", None), "is_eager", False):
        close_old_connections()


from celery.signals import task_postrun, task_prerun  # noqa: E402

task_prerun.connect(_close_old_connections, weak=False, dispatch_uid="mehr-close-old-connections-pre")
task_postrun.connect(_close_old_connections, weak=False, dispatch_uid="mehr-close-old-connections-post")
