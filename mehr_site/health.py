"""``GET /healthz``: is the database, the broker and at least one worker alive?

The answer is JSON::

    {"status": "ok" | "degraded",
     "checks": {"database": {"ok": true, "ms": 1.2}, "broker": {...}, "worker": {...}}}

with HTTP 200 only when every check is ok, 503 otherwise.

Checks are named functions in a small registry. Another app adds one from its ``AppConfig.ready``::

    from mehr_site.health import register_check

    @register_check("due_backlog")
    def due_backlog() -> dict:
        lag = ...
        return {"ok": lag < 300, "lag_seconds": lag}

A check returns a dict with a boolean ``"ok"`` plus any JSON-serialisable details. An exception in
a check makes it fail with the error message; it never turns into a 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

Check = Callable[[], dict]
CHECKS: dict[str, Check] = {}

#: Cache key of the worker heartbeat (written by mehr_site.tasks).
WORKER_HEARTBEAT_KEY = "health:worker-heartbeat"


def register_check(name: str) -> Callable[[Check], Check]:
    """Register ``func`` as the health check ``name`` (re-registering a name replaces it)."""

    def decorator(func: Check) -> Check:
        CHECKS[name] = func
        return func

    return decorator


def run_checks() -> dict[str, dict]:
    results: dict[str, dict] = {}
    for name, func in CHECKS.items():
        started = time.monotonic()
        try:
            result = dict(func())
            result["ok"] = bool(result.get("ok"))
        except Exception as exc:  # a failing check is a result, not a crash
            logger.warning("health check %s failed: %s", name, exc)
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        result["ms"] = round((time.monotonic() - started) * 1000, 1)
        results[name] = result
    return results


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    healthy = all(result["ok"] for result in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status=200 if healthy else 503,
    )


# --- The built-in checks --------------------------------------------------------------------


@register_check("database")
def check_database() -> dict:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        row = cursor.fetchone()
    return {"ok": row is not None and row[0] == 1, "vendor": connections["default"].vendor}


def _celery_app():  # separated so tests can substitute the app
    from mehr_site.celery import app

    return app


@register_check("broker")
def check_broker() -> dict:
    app = _celery_app()
    timeout = settings.MEHR_HEALTH_BROKER_TIMEOUT_SECONDS
    with app.connection_for_write(connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        transport = conn.transport_cls
    return {"ok": True, "transport": str(transport)}


def write_worker_heartbeat(hostname: str, source: str) -> dict:
    """Record that worker ``hostname`` is alive now (called by the worker, see mehr_site.tasks)."""
    beat = {"at": time.time(), "hostname": hostname, "source": source}
    cache.set(WORKER_HEARTBEAT_KEY, beat, timeout=None)
    return beat


@register_check("worker")
def check_worker() -> dict:
    max_age = settings.MEHR_HEALTH_WORKER_MAX_AGE_SECONDS
    beat = cache.get(WORKER_HEARTBEAT_KEY)
    if not beat:
        return {"ok": False, "error": "no worker heartbeat recorded", "max_age_seconds": max_age}
    age = round(time.time() - beat["at"], 1)
    return {
        "ok": age <= max_age,
        "age_seconds": age,
        "max_age_seconds": max_age,
        "hostname": beat.get("hostname"),
    }
