"""Storage per row and what a national migration needs on disk (issue 7; docs/SCALING.md).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mehr_growth_1000000 \\
        .venv/bin/python -m bench.storage --installations 1000000 --cases 1000000 --session-attempts 2000000

Makes sure the database holds the generated dataset (bench.common.ensure_dataset, seed 1), runs
VACUUM ANALYZE, then measures, for every table that grows with the migration, the rows and the
bytes on disk (table, TOAST and every index: ``pg_total_relation_size``), and so the bytes per row.
It multiplies each figure by the national row count that docs/SCALING.md assumes (MEHR.md §7:
about 14 million installations; the ratios per installation and per case are in NATIONAL) and
adds them up. Not a speed benchmark, so there is no timing baseline. The figure it compares
with is the dataset's own ratio of rows per installation, printed next to the national one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import add_dataset_arguments, append_section, ensure_dataset, markdown_table, setup_django

INSTALLATIONS = 14_000_000
LIFETIME_CASES = 2_000_000  # about 14 % of installations ever fail a check
# table → (what it holds, national rows (assumption), where the assumption comes from)
NATIONAL: dict[str, tuple[str, int, str]] = {
    "cases_installation": ("installations", INSTALLATIONS, "MEHR.md §7"),
    "cases_device": ("devices", 60_000_000, "4.3 per installation, as generated"),
    "retries_migrationattempt": ("migration windows", 17_000_000, "1.2 per installation"),
    "retries_sessionattempt": ("session attempts", 40_000_000, "tens of millions: 2.9 per installation"),
    "cases_case": ("cases (lifetime)", LIFETIME_CASES, "14 % of installations ever fail"),
    "cases_checklistitem": ("checklist items", 8_400_000, "4.2 per case"),
    "cases_caseevent": ("case events", 10_000_000, "5 per case over its life"),
    "cases_caseoccurrence": ("occurrences", 3_000_000, "1.5 per case"),
    "cases_slaclock": ("SLA clocks", 4_000_000, "2 per case"),
}


def measure(tables: list[str]) -> list[dict]:
    from django.db import connection

    rows = []
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            n = cur.fetchone()[0]
            cur.execute("SELECT pg_total_relation_size(%s), pg_relation_size(%s), pg_indexes_size(%s)",
                        [table, table, table])  # fmt: skip
            total, heap, indexes = cur.fetchone()
            rows.append({"table": table, "rows": n, "total bytes": total, "heap bytes": heap,
                         "index bytes": indexes})  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_arguments(parser)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("bench.storage measures PostgreSQL's storage: set DATABASE_URL to a PostgreSQL database")
    ensure_dataset(installations=args.installations, cases=args.cases, session_attempts=args.session_attempts,
                   users=args.users)  # fmt: skip
    connection.ensure_connection()
    connection.connection.autocommit = True  # VACUUM cannot run inside a transaction block
    with connection.cursor() as cur:
        for table in NATIONAL:
            cur.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
    measured = measure(list(NATIONAL))
    installations = next(r["rows"] for r in measured if r["table"] == "cases_installation") or 1
    table_rows, total = [], 0.0
    for r in measured:
        what, national, why = NATIONAL[r["table"]]
        per_row = r["total bytes"] / r["rows"] if r["rows"] else 0.0
        gb = per_row * national / 1e9
        total += gb
        table_rows.append({
            "table": f"{what} (`{r['table']}`)", "rows here": r["rows"],
            "per installation here": round(r["rows"] / installations, 2), "bytes per row": round(per_row),
            "of which indexes": f"{r['index bytes'] / max(r['total bytes'], 1):.0%}",
            "national rows": national, "national assumption": why, "national GB": round(gb, 1),
        })  # fmt: skip
    table_rows.append({"table": "**total**", "national GB": round(total, 1)})
    body = (
        f"Dataset: {args.installations:,} installations, {args.cases:,} cases, {args.session_attempts:,} "
        f"session attempts, {args.users} Users (generate_dataset, seed 1), after VACUUM ANALYZE. Bytes per "
        "row = pg_total_relation_size (heap, TOAST, every index) / rows. National figure = bytes per row times "
        f"the national rows assumed for {INSTALLATIONS:,} installations.\n\n"
        + markdown_table(table_rows)
    )
    append_section("Storage per row and at national scale", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
