"""`make run`'s embedded default end to end: on a machine with nothing configured (SQLite and the
filesystem broker), the set-up commands run (migrate, catalogue, demo data, which drives the retry
engine), then web, worker and beat start; the page answers, /healthz is ok, and the worker runs the
session attempts beat claims. The rest of the suite runs on PostgreSQL, so this is what keeps the
retry engine's portable paths (claim, record, simulator) honest."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.celery_worker]
BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_env(var_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return {**env, "MEHR_VAR_DIR": str(var_dir), "PORT": str(port), "HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"}


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def due_scheduled(db: Path, before: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT count(*) FROM retries_sessionattempt WHERE state = 'SCHEDULED' AND due_at <= ?", [before]
        ).fetchone()[0]


def test_make_run_sets_up_and_runs_on_the_embedded_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = embedded_env(tmp_path, port)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    manage(env, "load_catalogue")
    out = manage(env, "seed_demo", "--installations", "60")
    assert "Demo data: created" in out
    db = tmp_path / "mehr.sqlite3"
    with sqlite3.connect(db) as conn:
        # The demo drove the retry engine on SQLite: session attempts ran to an outcome.
        finished = conn.execute("SELECT count(*) FROM retries_sessionattempt WHERE finished_at IS NOT NULL").fetchone()[0]
        assert finished > 0
        # One more attempt due now, for the running worker to take.
        conn.execute("UPDATE retries_sessionattempt SET due_at = '2000-01-01 00:00:00' WHERE id = "
                     "(SELECT min(id) FROM retries_sessionattempt WHERE state = 'SCHEDULED')")  # fmt: skip
    assert due_scheduled(db, "2000-01-02") == 1
    launcher = subprocess.Popen([sys.executable, "-m", "mehr_site.launcher"], cwd=BASE_DIR, env=env,
                                stdout=(tmp_path / "launcher.log").open("w"), stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        health: dict = {}
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                status, body = get(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                continue
            health = json.loads(body)
            if status == 200 and health["checks"]["worker"]["ok"] and due_scheduled(db, "2000-01-02") == 0:
                break
        log = (tmp_path / "launcher.log").read_text()
        assert health.get("status") == "ok", (health, log[-3000:])
        assert health["checks"]["database"]["vendor"] == "sqlite"
        assert health["checks"]["broker"]["transport"] == "filesystem"
        assert due_scheduled(db, "2000-01-02") == 0, log[-3000:]  # beat claimed it, the worker ran it
        assert "Traceback" not in log, log[-5000:]
        status, page = get(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200 and "password" in page.lower()
    finally:
        launcher.send_signal(signal.SIGTERM)
        try:
            launcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
