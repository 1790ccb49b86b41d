"""/healthz: the due backlog lag (age of the oldest due, unclaimed session attempt)."""

from __future__ import annotations

from django.conf import settings

from mehr_site.health import register_check


@register_check("due_backlog")
def due_backlog() -> dict:
    from .services.claiming import due_backlog_lag_seconds

    lag = round(due_backlog_lag_seconds(), 1)
    limit = float(settings.MEHR["RETRY_HEALTH_MAX_LAG_SECONDS"])
    return {"ok": lag <= limit, "lag_seconds": lag, "max_lag_seconds": limit}
