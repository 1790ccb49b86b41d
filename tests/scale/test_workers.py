"""N workers and one beat against one PostgreSQL and one Redis, laid out as docs/SCALING.md says
production runs them: one ``celery beat`` process on its own, one general worker (claims, reaper,
notifications, reports) and two session workers on the thread pool. The session attempts spread
over both session workers and each still runs exactly once."""

from __future__ import annotations

import uuid
from collections import Counter

import redis

from retries.models import MigrationAttempt, MigrationOutcome, SessionAttempt, SimulatorBehaviour
from retries.services import migration_schedule
from tests.factories import InstallationFactory
from tests.retries.workers import (
    REAL_WORKER_MARKS,
    Beat,
    Worker,
    all_settled,
    assert_each_attempt_ran_at_most_once,
    fast_policy,
    wait_for,
)

pytestmark = REAL_WORKER_MARKS
INSTALLATIONS = 24


def test_two_session_workers_and_one_beat_run_each_attempt_once(redis_url) -> None:  # type: ignore[no-untyped-def]
    redis.Redis.from_url(redis_url).flushdb()  # our own Redis database number: no stale messages
    policy = fast_policy(session_timeout_seconds=5)
    installations = [InstallationFactory() for _ in range(INSTALLATIONS)]
    for installation in installations:
        # Each session takes 0.5 s at the S1SP, so one 4-thread worker alone would take 3 s.
        SimulatorBehaviour.objects.create(installation=installation, mode=SimulatorBehaviour.Mode.CONNECT,
                                          latency_seconds=0.5)  # fmt: skip
        migration_schedule(installation=installation, policy=policy)

    # One cache for all of them, as in production (the heartbeat /healthz reads lives there).
    shared = {"MEHR_CACHE_KEY_PREFIX": f"mehr-test-{uuid.uuid4().hex[:8]}"}
    general = Worker(redis_url, shared, queues="celery,notifications,reports", concurrency=1, beat=False)
    sessions = [Worker(redis_url, shared, queues="sessions", pool="threads", concurrency=4, beat=False)
                for _ in range(2)]  # fmt: skip
    beat = None
    try:
        for worker in (general, *sessions):
            worker.wait_ready()
        beat = Beat(redis_url, shared)  # nothing is claimed before every worker listens
        beat.wait_ready()
        wait_for(
            lambda: MigrationAttempt.objects.filter(outcome=MigrationOutcome.SUCCEEDED).count() == INSTALLATIONS,
            240,
            lambda: "not all migrated:\n" + "\n".join(w.tail(30) for w in (beat, general, *sessions) if w),
        )
        wait_for(all_settled, 30, "attempts still in flight")
    finally:
        for process in (beat, general, *sessions):
            if process is not None:
                process.stop()

    assert SessionAttempt.objects.count() == INSTALLATIONS  # every first attempt connected: no retries
    assert_each_attempt_ran_at_most_once()
    ran_on = Counter(SessionAttempt.objects.values_list("worker", flat=True))
    # Both session workers ran attempts; the general worker (and beat) ran none.
    assert set(ran_on) == {w.node for w in sessions}, ran_on
    assert all(n > 0 for n in ran_on.values())
