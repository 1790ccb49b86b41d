"""Benchmark of the retry scheduler (not a test): claim-and-dispatch throughput and start lag.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mehr_bench_retries \\
    REDIS_URL=redis://127.0.0.1:6379/3 \\
    .venv/bin/python bench/scheduler.py --rows 1000000 --due 50000 --rate 1000 --seconds 20

1. Fills the tables with ``--rows`` session attempts (COPY; most finished, ``--due`` of them due now).
2. Throughput: claims the due attempts with the production service (batches of
   MEHR["RETRY_CLAIM_BATCH_SIZE"], SKIP LOCKED) and enqueues one Celery task each on Redis; reports
   attempts/s, then purges the queue.
3. Start lag: schedules ``--rate`` attempts per second for ``--seconds`` seconds, starts one Celery
   worker (with embedded beat, simulator at zero latency) and reports started_at - due_at p50/p99.

It refuses to run against a database whose name does not contain "bench" (it deletes data).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mehr_site.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def copy_rows(table: str, columns: list[str], rows) -> None:  # type: ignore[no-untyped-def]
    """COPY rows (tuples) into a table, streaming in chunks."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        buffer = io.StringIO()
        for n, row in enumerate(rows, 1):
            buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
            if n % 50_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())


def prepare(rows: int, due: int, installations: int) -> dict:
    from cases.models import Organisation
    from retries.models import RetryPolicy

    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        raise SystemExit(f"refusing to fill database {name!r}: its name must contain 'bench'")
    log(f"migrating {name}")
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE retries_sessionattempt, retries_migrationattempt_cases, retries_migrationattempt, "
            "retries_simulatorcall, retries_simulatorbehaviour, retries_retrypause, cases_device, "
            "cases_caseoccurrence, cases_checklistitem, cases_attachment, cases_caseevent, cases_case, "
            "cases_installation RESTART IDENTITY CASCADE"
        )
    supplier, _ = Organisation.objects.get_or_create(code="bench-supplier", defaults={"kind": "USER", "name": "Bench supplier"})
    smso, _ = Organisation.objects.get_or_create(code="bench-smso", defaults={"kind": "SMSO", "name": "Bench SMSO"})
    policy, _ = RetryPolicy.objects.get_or_create(name="Default (active)")
    now = datetime.now(UTC)
    started = time.monotonic()

    log(f"COPY {installations:,} installations")
    cohorts = ["IOC", "MOC_MDS", "MOC_SECURE", "FOC"]
    copy_rows(
        "cases_installation",
        ["id", "responsible_supplier_id", "smso_id", "cohort", "installation_type", "mpan", "mprn", "region",
         "comms_provider", "migration_status", "migration_attempt_count", "created_at", "updated_at"],
        ((i, supplier.pk, smso.pk, cohorts[i % 4], "ACTIVE", "", f"{1000000 + i}", "", "", "FAILED", 0, now, now)
         for i in range(1, installations + 1)),
    )
    # Each finished migration attempt has 3 finished session attempts; each due one has 1 scheduled.
    finished_windows = (rows - due) // 3
    leftover = rows - due - finished_windows * 3
    log(f"COPY {finished_windows + due:,} migration attempts and {rows:,} session attempts")
    per_installation: dict[int, int] = {}

    def migration_rows():  # type: ignore[no-untyped-def]
        for m in range(1, finished_windows + due + 1):
            finished = m <= finished_windows
            inst = ((m - 1) % installations) + 1 if finished else m - finished_windows
            per_installation[inst] = per_installation.get(inst, 0) + 1
            start = now - timedelta(days=30) + timedelta(seconds=m % 86400) if finished else now - timedelta(minutes=1)
            yield (
                m, inst, "MIGRATION", per_installation[inst], start, start + timedelta(days=1),
                "COMMUNICATIONS", "FAILED" if finished else "SCHEDULED", None, policy.pk, policy.revision,
                None, "bench", 6 if finished else 0, "", start, start if finished else None,
                start + timedelta(hours=1) if finished else None,
            )

    if due > installations:
        raise SystemExit("--due must not exceed --installations (one open window per installation)")
    copy_rows(
        "retries_migrationattempt",
        ["id", "installation_id", "kind", "number", "window_start", "window_end", "stage_reached", "outcome",
         "failure_check_id", "policy_id", "policy_revision", "requested_by_id", "reason", "sms_sent", "detail",
         "created_at", "started_at", "finished_at"],
        migration_rows(),
    )

    def session_rows():  # type: ignore[no-untyped-def]
        sid = 0
        for m in range(1, finished_windows + 1):
            inst = ((m - 1) % installations) + 1
            for n in range(1, 4 + (1 if m <= leftover else 0)):
                sid += 1
                due_at = now - timedelta(days=30) + timedelta(seconds=m % 86400 + n * 900)
                yield (sid, m, inst, cohorts[inst % 4], n, due_at, "TIMED_OUT", None, 1, due_at, None, due_at,
                       due_at + timedelta(seconds=300), 300, "TIMEOUT", "", 2, "bench", policy.pk, policy.revision)
        for d in range(due):
            sid += 1
            m = finished_windows + d + 1
            inst = d + 1
            due_at = now - timedelta(seconds=60) + timedelta(microseconds=d)
            yield (sid, m, inst, cohorts[inst % 4], 1, due_at, "SCHEDULED", None, 0, None, None, None, None, 300,
                   "", "", 0, "", policy.pk, policy.revision)

    copy_rows(
        "retries_sessionattempt",
        ["id", "migration_attempt_id", "installation_id", "cohort", "number", "due_at", "state", "claim_token",
         "claims", "claimed_at", "lease_expires_at", "started_at", "finished_at", "timeout_seconds", "result_code",
         "result_detail", "sms_sent", "worker", "policy_id", "policy_revision"],
        session_rows(),
    )
    with connection.cursor() as cursor:
        for table in ("cases_installation", "retries_migrationattempt", "retries_sessionattempt"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("SELECT count(*), count(*) FILTER (WHERE state = 'SCHEDULED') FROM retries_sessionattempt")
        total, scheduled = cursor.fetchone()
    elapsed = time.monotonic() - started
    log(f"generated {total:,} session attempts ({scheduled:,} due) in {elapsed:.1f} s")
    return {"rows": total, "due": scheduled, "generate_seconds": round(elapsed, 1)}


def purge_sessions_queue() -> int:
    from mehr_site.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.queue_purge("sessions") or 0


def throughput() -> dict:
    from retries.models import SessionAttempt, SessionState
    from retries.services.claiming import claim_batch, session_attempts_claim_due

    purge_sessions_queue()
    due = SessionAttempt.objects.filter(state=SessionState.SCHEDULED).count()
    # Claim only (no broker), on a sample: where the time goes.
    sample_ids = []
    t0 = time.perf_counter()
    for _ in range(5):
        sample_ids += [c.pk for c in claim_batch()]
    claim_only = len(sample_ids) / (time.perf_counter() - t0)
    SessionAttempt.objects.filter(pk__in=sample_ids).update(state=SessionState.SCHEDULED, claim_token=None)

    log(f"claiming and dispatching {due:,} due attempts")
    total = 0
    t0 = time.perf_counter()
    while total < due:
        claimed = session_attempts_claim_due(budget_seconds=1.0)
        if not claimed:
            break
        total += claimed
    elapsed = time.perf_counter() - t0
    queued = purge_sessions_queue()
    rate = total / elapsed
    log(f"claimed and dispatched {total:,} in {elapsed:.2f} s = {rate:,.0f}/s (claim only {claim_only:,.0f}/s); {queued:,} messages purged")
    # Close them so that the lag phase starts from a clean due index.
    SessionAttempt.objects.filter(state=SessionState.CLAIMED).update(state=SessionState.CANCELLED, lease_expires_at=None)
    from retries.models import MigrationAttempt

    MigrationAttempt.objects.filter(outcome="SCHEDULED").update(outcome="CANCELLED")
    return {"dispatched": total, "seconds": round(elapsed, 2), "per_second": round(rate), "claim_only_per_second": round(claim_only)}


def schedule_lag_load(rate: int, seconds: int, lead: float) -> tuple[datetime, int]:
    from django.db.models import Max

    from retries.models import MigrationAttempt, RetryPolicy

    policy = RetryPolicy.objects.get(name="Default (active)")
    count = rate * seconds
    start = datetime.now(UTC) + timedelta(seconds=lead)
    next_ma = (MigrationAttempt.objects.aggregate(n=Max("id"))["n"] or 0) + 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM retries_sessionattempt")
        next_sa = (cursor.fetchone()[0] or 0) + 1
        cursor.execute("SELECT installation_id, max(number) FROM retries_migrationattempt GROUP BY installation_id")
        numbers = dict(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM cases_installation")
        installations = cursor.fetchone()[0]
    if count > installations:
        raise SystemExit(f"--rate x --seconds ({count:,}) must not exceed --installations ({installations:,})")
    now = datetime.now(UTC)
    copy_rows(
        "retries_migrationattempt",
        ["id", "installation_id", "kind", "number", "window_start", "window_end", "stage_reached", "outcome",
         "policy_id", "policy_revision", "reason", "sms_sent", "detail", "created_at"],
        ((next_ma + i, i + 1, "MIGRATION", numbers.get(i + 1, 0) + 1, start, start + timedelta(days=1), "", "SCHEDULED",
          policy.pk, policy.revision, "bench lag", 0, "", now) for i in range(count)),
    )
    copy_rows(
        "retries_sessionattempt",
        ["id", "migration_attempt_id", "installation_id", "cohort", "number", "due_at", "state", "claims",
         "timeout_seconds", "result_code", "result_detail", "sms_sent", "worker", "policy_id", "policy_revision"],
        ((next_sa + i, next_ma + i, i + 1, "FOC", 1, start + timedelta(seconds=i / rate), "SCHEDULED", 0, 300, "", "", 0,
          "", policy.pk, policy.revision) for i in range(count)),
    )
    with connection.cursor() as cursor:
        for table in ("retries_migrationattempt", "retries_sessionattempt"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    return start, next_ma


def lag(rate: int, seconds: int, concurrency: int, claim_interval: float) -> dict:
    from retries.models import SessionAttempt

    start, first_ma = schedule_lag_load(rate, seconds, lead=15)
    count = rate * seconds
    log(f"scheduled {count:,} attempts at {rate}/s from {start:%H:%M:%S}; starting one worker (-c {concurrency})")
    workdir = Path(tempfile.mkdtemp(prefix="mehr-bench-"))
    env = {
        **os.environ,
        "MEHR_S1SP_BACKEND": "simulator",
        "MEHR_S1SP_SIMULATOR_LATENCY_SECONDS": "0",
        "MEHR_RETRY_CLAIM_INTERVAL_SECONDS": str(claim_interval),
        "MEHR_VAR_DIR": str(workdir),
        "MEHR_CACHE_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:6]}",
    }
    logfile = open(workdir / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mehr_site", "worker", "-B", "-s", str(workdir / "beat"),
         "-Q", "celery,sessions", "-c", str(concurrency), "-l", "WARNING", "--without-mingle", "--without-gossip",
         "-n", f"bench-{uuid.uuid4().hex[:6]}@%h"],
        cwd=BASE_DIR, env=env, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True,
    )
    qs = SessionAttempt.objects.filter(migration_attempt_id__gte=first_ma)
    deadline = time.monotonic() + 15 + seconds + 300
    try:
        while time.monotonic() < deadline:
            time.sleep(2)
            done = qs.filter(started_at__isnull=False).count()
            log(f"  started {done:,}/{count:,}")
            if done >= count:
                break
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        logfile.close()
        shutil.rmtree(workdir, ignore_errors=True)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - due_at)),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - due_at)),
                   max(EXTRACT(EPOCH FROM started_at - due_at)),
                   EXTRACT(EPOCH FROM max(finished_at) - min(started_at))
            FROM retries_sessionattempt WHERE migration_attempt_id >= %s AND started_at IS NOT NULL
            """,
            [first_ma],
        )
        started, p50, p99, worst, span = cursor.fetchone()
    result = {
        "rate_per_second": rate, "attempts": count, "started": started, "concurrency": concurrency,
        "claim_interval_seconds": claim_interval,
        "lag_p50_seconds": round(float(p50 or 0), 3), "lag_p99_seconds": round(float(p99 or 0), 3),
        "lag_max_seconds": round(float(worst or 0), 3),
        "processed_per_second": round(started / float(span)) if span else None,
    }
    log(f"start lag: {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=50_000)
    parser.add_argument("--installations", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000, help="Attempts per second due in the lag phase.")
    parser.add_argument("--seconds", type=int, default=20, help="Length of the lag phase's load.")
    parser.add_argument("--concurrency", type=int, default=4, help="Pool size of the one worker.")
    parser.add_argument("--claim-interval", type=float, default=1.0, help="Beat claim interval in the lag phase.")
    parser.add_argument("--skip-generate", action="store_true")
    args = parser.parse_args()
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql") or not settings.REDIS_URL:
        raise SystemExit("needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    results: dict = {"cpus": os.cpu_count()}
    if not args.skip_generate:
        results["generate"] = prepare(args.rows, args.due, args.installations)
    results["throughput"] = throughput()
    results["lag"] = lag(args.rate, args.seconds, args.concurrency, args.claim_interval)
    print(results)


if __name__ == "__main__":
    main()
