"""Real Celery workers (with embedded beat) as subprocesses, against the test database and a real Redis."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]

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


class Worker:
    """``celery -A mehr_site worker -B`` in its own process group; ``kill()`` is SIGKILL to the group."""

    def __init__(
        self,
        broker_url: str,
        extra_env: dict[str, str] | None = None,
        concurrency: int = 2,
        queues: str = "celery,sessions",
        beat: bool = True,
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mehr-worker-"))
        self.broker_url = broker_url
        self.log_path = self.dir / "worker.log"
        env = {
            **os.environ,
            **FAST_ENGINE_ENV,
            **(extra_env or {}),
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": broker_url,
            "MEHR_VAR_DIR": str(self.dir),
            "MEHR_CACHE_KEY_PREFIX": f"mehr-test-{uuid.uuid4().hex[:8]}",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        self.name = f"retries-test-{uuid.uuid4().hex[:8]}@%h"
        command = [
            sys.executable, "-m", "celery", "-A", "mehr_site", "worker",
            *(["-B", "-s", str(self.dir / "celerybeat-schedule")] if beat else []),
            "-Q", queues, "-c", str(concurrency), "-n", self.name,
            "--without-mingle", "--without-gossip", "-l", "INFO",
        ]
        self.log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 120) -> None:
        wait_for(lambda: b" ready." in self.log_path.read_bytes(), timeout, f"worker not ready:\n{self.tail()}")

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
