"""Exception ingestion (issue 7): failure events/s through the raising service, next to a raw COPY
of the same rows in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mehr_scale REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python -m bench.ingest --events 6000 --processes 2

Events go to generated installations (the dataset must exist; a small one is generated when the
database is empty): each (installation, check) pair is reported by three distinct events, so a third
of the events open cases and the rest become occurrences, as repeats do in production. Measured:

* the service ``case_raise`` (validation, per-installation lock, case + checklist + RAISED event, or
  occurrence + OCCURRENCE event) in one process, and in ``--processes`` processes at once;
* the same events again (duplicates: answered from the idempotency key, nothing written);
* baseline: ``COPY`` of the same rows (installation, check, source, event id, time, detail) into a
  temporary table — what PostgreSQL itself ingests per second on this machine right now.

The REST API's ingestion endpoint adds HTTP, authentication and serialisation on top of the service;
when it exists its own benchmark (bench/api.py) reports it. Note: the events written stay (the audit
trail is append-only), so the dataset grows by the events sent.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Timer, append_section, markdown_table, setup_django


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=6_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="600 events")
    args = parser.parse_args()
    if args.quick:
        args.events = 600
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from cases.dataset import DatasetSpec, current_counts, generate_dataset
    from cases.domain import MigrationStatus
    from cases.models import Check, Installation
    from cases.services import case_raise
    from tests.scale.ingest_proc import raise_events

    if not current_counts()["installations"]:
        generate_dataset(DatasetSpec(installations=50_000, cases=20_000), truncate=False)
    run = uuid.uuid4().hex[:8]
    codes = ["CM001", "CM002", "PM001", "DV001"]
    checks = {c.code: c for c in Check.objects.filter(code__in=codes)}
    pairs_needed = args.events // 3
    installations = list(
        Installation.objects.filter(migration_status=MigrationStatus.MIGRATED, cohort="MOC_SECURE")
        .exclude(cases__state__in=["RAISED"])
        .order_by("-pk")
        .values_list("pk", flat=True)[: pairs_needed * 2 // len(codes) + 1]
    )
    events = [
        (iid, code, f"bench-{run}-{iid}-{code}-{n}") for iid in installations for code in codes[:2] for n in range(3)
    ][: pairs_needed * 3]
    half = len(events) // 2
    first, second = events[:half], events[half:]
    by_pk = {i.pk: i for i in Installation.objects.filter(pk__in=installations)}

    # 1. One process.
    with Timer() as one:
        for iid, code, event_id in first:
            case_raise(installation=by_pk[iid], check=checks[code], source="s1sp", source_event_id=event_id,
                       occurred_at=timezone.now())  # fmt: skip
    # 2. Several processes at once, each its own share of the second half.
    shares = [second[k :: args.processes] for k in range(args.processes)]
    from tests.retries import workers

    connection.close()
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.processes) as pool:
        start_at = time.time() + 8
        t0 = time.time()
        pool.starmap(raise_events, [(workers.test_database_url(), share, start_at, k) for k, share in enumerate(shares)])
        many_seconds = time.time() - max(t0, start_at)
    # 3. Duplicates (all of the first half again).
    with Timer() as dup:
        for iid, code, event_id in first:
            case_raise(installation=by_pk[iid], check=checks[code], source="s1sp", source_event_id=event_id,
                       occurred_at=timezone.now())  # fmt: skip
    # 4. Baseline: raw COPY of the same rows into a temporary table.
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE bench_ingest (installation_id bigint, check_code text, source text, "
            "source_event_id text, occurred_at timestamptz, detail text)"
        )
        with Timer() as copy_t, cur.copy("COPY bench_ingest FROM STDIN") as copy:
            for iid, code, event_id in events:
                copy.write_row((iid, code, "s1sp", event_id, now, ""))
        cur.execute("DROP TABLE bench_ingest")
    copy_rate = len(events) / copy_t.seconds
    rows = [
        {"path": "baseline: raw COPY of the same rows (temp table)", "events": len(events),
         "seconds": copy_t.seconds, "events/s": copy_rate, "COPY is x faster": 1.0},
        {"path": "case_raise, 1 process", "events": len(first), "seconds": one.seconds,
         "events/s": len(first) / one.seconds, "COPY is x faster": copy_rate / (len(first) / one.seconds)},
        {"path": f"case_raise, {args.processes} processes at once", "events": len(second), "seconds": many_seconds,
         "events/s": len(second) / many_seconds, "COPY is x faster": copy_rate / (len(second) / many_seconds)},
        {"path": "duplicates (idempotency key hit), 1 process", "events": len(first), "seconds": dup.seconds,
         "events/s": len(first) / dup.seconds, "COPY is x faster": copy_rate / (len(first) / dup.seconds)},
    ]  # fmt: skip
    counts = current_counts()
    append_section(
        f"Exception ingestion: {len(events):,} events through the raising service vs raw COPY",
        f"Dataset: {counts['cases']:,} cases, {counts['installations']:,} installations. A third of the events "
        "open a case (checklist copied, RAISED event), the rest are repeats (occurrence + OCCURRENCE event).\n\n"
        + markdown_table(rows),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
