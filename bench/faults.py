"""Fault drill (issue 7): many session attempts on real workers while everything around them fails.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mehr_scale REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python -m bench.faults --attempts 10000 --redis-port 8801

What it does (``fault_drill``; tests/scale/test_faults.py runs the same drill small, in CI):

1. **Empties the database's case, installation and attempt tables** (generate_dataset --truncate),
   then writes ``attempts`` PENDING installations, a case in RETRY_SCHEDULED on every fifth one, a
   drill retry policy (2 s session timeout, 3 attempts per window, no interval) and one migration
   window with its first session attempt due now per installation, each window driving its case.
2. Starts a private ``redis-server`` on ``--redis-port`` (never the shared one) and one Celery worker
   with embedded beat (tests/retries/workers.py: short leases so faults heal in seconds; the S1SP
   simulator answers CONNECT after ``--latency`` seconds and records every call).
3. While the attempts run, by progress: SIGKILLs the worker (and its beat) and starts a new one,
   several times; FLUSHDB on the private Redis; kills and restarts redis-server; terminates every
   PostgreSQL backend of *this* database (pg_terminate_backend, never other databases).
4. Waits until everything has settled, then checks: every session attempt finished exactly once
   (final state, finished_at, no lease left), the simulator never saw an idempotency key twice, every
   attempt that ran to its end called it, no migration window is still open, no case is stuck in
   RETRY_SCHEDULED/RETRYING, and the due-backlog lag is back to zero.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import append_section, markdown_table, setup_django

if TYPE_CHECKING:
    from tests.retries.workers import Worker

LATENCY = 0.05


@dataclass
class DrillResult:
    attempts: int
    session_attempts: int = 0
    seconds: float = 0.0
    faults: list[str] = field(default_factory=list)
    reclaimed: int = 0
    lease_expired: int = 0
    client_errors: int = 0
    simulator_calls: int = 0
    duplicate_calls: int = 0
    problems: list[str] = field(default_factory=list)
    lag_after: float = 0.0
    cases_resolved: int = 0
    cases_stuck: int = 0
    windows_succeeded: int = 0
    windows_failed: int = 0


def drill_setup(attempts: int, *, rate: float = 10.0, seed: int = 99) -> None:
    """Installations with one session attempt each, due at ``rate`` per second from now, and a
    RETRY_SCHEDULED case on every fifth.

    Why a rate and not everything due at once: the engine claims everything that is due and a claim
    is leased; a backlog bigger than (lease x throughput) expires its leases before the worker
    reaches the messages, and the re-claims queue behind stale messages (see docs/SCALING.md).
    """
    from django.db import connection, transaction
    from django.utils import timezone

    from cases.dataset import DatasetSpec, generate_dataset
    from cases.domain import CaseState, MigrationStatus, Party
    from cases.models import Case, Check, Installation
    from retries.models import MigrationAttempt, RetryPolicy, SessionAttempt

    generate_dataset(
        DatasetSpec(installations=attempts, cases=max(1, attempts // 5), users=2, seed=seed, devices=False),
        truncate=True,
    )
    now = timezone.now()
    cm001 = Check.objects.get(code="CM001")
    with transaction.atomic():
        Installation.objects.update(
            migration_status=MigrationStatus.SCHEDULED, migration_attempt_count=0, excluded_category=None
        )
        # Generated cases are in every state; the drill's are all waiting for their retry.
        with connection.cursor() as cur:
            cur.execute(
                "UPDATE cases_case SET state = %s, owner_party = %s, check_type_id = %s, stage = 'COMMUNICATIONS',"
                " category = 'COMMUNICATIONS', excluded_category = '', finished_at = NULL, closed_at = NULL,"
                " state_before_escalation = '', incident_reference = ''",
                [CaseState.RETRY_SCHEDULED, Party.DCC, cm001.pk],
            )
        policy, _ = RetryPolicy.objects.update_or_create(
            name="fault drill",
            defaults={
                "auto_select": False,
                "session_timeout_seconds": 2,
                "attempt_interval_seconds": 0,
                "session_attempts_per_window": 3,
                "window_length_minutes": 120,
                "sms_budget_per_installation": 1000,
            },
        )
        installations = list(Installation.objects.order_by("pk").values_list("pk", "cohort"))
        windows = MigrationAttempt.objects.bulk_create(
            [
                MigrationAttempt(installation_id=pk, number=1, window_start=now, window_end=now + timedelta(hours=2),
                                 policy=policy, policy_revision=policy.revision, reason="fault drill")
                for pk, _ in installations
            ],
            batch_size=2_000,
        )  # fmt: skip
        SessionAttempt.objects.bulk_create(
            [
                SessionAttempt(migration_attempt=w, installation_id=pk, cohort=cohort, number=1,
                               due_at=now + timedelta(seconds=i / rate),
                               timeout_seconds=policy.session_timeout_seconds, policy=policy,
                               policy_revision=policy.revision)
                for i, (w, (pk, cohort)) in enumerate(zip(windows, installations, strict=True))
            ],
            batch_size=2_000,
        )  # fmt: skip
        window_of = {w.installation_id: w.pk for w in windows}
        Through = MigrationAttempt.cases.through
        Through.objects.bulk_create(
            [Through(migrationattempt_id=window_of[iid], case_id=cid) for cid, iid in
             Case.objects.values_list("pk", "installation_id")],
            batch_size=2_000,
        )  # fmt: skip


def terminate_backends() -> int:
    """pg_terminate_backend for every other connection to *this* database (never other databases)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cur.fetchone()[0]


