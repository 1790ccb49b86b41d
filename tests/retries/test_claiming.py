"""Two claimers at once (two beats by mistake) never claim the same attempt: the claim is the lock."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from retries.models import SessionAttempt, SessionState
from retries.services import migration_schedule
from retries.services.claiming import claim_batch
from tests.factories import InstallationFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_skip_each_others_rows(catalogue) -> None:  # type: ignore[no-untyped-def]
    for _ in range(6):
        migration_schedule(installation=InstallationFactory(), actor=None)
    other: list = []

    def second_beat() -> None:
        try:
            other.extend(claim_batch())
        finally:
            connection.close()

    with transaction.atomic():
        # The first beat is mid-claim: it holds row locks on three due attempts.
        held = list(
            SessionAttempt.objects.select_for_update(skip_locked=True)
            .filter(state=SessionState.SCHEDULED)
            .order_by("due_at")
            .values_list("pk", flat=True)[:3]
        )
        thread = threading.Thread(target=second_beat)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive()  # it did not wait for our locks
        SessionAttempt.objects.filter(pk__in=held).update(state=SessionState.CLAIMED)
    assert len(other) == 3 and not {c.pk for c in other} & set(held)
    assert claim_batch() == []  # nothing left, nothing claimed twice
    assert SessionAttempt.objects.filter(state=SessionState.CLAIMED).count() == 6


@pytest.mark.redis
def test_templated_dispatch_sends_the_same_bytes_as_celery(redis_url) -> None:  # type: ignore[no-untyped-def]
    """The fast dispatch builds messages from a template; the worker must see exactly what
    Celery's own send_task_message would have sent (bar the random ids and delivery tags)."""
    import base64
    import json
    import uuid

    import redis

    from mehr_site.celery import app
    from retries.services import claiming
    from retries.services.claiming import Claimed

    queue = f"sessions-test-{uuid.uuid4().hex[:8]}"
    token = str(uuid.uuid4())
    items = [Claimed(pk=7, token=token, timeout_seconds=300), Claimed(pk=8, token=token, timeout_seconds=30)]
    client = redis.Redis.from_url(redis_url)

    def sent(fn) -> list[str]:  # type: ignore[no-untyped-def]
        client.delete(queue)
        with app.connection_for_write(redis_url) as conn, conn.Producer() as producer:
            fn(app.amqp, producer, "retries.tasks.run_session_attempt", items, 10, 30, queue=queue)
        raw = client.lrange(queue, 0, -1)
        client.delete(queue)
        out = []
        for payload in raw:
            message = json.loads(payload)
            task_id = message["headers"]["id"]
            message["body"] = base64.b64decode(message["body"]).decode()
            out.append(
                json.dumps(message, sort_keys=True)
                .replace(task_id, "ID")
                .replace(message["properties"]["delivery_tag"], "TAG")
            )
        return out

    plain = sent(claiming._dispatch_plain)
    templated = sent(claiming._dispatch_templated)
    assert len(plain) == 2
    assert templated == plain
    assert '"timelimit": [330, 310]' in plain[-1] and '"timelimit": [60, 40]' in plain[0]
