"""The S1SP simulator: deterministic behaviour per installation or device model, every call recorded."""

from __future__ import annotations

import pytest

from retries.models import SimulatorBehaviour, SimulatorCall
from retries.s1sp import SessionStatus
from retries.s1sp.simulator import S1SPSimulator
from tests.factories import DeviceFactory, InstallationFactory

pytestmark = pytest.mark.django_db
Mode = SimulatorBehaviour.Mode


def _statuses(sim: S1SPSimulator, installation, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [sim.establish_session(installation, timeout=0.01, idempotency_key=f"k{i}").status for i in range(n)]


def test_modes(simulator: S1SPSimulator) -> None:
    connect, never, refuse, flaky = (InstallationFactory() for _ in range(4))
    SimulatorBehaviour.objects.create(installation=never, mode=Mode.NEVER_ANSWER)
    SimulatorBehaviour.objects.create(installation=refuse, mode=Mode.REFUSE, refuse_code="E42")
    SimulatorBehaviour.objects.create(installation=flaky, mode=Mode.FAIL_THEN_CONNECT, fail_times=2, failure_mode=Mode.REFUSE)
    assert _statuses(simulator, connect, 2) == [SessionStatus.CONNECTED] * 2
    assert _statuses(simulator, never, 2) == [SessionStatus.NO_RESPONSE] * 2
    assert simulator.establish_session(refuse, timeout=1).code == "E42"
    assert _statuses(simulator, flaky, 4) == [SessionStatus.REFUSED] * 2 + [SessionStatus.CONNECTED] * 2
    assert SimulatorCall.objects.count() == 2 + 2 + 1 + 4
    assert SimulatorCall.objects.filter(installation_id=flaky.pk).count() == 4


def test_device_model_behaviour_and_seeded_randomness() -> None:
    installation = InstallationFactory()
    DeviceFactory(installation=installation, model="Flaky CH v2")
    SimulatorBehaviour.objects.create(device_model="Flaky CH v2", mode=Mode.RANDOM, connect_probability=0.5)
    first = _statuses(S1SPSimulator(seed=3, time_scale=0), installation, 20)
    SimulatorCall.objects.all().delete()
    again = _statuses(S1SPSimulator(seed=3, time_scale=0), installation, 20)
    assert first == again  # deterministic for a seed
    assert set(first) == {SessionStatus.CONNECTED, SessionStatus.NO_RESPONSE}


def test_never_answer_answers_no_response_and_records_the_call() -> None:
    installation = InstallationFactory()
    SimulatorBehaviour.objects.create(installation=installation, mode=Mode.NEVER_ANSWER)
    result = S1SPSimulator(time_scale=0.01).establish_session(installation, timeout=1, idempotency_key="k", wake_sms=2)
    assert (result.status, result.sms_sent) == (SessionStatus.NO_RESPONSE, 2)
    assert SimulatorCall.objects.get().idempotency_key == "k"