def settled() -> bool:
    from django.utils import timezone

    from retries.models import OPEN_MIGRATION_OUTCOMES, MigrationAttempt, SessionAttempt, SessionState

    return (
        not SessionAttempt.objects.filter(state__in=[SessionState.CLAIMED, SessionState.RUNNING]).exists()
        and not SessionAttempt.objects.filter(state=SessionState.SCHEDULED, due_at__lte=timezone.now()).exists()
        and not MigrationAttempt.objects.filter(outcome__in=OPEN_MIGRATION_OUTCOMES).exists()
    )


def drill_verify(result: DrillResult) -> DrillResult:
    from cases.domain import CaseState
    from cases.models import Case
    from retries.models import (
        FINAL_SESSION_STATES,
        MigrationAttempt,
        MigrationOutcome,
        SessionAttempt,
        SimulatorCall,
    )
    from retries.services.claiming import due_backlog_lag_seconds

    keys = Counter(SimulatorCall.objects.values_list("idempotency_key", flat=True))
    result.simulator_calls = sum(keys.values())
    duplicates = {k: n for k, n in keys.items() if n > 1}
    result.duplicate_calls = len(duplicates)
    if duplicates:
        result.problems.append(f"the simulator was called more than once for {list(duplicates)[:5]}")
    attempts = list(SessionAttempt.objects.values_list("pk", "state", "finished_at", "lease_expires_at",
                                                      "started_at", "result_code", "claims"))  # fmt: skip
    result.session_attempts = len(attempts)
    started_keys = set()
    for pk, state, finished_at, lease, started_at, code, claims in attempts:
        key = f"mehr-session-{pk}"
        if state not in FINAL_SESSION_STATES or finished_at is None or lease is not None:
            result.problems.append(f"session attempt {pk} did not finish cleanly ({state})")
        if started_at is not None:
            started_keys.add(key)
            if code == "CLIENT_ERROR":
                # The S1SP call itself raised: in this drill, the simulator's own database connection
                # was terminated under it (it logs calls in PostgreSQL), so the call may be unlogged.
                # The engine recorded an error result and moved on, as it must; not a lost attempt.
                result.client_errors += 1
            elif code != "LEASE_EXPIRED" and key not in keys:
                result.problems.append(f"session attempt {pk} finished without calling the simulator")
        result.reclaimed += claims > 1
        result.lease_expired += code == "LEASE_EXPIRED"
    if not set(keys) <= started_keys:
        result.problems.append("the simulator was called for an attempt that never started")
    result.windows_succeeded = MigrationAttempt.objects.filter(outcome=MigrationOutcome.SUCCEEDED).count()
    result.windows_failed = MigrationAttempt.objects.filter(outcome=MigrationOutcome.FAILED).count()
    if result.windows_succeeded + result.windows_failed != MigrationAttempt.objects.count():
        result.problems.append("some migration windows are neither succeeded nor failed")
    result.cases_stuck = Case.objects.filter(state__in=[CaseState.RETRY_SCHEDULED, CaseState.RETRYING]).count()
    result.cases_resolved = Case.objects.filter(state=CaseState.RESOLVED).count()
    if result.cases_stuck:
        result.problems.append(f"{result.cases_stuck} cases are stuck in a retry state")
    result.lag_after = due_backlog_lag_seconds()
    if result.lag_after:
        result.problems.append(f"the due-backlog lag is {result.lag_after:.1f} s, not 0")
    return result


