"""How request times grow with the data (issue 7): the same pages at 100k, 1M (5M) cases.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mehr_scale REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python -m bench.growth --sizes 1000000,100000 --repeat 7

With ``--database-template postgres://postgres@127.0.0.1:5432/mehr_growth_{size}`` each size lives
in its own database (generated there once, then reused), so the 5,000,000 step need not be
regenerated for every run:

    .venv/bin/python -m bench.growth --sizes 100000,1000000,5000000 \
        --database-template postgres://postgres@127.0.0.1:5432/mehr_growth_{size}

For each size (installations = cases = size, session attempts = 2 x size, 8 User organisations,
seed 1; generated with bench.common.ensure_dataset only when the database holds something else, and
the generator's time is recorded), requests go in-process through Django's test client and the full
middleware stack (settings bench.site): the UI case queue (default, filtered, page 3), a case
detail, an installation detail, the dashboard and the API case list (first page, filtered, next
cursor page), for a DCC operator and a User agent; then the beat tasks (dashboard rollup rebuild,
daily report) and the API's ingestion of a batch of new exception events, rolled back; the
baseline in the same run is a bare Django view through the same stack. Reports p50/p95 and queries
per request, and per page the ratio between the largest and the smallest size with the growth it
suggests (flat ≈ O(1)/O(log n) with an index, ≈ size ratio = O(n)), step by step between
consecutive sizes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.site"

from bench.common import (
    Timer,
    append_section,
    count_queries,
    ensure_dataset,
    markdown_table,
    measure,
    setup_django,
    summary,
)


def pages(size: int) -> dict[str, object]:
    """Measure every page at the current dataset; returns rows."""
    from django.conf import settings
    from django.db import transaction
    from django.test import Client

    from cases.dataset import DATASET_PASSWORD, usernames
    from cases.domain import OPEN_STATES, Role
    from cases.models import Case, DashboardRollupState, Membership
    from cases.services.dashboard import dashboard_rollup_rebuild

    settings.ALLOWED_HOSTS = ["*"]
    names = usernames(8)
    rows = []
    for who in (names[Role.DCC_OPERATOR][0], names[Role.USER_AGENT][0]):
        client = Client()
        assert client.login(username=who, password=DATASET_PASSWORD), who
        member = Membership.objects.select_related("organisation").get(user__username=who)
        visible = Case.objects.filter(state__in=OPEN_STATES)
        if member.role.startswith("USER"):
            visible = visible.filter(supplier=member.organisation)
        case = visible.order_by("-updated_at").values_list("pk", "installation_id").first()
        urls = [
            ("baseline: bare view", "/__bench/bare", 30),
            ("queue", "/", 7),
            ("queue filtered (state)", "/?state=AWAITING_USER", 7),
            ("queue page 3", "/?page=3", 7),
            ("case detail", f"/cases/MEHR-{case[0]:06d}/", 7),
            ("installation detail", f"/installations/{case[1]}/", 7),
            ("dashboard (rollup)", "/dashboard/", 3),
            ("dashboard (live fallback, no rollup)", "/dashboard/", 2),
            ("API cases list", "/api/v1/cases/", 7),
            ("API cases list filtered (state)", "/api/v1/cases/?state=AWAITING_USER", 7),
        ]
        first = client.get("/api/v1/cases/?state=AWAITING_USER")
        if first.status_code == 200 and first.json().get("next"):
            urls.append(("API cases list, next cursor page", first.json()["next"], 7))
        for name, url, repeat in urls:
            with transaction.atomic():
                if "rollup)" in name:
                    # As beat keeps it: freshly rebuilt (cases.services.dashboard).
                    dashboard_rollup_rebuild()
                if "no rollup" in name:
                    DashboardRollupState.objects.all().delete()  # rolled back below
                status = client.get(url).status_code
                with count_queries() as q:
                    client.get(url)
                times = measure(lambda url=url, client=client: client.get(url), repeat=repeat, warmup=1)
                transaction.set_rollback("no rollup" in name)
            s = summary(times)
            rows.append({"size": size, "user": "DCC operator" if "dcc" in who else "User agent", "page": name,
                         "status": status, "p50 ms": s["p50_ms"], "p95 ms": s["p95_ms"],
                         "queries": q.count})  # fmt: skip
    # The beat tasks that keep the dashboard's rollup fresh and write the daily report, and the API's
    # ingestion of a batch of new exception events, at this size; the writes are rolled back.
    rows += writers(size)
    return {"rows": rows}


def writers(size: int) -> list[dict]:
    from django.db import transaction

    from bench.ingest_api import URL, _client, _new_events, _quiet_throttle
    from cases.services.dashboard import dashboard_rollup_rebuild
    from cases.services.reports import reports_generate_daily

    _quiet_throttle()
    api = _client()
    rng = random.Random(size)
    bodies = iter([json.dumps({"events": _new_events(INGEST_BATCH, f"growth-{size}-{k}", rng)}) for k in range(6)])
    statuses: list[int] = []

    def ingest() -> None:
        statuses.append(api.post(URL, next(bodies), content_type="application/json").status_code)

    jobs = [
        ("beat", "dashboard rollup rebuild", dashboard_rollup_rebuild, 3, 0),
        ("beat", "daily report (every User and DCC)", reports_generate_daily, 2, 0),
        ("API client", f"ingest {INGEST_BATCH} new exception events (one POST)", ingest, 5, 1),
    ]
    rows = []
    for who, name, fn, repeat, warmup in jobs:
        with transaction.atomic():
            with count_queries() as q:
                times = measure(fn, repeat=repeat, warmup=warmup)
            transaction.set_rollback(True)
        s = summary(times)
        rows.append({"size": size, "user": who, "page": name, "status": ",".join(map(str, sorted(set(statuses)))) or "-",
                     "p50 ms": s["p50_ms"], "p95 ms": s["p95_ms"],
                     "queries": round(q.count / (repeat + warmup))})  # fmt: skip
        statuses.clear()
    return rows


INGEST_BATCH = 500


def _find(rows: list[dict], size: int, like: dict) -> dict | None:
    return next((x for x in rows if x["size"] == size and x["user"] == like["user"] and x["page"] == like["page"]), None)


def _exponent(small_ms: float, big_ms: float, size_ratio: float) -> float:
    ratio = big_ms / max(small_ms, 1e-6)
    return math.log(ratio) / math.log(size_ratio) if ratio > 0 and size_ratio != 1 else 0.0


def _verdict(exponent: float) -> str:
    if exponent < 0.2:
        return "flat (index-bound, O(log n) or better)"
    return "sub-linear" if exponent < 0.7 else "≈ linear, O(n)"


def use_database(url: str) -> None:
    """Point the default connection at another database (one per dataset size), creating it and
    migrating it when missing."""
    import dj_database_url
    from django.core.management import call_command
    from django.db import connection

    name = dj_database_url.parse(url)["NAME"]
    connection.close()
    with connection.cursor() as cur:  # still the previous database: CREATE DATABASE from there
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        missing = cur.fetchone() is None
        if missing:
            cur.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    connection.settings_dict["NAME"] = name
    call_command("migrate", verbosity=0)
    call_command("load_catalogue", verbosity=0)
    print(f"bench: database {name}{' (created)' if missing else ''}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,100000", help="cases (= installations) per step")
    parser.add_argument("--quick", action="store_true", help="sizes 20000,5000")
    parser.add_argument("--database-template", default="",
                        help="a database URL with {size}: one database per size, generated once and reused")  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.sizes = "20000,5000"
    sizes = sorted(int(x) for x in args.sizes.split(","))
    setup_django()
    all_rows: list[dict] = []
    generated: list[dict] = []
    for size in sizes:
        if args.database_template:
            use_database(args.database_template.format(size=size))
        with Timer() as t:
            made = ensure_dataset(installations=size, cases=size, session_attempts=2 * size, users=8)
        if made:
            from cases.dataset import current_counts

            generated.append({"size": size, "seconds": round(t.seconds, 1), "counts": current_counts()})
        all_rows += pages(size)["rows"]
    # Growth step by step between consecutive sizes, and over the whole range.
    lo, hi = sizes[0], sizes[-1]
    steps = list(itertools.pairwise(sizes))
    growth = []
    for r in all_rows:
        if r["size"] != hi:
            continue
        row: dict = {"user": r["user"], "page": r["page"]}
        for size in sizes:
            x = _find(all_rows, size, r)
            row[f"p50 ms at {size:,}"] = x["p50 ms"] if x else None
        for a, b in steps + ([(lo, hi)] if len(steps) > 1 else []):
            small, big = _find(all_rows, a, r), _find(all_rows, b, r)
            if small and big:
                row[f"exponent {a:,}→{b:,}"] = _exponent(small["p50 ms"], big["p50 ms"], b / a)
        row["growth"] = _verdict(row.get(f"exponent {lo:,}→{hi:,}", 0.0))
        row[f"queries at {hi:,}"] = r["queries"]
        growth.append(row)
    body = (
        "In-process (Django test client, full middleware, settings bench.site), one request at a time; "
        f"sizes {', '.join(f'{s:,}' for s in sizes)} cases (= installations, 2x session attempts).\n\n"
        + (
            "Generated in this run: "
            + "; ".join(f"{g['size']:,} cases in {g['seconds']:.0f} s ({g['counts']})" for g in generated)
            + "\n\n"
            if generated
            else ""
        )
        + "Exponent k in time ∝ size^k, from the p50 figures: k < 0.2 flat (index-bound), k ≈ 1 linear.\n\n"
        + "### Growth\n\n" + markdown_table(growth) + "\n\n### All figures\n\n" + markdown_table(all_rows)
    )
    append_section(f"Growth: UI and API pages from {lo:,} to {hi:,} cases", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
