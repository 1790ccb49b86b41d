"""Two worker processes with separated queues: a flood of session attempts does not hold up
notifications or reports (docs/SCALING.md: N workers and one beat against one PostgreSQL and Redis)."""

from __future__ import annotations

import re

import pytest
import redis

from mehr_site.celery import app
from tests.retries.workers import Worker, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.celery_worker, pytest.mark.slow, pytest.mark.django_db]
FLOOD = 2000  # big enough to still be queued when the notification and report are done


def succeeded(worker: Worker, task_id: str) -> bool:
    return re.search(rf"\[{task_id}\] succeeded", worker.tail(100_000)) is not None


def test_a_session_flood_does_not_starve_notifications_or_reports(redis_url) -> None:  # type: ignore[no-untyped-def]
    client = redis.Redis.from_url(redis_url)
    client.flushdb()  # our own Redis database number only: no stale messages from earlier runs
    sessions = Worker(redis_url, queues="sessions", concurrency=1, beat=False)
    general = Worker(redis_url, queues="celery,notifications,reports", concurrency=1, beat=False)
    try:
        sessions.wait_ready()
        general.wait_ready()
        # The flood: session-attempt tasks for attempts that do not exist (each answers "missing").
        with app.producer_or_acquire() as producer:
            for n in range(FLOOD):
                app.send_task("retries.tasks.run_session_attempt", args=(10**12 + n, "none"), queue="sessions",
                              producer=producer)  # fmt: skip
        notification = app.send_task("mehr_site.tasks.heartbeat", queue="notifications")
        report = app.send_task("mehr_site.tasks.heartbeat", queue="reports")
        wait_for(lambda: succeeded(general, notification.id) and succeeded(general, report.id), 60,
                 lambda: f"notification/report not handled:\n{general.tail()}")  # fmt: skip
        # Handled while the flood was still queued: nothing waited behind it.
        assert client.llen("sessions") > 0
        wait_for(lambda: client.llen("sessions") == 0, 240, lambda: f"flood not drained:\n{sessions.tail()}")
        # Each worker ran only its own queues' tasks.
        assert "Task retries.tasks.run_session_attempt[" in sessions.tail(100_000)
        assert "Task mehr_site.tasks.heartbeat[" not in sessions.tail(100_000)
        assert "Task retries.tasks.run_session_attempt[" not in general.tail(100_000)
    finally:
        sessions.stop()
        general.stop()