def _running_attempts() -> set[int]:
    from retries.models import SessionAttempt, SessionState

    return set(SessionAttempt.objects.filter(state=SessionState.RUNNING).values_list("pk", flat=True))


def _sigkill_mid_attempt(worker: Worker, start_worker: Callable[[], Worker], tries: int = 10) -> tuple[Worker, int, int]:
    """SIGKILL the worker while it is inside an S1SP call, and start a new one.

    A kill between attempts would prove nothing, so wait until an attempt is RUNNING, kill at once,
    and count what is still RUNNING with the worker dead: those were lost mid-call and must end
    LEASE_EXPIRED (never run twice). Attempts already lost by an earlier kill (RUNNING until the
    reaper's lease runs out) do not count. If the running attempt finished in the instant before the
    kill, start a new worker and try again. Returns (new worker, attempts lost mid-call, tries used)."""
    earlier = _running_attempts()
    lost = 0
    for n in range(1, tries + 1):
        deadline = time.monotonic() + 20
        while not (_running_attempts() - earlier) and time.monotonic() < deadline:
            time.sleep(0.005)
        worker.kill()
        lost = len(_running_attempts() - earlier)  # nothing can move them now: worker and its beat are gone
        worker.stop()
        worker = start_worker()
        worker.wait_ready(timeout=120)
        if lost:
            return worker, lost, n
    return worker, lost, tries


