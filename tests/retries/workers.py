"""Real Celery workers (with embedded beat) as subprocesses, against the test database and a real Redis."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from retries.models import RetryPolicy, SessionAttempt, SessionState, SimulatorCall

BASE_DIR = Path(__file__).resolve().parents[2]

#: Marks of a test that runs real Celery workers against the test database and Redis: they see only
#: committed data, so the test commits (transaction=True).
REAL_WORKER_MARKS = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

#: Short leases and ticks so faults heal within seconds (production values are minutes).
FAST_ENGINE_ENV = {
    "MEHR_RETRY_CLAIM_INTERVAL_SECONDS": "0.5",
    "MEHR_RETRY_REAP_INTERVAL_SECONDS": "1",
    "MEHR_RETRY_CLAIM_LEASE_SECONDS": "4",
    "MEHR_RETRY_RUN_LEASE_GRACE_SECONDS": "2",
    "MEHR_S1SP_BACKEND": "simulator",
    "MEHR_S1SP_SIMULATOR_TIME_SCALE": "1",
}


def test_database_url() -> str:
    """The URL of pytest-django's test database (test_<name>), for processes outside pytest."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "postgres")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def celery_env(broker_url: str, var_dir: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a Celery subprocess: the test database, the given broker, fast engine ticks."""
    env = {
        **os.environ,
        **FAST_ENGINE_ENV,
        "MEHR_CACHE_KEY_PREFIX": f"mehr-test-{uuid.uuid4().hex[:8]}",
        **(extra_env or {}),
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": broker_url,
        "MEHR_VAR_DIR": str(var_dir),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    return env


class Worker:
    """``celery -A mehr_site worker -B`` in its own process group; ``kill()`` is SIGKILL to the group."""

    def __init__(
        self,
        broker_url: str,
        extra_env: dict[str, str] | None = None,
        concurrency: int = 2,
        queues: str = "celery,sessions",
        beat: bool = True,
        pool: str = "prefork",
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mehr-worker-"))
        self.broker_url = broker_url
        self.log_path = self.dir / "worker.log"
        env = celery_env(broker_url, self.dir, extra_env)
        self.name = f"retries-test-{uuid.uuid4().hex[:8]}@%h"
        command = [
            sys.executable, "-m", "celery", "-A", "mehr_site", "worker",
            *(["-B", "-s", str(self.dir / "celerybeat-schedule")] if beat else []),
            "-Q", queues, "-P", pool, "-c", str(concurrency), "-n", self.name,
            "--without-mingle", "--without-gossip", "-l", "INFO",
        ]
        self._start(command, env)

    @property
    def node(self) -> str:
        """The node name Celery gives this worker (``%h`` expanded), for remote control."""
        return self.name.replace("%h", socket.gethostname())

    def _start(self, command: list[str], env: dict[str, str]) -> None:
        self.log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    ready_line = b" ready."

    def wait_ready(self, timeout: float = 120) -> None:
        wait_for(lambda: self.ready_line in self.log_path.read_bytes(), timeout, f"not ready:\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """Lose the whole worker (main process, pool children, beat) at once, as a crashed machine would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(condition: Callable[[], bool], timeout: float, message: str | Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(message() if callable(message) else message)


class Beat(Worker):
    """``celery -A mehr_site beat`` alone, as production runs it (exactly one for the installation)."""

    ready_line = b"beat: Starting..."

    def __init__(self, broker_url: str, extra_env: dict[str, str] | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mehr-beat-"))
        self.broker_url = broker_url
        self.log_path = self.dir / "beat.log"
        self.name = "beat"
        command = [sys.executable, "-m", "celery", "-A", "mehr_site", "beat", "-s", str(self.dir / "schedule"),
                   "-l", "INFO"]  # fmt: skip
        self._start(command, celery_env(broker_url, self.dir, extra_env))


class RedisServer:
    """A private redis-server on its own port (for restart and flush faults)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="mehr-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        import redis

        def answers() -> bool:
            try:
                return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
            except redis.RedisError:
                return False

        wait_for(answers, 20, f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def flushdb(self) -> None:
        import redis

        redis.Redis(port=self.port, db=0).flushdb()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- What the worker tests check in the database ---------------------------------------------


def fast_policy(**kwargs) -> RetryPolicy:  # type: ignore[no-untyped-def]
    values = {
        "name": "worker test",
        "auto_select": False,
        "session_timeout_seconds": 2,
        "attempt_interval_seconds": 0,
        "session_attempts_per_window": 3,
        "window_length_minutes": 60,
    }
    return RetryPolicy.objects.create(**{**values, **kwargs})


def all_settled() -> bool:
    """No attempt is claimed or running and none is due but unclaimed."""
    return not SessionAttempt.objects.filter(state__in=[SessionState.CLAIMED, SessionState.RUNNING]).exists() and not (
        SessionAttempt.objects.filter(state=SessionState.SCHEDULED, due_at__lte=timezone.now()).exists()
    )


def assert_each_attempt_ran_at_most_once() -> None:
    keys = Counter(SimulatorCall.objects.values_list("idempotency_key", flat=True))
    duplicates = {k: n for k, n in keys.items() if n > 1}
    assert not duplicates, f"the S1SP was called more than once for {duplicates}"
    started = SessionAttempt.objects.filter(started_at__isnull=False)
    assert set(keys) <= {sa.idempotency_key for sa in started}  # only started attempts called it
    # Every attempt that ran to its end called the S1SP exactly once; one whose worker died may have
    # died before or after calling (at most once, checked above).
    finished = {sa.idempotency_key for sa in started.exclude(result_code="LEASE_EXPIRED")}
    assert finished <= set(keys)
    for sa in SessionAttempt.objects.all():
        assert sa.state in (SessionState.CONNECTED, SessionState.FAILED, SessionState.TIMED_OUT, SessionState.SCHEDULED)
        if sa.state != SessionState.SCHEDULED:
            assert sa.finished_at is not None and sa.lease_expires_at is None
