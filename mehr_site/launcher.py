"""Run web + one Celery worker + Celery beat together in the foreground (``make run``).

    python -m mehr_site.launcher

Prints the URL and the demo accounts, forwards Ctrl-C / SIGTERM to all three processes and stops
everything when any one of them exits. Uses whatever DATABASE_URL / REDIS_URL say (SQLite and the
filesystem broker when unset). PORT (default 8000) and HOST (default 127.0.0.1) choose the address.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
QUEUES = "celery,sessions,notifications,reports"
STOP_GRACE_SECONDS = 20


def _settings():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mehr_site.settings")
    import django
    from django.conf import settings

    django.setup()
    return settings


def commands(settings, host: str, port: str) -> dict[str, list[str]]:
    python = sys.executable
    worker = [
        python,
        "-m",
        "celery",
        "-A",
        "mehr_site",
        "worker",
        "-l",
        "info",
        "--concurrency",
        "2",
        "-Q",
        QUEUES,
    ]
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        # The filesystem transport has no fanout exchange: no remote control, gossip or mingle.
        worker += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    var_dir = Path(settings.VAR_DIR)
    beat = [
        python,
        "-m",
        "celery",
        "-A",
        "mehr_site",
        "beat",
        "-l",
        "info",
        "-s",
        str(var_dir / "celerybeat-schedule"),
    ]
    web = [python, str(BASE_DIR / "manage.py"), "runserver", f"{host}:{port}", "--noreload"]
    return {"web": web, "worker": worker, "beat": beat}


def demo_accounts_text() -> str:
    try:
        from cases.demo import DEMO_ACCOUNTS
    except Exception:
        return "  (no demo accounts found: run `python manage.py seed_demo`)"
    lines = [f"  {'username':<20} {'password':<20} {'role':<20} organisation"]
    for username, password, role, organisation in DEMO_ACCOUNTS:
        lines.append(f"  {username:<20} {password:<20} {role!s:<20} {organisation}")
    return "\n".join(lines)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), 0.5):
            return True
    except OSError:
        return False


class Launcher:
    def __init__(self, cmds: dict[str, list[str]]):
        self.cmds = cmds
        self.procs: dict[str, subprocess.Popen] = {}
        self.stopping = False

    def start(self) -> None:
        for name, cmd in self.cmds.items():
            # Own process group each: the terminal's Ctrl-C reaches only us, and we forward it once.
            self.procs[name] = subprocess.Popen(cmd, cwd=BASE_DIR, start_new_session=True)
            print(f"mehr: started {name} (pid {self.procs[name].pid})", flush=True)

    def _on_signal(self, signum, frame) -> None:  # type: ignore[no-untyped-def]
        if self.stopping:
            return
        print(f"\nmehr: {signal.Signals(signum).name} received, stopping web, worker and beat...", flush=True)
        self.stopping = True

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"mehr: {name} did not stop in time, killing it", flush=True)
            # Kill the whole group too, so no pool child outlives its parent.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def run(self, host: str, port: int, banner: str) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        self.start()
        announced = False
        started = time.monotonic()
        exit_code = 0
        try:
            while not self.stopping:
                for name, proc in self.procs.items():
                    code = proc.poll()
                    if code is not None:
                        print(f"mehr: {name} exited with status {code}; stopping the others", flush=True)
                        # Killed by a signal: report it the shell's way (128 + signal number).
                        exit_code = 128 - code if code < 0 else (code or 1)
                        self.stopping = True
                        break
                if not announced and not self.stopping and _port_open(host, port):
                    print(banner, flush=True)
                    announced = True
                if not announced and time.monotonic() - started > 60:
                    print("mehr: web has not answered for 60 s; still waiting...", flush=True)
                    started = time.monotonic()
                time.sleep(0.5)
        finally:
            self.stop()
        print("mehr: stopped", flush=True)
        return exit_code


def main() -> int:
    settings = _settings()
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    database = settings.DATABASES["default"]
    db_text = "SQLite " + str(database["NAME"]) if database["ENGINE"].endswith("sqlite3") else "PostgreSQL"
    broker = "Redis" if settings.REDIS_URL else f"filesystem broker under {settings.BROKER_DIR}"
    banner = "\n".join(
        [
            "",
            "=" * 72,
            f"mehr is running at http://{host}:{port}/   (health: http://{host}:{port}/healthz)",
            f"database: {db_text}; broker: {broker}",
            "demo accounts:",
            demo_accounts_text(),
            "Ctrl-C stops web, worker and beat.",
            "=" * 72,
            "",
        ]
    )
    return Launcher(commands(settings, host, port)).run(host, int(port), banner)


if __name__ == "__main__":
    sys.exit(main())
