"""Bounded load test (issue 7) against the running product on loopback: several signed-in users
browse the UI (and the API when it is there) for a fixed time; error rate must be 0.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mehr_scale REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python -m bench.load --users 8 --seconds 60 --port 8810

It starts ``manage.py runserver --noreload`` (what ``make run`` serves; threaded) on 127.0.0.1, signs
in ``--users`` generated accounts (half DCC operators, half User agents; the dataset must exist:
``--installations/--cases`` make sure of it with bench.common.ensure_dataset), and each user loops
over: the case queue (default, filtered by state, searched, page 3), the dashboard, a case detail and
an installation detail (User agents get their own organisation's cases). The baseline in the same
run is a bare Django view (bench/site.py) requested the same way through the same middleware. Reports requests/s,
p50/p95/p99 per page and the error rate; exits 1 on any error.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.common import ROOT, append_section, ensure_dataset, markdown_table, setup_django, summary


def start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "DEBUG": "0", "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "bench.site"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/__bench/bare", timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("runserver did not start")


def sign_in(base: str, username: str, password: str) -> requests.Session:
    s = requests.Session()
    page = s.get(f"{base}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    r = s.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token.group(1) if token else ""},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=30,
        allow_redirects=False,
    )
    if r.status_code not in (302, 303):
        raise RuntimeError(f"sign-in of {username} failed: {r.status_code}")
    return s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--port", type=int, default=8810)
    parser.add_argument("--installations", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--session-attempts", type=int, default=2_000_000)
    parser.add_argument("--quick", action="store_true", help="4 users, 20 s, on whatever dataset is there")
    args = parser.parse_args()
    setup_django()
    from cases.dataset import DATASET_PASSWORD, current_counts, usernames
    from cases.domain import OPEN_STATES, Role
    from cases.models import Case, Organisation

    if args.quick:
        args.users, args.seconds = 4, 20
        have = current_counts()
        if not have["cases"]:
            ensure_dataset(installations=20_000, cases=20_000, session_attempts=0)
    else:
        ensure_dataset(installations=args.installations, cases=args.cases, session_attempts=args.session_attempts)
    counts = current_counts()
    names = usernames(max(1, counts["users"]))
    people = []
    for k in range(args.users):
        if k % 2 == 0:
            people.append((names[Role.DCC_OPERATOR][k // 2 % len(names[Role.DCC_OPERATOR])], None))
        else:
            code = f"gen-u{(k // 2) % max(1, counts['users']) + 1:03d}"
            people.append((names[Role.USER_AGENT][(k // 2) % len(names[Role.USER_AGENT])], code))
    # Cases each user may open (random open ones; Users only their own organisation's).
    sample_all = list(Case.objects.filter(state__in=OPEN_STATES).order_by("?").values_list("pk", "installation_id")[:200])
    by_org: dict[str, list[tuple[int, int]]] = {}
    for _, code in people:
        if code and code not in by_org:
            org = Organisation.objects.get(code=code)
            by_org[code] = list(
                Case.objects.filter(supplier=org, state__in=OPEN_STATES).order_by("-updated_at")
                .values_list("pk", "installation_id")[:200]
            )  # fmt: skip
    from django.db import connection

    connection.close()
    base = f"http://127.0.0.1:{args.port}"
    server = start_server(args.port)
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    statuses: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    stop_at = 0.0
    barrier = threading.Barrier(1)

    def browse(username: str, org: str | None, seed: int, baseline: bool) -> None:
        rng = random.Random(seed)
        session = sign_in(base, username, DATASET_PASSWORD)
        cases = by_org[org] if org else sample_all
        barrier.wait()  # everyone signed in: the measured window starts now
        while time.monotonic() < stop_at:
            if baseline:
                name, url = "baseline: bare Django view", "/__bench/bare"
            else:
                pk, iid = rng.choice(cases) if cases else (1, 1)
                name, url = rng.choice([
                    ("queue", "/"),
                    ("queue filtered", "/?state=AWAITING_USER&sort=updated"),
                    ("queue search", f"/?q=MEHR-{pk:06d}"),
                    ("queue page 3", "/?page=3"),
                    ("dashboard", "/dashboard/"),
                    ("case detail", f"/cases/MEHR-{pk:06d}/"),
                    ("installation detail", f"/installations/{iid}/"),
                ])  # fmt: skip
            t0 = time.perf_counter()
            try:
                r = session.get(base + url, timeout=60, allow_redirects=False)
                ok = r.status_code == 200
                status = str(r.status_code)
            except requests.RequestException as exc:
                ok, status = False, type(exc).__name__
            elapsed = time.perf_counter() - t0
            with lock:
                latencies[name].append(elapsed)
                if not ok:
                    errors[name] += 1
                    statuses[f"{name}: {status}"] += 1

    results: dict[str, dict] = {}
    try:
        for phase, baseline in (("baseline", True), ("pages", False)):
            seconds = min(15.0, args.seconds / 3) if baseline else args.seconds

            def window_starts(seconds: float = seconds) -> None:
                nonlocal stop_at
                stop_at = time.monotonic() + seconds

            barrier = threading.Barrier(len(people), action=window_starts)
            threads = [
                threading.Thread(target=browse, args=(u, org, k, baseline)) for k, (u, org) in enumerate(people)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            results[phase] = {"seconds": seconds}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    rows = []
    total = sum(len(v) for k, v in latencies.items() if not k.startswith("baseline"))
    total_errors = sum(errors.values())
    for name in sorted(latencies, key=lambda n: (not n.startswith("baseline"), n)):
        s = summary(latencies[name])
        rows.append({"page": name, "requests": s["n"], "errors": errors.get(name, 0), "p50 ms": s["p50_ms"],
                     "p95 ms": s["p95_ms"], "p99 ms": s["p99_ms"], "max ms": s["max_ms"]})  # fmt: skip
    rate = total / results["pages"]["seconds"]
    base_n = len(latencies.get("baseline: bare Django view", []))
    base_rate = base_n / results["baseline"]["seconds"]
    body = (
        f"{args.users} concurrent signed-in users (half DCC operators, half User agents) for {args.seconds:g} s "
        f"against `manage.py runserver` (threaded) on loopback; dataset {counts['cases']:,} cases, "
        f"{counts['installations']:,} installations, {counts['session_attempts']:,} session attempts.\n\n"
        f"**{total:,} page requests, {total_errors} errors (error rate {total_errors / max(total, 1):.2%}), "
        f"{rate:.1f} requests/s**; baseline (a bare Django view through the same middleware, same users, "
        f"same server): {base_rate:.1f} requests/s.\n\n"
        + (f"Errors by status: {dict(statuses)}.\n\n" if statuses else "")
        + markdown_table(rows)
    )
    append_section(f"Load test: {args.users} users on the UI for {args.seconds:g} s", body)
    return 1 if total_errors else 0


if __name__ == "__main__":
    sys.exit(main())
