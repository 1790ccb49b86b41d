"""End to end on the real services: a committed transition enqueues the outbox message on Redis,
a real Celery worker consuming the `notifications` queue signs and posts it to a real HTTP server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from cases.domain import Role
from cases.models import OutboxMessage
from cases.models.notifications import OutboxStatus
from cases.services import case_transition
from cases.services.notifications import notification_preferences_set, webhook_verify
from tests.factories import case_in_state
from tests.webhook_server import WebhookServer

ROOT = Path(__file__).resolve().parents[2]
SECRET = "worker-test-shared-secret"


@pytest.fixture
def worker(redis_url):  # type: ignore[no-untyped-def]
    db = connection.settings_dict
    url = f"postgres://{db['USER']}{':' + db['PASSWORD'] if db['PASSWORD'] else ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "mehr_site.settings",
           "MEHR_NOTIFY_WEBHOOK_ALLOW_PRIVATE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mehr_site", "worker", "-Q", "notifications", "-P", "solo",
         "-c", "1", "--without-gossip", "--without-mingle", "-n", f"sla-test-{os.getpid()}@%h", "-l", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery_worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_the_signed_webhook_after_commit(worker, installation, people) -> None:
    assert django_settings.CELERY_TASK_ROUTES["cases.tasks.notifications_*"] == {"queue": "notifications"}
    server = WebhookServer().start()
    try:
        notification_preferences_set(organisation=installation.responsible_supplier, actor=people[Role.USER_AGENT],
                                     webhook_url=server.url, webhook_secret=SECRET,
                                     events={"AWAITING_USER": {"webhook": True}})
        case = case_in_state("TRIAGED", installation=installation)
        case_transition(case=case, transition="await_user", actor=people[Role.DCC_OPERATOR])
        message = OutboxMessage.objects.get(case=case)
        deadline = time.monotonic() + 90
        while not server.received and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
        assert server.received, f"no delivery; worker exit {worker.poll()}"
        hit = server.received[0]
        assert hit.headers["X-Mehr-Message-Id"] == str(message.message_id)
        assert webhook_verify(secret=SECRET, timestamp=hit.headers["X-Mehr-Timestamp"], body=hit.body,
                              signature=hit.headers["X-Mehr-Signature"])
        while time.monotonic() < deadline:
            message.refresh_from_db()
            if message.status == OutboxStatus.SENT:
                break
            time.sleep(0.2)
        assert message.status == OutboxStatus.SENT and message.deliveries.get().success
    finally:
        server.stop()
