"""Claiming due session attempts (beat, every second) and reaping expired leases.

Why two beats cannot double-fire: the claim is the lock. Each batch is chosen with
``SELECT … FOR UPDATE SKIP LOCKED`` among rows that are SCHEDULED and due, and flipped to CLAIMED
with a fresh claim token in the same transaction. A second claimer running at the same moment
skips the locked rows, and once the first commits the rows are no longer SCHEDULED. The task is
sent only after the commit, carries the token, and refuses to run unless the row is still CLAIMED
with that token; so a duplicate message (two beats, a broker redelivery, a reaped and re-claimed
attempt) does nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, UUIDField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .. import sql
from ..models import PauseScope, RetryPause, SessionAttempt, SessionState

logger = logging.getLogger("retries")


@dataclass(frozen=True)
class Claimed:
    pk: int
    token: str
    timeout_seconds: int


def _pause_filters() -> tuple[bool, list[str], bool]:
    """(everything paused, paused cohorts, any installation paused)."""
    rows = list(RetryPause.objects.filter(is_active=True).values_list("scope", "cohort"))
    everything = any(scope == PauseScope.GLOBAL for scope, _ in rows)
    cohorts = sorted({cohort for scope, cohort in rows if scope == PauseScope.COHORT})
    installations = any(scope == PauseScope.INSTALLATION for scope, _ in rows)
    return everything, cohorts, installations


def due_queryset(now: datetime):  # type: ignore[no-untyped-def]
    """Due, scheduled and not paused (None when everything is paused)."""
    everything, cohorts, installations = _pause_filters()
    if everything:
        return None
    qs = SessionAttempt.objects.filter(state=SessionState.SCHEDULED, due_at__lte=now)
    if cohorts:
        qs = qs.exclude(cohort__in=cohorts)
    if installations:
        qs = qs.exclude(
            installation_id__in=RetryPause.objects.filter(
                is_active=True, scope=PauseScope.INSTALLATION
            ).values("installation_id")
        )
    return qs


#: One statement claims a batch (autocommit: the statement is the transaction). The global kill
#: switch is an uncorrelated sub-select, so PostgreSQL evaluates it once and scans nothing when it is
#: on; cohort and installation pauses are checked per candidate row (the pause table is tiny). The
#: cap on claimed-but-not-started attempts is the LIMIT, counted through session_lease_idx.
_CLAIM_SQL = """
WITH due AS (
    SELECT s.id FROM retries_sessionattempt s
     WHERE s.state = 'SCHEDULED' AND s.due_at <= %(now)s
       AND NOT EXISTS (SELECT 1 FROM retries_retrypause g WHERE g.is_active AND g.scope = 'GLOBAL')
       AND NOT EXISTS (
           SELECT 1 FROM retries_retrypause p
            WHERE p.is_active AND ((p.scope = 'COHORT' AND p.cohort = s.cohort)
                  OR (p.scope = 'INSTALLATION' AND p.installation_id = s.installation_id)))
     ORDER BY s.due_at
     LIMIT (SELECT CASE WHEN %(cap)s > 0
                        THEN greatest(0, least(%(limit)s, %(cap)s - (SELECT count(*) FROM retries_sessionattempt c
                                                                      WHERE c.state = 'CLAIMED')))
                        ELSE %(limit)s END)
       FOR UPDATE SKIP LOCKED
)
UPDATE retries_sessionattempt s
   SET state = 'CLAIMED', claim_token = coalesce(s.claim_token, %(token)s), claimed_at = %(now)s,
       lease_expires_at = %(lease)s, claims = s.claims + 1
  FROM due
 WHERE s.id = due.id
