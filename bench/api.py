"""Benchmark of the REST API (issue 4): case lists for one User and exception-event ingestion.

Usage: python -m bench.api [--cases 1000000] [--installations 500000] [--users 20] [--batches 20]
                           [--requests 200] [--session-attempts 0] [--skip-ingest] [--quick]

* Data: ``ensure_dataset`` (``manage.py generate_dataset``): 1,000,000 cases across 20 User
  organisations by default (generated once, reused while the counts match).
* ``GET /api/v1/cases/`` as the biggest User's agent (Zipf: organisation gen-u001) and as a DCC
  operator (every case), unfiltered and with each common filter and ordering: p50/p95 latency and
  queries per request, through the whole Django stack in-process
  (token authentication, throttling against Redis, filters, pagination, serialisation); the
  baseline is the smallest authenticated API request in the same run.
* ``POST /api/v1/exception-events/`` in batches of 1,000 as the DCC integration account: events
  per second for new failures (mostly new cases, some repeats of open ones) and for replays; the
  baseline is a raw PostgreSQL COPY of the same rows (cases, checklist items, events, occurrences)
  into scratch copies of the tables with the same indexes.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Timer,
    append_section,
    count_queries,
    ensure_dataset,
    markdown_table,
    setup_django,
    summary,
)


def _client(username: str) -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from cases.services import token_issue

    user = get_user_model().objects.get(username=username)
    _, key = token_issue(user=user, name="bench")
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def _timed_get(client: Any, url: str, repeat: int) -> tuple[list[float], int, int]:
    """Seconds per request, queries of the last request, rows in the last page."""
    seconds: list[float] = []
    queries = rows = 0
    for i in range(repeat + 3):
        with count_queries() as q, Timer() as t:
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        if i >= 3:  # warm-up
            seconds.append(t.seconds)
        queries = q.count
        rows = len(response.json()["results"]) if "results" in response.json() else 0
    return seconds, queries, rows


def _list_scenarios(who: str, client: Any) -> list[tuple[str, str]]:
    from cases.api.filters import CaseFilter
    from cases.models import Installation

    installation = Installation.objects.filter(responsible_supplier__code="gen-u001").order_by("pk")[1000]
    first_page = client.get("/api/v1/cases/?state=AWAITING_USER").json()
    since = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    scenarios = [
        ("all (default order -updated_at)", "/api/v1/cases/"),
        ("state=AWAITING_USER", "/api/v1/cases/?state=AWAITING_USER"),
        ("state=AWAITING_USER, page 2 (cursor)", first_page["next"] or "/api/v1/cases/?state=AWAITING_USER"),
        ("open=true", "/api/v1/cases/?open=true"),
        ("open=true&check=CM001", "/api/v1/cases/?open=true&check=CM001"),
        ("stage=COMMUNICATIONS&cohort=FOC", "/api/v1/cases/?stage=COMMUNICATIONS&cohort=FOC"),
        ("category=DATA_VALIDATION", "/api/v1/cases/?category=DATA_VALIDATION"),
        ("cohort=MOC_SECURE&installation_type=DORMANT", "/api/v1/cases/?cohort=MOC_SECURE&installation_type=DORMANT"),
        ("owner_party=SMSO", "/api/v1/cases/?owner_party=SMSO"),
        ("assignee=none&open=true", "/api/v1/cases/?assignee=none&open=true"),
        ("assignee=<a person>", f"/api/v1/cases/?assignee={'gen-dcc-operator-01' if who == 'DCC' else 'gen-u001-agent'}"),
        ("updated_since=30 days ago", f"/api/v1/cases/?updated_since={since}"),
        ("ordering=priority", "/api/v1/cases/?ordering=priority"),
        ("ordering=priority&open=true", "/api/v1/cases/?ordering=priority&open=true"),
        ("ordering=updated_at (oldest first)", "/api/v1/cases/?ordering=updated_at"),
        ("mpxn=<one MPAN>", f"/api/v1/cases/?mpxn={installation.mpan or installation.mprn}"),
        ("page_size=200, state=AWAITING_USER", "/api/v1/cases/?state=AWAITING_USER&page_size=200"),
    ]
    if "sla_breached" in CaseFilter.base_filters:
        scenarios.append(("sla_breached=true", "/api/v1/cases/?sla_breached=true"))
        scenarios.append(("sla_breached=true&open=true", "/api/v1/cases/?sla_breached=true&open=true"))
    return scenarios


def bench_list(requests: int) -> list[dict[str, Any]]:
    from cases.domain import CaseState
    from cases.models import Case

    rows = []
    user_client = _client("gen-u001-agent")
    seconds, queries, n = _timed_get(user_client, "/api/v1/retry-policies/?page_size=1", requests)
    s = summary(seconds)
    rows.append({"caller": "User", "request": "baseline: GET /api/v1/retry-policies/?page_size=1", "rows": n,
                 "p50 ms": f"{s['p50_ms']:.1f}", "p95 ms": f"{s['p95_ms']:.1f}", "queries": queries})  # fmt: skip
    for who, username in (("User", "gen-u001-agent"), ("DCC", "gen-dcc-operator-01")):
        client = user_client if who == "User" else _client(username)
        for label, url in _list_scenarios(who, client):
            seconds, queries, n = _timed_get(client, url, requests)
            s = summary(seconds)
            rows.append({"caller": who, "request": label, "rows": n, "p50 ms": f"{s['p50_ms']:.1f}",
                         "p95 ms": f"{s['p95_ms']:.1f}", "queries": queries})  # fmt: skip
            print(rows[-1], flush=True)
    org = Case.objects.filter(supplier__code="gen-u001")
    print(f"bench: organisation gen-u001 has {org.count():,} cases "
          f"({org.filter(state=CaseState.AWAITING_USER).count():,} awaiting the User)", flush=True)  # fmt: skip
    return rows


def _events(n: int, tag: str, rng: random.Random, repeat_share: float = 0.2) -> list[dict[str, Any]]:
    """n events: mostly new (installation, check) failures, a share repeating an open case."""
    from django.db.models import Max, Min

    from cases.domain import OPEN_STATES
    from cases.models import Case, Check, Installation

    checks = list(Check.objects.in_force().filter(exclusion_category__isnull=True).values_list("code", "cohorts"))
    bounds = Installation.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    open_cases = list(
        Case.objects.filter(state__in=OPEN_STATES).order_by("?").values_list(
            "installation__mpan", "installation__mprn", "check_type__code")[: max(1, int(n * repeat_share))]
    )  # fmt: skip
    ids = [rng.randint(bounds["lo"], bounds["hi"]) for _ in range(n)]
    installations = {i.pk: i for i in Installation.objects.filter(pk__in=ids).only("pk", "mpan", "mprn", "cohort")}
    now = datetime.now(UTC) - timedelta(minutes=10)
    events = []
    for k in range(n):
        if k < len(open_cases) and rng.random() < repeat_share * 2:
            mpan, mprn, code = open_cases[k]
            ident = {"mpan": mpan} if mpan else {"mprn": mprn}
        else:
            inst = installations.get(ids[k]) or next(iter(installations.values()))
            code = rng.choice([c for c, cohorts in checks if not cohorts or inst.cohort in cohorts])
            ident = {"mpan": inst.mpan} if inst.mpan else {"mprn": inst.mprn}
        events.append({
            "source": "S1SP", "source_event_id": f"bench-{tag}-{k}", "check_code": code,
            "occurred_at": (now - timedelta(seconds=k)).isoformat(), "detail": "CH session not established", **ident,
        })  # fmt: skip
    return events


def _copy_baseline(created_case_ids: list[int]) -> float:
    """Seconds to COPY the rows one ingested batch wrote into scratch tables with the same indexes."""
    from django.db import connection

    tables = ["cases_case", "cases_checklistitem", "cases_caseevent", "cases_caseoccurrence"]
    with connection.cursor() as cur:
        raw = cur.connection
        data: dict[str, bytes] = {}
        for table in tables:
            key = "id" if table == "cases_case" else "case_id"
            buf = io.BytesIO()
            with raw.cursor().copy(
                f"COPY (SELECT * FROM {table} WHERE {key} = ANY(%s)) TO STDOUT", (created_case_ids,)
            ) as copy:
                for chunk in copy:
                    buf.write(chunk)
            data[table] = buf.getvalue()
        for table in tables:
            cur.execute(f"DROP TABLE IF EXISTS bench_{table}")
            cur.execute(f"CREATE UNLOGGED TABLE bench_{table} (LIKE {table} INCLUDING ALL)")
        start = time.perf_counter()
        with connection.cursor() as c2:
            c2.execute("BEGIN")
            for table in tables:
                with c2.connection.cursor().copy(f"COPY bench_{table} FROM STDIN") as copy:
                    copy.write(data[table])
            c2.execute("COMMIT")
        elapsed = time.perf_counter() - start
        for table in tables:
            cur.execute(f"DROP TABLE IF EXISTS bench_{table}")
    return elapsed


def bench_ingest(batches: int, batch_size: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from cases.models import Case

    client = _client("gen-dcc-integration")
    rng = random.Random(4)
    tag = datetime.now(UTC).strftime("%H%M%S")
    payloads = [json.dumps({"events": _events(batch_size, f"{tag}-{b}", rng)}) for b in range(batches)]
    # Warm-up batch (not counted).
    client.post("/api/v1/exception-events/", json.dumps({"events": _events(50, f"{tag}-warm", rng)}),
                content_type="application/json")  # fmt: skip
    times: list[float] = []
    counts: dict[str, int] = {"created": 0, "added": 0, "duplicate": 0, "invalid": 0}
    queries: list[int] = []
    last_created: list[int] = []
    for body in payloads:
        with count_queries() as q, Timer() as t:
            response = client.post("/api/v1/exception-events/", body, content_type="application/json")
        assert response.status_code == 200, response.content[:500]
        times.append(t.seconds)
        queries.append(q.count)
        result = response.json()
        for k, v in result["counts"].items():
            counts[k] += v
        last_created = [Case.pk_from_reference(r["case"]) for r in result["results"] if r["status"] == "created" and not r["duplicate"]]
    replay_times: list[float] = []
    for body in payloads[: max(1, batches // 4)]:
        with Timer() as t:
            response = client.post("/api/v1/exception-events/", body, content_type="application/json")
        assert response.json()["counts"]["duplicate"] == batch_size
        replay_times.append(t.seconds)
    copy_seconds = _copy_baseline(last_created)
    s, r = summary(times), summary(replay_times)
    rows = [
        {"what": f"new events, {batches} batches of {batch_size}", "p50 ms/batch": f"{s['p50_ms']:.0f}",
         "p95 ms/batch": f"{s['p95_ms']:.0f}", "events/s (p50)": f"{batch_size / (s['p50_ms'] / 1000):,.0f}",
         "events/s (overall)": f"{batch_size * batches / sum(times):,.0f}", "queries/batch": max(queries)},
        {"what": f"replays, {len(replay_times)} batches of {batch_size}", "p50 ms/batch": f"{r['p50_ms']:.0f}",
         "p95 ms/batch": f"{r['p95_ms']:.0f}", "events/s (p50)": f"{batch_size / (r['p50_ms'] / 1000):,.0f}",
         "events/s (overall)": f"{batch_size * len(replay_times) / sum(replay_times):,.0f}", "queries/batch": "-"},
    ]  # fmt: skip
    extra = {"counts": counts, "copy_ms": copy_seconds * 1000, "last_created": len(last_created)}
    return rows, extra


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--installations", type=int, default=500_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--session-attempts", type=int, default=0,
                        help="match an existing dataset that has session attempts (else it is regenerated)")
    parser.add_argument("--skip-ingest", action="store_true", help="time the case list only")
    parser.add_argument("--quick", action="store_true", help="20,000 cases, few requests (smoke run, not figures)")
    args = parser.parse_args()
    if args.quick:
        args.cases, args.installations, args.batches, args.requests = 20_000, 10_000, 3, 20
    setup_django()
    from django.conf import settings

    # Throttling stays on (its Redis round trip is part of every request) but must not refuse the bench.
    settings.MEHR["API_THROTTLE_RATES"] = {"default": "1000000/min", "ingest": "1000000/min"}
    ensure_dataset(installations=args.installations, cases=args.cases, users=args.users,
                   session_attempts=args.session_attempts)  # fmt: skip
    list_rows = bench_list(args.requests)
    list_body = (
        f"Dataset: {args.cases:,} cases on {args.installations:,} installations across {args.users} User "
        f"organisations (`generate_dataset`). In-process requests through the whole Django stack "
        f"(django.test.Client: middleware, token authentication, throttling in Redis, filters, keyset "
        f"pagination, serialisation), {args.requests} timed requests each after 3 warm-ups.\n\n"
        f"### GET /api/v1/cases/ as the biggest User's agent (gen-u001) and as a DCC operator\n\n"
        f"{markdown_table(list_rows)}\n\n"
        f"Goal: p95 under 50 ms with at most 4 queries (the token with its account and role, the page).\n"
    )
    if args.skip_ingest:
        append_section("API case list", list_body)
        return 0
    ingest_rows, extra = bench_ingest(args.batches, args.batch_size)
    p50 = float(ingest_rows[0]["p50 ms/batch"])
    body = (
        list_body + "\n"
        f"### POST /api/v1/exception-events/ as gen-dcc-integration\n\n{markdown_table(ingest_rows)}\n\n"
        f"Outcomes: {extra['counts']}. Goal: at least 5,000 events/s in batches of 1,000.\n\n"
        f"Raw PostgreSQL COPY of the rows the last batch wrote ({extra['last_created']} new cases with their "
        f"checklist items, events and occurrences) into scratch tables with the same indexes: "
        f"{extra['copy_ms']:.0f} ms, against {p50:.0f} ms for the API batch "
        f"({p50 / max(extra['copy_ms'], 0.001):.1f}x).\n"
    )
    append_section("API", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
