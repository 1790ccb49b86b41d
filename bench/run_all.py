"""Run every benchmark present under bench/, in order, each with its own arguments (`make bench`).

Usage: python bench/run_all.py [--only NAME ...] [--skip NAME ...] [--list] [--quick]

Each script appends its own dated section to docs/PERFORMANCE.md (bench.common.append_section).
A script that is not there yet is reported and skipped; a failing script does not stop the others,
but makes the exit status 1. ``--quick`` runs the small variants (for a smoke run, not for figures).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (module under bench/, full-run arguments, quick-run arguments). The order matters: load and growth
# reuse the 1M-case dataset (growth ends at 100k), and the fault drill empties the tables, so it is last.
SCRIPTS: list[tuple[str, list[str], list[str]]] = [
    ("scheduler", [], []),  # retry engine: claim-and-dispatch, start lag (issue 3)
    ("ingest", [], []),  # exception ingestion through the API vs raw COPY (when the API is there)
    ("api", [], []),  # case queue API at 1M cases (issue 4)
    # ingestion API on the dataset api left: new cases and repeats, 1 and 2 clients, vs COPY (issues 4, 7)
    ("ingest_api", [], ["--batches", "1", "--processes", "1"]),
    ("ui", [], []),  # UI pages at 1M cases (issue 5)
    ("admin", [], ["--quick"]),  # admin at scale (foundation)
    ("reports", [], []),  # dashboard and daily report at 1M cases (issue 6)
    ("load", [], ["--quick"]),  # bounded load test on loopback (1M cases)
    ("growth", [], ["--quick"]),  # 1M then 100k cases: how each page grows
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
