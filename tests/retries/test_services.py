"""The retry flow through the services, with the simulator in-process (no broker)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.domain import CaseState, EventKind, ExcludedCategory, MigrationStatus, Role
from cases.errors import NotPermitted, ValidationFailed
from cases.models import Case, CaseEvent, CaseOccurrence, Check
from cases.services import case_transition
from retries.models import (
    MigrationAttempt,
    MigrationOutcome,
    PauseScope,
    RetryPolicy,
    SessionAttempt,
    SessionState,
    SimulatorBehaviour,
    SimulatorCall,
)
from retries.services import (
    ENGINE_SOURCE,
    installation_retry_cancel,
    migration_schedule,
    retries_pause,
    retries_resume,
    session_attempt_run,
    session_attempts_reap,
)
from retries.services.claiming import claim_batch
from tests.factories import InstallationFactory, case_in_state

from .conftest import run_due, run_until_idle

pytestmark = pytest.mark.django_db


def behave(installation, **kwargs) -> SimulatorBehaviour:  # type: ignore[no-untyped-def]
    return SimulatorBehaviour.objects.create(installation=installation, **kwargs)


def test_first_migration_connects_and_migrates(installation, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    attempt = migration_schedule(installation=installation, actor=None)
    installation.refresh_from_db()
    assert installation.migration_status == MigrationStatus.SCHEDULED
    assert attempt.session_attempts.get().due_at == attempt.window_start

    assert run_due(simulator) == [SessionState.CONNECTED]

    attempt.refresh_from_db()
    installation.refresh_from_db()
    assert attempt.outcome == MigrationOutcome.SUCCEEDED
    assert installation.migration_status == MigrationStatus.MIGRATED
    # The report's "migrated on the day" reads this: the moment the window connected.
    assert installation.migrated_at == attempt.finished_at is not None
    session = attempt.session_attempts.get()
    assert session.started_at and session.finished_at and session.worker == "test"
    assert session.sms_sent == 2 and session.policy_revision == attempt.policy.revision
    call = SimulatorCall.objects.get()
    assert call.idempotency_key == session.idempotency_key and call.wake_sms == 2


def test_retry_requested_on_a_case_creates_the_attempt_in_the_same_transaction(people, installation, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(CaseState.TRIAGED, installation=installation, check=Check.objects.get(code="CM001"))
    case = case_transition(case=case, transition="schedule_retry", actor=people[Role.DCC_OPERATOR], note="Try again")
    attempt = MigrationAttempt.objects.get(installation=installation)
    assert list(attempt.cases.all()) == [case]
    assert CaseEvent.objects.filter(case=case, kind=EventKind.RETRY, data__migration_attempt=attempt.pk).exists()

    run_due(simulator)

    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED
    transitions = list(
        CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION).values_list("transition", flat=True)
    )
    assert transitions == ["schedule_retry", "start_retry", "resolve"]


def test_failed_window_raises_cm001_and_reschedules_on_the_next_working_day(installation, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    behave(installation, mode=SimulatorBehaviour.Mode.NEVER_ANSWER)
    first = migration_schedule(installation=installation, actor=None)
    # Three session attempts, 15 minutes apart, then the window fails.
    outcomes = run_due(simulator, now=first.window_start)
    outcomes += run_due(simulator, now=first.window_start + timedelta(minutes=16))
    outcomes += run_due(simulator, now=first.window_start + timedelta(minutes=32))
    assert outcomes == [SessionState.TIMED_OUT] * 3
    first.refresh_from_db()
    assert first.outcome == MigrationOutcome.FAILED and first.failure_check.code == "CM001"
    installation.refresh_from_db()
    assert installation.migration_attempt_count == 1
    assert installation.migration_status == MigrationStatus.SCHEDULED  # rescheduled at once

    case = Case.objects.get(installation=installation)
    assert case.check_type.code == "CM001" and case.state == CaseState.RAISED
    assert CaseOccurrence.objects.get(case=case).source == ENGINE_SOURCE
    second = MigrationAttempt.objects.get(installation=installation, number=2)
    assert second.outcome == MigrationOutcome.SCHEDULED and case in second.cases.all()
    assert second.window_start.date() > first.window_start.date()
    assert timezone.localtime(second.window_start).weekday() < 5


def test_reschedule_goes_to_the_next_working_day_with_allocation(installation, catalogue, simulator, settings) -> None:  # type: ignore[no-untyped-def]
    """MEHR.md §5: "next working day with allocation". The cohort may have one window a day and the
    next working day already has one (another installation's): the reschedule takes the day after."""
    from cases.workdays import LONDON, working_calendar

    settings.MEHR = {**settings.MEHR, "RETRY_DAILY_ALLOCATION_BY_COHORT": {installation.cohort: 1}}
    behave(installation, mode=SimulatorBehaviour.Mode.NEVER_ANSWER)
    first = migration_schedule(installation=installation, actor=None)
    policy = first.policy
    calendar = working_calendar()
    failed_day = timezone.localtime(timezone.now(), LONDON).date()  # outcomes are recorded at the real time
    next_day = calendar.add_working_days(failed_day, policy.reschedule_delay_working_days)
    other = InstallationFactory(cohort=installation.cohort)
    from datetime import datetime

    taken = migration_schedule(
        installation=other, actor=None, window_start=datetime.combine(next_day, policy.window_opens_at, LONDON)
    )
    for minutes in (0, 16, 32):
        run_due(simulator, now=first.window_start + timedelta(minutes=minutes))
    second = MigrationAttempt.objects.get(installation=installation, number=2)
    assert timezone.localtime(taken.window_start, LONDON).date() == next_day
    assert timezone.localtime(second.window_start, LONDON).date() == calendar.next_working_day(next_day)
    assert timezone.localtime(second.window_start, LONDON).time() == policy.window_opens_at
    # Another cohort is not limited by this one's allocation.
    settings.MEHR = {**settings.MEHR, "RETRY_DAILY_ALLOCATION_BY_COHORT": {}}
    from retries.services.scheduling import with_allocation

    assert with_allocation(taken.window_start, cohort=installation.cohort) == taken.window_start


def test_five_failed_windows_propose_exclusion_and_stop(installation, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    behave(installation, mode=SimulatorBehaviour.Mode.REFUSE, refuse_code="CH_UNREACHABLE")
    migration_schedule(installation=installation, actor=None)
    run_until_idle(simulator)

    installation.refresh_from_db()
    assert installation.migration_attempt_count == 5
    assert MigrationAttempt.objects.filter(installation=installation).count() == 5
    assert not MigrationAttempt.objects.filter(outcome__in=["SCHEDULED", "IN_PROGRESS"]).exists()
    assert SessionAttempt.objects.filter(installation=installation).count() == 15
    assert SimulatorCall.objects.count() == 15
    case = Case.objects.get(installation=installation)
    assert case.state == CaseState.EXCLUSION_PROPOSED
    assert case.excluded_category == ExcludedCategory.MIGRATION_ATTEMPTS_EXHAUSTED
    assert case.occurrence_count == 5
    # Concise timeline: per migration attempt scheduled, started and failed events, not one per session attempt.
    assert CaseEvent.objects.filter(case=case, kind=EventKind.RETRY).count() <= 3 * 5
    with pytest.raises(ValidationFailed):
        migration_schedule(installation=installation, actor=None)


def test_fail_then_connect_and_gt01_partial(installation, catalogue, simulator, people) -> None:  # type: ignore[no-untyped-def]
    behave(installation, mode=SimulatorBehaviour.Mode.FAIL_THEN_CONNECT, fail_times=2, after_connect_check="GT01")
    case = case_in_state(CaseState.TRIAGED, installation=installation, check=Check.objects.get(code="CM001"))
    case_transition(case=case, transition="schedule_retry", actor=people[Role.DCC_OPERATOR])
    run_until_idle(simulator)
    attempt = MigrationAttempt.objects.get(installation=installation)
    assert attempt.outcome == MigrationOutcome.PARTIAL
    assert list(attempt.session_attempts.values_list("state", flat=True)) == ["TIMED_OUT", "TIMED_OUT", "CONNECTED"]
    installation.refresh_from_db()
    assert installation.migration_status == MigrationStatus.PARTIALLY_MIGRATED
    assert installation.migrated_at == attempt.finished_at is not None  # electricity joined the network
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED_PARTIAL
    gas = Case.objects.get(installation=installation, check_type__code="GT01")
    assert gas.state == CaseState.RAISED


def test_later_stage_failure_is_handed_over_not_rescheduled(installation, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    behave(installation, mode=SimulatorBehaviour.Mode.CONNECT, after_connect_check="DV001")
    migration_schedule(installation=installation, actor=None)
    run_until_idle(simulator)
    attempt = MigrationAttempt.objects.get(installation=installation)
    assert attempt.outcome == MigrationOutcome.FAILED and attempt.failure_check.code == "DV001"
    installation.refresh_from_db()
    assert installation.migration_status == MigrationStatus.ROLLED_BACK
    assert MigrationAttempt.objects.filter(installation=installation).count() == 1
    assert Case.objects.get(installation=installation).check_type.code == "DV001"


def test_duplicate_delivery_and_stale_token_do_nothing(installation, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    migration_schedule(installation=installation, actor=None)
    [claimed] = claim_batch()
    assert session_attempt_run(attempt_id=claimed.pk, claim_token="not-the-token", client=simulator) == "not-claimed"
    assert session_attempt_run(attempt_id=claimed.pk, claim_token=claimed.token, client=simulator) == "CONNECTED"
    assert session_attempt_run(attempt_id=claimed.pk, claim_token=claimed.token, client=simulator) == "not-claimed"
    assert SimulatorCall.objects.count() == 1


def test_claims_stop_at_the_cap_of_claimed_but_not_started(catalogue, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEHR = {**settings.MEHR, "RETRY_MAX_CLAIMED": 4}
    for _ in range(6):
        migration_schedule(installation=InstallationFactory(), actor=None)
    assert len(claim_batch(limit=3)) == 3
    assert len(claim_batch(limit=3)) == 1  # 3 already wait for a worker: only 1 more fits
    assert claim_batch() == []
    assert SessionAttempt.objects.filter(state=SessionState.CLAIMED).count() == 4
    # Once a worker starts one, the next tick may claim another.
    SessionAttempt.objects.filter(
        pk=SessionAttempt.objects.filter(state=SessionState.CLAIMED).values("pk")[:1]
    ).update(state=SessionState.RUNNING)
    assert len(claim_batch()) == 1


def test_claims_do_not_overlap(catalogue) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        migration_schedule(installation=InstallationFactory(), actor=None)
    first = claim_batch(limit=3)
    second = claim_batch(limit=10)
    assert len(first) == 3 and len(second) == 2
    assert not {c.pk for c in first} & {c.pk for c in second}
    assert claim_batch() == []


def test_not_yet_due_is_not_claimed(installation, catalogue) -> None:  # type: ignore[no-untyped-def]
    migration_schedule(installation=installation, actor=None, window_start=timezone.now() + timedelta(hours=1))
    assert claim_batch() == []
    assert len(claim_batch(now=timezone.now() + timedelta(hours=1, seconds=1))) == 1


def test_reaper_returns_expired_claims_and_times_out_lost_runs(catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    a, b = InstallationFactory(), InstallationFactory()
    migration_schedule(installation=a, actor=None)
    migration_schedule(installation=b, actor=None)
    claimed = {c.pk: c for c in claim_batch()}
    # b's task started and its worker died mid-call.
    sb = SessionAttempt.objects.get(installation=b)
    SessionAttempt.objects.filter(pk=sb.pk).update(state=SessionState.RUNNING, started_at=timezone.now())
    later = timezone.now() + timedelta(hours=1)
    assert session_attempts_reap(now=later) == {"returned": 1, "timed_out": 1}
    sa = SessionAttempt.objects.get(installation=a)
    # The token is kept for the re-claim, so the message still queued for the claim stays valid.
    assert sa.state == SessionState.SCHEDULED and str(sa.claim_token) == claimed[sa.pk].token
    sb.refresh_from_db()
    assert sb.state == SessionState.TIMED_OUT and sb.result_code == "LEASE_EXPIRED"
    # The lost run is never run again; its next attempt is a new row with a new idempotency key.
    assert session_attempt_run(attempt_id=sb.pk, claim_token=claimed[sb.pk].token, client=simulator) == "not-claimed"
    assert SessionAttempt.objects.filter(installation=b, number=2, state=SessionState.SCHEDULED).exists()
    # While returned (SCHEDULED) its queued message does nothing; re-claimed, it runs once.
    assert session_attempt_run(attempt_id=sa.pk, claim_token=claimed[sa.pk].token, client=simulator) == "not-claimed"
    reclaimed = claim_batch()
    assert [(c.pk, c.token) for c in reclaimed] == [(sa.pk, claimed[sa.pk].token)]
    assert session_attempt_run(attempt_id=sa.pk, claim_token=claimed[sa.pk].token, client=simulator) == SessionState.CONNECTED
    # The re-dispatched duplicate message finds it finished.
    assert session_attempt_run(attempt_id=sa.pk, claim_token=reclaimed[0].token, client=simulator) == "not-claimed"
    assert SimulatorCall.objects.filter(installation_id=sa.installation_id).count() == 1


def test_pause_and_resume_by_scope(people, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    operator = people[Role.DCC_OPERATOR]
    foc = InstallationFactory(cohort="FOC")
    ioc = InstallationFactory(cohort="IOC")
    case = case_in_state(CaseState.TRIAGED, installation=foc, check=Check.objects.get(code="CM001"))
    migration_schedule(installation=foc, actor=operator)
    migration_schedule(installation=ioc, actor=operator)

    retries_pause(scope=PauseScope.GLOBAL, actor=operator, reason="S1SP maintenance")
    assert claim_batch() == []
    retries_resume(scope=PauseScope.GLOBAL, actor=operator)

    retries_pause(scope=PauseScope.COHORT, cohort="IOC", actor=operator, reason="IOC SMSO outage")
    retries_pause(scope=PauseScope.INSTALLATION, installation=foc, actor=operator, reason="Site visit")
    assert claim_batch() == []
    assert CaseEvent.objects.filter(case=case, kind=EventKind.RETRY, body__contains="paused").exists()
    with pytest.raises(ValidationFailed):
        retries_pause(scope=PauseScope.INSTALLATION, installation=foc, actor=operator, reason="again")

    retries_resume(scope=PauseScope.INSTALLATION, installation=foc, actor=operator, reason="Visit done")
    assert [c.pk for c in claim_batch()] == [SessionAttempt.objects.get(installation=foc).pk]
    with pytest.raises(NotPermitted):
        retries_pause(scope=PauseScope.GLOBAL, actor=people[Role.USER_AGENT], reason="no")


def test_pause_after_claim_puts_the_attempt_back(installation, people, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    migration_schedule(installation=installation, actor=None)
    [claimed] = claim_batch()
    retries_pause(scope=PauseScope.GLOBAL, actor=people[Role.DCC_MANAGER], reason="kill switch")
    assert session_attempt_run(attempt_id=claimed.pk, claim_token=claimed.token, client=simulator) == "paused"
    assert SimulatorCall.objects.count() == 0
    assert SessionAttempt.objects.get().state == SessionState.SCHEDULED


def test_cancel_pending_attempts(installation, people, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(CaseState.TRIAGED, installation=installation, check=Check.objects.get(code="CM001"))
    case_transition(case=case, transition="schedule_retry", actor=people[Role.DCC_OPERATOR])
    cancelled = installation_retry_cancel(installation=installation, actor=people[Role.DCC_OPERATOR], reason="Meter exchanged")
    assert cancelled == 1
    assert MigrationAttempt.objects.get().outcome == MigrationOutcome.CANCELLED
    assert run_due(simulator) == []
    case.refresh_from_db()
    assert case.state == CaseState.TRIAGED
    assert CaseEvent.objects.filter(case=case, body__contains="Meter exchanged").exists()
    with pytest.raises(ValidationFailed):
        installation_retry_cancel(installation=installation, actor=people[Role.DCC_OPERATOR], reason="")


def test_users_may_not_schedule_ad_hoc(installation, people) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotPermitted):
        migration_schedule(installation=installation, actor=people[Role.USER_AGENT])
    with pytest.raises(ValidationFailed):
        migration_schedule(installation=installation, actor=None)
        migration_schedule(installation=installation, actor=None)


def test_lifecycle_limit_comes_from_the_policy(people, installation, catalogue) -> None:  # type: ignore[no-untyped-def]
    RetryPolicy.objects.filter(name="Default (active)").update(migration_attempts_before_exclusion=2)
    installation.migration_attempt_count = 2
    installation.save()
    case = case_in_state(CaseState.TRIAGED, installation=installation, check=Check.objects.get(code="CM001"))
    from cases.errors import TransitionRefused

    with pytest.raises(TransitionRefused):
        case_transition(case=case, transition="schedule_retry", actor=people[Role.DCC_OPERATOR])


def test_ad_hoc_retry_is_recorded_on_and_drives_the_open_cases(installation, people, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    operator = people[Role.DCC_OPERATOR]
    case = case_in_state(CaseState.AWAITING_DCC, installation=installation, check=Check.objects.get(code="CM001"))
    attempt = migration_schedule(installation=installation, actor=operator, reason="MCC asked for another go")
    event = CaseEvent.objects.get(case=case, kind=EventKind.RETRY)
    assert event.actor == operator and "MCC asked for another go" in event.body
    assert list(attempt.cases.all()) == [case]
    run_due(simulator)
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED


def test_window_closed_before_anything_ran_is_rescheduled_without_counting(installation, people, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    long_ago = timezone.now() - timedelta(days=3)
    first = migration_schedule(installation=installation, actor=None, window_start=long_ago)
    assert run_due(simulator) == ["window-closed"]
    first.refresh_from_db()
    installation.refresh_from_db()
    assert first.outcome == MigrationOutcome.CANCELLED and installation.migration_attempt_count == 0
    assert SimulatorCall.objects.count() == 0
    second = MigrationAttempt.objects.get(installation=installation, number=2)
    assert second.outcome == MigrationOutcome.SCHEDULED and second.window_start > timezone.now()


def test_window_closing_after_failed_attempts_fails_it(installation, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    behave(installation, mode=SimulatorBehaviour.Mode.NEVER_ANSWER)
    start = timezone.now() - timedelta(hours=23, minutes=50)
    first = migration_schedule(installation=installation, actor=None, window_start=start)
    assert run_due(simulator) == [SessionState.TIMED_OUT]
    # The next attempt would be due after the window's end: the window fails at once.
    first.refresh_from_db()
    assert first.outcome == MigrationOutcome.FAILED
    installation.refresh_from_db()
    assert installation.migration_attempt_count == 1


def test_window_closed_after_some_attempts_ran_counts_as_failed(installation, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    behave(installation, mode=SimulatorBehaviour.Mode.NEVER_ANSWER)
    first = migration_schedule(installation=installation, actor=None)
    run_due(simulator)
    # Attempt 2 is scheduled, but (say) the kill switch held it until the window had closed.
    SessionAttempt.objects.filter(installation=installation, number=2).update(due_at=timezone.now())
    MigrationAttempt.objects.filter(pk=first.pk).update(window_end=timezone.now())
    assert run_due(simulator) == ["window-closed"]
    first.refresh_from_db()
    assert first.outcome == MigrationOutcome.FAILED and first.failure_check.code == "CM001"
    assert "window closed" in first.detail
    assert SimulatorCall.objects.count() == 1


def test_sms_are_counted_on_the_migration_attempt(installation, catalogue, simulator) -> None:  # type: ignore[no-untyped-def]
    behave(installation, mode=SimulatorBehaviour.Mode.FAIL_THEN_CONNECT, fail_times=1, after_connect_check="DV001")
    migration_schedule(installation=installation, actor=None)
    run_until_idle(simulator)
    attempt = MigrationAttempt.objects.get(installation=installation)
    assert attempt.outcome == MigrationOutcome.FAILED and attempt.sms_sent == 4
