"""The whole flow on real Celery workers and real Redis, and what happens when they fail.

Each test starts ``celery worker -B`` subprocesses against pytest-django's test database, so the
tests use committed data (transaction=True). The simulator runs inside the worker and writes every
call to SimulatorCall, which is how "the outside world was contacted exactly once per attempt" is
checked. Bounded in time: every wait has a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.utils import timezone

from cases.domain import CaseState, MigrationStatus, Role
from cases.models import Case, Check
from cases.services import case_transition
from retries.models import (
    MigrationAttempt,
    MigrationOutcome,
    SessionAttempt,
    SessionState,
    SimulatorBehaviour,
    SimulatorCall,
)
from retries.services import migration_schedule
from tests.factories import InstallationFactory, case_in_state

from .workers import (
    REAL_WORKER_MARKS,
    RedisServer,
    Worker,
    all_settled,
    assert_each_attempt_ran_at_most_once,
    fast_policy,
    wait_for,
)

pytestmark = REAL_WORKER_MARKS
Mode = SimulatorBehaviour.Mode
PRIVATE_REDIS_PORT = 8379


def test_retry_flow_on_a_real_worker(catalogue, people, redis_url) -> None:  # type: ignore[no-untyped-def]
    policy = fast_policy()
    ok, flaky, refused = InstallationFactory(), InstallationFactory(), InstallationFactory()
    SimulatorBehaviour.objects.create(installation=flaky, mode=Mode.FAIL_THEN_CONNECT, fail_times=1)
    SimulatorBehaviour.objects.create(installation=refused, mode=Mode.REFUSE, refuse_code="CH_UNREACHABLE")
    case = case_in_state(CaseState.TRIAGED, installation=ok, check=Check.objects.get(code="CM001"))
    case_transition(case=case, transition="schedule_retry", actor=people[Role.DCC_OPERATOR], note="Retry")
    MigrationAttempt.objects.filter(installation=ok).update(policy=policy)
    SessionAttempt.objects.filter(installation=ok).update(policy=policy, timeout_seconds=2)
    migration_schedule(installation=flaky, policy=policy)
    migration_schedule(installation=refused, policy=policy)

    worker = Worker(redis_url)
    try:
        worker.wait_ready()
        wait_for(
            lambda: not MigrationAttempt.objects.filter(
                outcome__in=[MigrationOutcome.SCHEDULED, MigrationOutcome.IN_PROGRESS], window_start__lte=timezone.now()
            ).exists(),
            90,
            lambda: f"migrations did not finish:\n{worker.tail()}",
        )
    finally:
        worker.stop()

    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED
    ok.refresh_from_db()
    flaky.refresh_from_db()
    refused.refresh_from_db()
    assert ok.migration_status == flaky.migration_status == MigrationStatus.MIGRATED
    assert list(SessionAttempt.objects.filter(installation=flaky).values_list("state", flat=True)) == [
        SessionState.TIMED_OUT, SessionState.CONNECTED,
    ]
    # Three refusals in the window: CM001 raised, the next window tomorrow (a working day).
    assert refused.migration_attempt_count == 1
    assert Case.objects.get(installation=refused).check_type.code == "CM001"
    assert MigrationAttempt.objects.get(installation=refused, number=2).outcome == MigrationOutcome.SCHEDULED
    assert SimulatorCall.objects.filter(installation_id=refused.pk).count() == 3
    assert all(sa.worker.startswith("retries-test-") for sa in SessionAttempt.objects.exclude(started_at=None))
    assert_each_attempt_ran_at_most_once()


def test_sigkill_while_attempts_run(catalogue, redis_url) -> None:  # type: ignore[no-untyped-def]
    """Kill the worker (and its beat) mid-session; a new worker finishes everything, nothing runs twice."""
    policy = fast_policy(session_timeout_seconds=3)
    installations = [InstallationFactory() for _ in range(6)]
    for installation in installations:
        # Each S1SP call takes 2 s, so the attempts seen RUNNING are still inside it when the kill lands.
        SimulatorBehaviour.objects.create(installation=installation, mode=Mode.FAIL_THEN_CONNECT, fail_times=1,
                                          latency_seconds=2.0)  # fmt: skip
        migration_schedule(installation=installation, policy=policy)

    first = Worker(redis_url)
    second = None
    try:
        first.wait_ready()
        wait_for(
            lambda: SessionAttempt.objects.filter(state=SessionState.RUNNING).count() >= 2,
            60,
            lambda: f"nothing started running:\n{first.tail()}",
        )
        first.kill()
        killed_running = set(SessionAttempt.objects.filter(state=SessionState.RUNNING).values_list("pk", flat=True))
        assert killed_running
        second = Worker(redis_url)
        second.wait_ready()
        wait_for(
            lambda: MigrationAttempt.objects.filter(outcome=MigrationOutcome.SUCCEEDED).count() == len(installations),
            240,
            lambda: f"not all migrated:\n{second.tail() if second else ''}",
        )
        wait_for(all_settled, 30, "attempts still in flight")
    finally:
        first.stop()
        if second is not None:
            second.stop()

    for pk in killed_running:
        lost = SessionAttempt.objects.get(pk=pk)
        assert lost.state == SessionState.TIMED_OUT and lost.result_code == "LEASE_EXPIRED"
    assert_each_attempt_ran_at_most_once()


def test_redis_flushed_and_restarted_with_attempts_pending(catalogue) -> None:  # type: ignore[no-untyped-def]
    """Lose every queued message twice (FLUSHDB, then a crash and restart of Redis): claims are reaped
    and re-claimed, every attempt ends exactly once."""
    redis_server = RedisServer(PRIVATE_REDIS_PORT)
    redis_server.start()
    policy = fast_policy(session_timeout_seconds=1)
    installations = [InstallationFactory() for _ in range(8)]
    for installation in installations:
        SimulatorBehaviour.objects.create(installation=installation, mode=Mode.CONNECT, latency_seconds=1.0)
        migration_schedule(installation=installation, policy=policy)

    # One worker process, one pool slot: most attempts wait in Redis while the first ones run.
    worker = Worker(redis_server.url, concurrency=1)
    try:
        worker.wait_ready()
        wait_for(
            lambda: SessionAttempt.objects.filter(state=SessionState.CLAIMED).exists(),
            60,
            lambda: f"nothing was claimed:\n{worker.tail()}",
        )
        redis_server.flushdb()
        # The flushed messages' attempts stay CLAIMED until their claim lease runs out; then the reaper
        # returns them and beat claims them again.
        wait_for(
            lambda: SessionAttempt.objects.filter(claims__gt=1).exists(),
            60,
            lambda: f"nothing was re-claimed after the flush:\n{worker.tail()}",
        )
        redis_server.kill()
        redis_server.start()
        # Generous: the worker and its beat reconnect with back-off, and CI machines can be busy.
        wait_for(
            lambda: MigrationAttempt.objects.filter(outcome=MigrationOutcome.SUCCEEDED).count() == len(installations),
            300,
            lambda: f"not all migrated after the Redis restart:\n{worker.tail()}",
        )
        wait_for(all_settled, 30, "attempts still in flight")
    finally:
        worker.stop()
        redis_server.stop()

    assert SessionAttempt.objects.filter(claims__gt=1).exists()  # some were reaped and claimed again
    assert SessionAttempt.objects.count() == len(installations)  # …and still ran exactly once each
    assert_each_attempt_ran_at_most_once()


def liveness_probe(worker: Worker, timeout: float = 3) -> subprocess.CompletedProcess:
    """The per-worker liveness probe the README gives a supervisor: ``celery inspect ping`` to one node."""
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "mehr_site", "inspect", "ping", "-d", worker.node, "-t", str(timeout)],
        cwd=Path(__file__).resolve().parents[2], env={**os.environ, "REDIS_URL": worker.broker_url},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_liveness_probe_tells_a_worker_that_stopped_consuming(redis_url) -> None:  # type: ignore[no-untyped-def]
    """A worker whose consumer stopped (frozen here with SIGSTOP, as a stalled broker connection would
    leave it) fails the probe, so its supervisor restarts it; a working one passes, again after a
    Redis restart."""
    redis_server = RedisServer(PRIVATE_REDIS_PORT)
    redis_server.start()
    worker = Worker(redis_server.url, concurrency=1, beat=False)
    try:
        worker.wait_ready()
        alive = liveness_probe(worker)
        assert alive.returncode == 0 and "pong" in alive.stdout, alive.stdout + alive.stderr
        redis_server.kill()
        redis_server.start()
        wait_for(lambda: liveness_probe(worker).returncode == 0, 60, lambda: f"no pong after restart:\n{worker.tail()}")
        os.killpg(worker.process.pid, signal.SIGSTOP)
        try:
            stuck = liveness_probe(worker)
        finally:
            os.killpg(worker.process.pid, signal.SIGCONT)
        assert stuck.returncode != 0, stuck.stdout
    finally:
        worker.stop()
        redis_server.stop()
