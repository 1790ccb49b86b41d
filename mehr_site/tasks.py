"""Site-level Celery tasks and worker signal handlers (loaded by the worker via CELERY_IMPORTS)."""

from __future__ import annotations

import socket

from celery import shared_task
from celery.signals import worker_ready

from mehr_site.health import write_worker_heartbeat


@shared_task(name="mehr_site.tasks.heartbeat", ignore_result=True)
def heartbeat() -> dict:
    """Scheduled by beat every 15 s: proves that some worker is consuming the default queue."""
    hostname = heartbeat.request.hostname or socket.gethostname()
    return write_worker_heartbeat(hostname=hostname, source="task")


@worker_ready.connect
def on_worker_ready(sender=None, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Mark the worker alive as soon as it starts, without waiting for the first beat tick."""
    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    write_worker_heartbeat(hostname=hostname, source="worker_ready")
