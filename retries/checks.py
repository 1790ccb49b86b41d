"""System check: the broker must not redeliver a task that is still legitimately running.

With acks_late, Redis re-delivers an unacknowledged message after the visibility timeout. If that
is shorter than the longest a task may run, a slow-but-alive task would run a second time.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


def longest_task_seconds() -> int:
    mehr = settings.MEHR
    session = int(mehr["RETRY_MAX_SESSION_TIMEOUT_SECONDS"]) + int(mehr["RETRY_HARD_TIME_LIMIT_GRACE_SECONDS"])
    return max(int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 0) or 0), session)


@register()
def check_visibility_timeout(app_configs, **kwargs):  # type: ignore[no-untyped-def]
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    visibility = options.get("visibility_timeout")
    if visibility is None:
        visibility = 3600  # kombu's default for Redis
    longest = longest_task_seconds()
    if float(visibility) <= longest:
        return [
            Error(
                f"The broker visibility timeout ({visibility} s) is not longer than the longest task time "
                f"limit ({longest} s): a running task would be delivered twice.",
                hint="Raise CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'] or lower "
                "CELERY_TASK_TIME_LIMIT / MEHR['RETRY_MAX_SESSION_TIMEOUT_SECONDS'].",
                id="retries.E001",
            )
        ]
    return []
