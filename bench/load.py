"""Bounded load test (issue 7) against the running product on loopback: several signed-in users
browse the UI and call the API for a fixed time; error rate must be 0.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mehr_scale REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python -m bench.load --users 8 --seconds 60 --port 8810

It starts ``manage.py runserver --noreload`` (what ``make run`` serves; threaded) or, with
``--server gunicorn --workers N --threads T``, gunicorn as production runs it, on 127.0.0.1, signs
in ``--users`` generated accounts (half DCC operators, half User agents; the dataset must exist:
``--installations/--cases`` make sure of it with bench.common.ensure_dataset), and each user loops
over the case queue (default, filtered by state, searched, page 3), the dashboard, a case detail and
an installation detail and, with an API key of their own (``Authorization: Token``), the API's case
list (plain and filtered), case detail, case events and installation (User agents get their own
organisation's cases). The dashboard's rollup is rebuilt first, as beat keeps it. The baseline in the same
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
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.common import ROOT, append_section, ensure_dataset, markdown_table, setup_django, summary


def server_command(server: str, port: int, workers: int, threads: int) -> list[str]:
    if server == "gunicorn":
        # What production runs (README): several processes, each with a few threads. Keep-alive longer
        # than any client's idle gap: with gunicorn's 2 s default the server can close a connection
        # just as a client reuses it (seen once here as a ConnectionError in CI).
        return [str(Path(sys.executable).with_name("gunicorn")), "mehr_site.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
                "--worker-class", "gthread", "--timeout", "120", "--keep-alive", "75"]  # fmt: skip
    return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]


def start_server(
    port: int, server: str = "runserver", workers: int = 2, threads: int = 4, env: dict[str, str] | None = None
) -> subprocess.Popen:
    env = {**(env or os.environ), "DEBUG": "0", "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "bench.site"}
    proc = subprocess.Popen(
        server_command(server, port, workers, threads),
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


UI_PAGES = ("queue", "queue filtered", "queue search", "queue page 3", "dashboard", "case detail",
            "installation detail")
API_PAGES = ("API cases list", "API cases filtered", "API case detail", "API case events", "API installation")


def page_url(name: str, pk: int, installation_id: int) -> str:
    ref = f"MEHR-{pk:06d}"
    return {
        "queue": "/",
        "queue filtered": "/?state=AWAITING_USER&sort=updated",
        "queue search": f"/?q={ref}",
        "queue page 3": "/?page=3",
        "dashboard": "/dashboard/",
        "case detail": f"/cases/{ref}/",
        "installation detail": f"/installations/{installation_id}/",
        "API cases list": "/api/v1/cases/",
        "API cases filtered": "/api/v1/cases/?state=AWAITING_USER",
        "API case detail": f"/api/v1/cases/{ref}/",
        "API case events": f"/api/v1/cases/{ref}/events/",
        "API installation": f"/api/v1/installations/{installation_id}/",
    }[name]


@dataclass
class LoadUser:
    """One simulated person: browses the UI signed in with a password and, with an API key, calls the
    API as their organisation's system would."""

    username: str
    password: str
    cases: list[tuple[int, int]]  # (case id, installation id) they may open
    api_key: str = ""


@dataclass
class LoadResult:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    statuses: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: dict[str, float] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)

    @property
    def page_requests(self) -> int:
        return sum(len(v) for k, v in self.latencies.items() if not k.startswith("baseline"))

    @property
    def page_errors(self) -> int:
        return sum(v for k, v in self.errors.items() if not k.startswith("baseline"))

    def rows(self) -> list[dict]:
        rows = []
        for name in sorted(self.latencies, key=lambda n: (not n.startswith("baseline"), n)):
            s = summary(self.latencies[name])
            rows.append({"page": name, "requests": s["n"], "errors": self.errors.get(name, 0), "p50 ms": s["p50_ms"],
                         "p95 ms": s["p95_ms"], "p99 ms": s["p99_ms"], "max ms": s["max_ms"]})  # fmt: skip
        return rows


