"""manage.py simulate_migrations."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from cases.models import Case
from retries.models import MigrationAttempt, RetryPolicy, SimulatorBehaviour, SimulatorCall

pytestmark = pytest.mark.django_db


def test_mixed_profile_driven_in_process(catalogue, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEHR = {**settings.MEHR, "S1SP_SIMULATOR_TIME_SCALE": 0.0}
    out = StringIO()
    call_command(
        "simulate_migrations", "--installations", "30", "--profile", "mixed", "--spread-seconds", "0",
        "--interval-seconds", "0", "--drive", stdout=out,
    )
    assert "Scheduled 30 migrations" in out.getvalue() and "Driven:" in out.getvalue()
    assert SimulatorBehaviour.objects.count() == 30
    policy = RetryPolicy.objects.get(name="Simulation")
    assert not policy.auto_select
    outcomes = set(MigrationAttempt.objects.values_list("outcome", flat=True))
    assert {"SUCCEEDED", "FAILED"} <= outcomes
    assert Case.objects.exists()
    assert SimulatorCall.objects.count() >= 30


def test_bad_arguments() -> None:
    with pytest.raises(CommandError):
        call_command("simulate_migrations", "--installations", "0")
    with pytest.raises(CommandError):
        call_command("simulate_migrations", "--installations", "1", "--supplier", "nope")
