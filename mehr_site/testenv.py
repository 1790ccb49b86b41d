"""Decide which services the test run uses, then run a command with that environment.

Usage (from the Makefile)::

    python mehr_site/testenv.py -- python -m pytest ...

* DATABASE_URL / REDIS_URL set by the caller are used as they are.
* Unset: use the local default (``MEHR_TEST_DATABASE_URL``, default
  ``postgres://postgres@127.0.0.1:5432/mehr``; ``MEHR_TEST_REDIS_URL``, default
  ``redis://127.0.0.1:6379/0``) when that service answers, otherwise fall back to SQLite / the
  filesystem broker and say so in one line.
* With ``CI=true`` a missing service is an error: CI must test against the real services.

Runs as a plain script (stdlib plus the optional psycopg/redis clients) so it does not import Django.
"""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mehr"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TIMEOUT = 2.0


def _tcp_open(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), TIMEOUT):
            return True
    except OSError:
        return False


def postgres_answers(url: str) -> bool:
    """True when a PostgreSQL server accepts a login at ``url`` (on its maintenance database)."""
    if not _tcp_open(url, 5432):
        return False
    try:
        import psycopg
    except ImportError:  # no client library: an open port is the best we can tell
        return True
    parts = urlsplit(url)
    try:
        # pytest-django creates test_<name> from the "postgres" database, so that one must answer.
        with psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or None,
            dbname="postgres",
            connect_timeout=int(TIMEOUT),
        ) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


def redis_answers(url: str) -> bool:
    if not _tcp_open(url, 6379):
        return False
    try:
        import redis
    except ImportError:
        return True
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def decide(environ: dict[str, str]) -> tuple[dict[str, str], list[str], list[str]]:
    """Return (environment for the run, notices, errors)."""
    env = dict(environ)
    ci = env.get("CI", "").strip().lower() in {"1", "true", "yes"}
    notices: list[str] = []
    errors: list[str] = []

    if not env.get("DATABASE_URL"):
        candidate = env.get("MEHR_TEST_DATABASE_URL") or DEFAULT_DATABASE_URL
        if postgres_answers(candidate):
            env["DATABASE_URL"] = candidate
        elif ci:
            errors.append(
                f"PostgreSQL not reachable at {_safe(candidate)} and CI=true: start it or set DATABASE_URL"
            )
        else:
            notices.append(
                f"PostgreSQL not reachable at {_safe(candidate)} — running on SQLite; "
                "tests that need PostgreSQL will be skipped"
            )

    if not env.get("REDIS_URL"):
        candidate = env.get("MEHR_TEST_REDIS_URL") or DEFAULT_REDIS_URL
        if redis_answers(candidate):
            env["REDIS_URL"] = candidate
        elif ci:
            errors.append(f"Redis not reachable at {_safe(candidate)} and CI=true: start it or set REDIS_URL")
        else:
            notices.append(
                f"Redis not reachable at {_safe(candidate)} — running on the filesystem broker and file cache; "
                "tests that need Redis will be skipped"
            )
    return env, notices, errors


def _safe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    env, notices, errors = decide(dict(os.environ))
    for line in notices:
        print(f"mehr: {line}", file=sys.stderr)
    if errors:
        for line in errors:
            print(f"mehr: ERROR: {line}", file=sys.stderr)
        return 2
    print(
        f"mehr: tests use database {_safe(env.get('DATABASE_URL') or 'SQLite')}, "
        f"broker {_safe(env.get('REDIS_URL') or 'filesystem')}",
        file=sys.stderr,
    )
    if not argv:
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(argv[0], argv, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