def run_load(base: str, users: list[LoadUser], *, seconds: float, baseline_seconds: float) -> LoadResult:
    """Every user signs in, then all loop together for ``seconds`` over the UI pages and (those with an
    API key) the API; first a baseline window of the same users requesting a bare Django view. Each
    request is timed; anything but 200 (or a network error) counts as an error."""
    result = LoadResult()
    lock = threading.Lock()
    stop_at = 0.0

    def browse(user: LoadUser, seed: int, baseline: bool, barrier: threading.Barrier) -> None:
        rng = random.Random(seed)
        # Each person walks the pages in turn, starting at a different one: every page is requested
        # early in the run, however slow the machine, and the mix stays even.
        turn = seed * len(UI_PAGES + API_PAGES) // max(len(users), 1)
        session = sign_in(base, user.username, user.password)
        api = requests.Session()
        api.headers["Authorization"] = f"Token {user.api_key}"
        pages = UI_PAGES + (API_PAGES if user.api_key else ())
        barrier.wait()  # everyone signed in: the measured window starts now
        while time.monotonic() < stop_at:
            if baseline:
                name, url, client = "baseline: bare Django view", "/__bench/bare", session
            else:
                pk, iid = rng.choice(user.cases) if user.cases else (1, 1)
                name, turn = pages[turn % len(pages)], turn + 1
                url, client = page_url(name, pk, iid), api if name.startswith("API") else session
            t0 = time.perf_counter()
            try:
                r = client.get(base + url, timeout=60, allow_redirects=False)
                ok, status = r.status_code == 200, str(r.status_code)
            except requests.RequestException as exc:
                ok, status = False, type(exc).__name__
                with lock:
                    result.exceptions.append(f"{name}: {exc!r}"[:300])
            elapsed = time.perf_counter() - t0
            with lock:
                result.latencies[name].append(elapsed)
                if not ok:
                    result.errors[name] += 1
                    result.statuses[f"{name}: {status}"] += 1

    for phase, baseline, window in (("baseline", True, baseline_seconds), ("pages", False, seconds)):

        def window_starts(window: float = window) -> None:
            nonlocal stop_at
            stop_at = time.monotonic() + window

        barrier = threading.Barrier(len(users), action=window_starts)
        threads = [threading.Thread(target=browse, args=(u, k, baseline, barrier)) for k, u in enumerate(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result.seconds[phase] = window
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--port", type=int, default=8810)
    parser.add_argument("--server", choices=["runserver", "gunicorn"], default="runserver",
                        help="runserver (what make run serves) or gunicorn (what production runs)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per process")
    parser.add_argument("--no-api", action="store_true", help="UI pages only")
    parser.add_argument("--installations", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--session-attempts", type=int, default=2_000_000)
    parser.add_argument("--quick", action="store_true", help="4 users, 20 s, on whatever dataset is there")
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model

    from cases.dataset import DATASET_PASSWORD, current_counts
    from cases.models import ApiToken
    from cases.services.dashboard import dashboard_rollup_rebuild

    if args.quick:
        args.users, args.seconds = 4, 20
        have = current_counts()
        if not have["cases"]:
            ensure_dataset(installations=20_000, cases=20_000, session_attempts=0)
    else:
        ensure_dataset(installations=args.installations, cases=args.cases, session_attempts=args.session_attempts)
    counts = current_counts()
    users = load_users(args.users, password=DATASET_PASSWORD, api=not args.no_api)
    dashboard_rollup_rebuild()  # as beat keeps it, every minute
    from django.db import connection

    connection.close()
    base = f"http://127.0.0.1:{args.port}"
    server = start_server(args.port, args.server, args.workers, args.threads)
    try:
        result = run_load(base, users, seconds=args.seconds, baseline_seconds=min(15.0, args.seconds / 3))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        ApiToken.objects.filter(name=BENCH_TOKEN_NAME, user__in=get_user_model().objects.filter(
            username__in=[u.username for u in users])).delete()  # fmt: skip
    total, total_errors = result.page_requests, result.page_errors
    rate = total / result.seconds["pages"]
    base_rate = len(result.latencies.get("baseline: bare Django view", [])) / result.seconds["baseline"]
    served = ("`manage.py runserver` (threaded)" if args.server == "runserver" else
              f"gunicorn (`mehr_site.wsgi`, {args.workers} processes, {args.threads} threads, gthread)")  # fmt: skip
    body = (
        f"{args.users} concurrent signed-in users (half DCC operators, half User agents) for {args.seconds:g} s "
        f"against {served} on loopback, on the UI"
        + ("" if args.no_api else " and the API (each user's own API key, `Authorization: Token`)")
        + f"; dataset {counts['cases']:,} cases, "
        f"{counts['installations']:,} installations, {counts['session_attempts']:,} session attempts.\n\n"
        f"**{total:,} page requests, {total_errors} errors (error rate {total_errors / max(total, 1):.2%}), "
        f"{rate:.1f} requests/s**; baseline (a bare Django view through the same middleware, same users, "
        f"same server): {base_rate:.1f} requests/s.\n\n"
        + (f"Errors by status: {dict(result.statuses)}.\n\n" if result.statuses else "")
        + markdown_table(result.rows())
    )
    on = "" if args.server == "runserver" else f", gunicorn, {args.workers} processes"
    append_section(f"Load test: {args.users} users on the UI and API for {args.seconds:g} s{on}", body)
    return 1 if total_errors else 0


BENCH_TOKEN_NAME = "bench.load"


def load_users(n: int, *, password: str, api: bool = True) -> list[LoadUser]:
    """``n`` generated people, alternately DCC operators and User agents of successive organisations,
    each with up to 200 open cases they may open (a User only their own) and, with ``api``, a fresh
    API key."""
    from django.contrib.auth import get_user_model

    from cases.dataset import current_counts, usernames
    from cases.domain import OPEN_STATES, Role
    from cases.models import Case, Organisation
    from cases.services.tokens import token_issue

    orgs = max(1, current_counts()["users"])
    names = usernames(orgs)
    sample_all = list(Case.objects.filter(state__in=OPEN_STATES).order_by("?").values_list("pk", "installation_id")[:200])
    by_org: dict[str, list[tuple[int, int]]] = {}
    users = []
    for k in range(n):
        if k % 2 == 0:
            username, cases = names[Role.DCC_OPERATOR][k // 2 % len(names[Role.DCC_OPERATOR])], sample_all
        else:
            code = f"gen-u{(k // 2) % orgs + 1:03d}"
            username = names[Role.USER_AGENT][(k // 2) % len(names[Role.USER_AGENT])]
            if code not in by_org:
                by_org[code] = list(
                    Case.objects.filter(supplier=Organisation.objects.get(code=code), state__in=OPEN_STATES)
                    .order_by("-updated_at").values_list("pk", "installation_id")[:200]
                )  # fmt: skip
            cases = by_org[code]
        key = ""
        if api:
            _, key = token_issue(user=get_user_model().objects.get(username=username), name=BENCH_TOKEN_NAME)
        users.append(LoadUser(username=username, password=password, cases=cases, api_key=key))
    return users


if __name__ == "__main__":
    sys.exit(main())
