"""Fixtures for the retry engine's tests."""

from __future__ import annotations

from datetime import datetime

import pytest

from cases.catalogue.data import CHECKS, MEHR_VERSIONS
from cases.services.catalogue import catalogue_load
from retries.models import SessionAttempt, SessionState
from retries.s1sp.simulator import S1SPSimulator
from retries.services.claiming import claim_batch
from retries.services.running import session_attempt_run


@pytest.fixture
def catalogue(db):  # type: ignore[no-untyped-def]
    catalogue_load(versions=MEHR_VERSIONS, checks=CHECKS)


@pytest.fixture
def simulator() -> S1SPSimulator:
    return S1SPSimulator(latency=0.0, seed=0, default_mode="CONNECT", time_scale=0.0)


def run_due(simulator: S1SPSimulator, now: datetime | None = None) -> list[str]:
    """Claim what is due at ``now`` and run it in this process (no broker): one beat tick and its tasks."""
    outcomes = []
    for item in claim_batch(now=now):
        outcomes.append(session_attempt_run(attempt_id=item.pk, claim_token=item.token, worker="test", client=simulator))
    return outcomes


def run_until_idle(simulator: S1SPSimulator, max_ticks: int = 50) -> list[str]:
    """Run every scheduled attempt, whatever its due time (time travel without a frozen clock)."""
    outcomes: list[str] = []
    for _ in range(max_ticks):
        nxt = SessionAttempt.objects.filter(state=SessionState.SCHEDULED).order_by("due_at").first()
        if nxt is None:
            return outcomes
        outcomes += run_due(simulator, now=nxt.due_at)
    raise AssertionError("still scheduling after max_ticks")
