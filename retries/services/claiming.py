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
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

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


def claim_batch(*, now: datetime | None = None, limit: int | None = None) -> list[Claimed]:
    """Claim up to ``limit`` due attempts in one transaction. Enqueue happens after commit (by the caller)."""
    now = now or timezone.now()
    limit = limit or int(settings.MEHR["RETRY_CLAIM_BATCH_SIZE"])
    lease = now + timedelta(seconds=int(settings.MEHR["RETRY_CLAIM_LEASE_SECONDS"]))
    with transaction.atomic():
        qs = due_queryset(now)
        if qs is None:
            return []
        cap = int(settings.MEHR["RETRY_MAX_CLAIMED"])
        if cap > 0:
            # Claim only what the workers can start within the lease (session_lease_idx covers this count).
            waiting = SessionAttempt.objects.filter(state=SessionState.CLAIMED).count()
            limit = min(limit, cap - waiting)
            if limit <= 0:
                return []
        rows = list(
            qs.select_for_update(skip_locked=True)
            .order_by("due_at")
            .values_list("pk", "timeout_seconds")[:limit]
        )
        if not rows:
            return []
        token = uuid.uuid4()  # one token per claim: with the row id it names this claim uniquely
        SessionAttempt.objects.filter(pk__in=[pk for pk, _ in rows], state=SessionState.SCHEDULED).update(
            state=SessionState.CLAIMED,
            claim_token=token,
            claimed_at=now,
            lease_expires_at=lease,
            claims=F("claims") + 1,
        )
    return [Claimed(pk=pk, token=str(token), timeout_seconds=timeout) for pk, timeout in rows]


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
    sent = 0
    amqp = app.amqp
    name = run_session_attempt.name
    with app.producer_or_acquire() as producer:
        # kombu >= 5.7 pipelines the publishes to Redis (one round trip per batch instead of per
        # message); other transports and older kombu publish one by one.
        batch = producer.batch(max_size=500) if hasattr(producer, "batch") else contextlib.nullcontext()
        with batch:
            for item in claimed:
                # What Task.apply_async does, minus its per-call option merging and routing: about
                # twice as fast, which is most of the claim-and-dispatch cost (docs/PERFORMANCE.md).
                message = amqp.create_task_message(
                    str(uuid.uuid4()),
                    name,
                    (item.pk, item.token),
                    {},
                    soft_time_limit=item.timeout_seconds + soft,
                    time_limit=item.timeout_seconds + hard,
                )
                amqp.send_task_message(producer, name, message, queue="sessions")
                sent += 1
    return sent


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
