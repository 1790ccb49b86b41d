"""Benchmark of the retry scheduler (not a test): claim-and-dispatch throughput and start lag.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mehr_bench REDIS_URL=redis://127.0.0.1:6379/3 \\
        .venv/bin/python -m bench.scheduler --rows 1000000 --due 50000 --rate 1000 --seconds 20

1. Tops the session-attempt table up to ``--rows`` rows with COPY (its own installations, tagged
   region "bench-scheduler"; most attempts finished, ``--due`` of them due now). Other data in the
   database is left alone, and the benchmark's rows are deleted at the end (``--keep`` keeps them).
2. Throughput: claims the due attempts with the production service (batches of
   MEHR["RETRY_CLAIM_BATCH_SIZE"], SKIP LOCKED, one Celery task each published to Redis) and reports
   attempts/s. Baselines in the same run: the claim alone (no broker) and publishing the same number
   of bare Celery messages.
3. Start lag: ``--rate`` attempts per second due over ``--seconds`` seconds, with ``--workers``
   Celery worker processes (1 and 2 by default, one run each; the first has beat embedded) and the
   simulator at zero latency; reports started_at - due_at p50/p99 and the rate the workers
   sustained, next to the same workers draining bare no-op tasks.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, append_section, markdown_table, setup_django

# The claim-throughput measurement claims a large backlog with no workers running: lift the cap on
# claimed-but-not-started attempts unless the caller set one.
os.environ.setdefault("MEHR_RETRY_MAX_CLAIMED", "0")
setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

TAG = "bench-scheduler"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def copy_rows(table: str, columns: list[str], rows) -> int:  # type: ignore[no-untyped-def]
    """COPY rows (tuples) into a table, streaming in chunks."""
    n = 0
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        buffer = io.StringIO()
        for n, row in enumerate(rows, 1):
            buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
            if n % 50_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return n


def scalar(sql: str, params: list | None = None):  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def bump_sequences() -> None:
    with connection.cursor() as cursor:
        for table in ("cases_installation", "retries_migrationattempt", "retries_sessionattempt"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
            )


def cleanup() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM cases_installation WHERE region = %s", [TAG])
        ids = [r[0] for r in cursor.fetchall()]
        if not ids:
            return
        log(f"deleting the benchmark's rows ({len(ids):,} installations)")
        cursor.execute("DELETE FROM retries_simulatorcall WHERE installation_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM retries_sessionattempt WHERE installation_id = ANY(%s)", [ids])
        cursor.execute(
            "DELETE FROM retries_migrationattempt_cases WHERE migrationattempt_id IN "
            "(SELECT id FROM retries_migrationattempt WHERE installation_id = ANY(%s))",
            [ids],
        )
        cursor.execute("DELETE FROM retries_migrationattempt WHERE installation_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM cases_installation WHERE id = ANY(%s)", [ids])


def prepare(rows: int, due: int, installations: int) -> dict:
    from cases.models import Organisation
    from retries.models import RetryPolicy
    from retries.policies import retry_policies_ensure_defaults

    cleanup()
    retry_policies_ensure_defaults()
    policy = RetryPolicy.objects.get(name="Default (active)")
    supplier, _ = Organisation.objects.get_or_create(code=TAG, defaults={"kind": "USER", "name": "Bench supplier"})
    smso, _ = Organisation.objects.get_or_create(code=f"{TAG}-smso", defaults={"kind": "SMSO", "name": "Bench SMSO"})
    existing = scalar("SELECT count(*) FROM retries_sessionattempt")
    to_add = max(rows - existing, due)
    if due > installations:
        raise SystemExit("--due must not exceed --installations (one open window per installation)")
    bump_sequences()
    inst0 = scalar("SELECT coalesce(max(id), 0) FROM cases_installation") + 1
    ma0 = scalar("SELECT coalesce(max(id), 0) FROM retries_migrationattempt") + 1
    sa0 = scalar("SELECT coalesce(max(id), 0) FROM retries_sessionattempt") + 1
    now = datetime.now(UTC)
    started = time.monotonic()

    log(f"COPY {installations:,} installations")
    cohorts = ["IOC", "MOC_MDS", "MOC_SECURE", "FOC"]
    copy_rows(
        "cases_installation",
        ["id", "responsible_supplier_id", "smso_id", "cohort", "installation_type", "mpan", "mprn", "region",
         "comms_provider", "migration_status", "migration_attempt_count", "created_at", "updated_at"],
        ((inst0 + i, supplier.pk, smso.pk, cohorts[i % 4], "ACTIVE", "", f"{1000000 + i % 9000000}", TAG, "", "FAILED",
          0, now, now) for i in range(installations)),
    )
    # A finished window has 3 finished session attempts; a due window 1 scheduled one.
    finished_windows = (to_add - due) // 3
    extra = to_add - due - finished_windows * 3  # the first `extra` windows get a 4th attempt
    numbers: dict[int, int] = {}

    def window(m: int) -> tuple[int, int, datetime]:
        inst = inst0 + (m % installations if m < finished_windows else m - finished_windows)
        return inst, m, now - timedelta(days=30) + timedelta(seconds=m % 86400)

    def migration_rows():  # type: ignore[no-untyped-def]
        for m in range(finished_windows + due):
            inst, _, start = window(m)
            numbers[inst] = numbers.get(inst, 0) + 1
            finished = m < finished_windows
            if not finished:
                start = now - timedelta(minutes=1)
            yield (ma0 + m, inst, "MIGRATION", numbers[inst], start, start + timedelta(days=1), "COMMUNICATIONS",
                   "FAILED" if finished else "SCHEDULED", policy.pk, policy.revision, TAG, 6 if finished else 0, "",
                   start, start if finished else None, start + timedelta(hours=1) if finished else None)

    log(f"COPY {finished_windows + due:,} migration attempts")
    copy_rows(
        "retries_migrationattempt",
        ["id", "installation_id", "kind", "number", "window_start", "window_end", "stage_reached", "outcome",
         "policy_id", "policy_revision", "reason", "sms_sent", "detail", "created_at", "started_at", "finished_at"],
        migration_rows(),
    )

    def session_rows():  # type: ignore[no-untyped-def]
        sid = sa0
        for m in range(finished_windows):
            inst, _, start = window(m)
            for n in range(1, 4 + (m < extra)):
                due_at = start + timedelta(seconds=n * 900)
                yield (sid, ma0 + m, inst, cohorts[(inst - inst0) % 4], n, due_at, "TIMED_OUT", 1, due_at,
                       due_at, due_at + timedelta(seconds=300), 300, "TIMEOUT", "", 2, TAG, policy.pk, policy.revision)
                sid += 1
        for d in range(due):
            m = finished_windows + d
            inst = inst0 + d
            due_at = now - timedelta(seconds=60) + timedelta(microseconds=d)
            yield (sid, ma0 + m, inst, cohorts[d % 4], 1, due_at, "SCHEDULED", 0, None, None, None, 300, "", "",
                   0, "", policy.pk, policy.revision)
            sid += 1

    log(f"COPY {to_add:,} session attempts")
    copy_rows(
        "retries_sessionattempt",
        ["id", "migration_attempt_id", "installation_id", "cohort", "number", "due_at", "state", "claims",
         "claimed_at", "started_at", "finished_at", "timeout_seconds", "result_code", "result_detail", "sms_sent",
         "worker", "policy_id", "policy_revision"],
        session_rows(),
    )
    bump_sequences()
    with connection.cursor() as cursor:
        for table in ("cases_installation", "retries_migrationattempt", "retries_sessionattempt"):
            cursor.execute(f"ANALYZE {table}")
    total = scalar("SELECT count(*) FROM retries_sessionattempt")
    scheduled = scalar("SELECT count(*) FROM retries_sessionattempt WHERE state = 'SCHEDULED'")
    elapsed = time.monotonic() - started
    log(f"{total:,} session attempts in the table ({scheduled:,} scheduled); generated in {elapsed:.1f} s")
    return {"rows": total, "added": to_add, "scheduled": scheduled, "seconds": round(elapsed, 1), "inst0": inst0}


def purge(queue: str) -> int:
    from mehr_site.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(queue) or 0


def _claimer(_: int) -> int:
    from django.db import connections

    from retries.services.claiming import session_attempts_claim_due

    connections.close_all()  # forked: open this process's own connection
    total = 0
    while True:
        claimed = session_attempts_claim_due(budget_seconds=1.0)
        if not claimed:
            return total
        total += claimed


def parallel_claim(claimers: int) -> tuple[int, float, int, int]:
    """(claimed and dispatched, seconds, messages queued, rows CLAIMED) for N claimer processes."""
    import multiprocessing

    from django.db import connections

    from retries.models import SessionState

    purge("sessions")
    # Rows claimed by these claimers only: the dataset's own due rows, claimed by the first phase,
    # stay CLAIMED from before.
    since = scalar("SELECT now()")
    connections.close_all()
    context = multiprocessing.get_context("fork")
    t0 = time.perf_counter()
    with context.Pool(claimers) as pool:
        total = sum(pool.map(_claimer, range(claimers)))
    elapsed = time.perf_counter() - t0
    claimed = scalar("SELECT count(*) FROM retries_sessionattempt WHERE state = %s AND claimed_at >= %s",
                     [SessionState.CLAIMED, since])  # fmt: skip
    return total, elapsed, purge("sessions"), claimed


def throughput(due: int, inst0: int, claimers: int = 1) -> list[dict]:
    from celery import current_app

    from retries.models import MigrationAttempt, SessionAttempt, SessionState
    from retries.services.claiming import claim_batch, session_attempts_claim_due

    mine = SessionAttempt.objects.filter(installation_id__gte=inst0, installation__region=TAG)
    purge("sessions")
    # Baseline 1: the claim alone (no broker), on a sample of 10 batches put back afterwards.
    t0 = time.perf_counter()
    sample = [c.pk for _ in range(10) for c in claim_batch()]
    claim_only = len(sample) / (time.perf_counter() - t0)
    SessionAttempt.objects.filter(pk__in=sample).update(state=SessionState.SCHEDULED, claim_token=None, lease_expires_at=None)

    # Baseline 2: publishing as many bare Celery messages (same batching) to a throwaway queue.
    bare = min(due, 20_000)
    task = current_app.tasks["celery.accumulate"]
    t0 = time.perf_counter()
    with current_app.producer_or_acquire() as producer, producer.batch(max_size=500):
        for i in range(bare):
            task.apply_async(args=(i,), queue="bench-null", producer=producer)
    publish_only = bare / (time.perf_counter() - t0)
    purge("bench-null")

    log(f"claiming and dispatching {due:,} due attempts")
    total = 0
    t0 = time.perf_counter()
    while total < due:
        claimed = session_attempts_claim_due(budget_seconds=1.0)
        if not claimed:
            break
        total += claimed
    elapsed = time.perf_counter() - t0
    queued = purge("sessions")
    rate = total / elapsed
    log(f"claimed+dispatched {total:,} in {elapsed:.2f} s = {rate:,.0f}/s; claim only {claim_only:,.0f}/s; "
        f"bare publish {publish_only:,.0f}/s; {queued:,} messages purged")
    rows = []
    if claimers > 1:
        # The same backlog again, claimed by several claimers at once (SKIP LOCKED): throughput, and
        # proof that no attempt was claimed or sent twice (one message per claimed row).
        mine.filter(state=SessionState.CLAIMED).update(state=SessionState.SCHEDULED, claim_token=None,
                                                       lease_expires_at=None)
        p_total, p_elapsed, p_queued, p_claimed = parallel_claim(claimers)
        log(f"{claimers} claimers: {p_total:,} in {p_elapsed:.2f} s = {p_total / p_elapsed:,.0f}/s; "
            f"{p_claimed:,} rows claimed, {p_queued:,} messages")
        if not (p_total == p_claimed == p_queued):
            raise SystemExit("parallel claimers claimed or sent an attempt twice")
        rows.append({"measure": f"claim + dispatch, {claimers} claimers in parallel (SKIP LOCKED)",
                     "attempts": p_total, "seconds": round(p_elapsed, 2), "per second": round(p_total / p_elapsed)})
    mine.filter(state=SessionState.CLAIMED).update(state=SessionState.CANCELLED, lease_expires_at=None)
    MigrationAttempt.objects.filter(installation_id__gte=inst0, outcome="SCHEDULED").update(outcome="CANCELLED")
    return [
        {"measure": "claim + dispatch (production path)", "attempts": total, "seconds": round(elapsed, 2),
         "per second": round(rate)},
        *rows,
        {"measure": "baseline: claim only (no broker)", "attempts": len(sample), "seconds": None,
         "per second": round(claim_only)},
        {"measure": "baseline: bare Celery publish (batched)", "attempts": bare, "seconds": None,
         "per second": round(publish_only)},
    ]


def start_worker(
    concurrency: int, claim_interval: float, workdir: Path, pool: str = "prefork", beat: bool = True
) -> subprocess.Popen:
    env = {
        **os.environ,
        "MEHR_S1SP_BACKEND": "simulator",
        "MEHR_S1SP_SIMULATOR_LATENCY_SECONDS": "0",
        "MEHR_RETRY_CLAIM_INTERVAL_SECONDS": str(claim_interval),
        "MEHR_VAR_DIR": str(workdir),
        "MEHR_CACHE_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:6]}",
    }
    name = f"bench-{uuid.uuid4().hex[:6]}"
    logfile = open(workdir / f"{name}.log", "wb")  # noqa: SIM115  (the worker owns it until it exits)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mehr_site", "worker", *(["-B", "-s", str(workdir / "beat")] if beat else []),
         "-Q", "celery,sessions", "-c", str(concurrency), "-P", pool, "-l", "WARNING", "--without-mingle", "--without-gossip",
         "-n", f"{name}@%h"],
        cwd=ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True,
    )


def stop_worker(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def noop_drain_rate(n: int) -> float:
    """Baseline: how fast the (running) worker drains n bare no-op tasks from the sessions queue."""
    import redis
    from celery import current_app

    task = current_app.tasks["celery.accumulate"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    with current_app.producer_or_acquire() as producer, producer.batch(max_size=500):
        for i in range(n):
            task.apply_async(args=(i,), queue="sessions", producer=producer)
    t0 = time.perf_counter()
    deadline = t0 + 300
    while client.llen("sessions") and time.perf_counter() < deadline:
        time.sleep(0.05)
    return n / (time.perf_counter() - t0)


def lag(
    rate: int, seconds: int, concurrency: int, claim_interval: float, inst0: int, installations: int,
    pool: str = "prefork", workers: int = 1,
) -> list[dict]:
    from django.db.models import Max

    from retries.models import RetryPolicy

    policy = RetryPolicy.objects.get(name="Default (active)")
    count = rate * seconds
    if count > installations:
        raise SystemExit(f"--rate x --seconds ({count:,}) must not exceed --installations ({installations:,})")
    workdir = Path(tempfile.mkdtemp(prefix="mehr-bench-"))
    # One beat for all of them (embedded in the first), as in production: exactly one beat.
    procs = [start_worker(concurrency, claim_interval, workdir, pool, beat=(n == 0)) for n in range(workers)]
    try:
        time.sleep(8)  # worker and beat up
        drain = noop_drain_rate(min(5000, count))
        log(f"baseline: {workers} worker(s) drain bare no-op tasks at {drain:,.0f}/s")
        from retries.models import MigrationAttempt

        numbers = dict(
            MigrationAttempt.objects.filter(installation_id__gte=inst0, installation__region=TAG)
            .values_list("installation_id").annotate(n=Max("number"))
        )
        ma0 = scalar("SELECT coalesce(max(id), 0) FROM retries_migrationattempt") + 1
        sa0 = scalar("SELECT coalesce(max(id), 0) FROM retries_sessionattempt") + 1
        start = datetime.now(UTC) + timedelta(seconds=5)
        now = datetime.now(UTC)
        copy_rows(
            "retries_migrationattempt",
            ["id", "installation_id", "kind", "number", "window_start", "window_end", "stage_reached", "outcome",
             "policy_id", "policy_revision", "reason", "sms_sent", "detail", "created_at"],
            ((ma0 + i, inst0 + i, "MIGRATION", numbers.get(inst0 + i, 0) + 1, start, start + timedelta(days=1), "",
              "SCHEDULED", policy.pk, policy.revision, TAG, 0, "", now) for i in range(count)),
        )
        copy_rows(
            "retries_sessionattempt",
            ["id", "migration_attempt_id", "installation_id", "cohort", "number", "due_at", "state", "claims",
             "timeout_seconds", "result_code", "result_detail", "sms_sent", "worker", "policy_id", "policy_revision"],
            ((sa0 + i, ma0 + i, inst0 + i, "FOC", 1, start + timedelta(seconds=i / rate), "SCHEDULED", 0, 300, "", "",
              0, "", policy.pk, policy.revision) for i in range(count)),
        )
        bump_sequences()
        log(f"{count:,} attempts due at {rate}/s from {start:%H:%M:%S}; {workers} worker(s), -P {pool} -c {concurrency}")
        # Bounded: a worker that cannot keep up is reported as such ("ran" < "attempts").
        deadline = time.monotonic() + 5 + seconds + max(120, 5 * seconds)
        while time.monotonic() < deadline:
            time.sleep(2)
            done = scalar("SELECT count(*) FROM retries_sessionattempt WHERE id >= %s AND finished_at IS NOT NULL", [sa0])
            log(f"  finished {done:,}/{count:,}")
            if done >= count:
                break
    finally:
        for proc in procs:
            stop_worker(proc)
        shutil.rmtree(workdir, ignore_errors=True)
        purge("sessions")
    with connection.cursor() as cursor:
        # What did not run in time must not spill into the next run.
        cursor.execute(
            "UPDATE retries_sessionattempt SET state = 'CANCELLED', lease_expires_at = NULL "
            "WHERE id >= %s AND state IN ('SCHEDULED', 'CLAIMED', 'RUNNING')",
            [sa0],
        )
        cursor.execute(
            "UPDATE retries_migrationattempt SET outcome = 'CANCELLED' WHERE id >= %s AND outcome IN ('SCHEDULED', 'IN_PROGRESS')",
            [ma0],
        )
        cursor.execute(
            """
            SELECT count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - due_at)),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - due_at)),
                   max(EXTRACT(EPOCH FROM started_at - due_at)),
                   EXTRACT(EPOCH FROM max(finished_at) - min(started_at))
            FROM retries_sessionattempt WHERE id >= %s AND started_at IS NOT NULL
            """,
            [sa0],
        )
        started, p50, p99, worst, span = cursor.fetchone()
    row = {
        "offered /s": rate, "attempts": count, "ran": started, "workers": workers, "worker -P": pool, "worker -c": concurrency,
        "claim every s": claim_interval, "lag p50 s": round(float(p50 or 0), 2), "lag p99 s": round(float(p99 or 0), 2),
        "lag max s": round(float(worst or 0), 2),
        "sustained /s": round(started / float(span)) if span else None, "no-op drain /s": round(drain),
    }
    log(f"start lag: {row}")
    return [row]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="Session attempts in the table.")
    parser.add_argument("--due", type=int, default=50_000)
    parser.add_argument("--installations", type=int, default=100_000)
    parser.add_argument("--rate", type=int, nargs="+", default=[1000], help="Attempts/s due in the lag phase (several: one run each).")
    parser.add_argument("--seconds", type=int, default=20, help="Length of each lag run's load.")
    parser.add_argument("--concurrency", type=int, default=4, help="Pool size of each worker.")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="Worker processes in the lag phase (several: one run each; beat in the first).")
    parser.add_argument("--claimers", type=int, default=1,
                        help="Also claim the same backlog with this many claimer processes at once.")
    parser.add_argument("--pool", default=["prefork"], nargs="+",
                        help="Worker pool(s) for the lag phase, prefork or threads, optionally with its size "
                        "(threads:8); several: one run each. Without a size, --concurrency.")
    parser.add_argument("--claim-interval", type=float, default=1.0, help="Beat claim interval in the lag phase.")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark's rows.")
    args = parser.parse_args()
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        raise SystemExit("bench.scheduler needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    try:
        generated = prepare(args.rows, args.due, args.installations)
        through = throughput(args.due, generated["inst0"], args.claimers)
        lags = []
        for spec in args.pool:
            pool, _, size = spec.partition(":")
            if pool not in ("prefork", "threads"):
                raise SystemExit(f"--pool: prefork or threads, not {pool!r}")
            for rate in args.rate:
                for workers in args.workers:
                    lags += lag(rate, args.seconds, int(size or args.concurrency), args.claim_interval,
                                generated["inst0"], args.installations, pool, workers)
    finally:
        if not args.keep:
            cleanup()
    body = (
        f"{generated['rows']:,} session attempts in the table ({generated['added']:,} added by COPY in "
        f"{generated['seconds']} s, {args.due:,} of them due). Claim batch "
        f"{settings.MEHR['RETRY_CLAIM_BATCH_SIZE']}.\n\n**Claim and dispatch throughput**\n\n"
        + markdown_table(through)
        + "\n\n**Start lag** (started_at - due_at; the workers share one beat, embedded in the first; simulator at "
        "zero latency)\n\n"
        + markdown_table(lags)
    )
    append_section("Retry scheduler", body)


if __name__ == "__main__":
    main()
