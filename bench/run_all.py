"""Run every benchmark present under bench/, in order, each with its own arguments (`make bench`).

Usage: python bench/run_all.py [--only NAME ...] [--skip NAME ...] [--list] [--quick]

Each script appends its own dated section to docs/PERFORMANCE.md (bench.common.append_section).
A script that is not there yet is reported and skipped; a failing script does not stop the others,
but makes the exit status 1. ``--quick`` runs every script small (a smoke run, not for figures).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (module under bench/, full-run arguments, quick-run arguments). Each script makes sure of the dataset
# it needs (bench.common.ensure_dataset regenerates it, seed 1, when the counts differ), so the order
# only saves regenerations; the fault drill empties the tables, so it is last. The full run is long:
# growth generates 100k, 1M and 5M cases in turn (about an hour on 2 cores).
SCRIPTS: list[tuple[str, list[str], list[str]]] = [
    # retry engine: claim-and-dispatch with 1 and 2 claimers, start lag with 1 and 2 workers (issues 3, 7)
    ("scheduler", ["--claimers", "2"],
     ["--rows", "100000", "--due", "5000", "--installations", "10000", "--rate", "50", "--seconds", "5"]),
    ("ingest", [], ["--quick"]),  # exception ingestion through the service (case_raise) vs raw COPY
    ("api", [], ["--quick"]),  # case queue API at 1M cases (issue 4)
    # ingestion API on the dataset api left: new cases and repeats, 1 and 2 clients, vs COPY (issues 4, 7)
    ("ingest_api", [], ["--batches", "1", "--processes", "1"]),
    ("ui", [], ["--installations", "20000", "--cases", "20000", "--session-attempts", "40000", "--repeat", "3"]),  # UI pages at 1M cases (issue 5)
    ("admin", [], ["--quick"]),  # admin at scale (foundation)
    ("reports", [], ["--quick"]),  # dashboard and daily report at 1M cases (issue 6)
    ("load", [], ["--quick"]),  # bounded load test on loopback (1M cases)
    # bytes per row on the 1M dataset, and the national total (docs/SCALING.md "What 14 million ... need")
    ("storage", [], ["--installations", "20000", "--cases", "20000", "--session-attempts", "40000"]),
    ("growth", ["--sizes", "100000,1000000,5000000"], ["--quick"]),  # 100k, 1M, 5M: how each figure grows
    ("faults", [], ["--quick"]),  # last: it empties the case tables (fault drill, 10,000 attempts)
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--skip", nargs="*", default=[])
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failed: list[str] = []
    for name, full, quick in SCRIPTS:
        present = (ROOT / "bench" / f"{name}.py").exists()
        if args.list:
            print(f"{name:12} {'present' if present else 'missing'}  args: {' '.join(quick if args.quick else full)}")
            continue
        if (args.only and name not in args.only) or name in args.skip:
            continue
        if not present:
            print(f"bench: {name}.py is not there yet, skipped", flush=True)
            continue
        command = [sys.executable, "-m", f"bench.{name}", *(quick if args.quick else full)]
        print(f"\n=== bench: {' '.join(command[1:])}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call(command, cwd=ROOT)
        print(f"=== bench: {name} finished with {code} in {time.perf_counter() - t0:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
