"""Exception-event ingestion through the REST API (issues 4 and 7): events/s of
``POST /api/v1/exception-events/`` in batches of 1,000 on the existing dataset, next to a raw
PostgreSQL ``COPY`` of the very rows the API wrote, measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mehr_bench_clone REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python -m bench.ingest_api --batches 6 --processes 1 2

It never generates or truncates: it runs on whatever dataset the database holds (e.g. a clone of
the 1,000,000-case ``mehr_bench``), and the rows it writes stay (the audit trail is append-only).
Two mixes, each in 1 and in N client processes (in-process ``django.test.Client``: middleware,
token authentication, throttling in Redis, validation, the service, serialisation):

* **new**: failures on random installations with random applicable checks (nearly all open a case:
  case, checklist items, RAISED event, occurrence, SLA clocks and intervals);
* **repeats**: new events for (installation, check) pairs that already have an open case (occurrence,
  OCCURRENCE event, case counters);
* **replays** of the first batches (answered from the idempotency key, nothing written).

Baselines: every row the mix wrote (cases, checklist items, events, occurrences, SLA clocks and
intervals, outbox), read back and ``COPY``-ed in one transaction (1) into empty scratch tables with the
same indexes and (2) into the live tables themselves, rolled back (ids and unique values shifted): what
PostgreSQL itself takes to store that output on this machine right now, without and with the cost of
indexes over a million rows.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Timer, append_section, markdown_table, setup_django, summary

URL = "/api/v1/exception-events/"
# Tables the ingestion path writes, with the column that orders their ids.
TABLES = ("cases_case", "cases_checklistitem", "cases_caseevent", "cases_caseoccurrence", "cases_slaclock",
          "cases_slainterval", "cases_outboxmessage")  # fmt: skip


def _quiet_throttle() -> None:
    from django.conf import settings

    # Throttling stays on (its Redis round trip is part of every request) but must not refuse the bench.
    settings.MEHR["API_THROTTLE_RATES"] = {"default": "1000000/min", "ingest": "1000000/min"}


def _client() -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from cases.services import token_issue

    user = get_user_model().objects.get(username="gen-dcc-integration")
    _, key = token_issue(user=user, name="bench-ingest")
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def _ident(mpan: str | None, mprn: str | None) -> dict[str, str]:
    return {"mpan": mpan} if mpan else {"mprn": mprn or ""}


def _new_events(n: int, tag: str, rng: random.Random) -> list[dict[str, Any]]:
    """Failures on random installations with a random applicable check (nearly all open a case)."""
    from django.db.models import Max, Min

    from cases.models import Check, Installation

    checks = list(Check.objects.in_force().filter(exclusion_category__isnull=True).values_list("code", "cohorts"))
    bounds = Installation.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    ids = [rng.randint(bounds["lo"], bounds["hi"]) for _ in range(n)]
    found = {i.pk: i for i in Installation.objects.filter(pk__in=ids).only("pk", "mpan", "mprn", "cohort")}
    pool = list(found.values())
    now = datetime.now(UTC) - timedelta(minutes=10)
    events = []
    for k in range(n):
        inst = found.get(ids[k]) or rng.choice(pool)
        code = rng.choice([c for c, cohorts in checks if not cohorts or inst.cohort in cohorts])
        events.append({"source": "S1SP", "source_event_id": f"bench-{tag}-{k}", "check_code": code,
                       "occurred_at": (now - timedelta(seconds=k)).isoformat(),
                       "detail": "CH session not established", **_ident(inst.mpan, inst.mprn)})  # fmt: skip
    return events


def _repeat_events(n: int, tag: str, rng: random.Random) -> list[dict[str, Any]]:
    """New events for (installation, check) pairs with an open case, a different case each time."""
    from django.db import connection

    from cases.domain import OPEN_STATES

    with connection.cursor() as cur:
        # A random slice of open cases (TABLESAMPLE keeps this cheap at 1M cases).
        cur.execute(
            "SELECT i.mpan, i.mprn, k.code FROM cases_case AS c TABLESAMPLE SYSTEM (5) "
            "JOIN cases_installation i ON i.id = c.installation_id JOIN cases_check k ON k.id = c.check_type_id "
            "WHERE c.state = ANY(%s) AND k.exclusion_category IS NULL LIMIT %s",
            [list(OPEN_STATES), n * 2],
        )
        pairs = cur.fetchall()
    rng.shuffle(pairs)
    now = datetime.now(UTC) - timedelta(minutes=10)
    return [
        {"source": "S1SP", "source_event_id": f"bench-{tag}-{k}", "check_code": code,
         "occurred_at": (now - timedelta(seconds=k)).isoformat(), "detail": "CH session not established again",
         **_ident(mpan, mprn)}
        for k, (mpan, mprn, code) in enumerate(pairs[:n])
    ]  # fmt: skip


def _post_all(client: Any, bodies: list[str]) -> tuple[list[float], dict[str, int]]:
    times: list[float] = []
    counts = {"created": 0, "added": 0, "duplicate": 0, "invalid": 0}
    for body in bodies:
        with Timer() as t:
            response = client.post(URL, body, content_type="application/json")
        assert response.status_code == 200, response.content[:500]
        times.append(t.seconds)
        for k, v in response.json()["counts"].items():
            counts[k] += v
    return times, counts


def _child(database_url: str, bodies: list[str], start_at: float) -> tuple[list[float], dict[str, int], float]:
    """One client process: post its batches once every process is ready; (times, counts, wall seconds)."""
    os.environ["DATABASE_URL"] = database_url
    setup_django()
    _quiet_throttle()
    from django.db import connection

    client = _client()
    client.post(URL, json.dumps({"events": []}), content_type="application/json")  # warm the stack (400)
    while time.time() < start_at:
        time.sleep(0.005)
    t0 = time.perf_counter()
    times, counts = _post_all(client, bodies)
    wall = time.perf_counter() - t0
    connection.close()
    return times, counts, wall


def _high_water() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cur:
        out = {}
        for table in TABLES:
            cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            out[table] = cur.fetchone()[0]
    return out


def _copy_baseline(since: dict[str, int]) -> tuple[float, int]:
    """Seconds to COPY every row written after ``since`` into scratch tables with the same indexes."""
    from django.db import connection

    data: dict[str, bytes] = {}
    rows = 0
    with connection.cursor() as cur:
        for table in TABLES:
            cur.execute(f"SELECT count(*) FROM {table} WHERE id > %s", [since[table]])
            rows += cur.fetchone()[0]
            buf = io.BytesIO()
            with cur.copy(f"COPY (SELECT * FROM {table} WHERE id > %s) TO STDOUT", (since[table],)) as copy:
                for chunk in copy:
                    buf.write(chunk)
            data[table] = buf.getvalue()
            cur.execute(f"DROP TABLE IF EXISTS bench_{table}")
            cur.execute(f"CREATE UNLOGGED TABLE bench_{table} (LIKE {table} INCLUDING ALL)")
        start = time.perf_counter()
        cur.execute("BEGIN")
        for table in TABLES:
            with cur.copy(f"COPY bench_{table} FROM STDIN") as copy:
                copy.write(data[table])
        cur.execute("COMMIT")
        elapsed = time.perf_counter() - start
        for table in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS bench_{table}")
    return elapsed, rows


# How each table's rows are made insertable again into the live tables for the in-place baseline:
# referenced ids are moved out of range (the foreign keys are DEFERRABLE INITIALLY DEFERRED and the
# transaction is rolled back, so they are never checked) and unique values are made fresh.
_SHIFT = 2_000_000_000
_LIVE_OVERRIDES = {
    "cases_case": {"installation_id": f"installation_id + {_SHIFT}"},
    "cases_checklistitem": {"case_id": f"case_id + {_SHIFT}"},
    "cases_caseevent": {"case_id": f"case_id + {_SHIFT}"},
    "cases_caseoccurrence": {"case_id": f"case_id + {_SHIFT}", "source_event_id": "source_event_id || '~copy'"},
    "cases_slaclock": {"case_id": f"case_id + {_SHIFT}"},
    "cases_slainterval": {"clock_id": f"clock_id + {_SHIFT}"},
    "cases_outboxmessage": {"case_id": f"case_id + {_SHIFT}", "message_id": "gen_random_uuid()"},
}


def _copy_live_baseline(since: dict[str, int]) -> float:
    """Seconds to COPY the same rows into the live 1M-row tables themselves (with all their indexes
    and constraints), in one transaction that is then rolled back: the cost PostgreSQL pays for the
    output at this table size, without any application work."""
    from django.db import connection

    data: dict[str, tuple[str, bytes]] = {}
    with connection.cursor() as cur:
        for table in TABLES:
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> 'id' "
                "ORDER BY ordinal_position",
                [table],
            )
            columns = [r[0] for r in cur.fetchall()]
            select = ", ".join(_LIVE_OVERRIDES.get(table, {}).get(c, f'"{c}"') for c in columns)
            buf = io.BytesIO()
            with cur.copy(f"COPY (SELECT {select} FROM {table} WHERE id > %s ORDER BY id) TO STDOUT", (since[table],)) as copy:
                for chunk in copy:
                    buf.write(chunk)
            data[table] = (", ".join(f'"{c}"' for c in columns), buf.getvalue())
        start = time.perf_counter()
        cur.execute("BEGIN")
        for table in TABLES:
            columns, rows = data[table]
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(rows)
        elapsed = time.perf_counter() - start
        cur.execute("ROLLBACK")
    return elapsed


def run_mix(mix: str, batches: int, batch_size: int, processes: int, tag: str, rng: random.Random) -> dict[str, Any]:
    from django.db import connection

    make = _new_events if mix == "new" else _repeat_events
    events = make(batches * batch_size, f"{tag}-{mix}-{processes}", rng)
    bodies = [json.dumps({"events": events[b * batch_size : (b + 1) * batch_size]}) for b in range(batches)]
    bodies = [b for b in bodies if b != '{"events": []}']
    since = _high_water()
    if processes == 1:
        client = _client()
        client.post(URL, json.dumps({"events": []}), content_type="application/json")
        with Timer() as wall:
            times, counts = _post_all(client, bodies)
        seconds = wall.seconds
    else:
        connection.close()
        context = multiprocessing.get_context("spawn")
        shares = [bodies[k::processes] for k in range(processes)]
        with context.Pool(processes) as pool:
            start_at = time.time() + 10
            results = pool.starmap(_child, [(os.environ["DATABASE_URL"], share, start_at) for share in shares])
        times = [t for r in results for t in r[0]]
        counts = {k: sum(r[1][k] for r in results) for k in results[0][1]}
        seconds = max(r[2] for r in results)
    sent = sum(len(json.loads(b)["events"]) for b in bodies)
    copy_seconds, copy_rows = _copy_baseline(since)
    live_seconds = _copy_live_baseline(since)
    s = summary(times)
    rate = sent / seconds
    copy_rate = sent / copy_seconds
    live_rate = sent / live_seconds
    return {
        "mix": mix, "client processes": processes, "events": sent,
        "outcomes": ", ".join(f"{k} {v}" for k, v in counts.items() if v),
        "p50 ms/batch": round(s["p50_ms"]), "p95 ms/batch": round(s["p95_ms"]),
        "events/s": round(rate), "rows written": copy_rows, "COPY of those rows ms": round(copy_seconds * 1000),
        "COPY events/s": round(copy_rate), "API / COPY": f"{copy_rate / rate:.1f}x slower",
        "COPY into the live tables ms": round(live_seconds * 1000), "live COPY events/s": round(live_rate),
        "API / live COPY": f"{live_rate / rate:.1f}x slower",
        "_bodies": bodies,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=6, help="batches per mix and per process count")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--mixes", nargs="+", default=["new", "repeats"], choices=["new", "repeats"])
    parser.add_argument("--label", default="", help="a note for the section title (e.g. before/after)")
    args = parser.parse_args()
    setup_django()
    _quiet_throttle()
    from cases.dataset import current_counts

    counts = current_counts()
    if not counts["cases"]:
        print("bench: no dataset; generate one first (manage.py generate_dataset)", file=sys.stderr)
        return 1
    rng = random.Random(time.time_ns())  # fresh installations each run (a fixed seed would repeat cases)
    tag = datetime.now(UTC).strftime("%H%M%S")
    rows: list[dict[str, Any]] = []
    for mix in args.mixes:
        for processes in args.processes:
            row = run_mix(mix, args.batches, args.batch_size, processes, tag, rng)
            rows.append(row)
            print({k: v for k, v in row.items() if k != "_bodies"}, flush=True)
    # Replays of the first mix's batches (1 process): nothing written.
    client = _client()
    replay = rows[0]["_bodies"][: max(1, args.batches // 2)]
    with Timer() as wall:
        times, replay_counts = _post_all(client, replay)
    sent = sum(len(json.loads(b)["events"]) for b in replay)
    s = summary(times)
    rows.append({"mix": "replays", "client processes": 1, "events": sent,
                 "outcomes": ", ".join(f"{k} {v}" for k, v in replay_counts.items() if v),
                 "p50 ms/batch": round(s["p50_ms"]), "p95 ms/batch": round(s["p95_ms"]),
                 "events/s": round(sent / wall.seconds), "rows written": 0})  # fmt: skip
    for row in rows:
        row.pop("_bodies", None)
    title = "API ingestion at scale: POST /api/v1/exception-events/ vs raw COPY"
    append_section(
        title + (f" ({args.label})" if args.label else ""),
        f"Dataset: {counts['cases']:,} cases, {counts['installations']:,} installations (existing; not regenerated). "
        f"Batches of {args.batch_size:,} events, {args.batches} batches per row, in-process django.test.Client "
        "through the whole stack. events/s = events sent / wall time of the row (all processes together). "
        "Baselines, measured right after each row: COPY, in one transaction, of every row that row's requests "
        "wrote (cases, checklist items, events, occurrences, SLA clocks and intervals, outbox) (1) into empty "
        "scratch tables with the same indexes, and (2) into the live 1M-row tables themselves (all indexes and "
        "constraints; ids and unique values shifted, rolled back) — the second is what PostgreSQL alone pays "
        "for this output at this size.\n\n"
        + markdown_table(rows),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
