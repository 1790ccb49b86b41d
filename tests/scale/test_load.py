"""A bounded load run (issue 7) in CI: several signed-in people use the UI and, with their own API
keys, the API at the same time against gunicorn (as production serves it) on loopback; the error
rate is 0 and every page's latency percentiles are recorded. bench/load.py is the same run at 1M
cases for longer, with its figures in docs/PERFORMANCE.md."""

from __future__ import annotations

import math
import os
import socket

import pytest
from django.conf import global_settings

from bench.load import API_PAGES, UI_PAGES, load_users, run_load, start_server
from cases.dataset import DATASET_PASSWORD, DatasetSpec, generate_dataset
from cases.models import ApiToken
from cases.services.dashboard import dashboard_rollup_rebuild
from tests.retries import workers

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_several_people_on_the_ui_and_api_get_no_errors(settings, redis_url) -> None:  # type: ignore[no-untyped-def]
    # The server checks passwords with the production hashers: hash the generated accounts' one with them.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    generate_dataset(DatasetSpec(installations=3000, cases=3000, session_attempts=3000, users=2, seed=7), truncate=True)
    dashboard_rollup_rebuild()
    users = load_users(6, password=DATASET_PASSWORD)
    assert all(u.api_key and u.cases for u in users)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": workers.test_database_url(), "REDIS_URL": redis_url}
    server = start_server(port, "gunicorn", workers=2, threads=4, env=env)
    try:
        result = run_load(f"http://127.0.0.1:{port}", users, seconds=12, baseline_seconds=3)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert result.page_errors == 0, (dict(result.statuses), result.exceptions[:5])
    pages = {row["page"]: row for row in result.rows()}
    # Every UI page and every API call was exercised (each person walks them in turn from a different
    # one), with its percentiles.
    assert set(UI_PAGES) | set(API_PAGES) | {"baseline: bare Django view"} <= set(pages)
    for row in pages.values():
        assert row["requests"] > 0 and row["errors"] == 0
        assert all(math.isfinite(row[k]) and row[k] > 0 for k in ("p50 ms", "p95 ms", "p99 ms"))
    assert ApiToken.objects.filter(user__username__in=[u.username for u in users]).count() == len(users)
