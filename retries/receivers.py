"""Hooks into the case lifecycle (connected in RetriesConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from cases.models import Case
from cases.signals import case_transitioned


@receiver(case_transitioned, sender=Case, dispatch_uid="retries.schedule_retry")
def on_case_transitioned(sender: Any, case: Case, transition: str, actor: Any, **kwargs: Any) -> None:
    if transition == "schedule_retry":
        # Same transaction as the transition: the case is never RETRY_SCHEDULED without an attempt.
        from .services.scheduling import migration_schedule_for_case

        migration_schedule_for_case(case=case, actor=actor)