RETURNING s.id, s.timeout_seconds, s.due_at, s.claim_token
"""


def claim_batch(*, now: datetime | None = None, limit: int | None = None) -> list[Claimed]:
    """Claim up to ``limit`` due attempts in one statement (its own transaction, so call it outside
    any other). Enqueue happens after it (by the caller)."""
    now = now or timezone.now()
    limit = limit or int(settings.MEHR["RETRY_CLAIM_BATCH_SIZE"])
    lease = now + timedelta(seconds=int(settings.MEHR["RETRY_CLAIM_LEASE_SECONDS"]))
    token = uuid.uuid4()  # one token per claim: with the row id it names this claim uniquely
    if connection.vendor != "postgresql":
        return _claim_batch_portable(now=now, limit=limit, lease=lease, token=token)
    rows = sql.execute(
        _CLAIM_SQL,
        {"now": now, "limit": limit, "cap": int(settings.MEHR["RETRY_MAX_CLAIMED"]), "token": token, "lease": lease},
    )
    # RETURNING does not keep the sub-select's order: dispatch the oldest first.
    rows.sort(key=lambda row: row[2])
    # A re-claim after an expired, never-started claim keeps that claim's token (see
    # session_attempts_reap), so the message still queued for it stays valid.
    return [Claimed(pk=pk, token=str(row_token), timeout_seconds=timeout) for pk, timeout, _, row_token in rows]


def _claim_batch_portable(*, now: datetime, limit: int, lease: datetime, token: uuid.UUID) -> list[Claimed]:
    """The claim statement's work through the ORM, for databases other than PostgreSQL: the embedded
    SQLite of ``make run``, whose transactions are IMMEDIATE (settings), so one writer at a time holds
    the database and no row locks are needed between the choice and the update."""
    with transaction.atomic():
        due = due_queryset(now)
        if due is None:
            return []
        cap = int(settings.MEHR["RETRY_MAX_CLAIMED"])
        if cap > 0:
            limit = max(0, min(limit, cap - SessionAttempt.objects.filter(state=SessionState.CLAIMED).count()))
        ids = list(due.order_by("due_at").values_list("pk", flat=True)[:limit])
        SessionAttempt.objects.filter(pk__in=ids).update(
            state=SessionState.CLAIMED,
            claim_token=Coalesce("claim_token", Value(token, output_field=UUIDField())),
            claimed_at=now,
            lease_expires_at=lease,
            claims=F("claims") + 1,
        )
        rows = SessionAttempt.objects.filter(pk__in=ids).order_by("due_at")
        return [Claimed(pk=pk, token=str(row_token), timeout_seconds=timeout)
                for pk, row_token, timeout in rows.values_list("pk", "claim_token", "timeout_seconds")]  # fmt: skip


def dispatch(claimed: list[Claimed]) -> int:
    """Send one task per claimed attempt on the ``sessions`` queue, with per-attempt time limits."""
    if not claimed:
        return 0
    from mehr_site.celery import app
    from retries.tasks import run_session_attempt

    soft = int(settings.MEHR["RETRY_SOFT_TIME_LIMIT_GRACE_SECONDS"])
    hard = int(settings.MEHR["RETRY_HARD_TIME_LIMIT_GRACE_SECONDS"])
    if app.conf.task_always_eager:  # debugging set-up: run inline like any other task
        for item in claimed:
            run_session_attempt.apply(args=(item.pk, item.token))
        return len(claimed)
    amqp = app.amqp
    name = run_session_attempt.name
    with app.producer_or_acquire() as producer:
        # kombu >= 5.7 pipelines the publishes to Redis (one round trip per batch instead of per
        # message); other transports and older kombu publish one by one.
        batch = producer.batch(max_size=500) if hasattr(producer, "batch") else contextlib.nullcontext()
        with batch:
            if not hasattr(producer, "_publish"):
                return _dispatch_plain(amqp, producer, name, claimed, soft, hard)
            return _dispatch_templated(amqp, producer, name, claimed, soft, hard)


def _dispatch_plain(  # type: ignore[no-untyped-def]
    amqp, producer, name: str, claimed: list[Claimed], soft: int, hard: int, queue: str = "sessions"
) -> int:
    for item in claimed:
        message = amqp.create_task_message(
            str(uuid.uuid4()),
            name,
            (item.pk, item.token),
            {},
            soft_time_limit=item.timeout_seconds + soft,
            time_limit=item.timeout_seconds + hard,
        )
        amqp.send_task_message(producer, name, message, queue=queue)
    return len(claimed)


def _dispatch_templated(  # type: ignore[no-untyped-def]
    amqp, producer, name: str, claimed: list[Claimed], soft: int, hard: int, queue: str = "sessions"
) -> int:
    """The same Celery (protocol 2) messages as ``_dispatch_plain``, built from one template.

    Profiling showed ~0.5 ms of CPU per message in Celery's message construction (``saferepr`` of
    the arguments, option merging) and in kombu's ``Producer.publish`` (entity copies, a
    ``maybe_declare`` per message). Every message of a batch differs only in its id, its arguments
    and its time limits, so the headers are copied from one message Celery built, the body is
    serialised once per message, and each goes through the producer's own ``_publish`` (which
    kombu's batch pipelines). tests/retries/test_claiming.py checks the bytes in Redis against
    the plain path. ``before/after_task_publish`` signals are not sent for these messages.
    """
    target = amqp.queues[queue]
    producer.maybe_declare(target)
    first = claimed[0]
    template = amqp.create_task_message(
        str(uuid.uuid4()),
        name,
        (first.pk, first.token),
        {},
        soft_time_limit=first.timeout_seconds + soft,
        time_limit=first.timeout_seconds + hard,
    )
    headers0, properties0, (_args, _kwargs, embed) = template.headers, template.properties, template.body
    exchange, delivery_mode = producer._delivery_details("", target.exchange.delivery_mode)
    dumps = json.dumps
    for item in claimed:
        task_id = str(uuid.uuid4())
        args = (item.pk, item.token)
        headers = {
            **headers0,
            "id": task_id,
            "root_id": task_id,
            "argsrepr": repr(args),
            "timelimit": (item.timeout_seconds + hard, item.timeout_seconds + soft),
        }
        properties = {**properties0, "correlation_id": task_id, "delivery_mode": delivery_mode}
        body = dumps([list(args), {}, embed])
        producer._publish(
            body, 0, "application/json", "utf-8", headers, properties, queue, False, False, exchange, [],
        )
    return len(claimed)


def session_attempts_claim_due(
    *, now: datetime | None = None, batch_size: int | None = None, budget_seconds: float | None = None
) -> int:
    """Claim due attempts in batches and dispatch each batch after its commit, for at most one tick.

    Safe to run concurrently (see the module docstring). Returns how many were claimed.
    """
    budget = settings.MEHR["RETRY_CLAIM_TICK_BUDGET_SECONDS"] if budget_seconds is None else budget_seconds
    batch_size = batch_size or int(settings.MEHR["RETRY_CLAIM_BATCH_SIZE"])
    started = time.monotonic()
    total = 0
    while True:
        claimed = claim_batch(now=now, limit=batch_size)
        try:
            dispatch(claimed)
        except Exception:
            # Broker down: the rows stay CLAIMED and the reaper returns them when the lease expires.
            logger.exception("retry engine: could not enqueue %d claimed session attempts", len(claimed))
            return total + len(claimed)
        total += len(claimed)
        if len(claimed) < batch_size or time.monotonic() - started >= budget:
            return total


def due_backlog_lag_seconds(now: datetime | None = None) -> float:
    """Age of the oldest due, unclaimed (scheduled, not paused) attempt; 0 when none is waiting."""
    now = now or timezone.now()
    qs = due_queryset(now)
    if qs is None:
        return 0.0
    oldest = qs.order_by("due_at").values_list("due_at", flat=True).first()
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
