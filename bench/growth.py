"""How request times grow with the data (issue 7): the same pages at 100k, 1M (5M) cases.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mehr_scale REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python -m bench.growth --sizes 1000000,100000 --repeat 7

For each size (installations = cases = size, session attempts = 2 x size, 8 User organisations,
seed 1; generated with bench.common.ensure_dataset only when the database holds something else, and
the generator's time is recorded), requests go in-process through Django's test client and the full
middleware stack (settings bench.site): the UI case queue (default, filtered, page 3), a case
detail, an installation detail and the dashboard, for a DCC operator and a User agent; the
baseline in the same run is a bare Django view through the same stack. Reports p50/p95 and queries
per request, and per page the ratio between the largest and the smallest size with the growth it
suggests (flat ≈ O(1)/O(log n) with an index, ≈ size ratio = O(n)).
"""

from __future__ import annotations

import argparse
import math
import os
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
        ]
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
    # The beat task that keeps the dashboard's rollup fresh, at this size.
    s = summary(measure(dashboard_rollup_rebuild, repeat=3, warmup=0))
    rows.append({"size": size, "user": "beat", "page": "dashboard rollup rebuild", "status": "-",
                 "p50 ms": s["p50_ms"], "p95 ms": s["p95_ms"], "queries": 0})  # fmt: skip
    return {"rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,100000", help="cases (= installations) per step")
    parser.add_argument("--quick", action="store_true", help="sizes 20000,5000")
    args = parser.parse_args()
    if args.quick:
        args.sizes = "20000,5000"
    sizes = [int(x) for x in args.sizes.split(",")]
    setup_django()
    all_rows: list[dict] = []
    generated: list[dict] = []
    for size in sizes:
        with Timer() as t:
            made = ensure_dataset(installations=size, cases=size, session_attempts=2 * size, users=8)
        if made:
            from cases.dataset import current_counts

            generated.append({"size": size, "seconds": round(t.seconds, 1), "counts": current_counts()})
        all_rows += pages(size)["rows"]
    # Growth between the smallest and the largest size.
    lo, hi = min(sizes), max(sizes)
    growth = []
    for r in all_rows:
        if r["size"] != hi:
            continue
        small = next((x for x in all_rows if x["size"] == lo and x["user"] == r["user"] and x["page"] == r["page"]), None)
        if not small:
            continue
        ratio = r["p50 ms"] / max(small["p50 ms"], 1e-6)
        exponent = math.log(ratio) / math.log(hi / lo) if ratio > 0 and hi != lo else 0.0
        verdict = "flat (index-bound, O(log n) or better)" if exponent < 0.2 else (
            "sub-linear" if exponent < 0.7 else "≈ linear, O(n)")
        growth.append({"user": r["user"], "page": r["page"], f"p50 ms at {lo:,}": small["p50 ms"],
                       f"p50 ms at {hi:,}": r["p50 ms"], "ratio": ratio, "exponent": exponent,
                       "growth": verdict, f"queries at {hi:,}": r["queries"]})  # fmt: skip
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
        + "### Growth\n\n" + markdown_table(growth) + "\n\n### All figures\n\n" + markdown_table(all_rows)
    )
    append_section(f"Growth: UI pages from {lo:,} to {hi:,} cases", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
