"""Celery tasks of the retry engine: thin interfaces over services."""

from __future__ import annotations

import socket

from celery import shared_task

from .services import session_attempt_run, session_attempts_claim_due, session_attempts_reap


@shared_task(name="retries.tasks.claim_due_session_attempts", ignore_result=True)
def claim_due_session_attempts() -> int:
    """Beat, every second: claim due session attempts and enqueue one task each (after commit)."""
    return session_attempts_claim_due()


@shared_task(name="retries.tasks.reap_expired_leases", ignore_result=True)
def reap_expired_leases() -> dict[str, int]:
    return session_attempts_reap()


@shared_task(name="retries.tasks.run_session_attempt", ignore_result=True, acks_late=True)
def run_session_attempt(attempt_id: int, claim_token: str) -> str:
    """Runs only if the attempt is still claimed with this token; per-attempt time limits come from the claimer."""
    worker = run_session_attempt.request.hostname or socket.gethostname()
    return session_attempt_run(attempt_id=attempt_id, claim_token=claim_token, worker=worker)


@shared_task(name="retries.tasks.reevaluate_retired_checks", ignore_result=True)
def reevaluate_retired_checks() -> dict[str, int]:
    """Hourly: cases of checks whose retirement has come into effect since the last run."""
    from .services import retired_checks_reevaluate_due

    return retired_checks_reevaluate_due()
