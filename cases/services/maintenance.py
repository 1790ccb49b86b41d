"""Periodic lifecycle housekeeping, run by beat."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cases.domain import FINISHED_STATES
from cases.models import Case

from .transitions import case_transition


def cases_close_quiet(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Close finished cases whose quiet period has passed. Safe to run concurrently (skip locked)."""
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(days=settings.MEHR["CLOSE_QUIET_PERIOD_DAYS"])
    closed = 0
    while True:
        with transaction.atomic():
            batch = list(
                Case.objects.select_for_update(skip_locked=True)
                .filter(state__in=FINISHED_STATES, finished_at__lte=cutoff)
                .order_by("finished_at")
                .values_list("pk", flat=True)[:batch_size]
            )
            for pk in batch:
                case_transition(case=pk, transition="close", actor=None, note="Closed after the quiet period.")
        closed += len(batch)
        if len(batch) < batch_size:
            return closed