def fault_drill(
    attempts: int,
    *,
    redis_port: int,
    kills: int = 3,
    concurrency: int = 2,
    latency: float = LATENCY,
    timeout: float = 900,
    lease: int = 10,
    redis_restart: bool = True,
    log: Callable[[str], None] = print,
) -> DrillResult:
    """Run the drill (drill_setup must have run). Faults are spread over the run by progress."""
    from retries.models import FINAL_SESSION_STATES, SessionAttempt
    from tests.retries.workers import RedisServer, Worker, wait_for

    env = {"MEHR_S1SP_SIMULATOR_LATENCY_SECONDS": str(latency), "MEHR_RETRY_CLAIM_LEASE_SECONDS": str(lease)}
    # Fault plan: (fraction of attempts finished, fault). SIGKILLs spread over the run.
    plan: list[tuple[float, str]] = [(0.1 + 0.7 * k / max(kills, 1), "sigkill") for k in range(kills)]
    plan += [(0.3, "flushdb"), (0.45, "terminate"), (0.75, "terminate")]
    if redis_restart:
        plan.append((0.6, "redis-restart"))
    plan.sort()
    result = DrillResult(attempts=attempts)
    redis_server = RedisServer(redis_port)
    redis_server.start()
    worker = Worker(redis_server.url, extra_env=env, concurrency=concurrency)
    started = time.monotonic()
    try:
        worker.wait_ready(timeout=120)
        deadline = started + timeout
        while plan and time.monotonic() < deadline:
            done = SessionAttempt.objects.filter(state__in=FINAL_SESSION_STATES).count()
            if done >= plan[0][0] * attempts:
                _, fault = plan.pop(0)
                if fault == "sigkill":
                    worker, lost, tries = _sigkill_mid_attempt(worker, lambda: Worker(
                        redis_server.url, extra_env=env, concurrency=concurrency))  # fmt: skip
                    fault = f"sigkill ({lost} running, try {tries})"
                elif fault == "flushdb":
                    redis_server.flushdb()
                elif fault == "redis-restart":
                    redis_server.kill()
                    time.sleep(1)
                    redis_server.start()
                elif fault == "terminate":
                    from django.db import connection

                    n = terminate_backends()
                    for _ in range(20):  # workers hold connections only while busy: catch some
                        if n:
                            break
                        time.sleep(0.25)
                        n = terminate_backends()
                    connection.close()  # ours survived; start the next query on a fresh one anyway
                    fault = f"terminate ({n} backends)"
                result.faults.append(f"{fault} at {done:,} finished")
                log(f"drill: {result.faults[-1]} ({time.monotonic() - started:.0f} s)")
            time.sleep(0.5)
        wait_for(settled, max(30.0, deadline - time.monotonic()), lambda: f"not settled:\n{worker.tail()}")
        result.seconds = time.monotonic() - started
    finally:
        worker.stop()
        redis_server.stop()
    return drill_verify(result)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--redis-port", type=int, default=8801)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--latency", type=float, default=LATENCY)
    parser.add_argument("--rate", type=float, default=5.0, help="session attempts falling due per second")
    parser.add_argument("--lease", type=int, default=30, help="claim lease (s); must exceed backlog / throughput")
    parser.add_argument("--quick", action="store_true", help="1,000 attempts")
    args = parser.parse_args()
    if args.quick:
        args.attempts = 1_000
    setup_django()
    t0 = time.monotonic()
    drill_setup(args.attempts, rate=args.rate)
    setup_seconds = time.monotonic() - t0
    r = fault_drill(args.attempts, redis_port=args.redis_port, kills=args.kills, concurrency=args.concurrency,
                    latency=args.latency, timeout=max(900, 3 * args.attempts / args.rate), lease=args.lease)  # fmt: skip
    rows = [
        {"figure": "migration windows (one first session attempt each)", "value": r.attempts},
        {"figure": "session attempts at the end (retries after lost leases included)", "value": r.session_attempts},
        {"figure": "run time until settled (s)", "value": round(r.seconds, 1)},
        {"figure": "finished session attempts per second, faults included", "value": round(r.session_attempts / r.seconds, 1)},
        {"figure": "faults injected", "value": "; ".join(r.faults)},
        {"figure": "attempts claimed more than once (reaped and re-claimed)", "value": r.reclaimed},
        {"figure": "attempts lost mid-run (LEASE_EXPIRED, never re-run)", "value": r.lease_expired},
        {"figure": "S1SP client errors (the simulator's own connection terminated mid-call)", "value": r.client_errors},
        {"figure": "simulator calls / duplicate idempotency keys", "value": f"{r.simulator_calls:,} / {r.duplicate_calls}"},
        {"figure": "windows succeeded / failed", "value": f"{r.windows_succeeded:,} / {r.windows_failed:,}"},
        {"figure": "cases resolved / stuck in a retry state", "value": f"{r.cases_resolved:,} / {r.cases_stuck}"},
        {"figure": "due-backlog lag afterwards (s)", "value": r.lag_after},
        {"figure": "problems", "value": "; ".join(r.problems[:5]) or "none"},
    ]  # fmt: skip
    append_section(
        f"Fault drill: {r.attempts:,} session attempts under SIGKILL, Redis flush/restart, backend termination",
        f"Setup (generator + windows) took {setup_seconds:.0f} s. One worker (concurrency {args.concurrency}, "
        f"embedded beat), simulator latency {args.latency} s, claim lease {args.lease} s, {args.rate:g} attempts "
        f"falling due per second.\n\n" + markdown_table(rows),
    )
    return 1 if r.problems else 0


if __name__ == "__main__":
    sys.exit(main())
