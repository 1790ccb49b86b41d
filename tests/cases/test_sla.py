"""SLA clocks: start/pause/resume/met/stop with the lifecycle, working days, and the beat scan."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from freezegun import freeze_time

from cases.domain import CaseState, EventKind, Party, Priority, Role
from cases.models import Case, CaseEvent, NonWorkingDay, OutboxMessage, SlaClock, SlaInterval
from cases.models.sla import ClockKind, ClockStatus
from cases.services import case_add_note, case_raise, case_transition
from cases.services.sla import cases_sla_breached, sla_clocks_for_case, sla_recompute_running, sla_scan
from cases.workdays import LONDON
from tests.factories import case_in_state

pytestmark = pytest.mark.django_db

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=LONDON)


def _raise(installation, check):  # type: ignore[no-untyped-def]
    return case_raise(installation=installation, check=check, source="mcc", source_event_id="e1",
                      occurred_at=MONDAY_9 - timedelta(minutes=5)).case


def _clock(case: Case, party: str, kind: str) -> SlaClock:
    return SlaClock.objects.get(case=case, party=party, kind=kind)


def test_raising_starts_the_dcc_clocks_with_working_day_deadlines(installation, check) -> None:
    with freeze_time(MONDAY_9):
        case = _raise(installation, check)
    assert SlaClock.objects.filter(case=case).count() == 2
    response = _clock(case, Party.DCC, ClockKind.RESPONSE)
    assert response.is_running and response.target_days == 5
    # Monday 09:00 + 5 working days (whole days) → the next Monday 09:00; warned one working day before.
    assert response.due_at == datetime(2026, 11, 30, 9, 0, tzinfo=LONDON)
    assert response.warn_at == datetime(2026, 11, 27, 9, 0, tzinfo=LONDON)
    # The start is implied by the Raised event (no extra SLA event), and kept as a running interval.
    assert not CaseEvent.objects.filter(case=case, kind=EventKind.SLA).exists()
    assert SlaInterval.objects.filter(clock=response, ended_at__isnull=True).get().started_at == MONDAY_9


def test_check_targets_and_dcc_non_working_days_move_the_deadline(installation, check) -> None:
    check.sla_resolution_days = 2
    check.save()
    NonWorkingDay.objects.create(date=datetime(2026, 11, 24).date(), description="DCC shutdown")
    with freeze_time(MONDAY_9):
        case = _raise(installation, check)
    # Mon 09:00 + 2 working days, Tuesday not working → Thursday 09:00.
    assert _clock(case, Party.DCC, ClockKind.RESOLUTION).due_at == datetime(2026, 11, 26, 9, tzinfo=LONDON)


def test_clocks_follow_the_party_the_case_waits_on(installation, check, people) -> None:
    operator, agent = people[Role.DCC_OPERATOR], people[Role.USER_AGENT]
    with freeze_time(MONDAY_9) as frozen:
        case = _raise(installation, check)
        frozen.move_to(MONDAY_9 + timedelta(hours=6))
        case = case_transition(case=case, transition="triage", actor=operator, owner_party=Party.DCC,
                               assignee=operator)
        # Triage is DCC's response: its response clock is met; its resolution clock keeps running.
        dcc_response = _clock(case, Party.DCC, ClockKind.RESPONSE)
        assert dcc_response.status == ClockStatus.MET
        assert dcc_response.banked_seconds == pytest.approx(6 * 3600)
        frozen.move_to(MONDAY_9 + timedelta(days=1))
        case = case_transition(case=case, transition="await_user", actor=operator)
        dcc_resolution = _clock(case, Party.DCC, ClockKind.RESOLUTION)
        assert dcc_resolution.status == ClockStatus.PAUSED and dcc_resolution.due_at is None
        assert dcc_resolution.banked_seconds == pytest.approx(86400)
        assert _clock(case, Party.USER, ClockKind.RESPONSE).is_running
        assert _clock(case, Party.USER, ClockKind.RESOLUTION).is_running
        # Friday 09:00 → Monday 09:00 is one working day for the User.
        frozen.move_to(datetime(2026, 11, 27, 9, tzinfo=LONDON))
        case_add_note(case=case, actor=agent, kind="INVESTIGATION", body="Looking at our MA data.")
        assert _clock(case, Party.USER, ClockKind.RESPONSE).status == ClockStatus.MET
        frozen.move_to(datetime(2026, 11, 30, 9, tzinfo=LONDON))
        case = case_transition(case=case, transition="hand_back_to_dcc", actor=agent, note="Corrected the MPAN.")
        user_resolution = _clock(case, Party.USER, ClockKind.RESOLUTION)
        assert user_resolution.status == ClockStatus.PAUSED
        # Tue 09:00 → Mon 09:00: Tue, Wed, Thu, Fri working (4 days), weekend not.
        assert user_resolution.banked_seconds == pytest.approx(4 * 86400)
        dcc_resolution = _clock(case, Party.DCC, ClockKind.RESOLUTION)
        assert dcc_resolution.is_running
        # Resumed with 4 working days left: Mon 09:00 + 4 → Fri 09:00.
        assert dcc_resolution.due_at == datetime(2026, 12, 4, 9, tzinfo=LONDON)
        views = {(v.party, v.kind): v for v in sla_clocks_for_case(case)}
        assert views[(Party.USER, ClockKind.RESOLUTION)].elapsed_days == 4.0
        assert views[(Party.USER, ClockKind.RESOLUTION)].remaining_days == 1.0
        assert views[(Party.DCC, ClockKind.RESOLUTION)].elapsed_days == 1.0
    # Each pause and resume is recorded as an interval and as a shared case event.
    assert SlaInterval.objects.filter(clock=dcc_resolution).count() == 2
    bodies = list(CaseEvent.objects.filter(case=case, kind=EventKind.SLA).values_list("body", flat=True))
    assert any("DCC resolution clock paused" in b for b in bodies)
    assert any("DCC resolution clock resumed" in b for b in bodies)


def test_escalation_pauses_and_finishing_stops_every_clock(installation, check, people) -> None:
    manager = people[Role.DCC_MANAGER]
    with freeze_time(MONDAY_9) as frozen:
        case = _raise(installation, check)
        frozen.move_to(MONDAY_9 + timedelta(hours=1))
        case = case_transition(case=case, transition="escalate", actor=manager, incident_reference="INC-1")
        assert not SlaClock.objects.filter(case=case, running_since__isnull=False).exists()
        frozen.move_to(MONDAY_9 + timedelta(hours=2))
        case = case_transition(case=case, transition="de_escalate", actor=manager)
        assert _clock(case, Party.DCC, ClockKind.RESOLUTION).is_running
        case = case_transition(case=case, transition="propose_exclusion", actor=manager,
                               excluded_category="MISSING_MASTER_KEYS")
        case = case_transition(case=case, transition="exclude", actor=manager, excluded_category="MISSING_MASTER_KEYS")
    clocks = SlaClock.objects.filter(case=case)
    assert all(c.stopped_at is not None and c.running_since is None for c in clocks)
    assert _clock(case, Party.DCC, ClockKind.RESPONSE).status == ClockStatus.MET  # the escalation responded


def test_scan_warns_then_breaches_and_escalates_once(installation, check, people, settings) -> None:
    with freeze_time(MONDAY_9):
        case = _raise(installation, check)
    with freeze_time(datetime(2026, 11, 27, 10, tzinfo=LONDON)):
        assert sla_scan().as_dict() == {"warned": 2, "breached": 0, "escalated": 0}
        assert sla_scan().as_dict() == {"warned": 0, "breached": 0, "escalated": 0}
    with freeze_time(datetime(2026, 11, 30, 10, tzinfo=LONDON)):
        assert sla_scan().as_dict() == {"warned": 0, "breached": 2, "escalated": 2}
        assert sla_scan().as_dict() == {"warned": 0, "breached": 0, "escalated": 0}
    case.refresh_from_db()
    # Two clocks breached in one scan: the priority is raised one step (P3 → P2).
    assert case.priority == Priority.HIGH
    clock = _clock(case, Party.DCC, ClockKind.RESOLUTION)
    assert clock.breached_at == datetime(2026, 11, 30, 9, tzinfo=LONDON) and clock.escalated_at is not None
    events = CaseEvent.objects.filter(case=case, kind=EventKind.SLA)
    assert events.filter(data__action="warning").count() == 2
    breach = events.filter(data__action="breach").first()
    assert "SLA breached" in breach.body and "DCC managers notified" in breach.body
    # The DCC managers get an email for a DCC-owned breach.
    assert OutboxMessage.objects.filter(case=case, event="SLA_BREACH", channel="EMAIL").exists()
    assert cases_sla_breached(Case.objects.all()).filter(pk=case.pk).exists()


def test_notify_only_mode_records_and_notifies_without_escalating(installation, check, people, settings) -> None:
    settings.MEHR = {**settings.MEHR, "SLA_ESCALATION_MODE": "notify_only"}
    with freeze_time(MONDAY_9):
        case = _raise(installation, check)
    with freeze_time(datetime(2026, 12, 1, 10, tzinfo=LONDON)):
        assert sla_scan().as_dict() == {"warned": 0, "breached": 2, "escalated": 0}
    case.refresh_from_db()
    assert case.priority == Priority.NORMAL
    assert not SlaClock.objects.filter(case=case, escalated_at__isnull=False).exists()
    assert "Notify-only" in CaseEvent.objects.filter(case=case, data__action="breach").first().body


def test_breached_filter_sees_overdue_clocks_before_the_scan(installation, check) -> None:
    with freeze_time(MONDAY_9):
        case = _raise(installation, check)
    with freeze_time(MONDAY_9 + timedelta(days=7)):
        other = case_in_state(CaseState.AWAITING_USER)
    assert not cases_sla_breached(Case.objects.all(), now=MONDAY_9 + timedelta(days=1)).exists()
    late = cases_sla_breached(Case.objects.all(), now=MONDAY_9 + timedelta(days=8))
    assert list(late.values_list("pk", flat=True)) == [case.pk]
    assert list(cases_sla_breached(Case.objects.all(), now=MONDAY_9 + timedelta(days=8), breached=False)
                .values_list("pk", flat=True)) == [other.pk]


def test_recompute_after_a_new_non_working_day(installation, check) -> None:
    with freeze_time(MONDAY_9):
        case = _raise(installation, check)
        NonWorkingDay.objects.create(date=datetime(2026, 11, 25).date(), description="DCC day")
        assert sla_recompute_running() == 2
    assert _clock(case, Party.DCC, ClockKind.RESOLUTION).due_at == datetime(2026, 12, 1, 9, tzinfo=LONDON)


def test_scan_works_through_every_batch(check, supplier) -> None:
    from tests.factories import InstallationFactory

    with freeze_time(MONDAY_9):
        for n in range(3):
            case_raise(installation=InstallationFactory(responsible_supplier=supplier), check=check, source="mcc",
                       source_event_id=f"b{n}", occurred_at=MONDAY_9)
    with freeze_time(datetime(2026, 12, 2, 10, tzinfo=LONDON)):
        # Batches of one clock: two clocks per case, three cases → every clock is still breached once.
        assert sla_scan(batch_size=1).as_dict() == {"warned": 0, "breached": 6, "escalated": 6}
    assert not SlaClock.objects.filter(breached_at__isnull=True).exists()


def test_changing_non_working_days_enqueues_a_recompute(django_capture_on_commit_callbacks, monkeypatch) -> None:
    from cases import tasks

    sent: list[str] = []
    monkeypatch.setattr(tasks.sla_recompute, "delay", lambda: sent.append("recompute"))
    with django_capture_on_commit_callbacks(execute=True):
        day = NonWorkingDay.objects.create(date=datetime(2026, 12, 31).date(), description="DCC day")
    with django_capture_on_commit_callbacks(execute=True):
        day.delete()
    assert sent == ["recompute", "recompute"]


def test_fast_working_seconds_matches_the_calendar() -> None:
    import random

    from cases.services.sla import working_seconds
    from cases.workdays import WorkingCalendar

    cal = WorkingCalendar(extra_non_working=frozenset({datetime(2026, 12, 23).date()}))
    rng = random.Random(6)
    base = datetime(2025, 3, 1, tzinfo=LONDON)  # spans DST changes, Easter and two Christmases
    for _ in range(300):
        start = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 700))
        end = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 120))
        assert working_seconds(cal, start, end) == cal.working_seconds_between(start, end), (start, end)
