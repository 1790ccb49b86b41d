"""The visibility-timeout system check and the /healthz due-backlog check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from retries.checks import check_visibility_timeout
from retries.health import due_backlog
from retries.services import migration_schedule
from tests.factories import InstallationFactory


def test_visibility_timeout_shorter_than_the_longest_task_is_refused(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
    settings.CELERY_TASK_TIME_LIMIT = 420
    errors = check_visibility_timeout(None)
    assert [e.id for e in errors] == ["retries.E001"]  # 600 s sessions + 30 s grace > 600 s
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    assert check_visibility_timeout(None) == []
    settings.CELERY_TASK_TIME_LIMIT = 7200
    assert [e.id for e in check_visibility_timeout(None)] == ["retries.E001"]


@pytest.mark.django_db
def test_due_backlog_reports_the_oldest_due_unclaimed_attempt(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEHR = {**settings.MEHR, "RETRY_HEALTH_MAX_LAG_SECONDS": 60}
    assert due_backlog() == {"ok": True, "lag_seconds": 0.0, "max_lag_seconds": 60.0}
    migration_schedule(installation=InstallationFactory(), actor=None, window_start=timezone.now() - timedelta(minutes=5))
    result = due_backlog()
    assert result["ok"] is False and 290 < result["lag_seconds"] < 400


@pytest.mark.django_db
def test_healthz_includes_the_backlog(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/healthz").json()
    assert body["checks"]["due_backlog"]["ok"] is True
