"""/healthz: how old the dashboard rollups are (one primary-key read).

Informational: a stale or missing rollup never fails the health check, because the dashboard then
falls back to live aggregates (correct, only slower); ``fresh`` says which the dashboard is using."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from mehr_site.health import register_check


@register_check("dashboard_rollup")
def dashboard_rollup() -> dict:
    from cases.services.dashboard import dashboard_rollup_fresh, dashboard_rollup_state

    now = timezone.now()
    state = dashboard_rollup_state()
    max_age = settings.MEHR["DASHBOARD_ROLLUP_MAX_AGE_SECONDS"]
    if state is None:
        return {"ok": True, "built": False, "fresh": False, "max_age_seconds": max_age}
    return {
        "ok": True,
        "built": True,
        "fresh": dashboard_rollup_fresh(now) is not None,
        "age_seconds": round((now - state.built_at).total_seconds(), 1),
        "max_age_seconds": max_age,
        "took_ms": state.took_ms,
    }
