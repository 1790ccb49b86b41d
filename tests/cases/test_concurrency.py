"""Concurrent changes from separate database connections (threads): one wins, the other gets a conflict."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from cases.domain import CaseState, EventKind, Role
from cases.errors import Conflict
from cases.models import Case, CaseEvent, CaseOccurrence
from cases.services import case_raise, case_transition
from tests.factories import case_in_state

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in its own thread (own database connection), started together; results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def wait_for_lock_waiter(thread: threading.Thread, outcome: list[Any], timeout: float = 60.0) -> None:
    """Block until some backend of this database waits on a lock (coordination, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            assert thread.is_alive(), f"the second transition finished without waiting: {outcome}"
            cursor.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE NOT l.granted AND a.datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the second transition never waited for the row lock")


def test_two_transitions_same_version_one_wins(people, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(CaseState.TRIAGED, installation=installation, check=check)
    operator, manager = people[Role.DCC_OPERATOR], people[Role.DCC_MANAGER]
    results = run_together(
        lambda: case_transition(case=case.pk, transition="await_user", actor=operator, expected_version=1),
        lambda: case_transition(case=case.pk, transition="await_smso", actor=manager, expected_version=1),
    )
    wins = [r for r in results if isinstance(r, Case)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(wins) == 1 and len(conflicts) == 1, results
    case.refresh_from_db()
    assert case.version == 2 and case.state == wins[0].state
    assert CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION).count() == 1


def test_the_waiting_transition_sees_the_new_version(people, installation, check) -> None:  # type: ignore[no-untyped-def]
    """Force the overlap: the second connection is blocked on the row lock while the first commits."""
    from django.db import transaction

    case = case_in_state(CaseState.TRIAGED, installation=installation, check=check)
    operator = people[Role.DCC_OPERATOR]
    second: list[Any] = []

    def later() -> None:
        try:
            second.append(case_transition(case=case.pk, transition="await_smso", actor=operator, expected_version=1))
        except Exception as exc:
            second.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=later)
    with transaction.atomic():
        Case.objects.select_for_update().get(pk=case.pk)  # hold the row
        thread.start()
        wait_for_lock_waiter(thread, second)
        case_transition(case=case.pk, transition="await_user", actor=operator, expected_version=1)
    thread.join(timeout=30)
    assert len(second) == 1 and isinstance(second[0], Conflict), second
    case.refresh_from_db()
    assert (case.state, case.version) == (CaseState.AWAITING_USER, 2)


def test_concurrent_duplicate_raise_makes_one_case_one_occurrence(dcc, installation, check) -> None:  # type: ignore[no-untyped-def]
    def raise_it():  # type: ignore[no-untyped-def]
        return case_raise(installation=installation, check=check, source="s1sp", source_event_id="evt-dup",
                          occurred_at=timezone.now())

    results = run_together(raise_it, raise_it, raise_it)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted((r.created, r.duplicate) for r in results) == [(False, True), (False, True), (True, False)]
    assert len({r.case.pk for r in results}) == 1
    assert Case.objects.count() == 1 and CaseOccurrence.objects.count() == 1
    assert CaseEvent.objects.filter(kind=EventKind.RAISED).count() == 1
    assert not CaseEvent.objects.filter(kind=EventKind.OCCURRENCE).exists()


def test_concurrent_different_reports_of_one_failure_share_one_case(dcc, installation, check) -> None:  # type: ignore[no-untyped-def]
    def raise_it(event_id: str):  # type: ignore[no-untyped-def]
        return lambda: case_raise(installation=installation, check=check, source="s1sp", source_event_id=event_id,
                                  occurred_at=timezone.now())

    results = run_together(raise_it("a"), raise_it("b"), raise_it("c"))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.created for r in results) == 1
    assert Case.objects.count() == 1
    case = Case.objects.get()
    assert case.occurrence_count == 3 and CaseOccurrence.objects.filter(case=case).count() == 3
